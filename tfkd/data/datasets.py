"""Image-classification datasets by name, as NumPy arrays and `tf.data`.

Sources, in order: a prepared TFDS `data_dir`; local files that work offline
(Fashion-MNIST's IDX files from Debian's `dataset-fashion-mnist`, MNIST's IDX
files in a folder you name, scikit-learn's bundled 8×8 digits); a TFDS
download when `download=True` and the machine is online.
"""

import functools
import os

import numpy as np
import tensorflow as tf

from tfkd.data.idx import read_idx

NAMES = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits")
_IDX = {
    "fashion_mnist": (
        "TFKD_FASHION_MNIST_DIR",
        "/usr/share/datasets/fashion-mnist",
        "sudo apt-get install dataset-fashion-mnist",
    ),
    "mnist": ("TFKD_MNIST_DIR", "/usr/share/datasets/mnist", None),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
NUM_CLASSES = {"fashion_mnist": 10, "mnist": 10, "cifar10": 10, "cifar100": 100, "digits": 10}


@functools.lru_cache(maxsize=8)
def _read_idx_once(path, mtime_ns, size, dtype):
    """`read_idx(path)` as a read-only array, decoded once per process for a
    given file version (the key holds its mtime and size): the benchmarks and
    tests load the same splits dozens of times, and un-gzipping them cost
    ~0.3 s each time.
    """
    del mtime_ns, size  # part of the cache key only
    array = read_idx(path)
    if dtype is not None:
        array = array.astype(dtype)
    array.setflags(write=False)
    return array


def _read_idx_cached(path, dtype=None):
    stat = os.stat(path)
    return _read_idx_once(os.path.abspath(path), stat.st_mtime_ns, stat.st_size, dtype)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on this machine; the message says how to get it."""


def _check_name(name):
    if name not in NAMES:
        import difflib

        close = difflib.get_close_matches(str(name), NAMES, n=2)
        raise ValueError(
            f"Unknown dataset {name!r}. Expected one of {list(NAMES)}"
            + (f"; did you mean {close[0]!r}?" if close else ".")
        )


def _idx_folder(name, data_dir):
    env, default, _ = _IDX[name]
    candidates = [os.environ.get(env)]
    if data_dir:
        candidates += [os.path.join(data_dir, name), os.path.join(data_dir, name.replace("_", "-")), data_dir]
    candidates.append(default)
    candidates = [c for c in candidates if c]
    for folder in candidates:
        if all(os.path.exists(os.path.join(folder, f)) for pair in _IDX_FILES.values() for f in pair):
            return folder, candidates
    return None, candidates


def _from_tfds(name, data_dir, download):
    try:
        import tensorflow_datasets as tfds
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    builder = tfds.builder(name, data_dir=data_dir)
    prepared = tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))
    if not prepared and not download:
        return None
    if not prepared:
        builder.download_and_prepare()
    out = {}
    for split in ("train", "test"):
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
        out[split] = data
    return out


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)[..., None]
    x_tr, x_te, y_tr, y_te = train_test_split(x, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target)
    return {"train": (x_tr, y_tr), "test": (x_te, y_te)}


def load_arrays(name="fashion_mnist", data_dir=None, download=False):
    """Loads a dataset's official train and test splits as uint8 arrays.

    Args:
        name: one of `NAMES`. Defaults to `"fashion_mnist"`.
        data_dir: a TFDS data folder, or a folder holding the IDX files (also
            looked up as `data_dir/<name>`). Defaults to TFDS's default and
            the environment variable `TFKD_FASHION_MNIST_DIR` / `TFKD_MNIST_DIR`.
        download: let TFDS download when no local copy exists (needs network).

    Returns:
        `{"train": (images, labels), "test": (images, labels)}`, images
        `uint8` of shape `(N, H, W, C)`, labels `int64`. IDX files are
        decoded once per process and returned read-only (copy an array
        before changing it in place).

    Raises:
        ValueError: for an unknown name.
        DatasetNotFoundError: when no source has the data; the message names
            every place searched and the command that gets the data.

    Example:

    ```python
    splits = tfkd.data.load_arrays("fashion_mnist")
    x_train, y_train = splits["train"]
    ```
    """
    _check_name(name)
    if name == "digits":
        return _digits()
    searched = []
    if name in _IDX:
        folder, searched = _idx_folder(name, data_dir)
        if folder:
            return {
                split: (
                    _read_idx_cached(os.path.join(folder, i))[..., None],
                    _read_idx_cached(os.path.join(folder, l), np.int64),
                )
                for split, (i, l) in _IDX_FILES.items()
            }
    try:
        arrays = _from_tfds(name, data_dir, download)
    except Exception as e:  # network or checksum failure: one clear message
        raise DatasetNotFoundError(_missing(name, searched, data_dir, f" TFDS said: {type(e).__name__}.")) from None
    if arrays is None:
        raise DatasetNotFoundError(_missing(name, searched, data_dir))
    return {k: (np.asarray(x, np.uint8), np.asarray(y, np.int64)) for k, (x, y) in arrays.items()}


def _missing(name, searched, data_dir, extra=""):
    where = (f"IDX files in {searched}; " if searched else "") + (
        f"a prepared TFDS dataset in {data_dir or '~/tensorflow_datasets'}"
    )
    if name in _IDX and _IDX[name][2]:
        fix = f"run `{_IDX[name][2]}` (or set {_IDX[name][0]} to a folder with the four IDX .gz files)"
    elif name in _IDX:
        fix = (
            f"set {_IDX[name][0]} to a folder with the four IDX .gz files, "
            "or pass download=True (--config.download=True) on a machine with network"
        )
    else:
        fix = (
            "pass download=True (--config.download=True) on a machine with network, or --config.data_dir with a "
            "prepared TFDS copy"
        )
    return f"Dataset {name!r} was not found. Looked for: {where}.{extra} Fix: {fix}."


def to_float(images):
    """uint8 images -> float32 in [0, 1]."""
    return images.astype(np.float32) / 255.0


def split_validation(x, y, fraction=0.1, seed=0):
    """Holds out a fixed, seeded, stratified part of a training split.

    Returns:
        `((x_train, y_train), (x_val, y_val))`.
    """
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        val[rng.choice(idx, int(round(len(idx) * fraction)), replace=False)] = True
    return (x[~val], y[~val]), (x[val], y[val])


def make_dataset(x, y, batch_size, shuffle=False, seed=0):
    """A batched, prefetched `tf.data.Dataset` from arrays.

    Images are converted to float32 in [0, 1] once (held in memory), so the
    pipeline does no per-step work beyond slicing.

    Args:
        x: images, uint8 or float.
        y: integer labels.
        batch_size: batch size.
        shuffle: reshuffle every epoch with `seed`.
        seed: shuffle seed.

    Returns:
        A `tf.data.Dataset` of `(images, labels)`.
    """
    x = to_float(x) if x.dtype == np.uint8 else x.astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int64)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load(
    name="fashion_mnist", split="train", batch_size=128, data_dir=None, shuffle=None, seed=0, limit=None, download=False
):
    """A dataset split as a batched `tf.data.Dataset` of (float images, labels).

    Args:
        name: one of `NAMES`.
        split: `"train"` or `"test"`.
        batch_size: batch size. Defaults to 128.
        data_dir: see `load_arrays`.
        shuffle: shuffle with `seed`; defaults to True for `"train"`.
        seed: shuffle seed. Defaults to 0.
        limit: keep only the first `limit` examples (smoke runs).
        download: see `load_arrays`.

    Returns:
        A `tf.data.Dataset`.

    Raises:
        ValueError: for an unknown name or split.
        DatasetNotFoundError: when the data is not on this machine.

    Example:

    ```python
    train = tfkd.data.load("fashion_mnist", "train", batch_size=256)
    ```
    """
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r}; expected 'train' or 'test'.")
    x, y = load_arrays(name, data_dir, download)[split]
    if limit:
        x, y = x[:limit], y[:limit]
    return make_dataset(x, y, batch_size, split == "train" if shuffle is None else shuffle, seed)
