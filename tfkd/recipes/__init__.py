"""Library side of the absl-flag scripts in `recipes/`: one `run` each."""
