"""The recipes' library: one `run` per application in `recipes/`, and what they share."""
