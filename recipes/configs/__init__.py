"""One `ml_collections` config file per recipe, with named variants.

Each file's `get_config(variant)` returns the recipe's config; its docstring
lists the variants with their commands, run times on this project's machine
and results. `recipes/<recipe>.py` loads `recipes/configs/<recipe>.py` by
default; `--config=recipes/configs/<recipe>.py:<variant>` picks a variant
and `--config.<field>=<value>` overrides any field.
"""
