"""Runs a LiteRT (`.tflite`) classifier with the LiteRT interpreter alone.

This module imports only NumPy and `ai_edge_litert`, never TensorFlow, so the
same few lines serve a tfkd export on a machine without TensorFlow. It
quantizes float inputs and dequantizes int8 outputs when the file has
integer I/O (`export_student(..., int8_io=True)`).

Example:

```python
from tfkd.litert_model import LiteRTModel   # or copy these 30 lines
model = LiteRTModel("saved_models/fmnist_small_int8.tflite")
logits = model.predict(images)              # float32 (N, classes)
```
"""

import numpy as np


def _interpreter(path=None, content=None, num_threads=None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError("Running a .tflite file needs the LiteRT interpreter: pip install ai-edge-litert") from e
    return Interpreter(model_path=path, model_content=content, num_threads=num_threads)


class LiteRTModel:
    """A `.tflite` classifier with one image input and one logits output.

    Args:
        path: the `.tflite` file.
        content: the file's bytes instead of a path.
        num_threads: interpreter threads (XNNPACK). Defaults to LiteRT's.

    Raises:
        ValueError: if the file has not exactly one input and one output.
    """

    def __init__(self, path=None, content=None, num_threads=None):
        self.interpreter = _interpreter(path, content, num_threads)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"Expected a model with one input and one output, got {len(inputs)} and {len(outputs)}.")
        self.input, self.output = inputs[0], outputs[0]
        self.input_shape = tuple(int(d) for d in self.input["shape"][1:])
        self._batch = None

    @property
    def integer_io(self):
        """Whether the file takes and returns int8 tensors."""
        return self.input["dtype"] != np.float32

    def _resize(self, batch):
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self.input["index"], (batch,) + self.input_shape)
            self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self._batch = batch

    def _quantize(self, x):
        scale, zero = self.input["quantization"]
        info = np.iinfo(self.input["dtype"])
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.input["dtype"])

    def _dequantize(self, y):
        if self.output["dtype"] == np.float32:
            return y
        scale, zero = self.output["quantization"]
        return (y.astype(np.float32) - zero) * scale

    def predict(self, images, batch_size=256):
        """Float32 logits for float32 images `(N, *input_shape)`."""
        images = np.asarray(images, np.float32)
        out = []
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size]
            self._resize(len(x))
            self.interpreter.set_tensor(self.input["index"], self._quantize(x) if self.integer_io else x)
            self.interpreter.invoke()
            out.append(self._dequantize(self.interpreter.get_tensor(self.output["index"])))
        return np.concatenate(out) if out else np.zeros((0,), np.float32)
