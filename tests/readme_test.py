"""The README's code runs as written: the usage example, then the custom loss
section in the same session (it reuses the usage example's names)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _block(text, heading):
    section = text.split(f"## {heading}", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_usage_and_custom_loss_run(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "README.md")).read()
    monkeypatch.chdir(tmp_path)  # its export goes under tmp_path/saved_models
    namespace = {}
    exec(compile(_block(text, "Usage"), "README.md", "exec"), namespace)
    history = namespace["history"].history
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    assert os.path.exists(tmp_path / "saved_models" / "readme_student" / "saved_model.pb")
    assert namespace["distiller"].student is namespace["student"]
    exec(compile(_block(text, "Writing your own loss"), "README.md", "exec"), namespace)
    custom = namespace["custom"]
    assert int(custom.optimizer.iterations.numpy()) > 0
    assert type(custom.distillation_losses[0]).__name__ == "LogitMSE"
