"""Resumable training whose checkpoints are written atomically."""

import json
import os

import keras

from tfkd import atomic

_META = "training_metadata.json"


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that never leaves a torn checkpoint.

    Each backup is a new file `epoch-<E>.weights.h5` written under a temporary
    name and renamed into place; then `training_metadata.json` is switched to
    it, again by rename; only then is the previous file removed. A run killed
    at any moment therefore resumes from the last complete checkpoint. For a
    `tfkd.Distiller` the file holds the student, the loss adapters and the
    optimizer (with its loss scale), never a teacher.

    A checkpoint that does not fit the model (another student architecture,
    other adapters) or cannot be read is refused with a `ValueError` naming
    the file; nothing in the backup folder is deleted.

    Args:
        backup_dir: folder of the backups.

    Example:

    ```python
    distiller.fit(ds, epochs=10, callbacks=[AtomicBackupAndRestore("run/backup")])
    ```
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)

    @staticmethod
    def saved_epoch(backup_dir):
        """Epochs completed by the run whose backups are in `backup_dir` (0 if
        none): where a resumed run starts.
        """
        meta = os.path.join(backup_dir, _META)
        if not os.path.exists(meta):
            return 0
        with open(meta) as f:
            return int(json.load(f)["epoch"])

    def _load_model(self):
        meta = os.path.join(self.backup_dir, _META)
        if not os.path.exists(meta):
            return
        try:
            with open(meta) as f:
                record = json.load(f)
            path = os.path.join(self.backup_dir, record["weights"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f"The checkpoint record {meta!r} is not readable ({e}). Nothing was deleted. Fix: "
                "resume with a new workdir, or remove that backup folder if you no longer need it."
            ) from e
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(path)
        except Exception as e:  # h5py, shape or layer-count mismatches
            raise ValueError(
                f"The checkpoint {path!r} does not fit this model "
                f"({type(e).__name__}: {' '.join(str(e).split())[:300]}). It was "
                "probably written for another student, other adapters or another optimizer. Nothing was deleted. "
                "Fix: use a new --workdir for a different model, or remove that backup folder."
            ) from e
        self.model._initial_epoch = int(record["epoch"])

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        final = os.path.join(self.backup_dir, name)
        # Keras wants the ".weights.h5" suffix on the temporary name too.
        atomic.write_file(final, self.model.save_weights, suffix=".weights.h5")

        def write_meta(tmp):
            with open(tmp, "w") as f:
                json.dump({"epoch": self._current_epoch, "weights": name}, f)

        atomic.write_file(os.path.join(self.backup_dir, _META), write_meta)
        for old in os.listdir(self.backup_dir):
            if old.startswith("epoch-") and old.endswith(".h5") and old != name:
                os.remove(os.path.join(self.backup_dir, old))
