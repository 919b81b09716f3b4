"""MNIST: the four standard IDX files, gzip-compressed, as distributed by Yann LeCun and
TFDS (local folder `<data-dir>/mnist/`), or tensorflow-datasets' `mnist`. Local files are
parsed with numpy rather than fed to TFDS: TFDS checks download checksums, and
recompressed copies (same bytes inside) fail them."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tf_lottery.data.sources import ENV_DATA_DIR, DataError, RawData

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
COUNTS = {"train": 60_000, "test": 10_000}
_IDX_MAGIC = {"images": 2051, "labels": 2049}
_FIX_HINT = (
    "Provide the four MNIST IDX .gz files ({files}) in {folder}, or drop --data-dir / "
    f"{ENV_DATA_DIR} to download MNIST through tensorflow-datasets."
)


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


def from_folder(root: Path) -> RawData:
    """MNIST from `<root>/mnist/`."""
    return RawData(*read_idx_folder(root / "mnist"), source=str(root / "mnist"), lossy=False)


def read_idx_folder(folder: Path):
    """Read and validate MNIST from the four IDX files in `folder`."""
    hint = _FIX_HINT.format(files=", ".join(MNIST_FILES.values()), folder=folder)
    try:
        arrays = {key: read_idx(folder / fname, key.split("_")[1]) for key, fname in MNIST_FILES.items()}
        for part, count in COUNTS.items():
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


def from_tfds() -> RawData:
    import tensorflow_datasets as tfds

    try:
        train, test = tfds.load("mnist", split=["train", "test"], batch_size=-1, as_supervised=True)
    except Exception as e:  # TFDS raises many types when offline; all mean the same here
        raise DataError(
            f"tensorflow-datasets could not load MNIST ({type(e).__name__}: {e}).\n"
            f"Offline? Point --data-dir or {ENV_DATA_DIR} at a folder holding mnist/ with "
            f"{', '.join(MNIST_FILES.values())}."
        ) from e
    return RawData(*((tfds.as_numpy(x)[..., 0], tfds.as_numpy(y)) for x, y in (train, test)),
                   source="tensorflow-datasets:mnist", lossy=False)
