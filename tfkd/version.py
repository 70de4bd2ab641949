"""The version of tfkd (read by pyproject.toml and written into every export report)."""

__version__ = "0.1.0"
