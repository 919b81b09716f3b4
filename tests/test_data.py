"""The MNIST loader: real files, the paper's split, and clear failures."""
import functools
import gzip
import json
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums, resource

from tf_lottery.data.datasets import DataError, load_dataset
from tf_lottery.data.mnist import MNIST_FILES
from tf_lottery.data.mnist import read_idx_folder as read_mnist_idx


def test_real_mnist_has_the_paper_split(mnist):
    assert (len(mnist.train), len(mnist.validation), len(mnist.test)) == (55_000, 5_000, 10_000)
    assert mnist.train.x.shape[1:] == (28, 28, 1) and mnist.train.x.dtype == np.float32
    assert mnist.train.x.min() == 0.0 and mnist.train.x.max() == 1.0
    assert np.bincount(mnist.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train_counts = np.bincount(mnist.train.y) + np.bincount(mnist.validation.y)
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_split_is_seeded(data_dir, mnist):
    again = load_dataset("mnist", data_dir, split_seed=0)
    other = load_dataset("mnist", data_dir, split_seed=1)
    np.testing.assert_array_equal(again.validation.y, mnist.validation.y)
    np.testing.assert_array_equal(again.validation.x, mnist.validation.x)
    assert not np.array_equal(other.validation.x, mnist.validation.x)


def test_environment_variable_selects_the_local_copy(data_dir, monkeypatch):
    monkeypatch.setenv("TF_LOTTERY_DATA_DIR", str(data_dir))
    assert load_dataset("mnist").source.endswith("mnist")


@pytest.fixture
def copied(data_dir, tmp_path):
    shutil.copytree(data_dir / "mnist", tmp_path / "mnist")
    return tmp_path


def test_missing_file_is_named_with_a_fix(copied):
    (copied / "mnist" / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(DataError, match=r"Missing file .*t10k-labels-idx1-ubyte\.gz(.|\n)*Provide the four MNIST"):
        load_dataset("mnist", copied)


def test_corrupt_gzip_is_named(copied):
    (copied / "mnist" / MNIST_FILES["train_images"]).write_bytes(b"not a gzip file at all")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_dataset("mnist", copied)


def test_truncated_file_is_named(copied):
    path = copied / "mnist" / MNIST_FILES["test_images"]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is truncated"):
        read_mnist_idx(copied / "mnist")


def test_swapped_files_are_detected(copied):
    folder = copied / "mnist"
    shutil.copy(folder / MNIST_FILES["train_labels"], folder / MNIST_FILES["train_images"])
    with pytest.raises(DataError, match="not an IDX images file"):
        load_dataset("mnist", copied)


def test_bad_label_is_detected(copied):
    path = copied / "mnist" / MNIST_FILES["test_labels"]
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[8] = 11
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="label 11 outside 0..9"):
        load_dataset("mnist", copied)


def test_missing_folder_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")
    with pytest.raises(DataError, match="Unknown dataset"):
        load_dataset("imagenet", tmp_path)


def test_tfds_failure_says_how_to_work_offline(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError, match="(?s)could not load MNIST.*--data-dir or TF_LOTTERY_DATA_DIR"):
        load_dataset("mnist")


@pytest.mark.slow
def test_tfds_default_source_gives_the_same_data(data_dir, tmp_path, monkeypatch):
    """The default TFDS path, made to work offline by seeding TFDS's download cache with
    the local files (named as TFDS names its downloads, with the .INFO beside each)."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for fname in MNIST_FILES.values():
        url = f"https://storage.googleapis.com/cvdf-datasets/mnist/{fname}"
        info = checksums.get_all_url_infos()[url]
        path = downloads / resource.get_dl_fname(url, info.checksum)
        shutil.copy(data_dir / "mnist" / fname, path)
        (downloads / f"{path.name}.INFO").write_text(json.dumps(
            {"urls": [url], "dataset_names": ["mnist"], "original_fname": fname, "url_info": info.asdict()}))
    monkeypatch.setattr(tfds, "load", functools.partial(tfds.load, data_dir=str(tmp_path)))
    from_tfds, local = load_dataset("mnist"), load_dataset("mnist", data_dir)
    assert from_tfds.source == "tensorflow-datasets:mnist"
    for split in ("train", "validation", "test"):  # identical arrays: same split, same batches
        np.testing.assert_array_equal(getattr(from_tfds, split).x, getattr(local, split).x)
        np.testing.assert_array_equal(getattr(from_tfds, split).y, getattr(local, split).y)
