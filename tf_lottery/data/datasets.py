"""Data sets as in-memory numpy arrays, split as in the paper.

Sources, in order of precedence:
1. an explicit local folder (`data_dir` argument, i.e. `--data-dir`), else
2. the environment variable TF_LOTTERY_DATA_DIR, else
3. tensorflow-datasets (downloads on first use; needs internet).

Each data set has a reader module (`mnist.py`, `cifar10.py`) with `from_folder(root)` and
`from_tfds()`, returning the raw uint8 arrays (`RawData`, which says whether the copy is
lossy). Ordering, splitting and scaling are shared here.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_lottery.data import cifar10, mnist
from tf_lottery.data.sources import ENV_DATA_DIR, DataError

# Input shape and number of classes per data set (for building models without the data).
SHAPES = {"mnist": ((28, 28, 1), 10), "cifar10": ((32, 32, 3), 10)}

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
    lossy: bool = False
    fingerprint: str = ""  # SHA-256 of the raw arrays: which exact data a run was trained on


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The local folder to read, or None to use tensorflow-datasets."""
    chosen = data_dir if data_dir else os.environ.get(ENV_DATA_DIR)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"Data folder {path} {problem} (from --data-dir or {ENV_DATA_DIR}).")
    return path


def readers() -> dict:
    return {"mnist": mnist, "cifar10": cifar10}


def training_examples(name: str, validation_size: int, max_examples: int = 0) -> int | None:
    """The training split's size after the validation hold-out, known without loading the
    data (None for a data set without a reader here)."""
    reader = readers().get(name)
    if reader is None:
        return None
    kept = reader.COUNTS["train"] - validation_size
    return min(kept, max_examples) if max_examples else kept


def load_dataset(name: str, data_dir=None, validation_size: int = 5000, split_seed: int = 0,
                 input_scaling: str = "unit", max_examples: int = 0) -> Dataset:
    """Load `name`, hold out `validation_size` training examples chosen with `split_seed`."""
    available = readers()
    if name not in available:
        raise DataError(f"Unknown dataset {name!r}; available: {', '.join(available)}.")
    folder = resolve_data_dir(data_dir)
    raw = available[name].from_tfds() if folder is None else available[name].from_folder(folder)
    x_train, y_train = canonical_order(*raw.train)
    x_test, y_test = canonical_order(*raw.test)
    digest = hashlib.sha256()
    for array in (x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    train, validation = split_validation(x_train, y_train, validation_size, split_seed, max_examples)
    test = _to_split(x_test[:max_examples or None], y_test[:max_examples or None])
    scale = _scaler(train.x, input_scaling)
    return Dataset(name, scale(train), scale(validation), scale(test), SHAPES[name][1], raw.source, raw.lossy,
                   digest.hexdigest()[:16])


def load_for(data, data_dir) -> Dataset:
    """The data set a `DataConfig` asks for."""
    return load_dataset(data.dataset, data_dir, data.validation_size, data.split_seed, data.input_scaling,
                        data.max_examples)


def _scaler(train_x: np.ndarray, input_scaling: str):
    """unit: pixels / 255 (done by `_to_split`); standardize: then per-channel training-set
    mean and std (of the training split only, so validation and test stay unseen)."""
    if input_scaling == "unit":
        return lambda split: split
    if input_scaling != "standardize":
        raise DataError(f"Unknown input scaling {input_scaling!r}; use unit or standardize.")
    mean = train_x.mean(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    std = train_x.std(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    return lambda split: Split((split.x - mean) / std, split.y)


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


def split_validation(x: np.ndarray, y: np.ndarray, size: int, seed: int,
                     max_examples: int = 0) -> tuple[Split, Split]:
    """Randomly hold out `size` examples (a seeded permutation), keeping the rest in order;
    with `max_examples`, each split's first ones only, cut before the costly conversion."""
    if not 0 < size < len(y):
        raise DataError(f"validation_size must be between 1 and {len(y) - 1}, got {size}.")
    held_out = np.sort(np.random.default_rng(seed).permutation(len(y))[:size])
    kept = np.delete(np.arange(len(y)), held_out)
    train, validation = (indices[:max_examples or None] for indices in (kept, held_out))
    return _to_split(x[train], y[train]), _to_split(x[validation], y[validation])


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
    x = images.astype(np.float32) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    return Split(x, labels.astype(np.int32))
