"""Data sets as in-memory numpy arrays, split as in the paper.

Sources, in order of precedence:
1. an explicit local folder (`data_dir` argument, i.e. `--data-dir`), else
2. the environment variable TF_LOTTERY_DATA_DIR, else
3. tensorflow-datasets (downloads on first use; needs internet).

A local folder holds `mnist/` with the four standard IDX files, gzip-compressed, as
distributed by Yann LeCun and TFDS. They are parsed with numpy rather than fed to TFDS:
TFDS checks download checksums, and recompressed copies (same bytes inside) fail them.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_DATA_DIR = "TF_LOTTERY_DATA_DIR"

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_MNIST_COUNTS = {"train": 60_000, "test": 10_000}
_IDX_MAGIC = {"images": 2051, "labels": 2049}
_FIX_HINT = (
    "Provide the four MNIST IDX .gz files ({files}) in {folder}, or drop --data-dir / "
    f"{ENV_DATA_DIR} to download MNIST through tensorflow-datasets."
)


class DataError(ValueError):
    """A data source is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # float32, [n, height, width, channels], scaled to [0, 1]
    y: np.ndarray  # int32, [n]

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    validation: Split
    test: Split
    num_classes: int
    source: str  # where the arrays came from, for provenance


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The local folder to read, or None to use tensorflow-datasets."""
    chosen = data_dir if data_dir else os.environ.get(ENV_DATA_DIR)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"Data folder {path} does not exist (from --data-dir or {ENV_DATA_DIR}).")
    return path


def load_dataset(name: str, data_dir=None, validation_size: int = 5000, split_seed: int = 0) -> Dataset:
    """Load `name`, hold out `validation_size` training examples chosen with `split_seed`."""
    if name != "mnist":
        raise DataError(f"Unknown dataset {name!r}; available: mnist.")
    folder = resolve_data_dir(data_dir)
    if folder is None:
        (x_train, y_train), (x_test, y_test) = _mnist_from_tfds()
        source = "tensorflow-datasets:mnist"
    else:
        (x_train, y_train), (x_test, y_test) = read_mnist_idx(folder / "mnist")
        source = str((folder / "mnist").resolve())
    x_train, y_train = canonical_order(x_train, y_train)
    x_test, y_test = canonical_order(x_test, y_test)
    train, validation = split_validation(x_train, y_train, validation_size, split_seed)
    return Dataset(name, train, validation, _to_split(x_test, y_test), 10, source)


def canonical_order(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The examples sorted by a hash of their content.

    TFDS stores MNIST in another order than the IDX files; sorting by content gives every
    source the same arrays, so a seed gives the same split, batches and results whatever
    the source.
    """
    keys = np.array([hashlib.blake2b(image.tobytes() + bytes([int(label)]), digest_size=8).digest()
                     for image, label in zip(images, labels)], dtype="S8")
    order = np.argsort(keys, kind="stable")
    return images[order], labels[order]


def split_validation(x: np.ndarray, y: np.ndarray, size: int, seed: int) -> tuple[Split, Split]:
    """Randomly hold out `size` examples (a seeded permutation), keeping the rest in order."""
    if not 0 < size < len(y):
        raise DataError(f"validation_size must be between 1 and {len(y) - 1}, got {size}.")
    held_out = np.sort(np.random.default_rng(seed).permutation(len(y))[:size])
    keep = np.ones(len(y), bool)
    keep[held_out] = False
    return _to_split(x[keep], y[keep]), _to_split(x[held_out], y[held_out])


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
    x = images.astype(np.float32) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    return Split(x, labels.astype(np.int32))


def read_idx(path: Path, kind: str) -> np.ndarray:
    """Parse one gzip-compressed IDX file of `kind` 'images' or 'labels'."""
    if not path.is_file():
        raise DataError(f"Missing file {path}.")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"Cannot decompress {path} ({e}); the file is corrupt or not gzip.") from e
    header = 16 if kind == "images" else 8
    if len(raw) < header:
        raise DataError(f"{path} is truncated ({len(raw)} bytes, no IDX header).")
    magic, count = np.frombuffer(raw[:8], ">i4")
    if magic != _IDX_MAGIC[kind]:
        raise DataError(f"{path} is not an IDX {kind} file (magic {magic}, expected {_IDX_MAGIC[kind]}).")
    shape = (count,) + (tuple(np.frombuffer(raw[8:16], ">i4")) if kind == "images" else ())
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{path} is truncated or padded: {len(raw) - header} data bytes, header says {expected}.")
    return np.frombuffer(raw[header:], np.uint8).reshape(shape)


def read_mnist_idx(folder: Path):
    """Read and validate MNIST from the four IDX files in `folder`."""
    hint = _FIX_HINT.format(files=", ".join(MNIST_FILES.values()), folder=folder)
    try:
        arrays = {key: read_idx(folder / fname, key.split("_")[1]) for key, fname in MNIST_FILES.items()}
        for part, count in _MNIST_COUNTS.items():
            images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            img_file, lbl_file = MNIST_FILES[f"{part}_images"], MNIST_FILES[f"{part}_labels"]
            if images.shape[1:] != (28, 28):
                raise DataError(f"{folder / img_file}: images are {images.shape[1:]}, expected 28x28.")
            if len(images) != count or len(labels) != count:
                raise DataError(
                    f"{folder / img_file} / {lbl_file}: {len(images)} images and {len(labels)} labels, "
                    f"expected {count} of each."
                )
            if labels.max() > 9:
                raise DataError(f"{folder / lbl_file}: label {labels.max()} outside 0..9.")
    except DataError as e:
        raise DataError(f"{e}\n{hint}") from None
    return (arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"])


def _mnist_from_tfds():
    import tensorflow_datasets as tfds

    try:
        train, test = tfds.load("mnist", split=["train", "test"], batch_size=-1, as_supervised=True)
    except Exception as e:  # TFDS raises many types when offline; all mean the same here
        raise DataError(
            f"tensorflow-datasets could not load MNIST ({type(e).__name__}: {e}).\n"
            f"Offline? Point --data-dir or {ENV_DATA_DIR} at a folder holding mnist/ with "
            f"{', '.join(MNIST_FILES.values())}."
        ) from e
    return tuple((tfds.as_numpy(x)[..., 0], tfds.as_numpy(y)) for x, y in (train, test))
