"""Subprocess helper of kill_test.py: one distill.run with a pause after
each epoch's checkpoint, so the test can SIGKILL it between epochs.

    python tests/kill_run.py '<Config fields as JSON>' <seconds to pause>
"""

import json
import sys
import time

import keras

from recipes.lib import distill
from recipes.lib.config import Config


class Pause(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.seconds)


if __name__ == "__main__":
    fields = json.loads(sys.argv[1])
    config = Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    distill.run(config, extra_callbacks=[Pause(float(sys.argv[2]))])
