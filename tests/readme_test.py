"""The README's usage example runs as written."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_usage_example_runs(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "README.md")).read()
    usage = text.split("## Usage", 1)[1]
    code = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # its export goes under tmp_path/saved_models
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    history = namespace["history"].history
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    assert os.path.exists(tmp_path / "saved_models" / "readme_student" / "saved_model.pb")
    assert namespace["distiller"].student is namespace["student"]
