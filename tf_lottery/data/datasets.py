"""Data sets as in-memory numpy arrays, split as in the paper.

Sources, in order of precedence:
1. an explicit local folder (`data_dir` argument, i.e. `--data-dir`), else
2. the environment variable TF_LOTTERY_DATA_DIR, else
3. tensorflow-datasets (downloads on first use; needs internet).

Each data set has a reader module (`mnist.py`) registered in `READERS`: it returns the raw
train and test arrays from TFDS or from its subfolder of the local folder. Splitting and
ordering are shared here.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_DATA_DIR = "TF_LOTTERY_DATA_DIR"

# Input shape and number of classes per data set (for building models without the data).
SHAPES = {"mnist": ((28, 28, 1), 10)}

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
    from tf_lottery.data import mnist

    readers = {"mnist": mnist}
    if name not in readers:
        raise DataError(f"Unknown dataset {name!r}; available: {', '.join(readers)}.")
    folder = resolve_data_dir(data_dir)
    if folder is None:
        (x_train, y_train), (x_test, y_test) = readers[name].from_tfds()
        source = f"tensorflow-datasets:{name}"
    else:
        (x_train, y_train), (x_test, y_test) = readers[name].from_folder(folder / name)
        source = str((folder / name).resolve())
    x_train, y_train = canonical_order(x_train, y_train)
    x_test, y_test = canonical_order(x_test, y_test)
    train, validation = split_validation(x_train, y_train, validation_size, split_seed)
    return Dataset(name, train, validation, _to_split(x_test, y_test), SHAPES[name][1], source)


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
