import gzip
import os

import numpy as np
import pytest

from tfkd import data
from tfkd.data import datasets

FMNIST = "/usr/share/datasets/fashion-mnist"


def test_reads_the_real_fashion_mnist_labels():
    labels = data.read_idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10  # the official test split is balanced


def test_loads_official_split_through_tf_data():
    ds = data.load("fashion_mnist", "test", batch_size=32, limit=64)
    x, y = next(iter(ds))
    assert x.shape == (32, 28, 28, 1) and x.dtype == "float32"
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0
    assert y.numpy().tolist()[:3] == [9, 2, 1]


def test_idx_round_trip_and_bad_header(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.array(array.shape, ">u4").tobytes()
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())
    np.testing.assert_array_equal(data.read_idx(str(path)), array)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(str(tmp_path / "bad"))


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_splits_are_decoded_once_read_only_and_reread_when_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("TFKD_MNIST_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (6, 4, 4), dtype=np.uint8), np.arange(6) % 3
    for images_file, labels_file in datasets._IDX_FILES.values():
        _write_idx(tmp_path / images_file, images)
        _write_idx(tmp_path / labels_file, labels)
    first, second = data.load_arrays("mnist"), data.load_arrays("mnist")
    assert np.shares_memory(first["train"][0], second["train"][0])  # cached
    np.testing.assert_array_equal(first["test"][0][..., 0], images)
    assert first["test"][1].dtype == np.int64 and first["test"][1].tolist() == labels.tolist()
    for x, y in first.values():
        assert not x.flags.writeable and not y.flags.writeable
    labels_path = tmp_path / datasets._IDX_FILES["train"][1]
    _write_idx(labels_path, labels[::-1])  # a new version of one file
    os.utime(labels_path, ns=(10**18, 10**18))
    assert data.load_arrays("mnist")["train"][1].tolist() == labels[::-1].tolist()


def test_missing_data_names_places_and_command(tmp_path, monkeypatch):
    monkeypatch.setitem(
        datasets._IDX,
        "fashion_mnist",
        ("TFKD_FASHION_MNIST_DIR", str(tmp_path / "nowhere"), "sudo apt-get install dataset-fashion-mnist"),
    )
    monkeypatch.delenv("TFKD_FASHION_MNIST_DIR", raising=False)
    with pytest.raises(
        data.DatasetNotFoundError,
        match=r"'fashion_mnist' was not found.*nowhere.*apt-get install dataset-fashion-mnist",
    ):
        data.load_arrays("fashion_mnist", data_dir=str(tmp_path / "tfds"))


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(ValueError, match="did you mean 'fashion_mnist'"):
        data.load_arrays("fashion-mnist")


def test_digits_split_is_seeded_and_stratified():
    a, b = data.load_arrays("digits"), data.load_arrays("digits")
    np.testing.assert_array_equal(a["test"][1], b["test"][1])
    assert a["train"][0].shape[1:] == (8, 8, 1) and len(a["train"][1]) + len(a["test"][1]) == 1797
    counts = np.bincount(a["test"][1])
    assert counts.max() - counts.min() <= 2


def test_validation_split_is_disjoint_and_stratified():
    x = np.arange(1000)[:, None]
    y = np.repeat(np.arange(10), 100)
    (xt, yt), (xv, yv) = data.split_validation(x, y, 0.1, seed=3)
    assert len(xv) == 100 and not set(xt[:, 0]) & set(xv[:, 0])
    assert np.bincount(yv).tolist() == [10] * 10
