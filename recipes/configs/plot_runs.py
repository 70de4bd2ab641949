"""Configs of `recipes/plot_runs.py`: per-epoch curves of finished runs, averaged over seeds.

    python recipes/plot_runs.py --config.runs="cut, 6 epochs=wd/cut/s*/*_dist_s*;scratch=wd/scratch/s*/*_scratch_s*" \
        --config.out=curves.png

`runs` is `label=glob;label=glob`: each glob matches run folders (each with the `history.csv` every
training run of the recipes writes); a label's curve is the mean over its folders. `metric` is a
column of those files (default `val_accuracy`); the figure goes to `out` (default
`<workdir>/curves.png`) and the same numbers to the `.md` beside it. A run takes seconds.

Variants: none.
"""

from ml_collections import config_dict

from recipes.lib import config as config_lib


def get_config(variant=""):
    fields = {"runs": "", "metric": "val_accuracy", "out": "", "title": "", "overwrite": False}
    return config_lib.with_variant(config_dict.ConfigDict(fields), variant, {})
