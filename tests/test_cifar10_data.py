"""CIFAR-10 readers: the python archive (packed and unpacked), the JPEG class-folder
tarball (lossy, decoded once and cached), TFDS's arrays, and their error paths. Generated
copies are tiny: the expected counts are patched down to 5 training and 1 test image per
class."""
import io
import pickle
import tarfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tf_lottery.data import cifar10
from tf_lottery.data.datasets import DataError, load_dataset


@pytest.fixture(autouse=True)
def tiny_counts(monkeypatch, tmp_path):
    monkeypatch.setattr(cifar10, "COUNTS", {"train": 50, "test": 10})
    monkeypatch.setenv(cifar10.ENV_CACHE, str(tmp_path / "cache"))


def images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def batch_bytes(x, y):
    return pickle.dumps({b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), b"labels": y.tolist()})


def write_archive(folder, unpacked=False, drop=None):
    (x, y), (xt, yt) = images(50, 0), images(10, 1)
    files = {f"data_batch_{i + 1}": batch_bytes(x[10 * i:10 * i + 10], y[10 * i:10 * i + 10]) for i in range(5)}
    files["test_batch"] = batch_bytes(xt, yt)
    files.pop(drop, None)
    if unpacked:
        (folder / cifar10.BATCHES).mkdir(parents=True)
        for name, data in files.items():
            (folder / cifar10.BATCHES / name).write_bytes(data)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / cifar10.ARCHIVE, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"{cifar10.BATCHES}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return (x, y), (xt, yt)


def write_jpeg_tarball(folder, bad_class=None, size=32):
    folder.mkdir(parents=True)
    with tarfile.open(folder / cifar10.JPEG_TARBALL, "w:gz") as tar:
        for part, n in (("train", 50), ("test", 10)):
            x, y = images(n, 2)
            for i, (image, label) in enumerate(zip(x, y)):
                buffer = io.BytesIO()
                Image.fromarray(image).resize((size, size)).save(buffer, format="JPEG", quality=75)
                cls = bad_class if bad_class and i == 0 else cifar10.CLASSES[label]
                info = tarfile.TarInfo(f"cifar10-jpeg/{part}/{cls}/{i:04d}.jpg")
                info.size = buffer.tell()
                buffer.seek(0)
                tar.addfile(info, buffer)


@pytest.mark.parametrize("unpacked", [False, True])
def test_python_archive_gives_the_original_pixels(tmp_path, unpacked):
    (x, y), _ = write_archive(tmp_path / "cifar10", unpacked)
    data = load_dataset("cifar10", tmp_path, validation_size=10)
    assert not data.lossy and data.fingerprint and (len(data.train), len(data.validation), len(data.test)) == (40, 10, 10)
    train = np.concatenate([data.train.x, data.validation.x]) * 255
    assert sorted(map(bytes, np.rint(train).astype(np.uint8))) == sorted(map(bytes, x))


def test_jpeg_tarball_is_lossy_and_decoded_once(tmp_path, monkeypatch):
    write_jpeg_tarball(tmp_path / "cifar10-jpeg")
    first = load_dataset("cifar10", tmp_path, validation_size=10)
    assert first.lossy and first.source.endswith(cifar10.JPEG_TARBALL)
    assert len(list((tmp_path / "cache").glob("cifar10-jpeg-*.npz"))) == 1
    monkeypatch.setattr(cifar10, "_from_jpeg_tarball", lambda path: pytest.fail("decoded again"))
    again = load_dataset("cifar10", tmp_path, validation_size=10)
    assert again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.train.x, first.train.x)


def test_the_lossless_archive_is_preferred_over_the_jpeg_copy(tmp_path):
    write_jpeg_tarball(tmp_path / "cifar10-jpeg")
    write_archive(tmp_path / "cifar10")
    assert not load_dataset("cifar10", tmp_path, validation_size=10).lossy


def test_tfds_arrays_are_validated_and_offline_failure_says_what_to_do(monkeypatch):
    (x, y), (xt, yt) = images(50, 0), images(10, 1)
    monkeypatch.setattr(tfds, "load", lambda *a, **k: [(tf.constant(x), tf.constant(y)), (tf.constant(xt), tf.constant(yt))])
    data = load_dataset("cifar10", validation_size=10)
    assert data.source == "tensorflow-datasets:cifar10" and not data.lossy

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="(?s)could not load CIFAR-10.*cifar-10-python.tar.gz"):
        load_dataset("cifar10")


@pytest.mark.parametrize("damage, message", [
    ("nothing", "No CIFAR-10 copy"),
    ("missing batch", "cannot read data_batch_3"),
    ("not gzip", "not a readable .tar.gz"),
    ("bad class", "unknown class folder 'dragon'"),
    ("wrong size", "is 28x28, expected 32x32"),
])
def test_broken_copies_are_named_with_the_fix(tmp_path, damage, message):
    if damage == "missing batch":
        write_archive(tmp_path / "cifar10", drop="data_batch_3")
    elif damage == "not gzip":
        (tmp_path / "cifar10").mkdir()
        (tmp_path / "cifar10" / cifar10.ARCHIVE).write_bytes(b"not a tarball")
    elif damage == "bad class":
        write_jpeg_tarball(tmp_path / "cifar10-jpeg", bad_class="dragon")
    elif damage == "wrong size":
        write_jpeg_tarball(tmp_path / "cifar10-jpeg", size=28)
    with pytest.raises(DataError, match=message):
        load_dataset("cifar10", tmp_path, validation_size=10)


def test_wrong_counts_are_refused(tmp_path, monkeypatch):
    write_archive(tmp_path / "cifar10")
    monkeypatch.setattr(cifar10, "COUNTS", {"train": 60, "test": 10})
    with pytest.raises(DataError, match="expected uint8 \\(60, 32, 32, 3\\)"):
        load_dataset("cifar10", tmp_path, validation_size=10)


def test_standardized_inputs_use_training_statistics(tmp_path):
    write_archive(tmp_path / "cifar10")
    data = load_dataset("cifar10", tmp_path, validation_size=10, input_scaling="standardize")
    np.testing.assert_allclose(data.train.x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=(0, 1, 2)), 1, atol=1e-4)
