"""CIFAR-10: tensorflow-datasets' `cifar10`, or a local copy in `<data-dir>` as

1. the standard python archive users download (`cifar-10-python.tar.gz`, or it unpacked
   as `cifar-10-batches-py/`), in `<data-dir>/cifar10/` or `<data-dir>/` itself: the
   original pixels; else
2. a class-folder JPEG tarball (`cifar10-jpeg/{train,test}/<class>/*.jpg`, as
   `<data-dir>/cifar10-jpeg/cifar10-jpeg.tar.gz`): re-encoded images, so LOSSY; decoded
   once and cached (`TF_LOTTERY_CACHE`, default ~/.cache/tf_lottery).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import uuid
from pathlib import Path

import numpy as np

from tf_lottery.data.sources import ENV_DATA_DIR, DataError, RawData

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
COUNTS = {"train": 50_000, "test": 10_000}
ARCHIVE, BATCHES = "cifar-10-python.tar.gz", "cifar-10-batches-py"
JPEG_TARBALL = "cifar10-jpeg.tar.gz"
_BATCH_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
ENV_CACHE = "TF_LOTTERY_CACHE"
_HINT = (f"Provide {ARCHIVE} (or {BATCHES}/) in {{root}}/cifar10/, or {JPEG_TARBALL} in {{root}}/cifar10-jpeg/, "
         f"or drop --data-dir / {ENV_DATA_DIR} to download CIFAR-10 through tensorflow-datasets.")


def from_folder(root: Path) -> RawData:
    """The first local copy found under `root` (the lossless archive before the JPEG copy)."""
    for folder in (root / "cifar10", root):
        if (folder / BATCHES).is_dir():
            return _checked(_from_batches(lambda name: (folder / BATCHES / name).read_bytes(), folder / BATCHES),
                            folder / BATCHES, lossy=False)
        if (folder / ARCHIVE).is_file():
            return _checked(_from_archive(folder / ARCHIVE), folder / ARCHIVE, lossy=False)
    for tarball in (root / "cifar10-jpeg" / JPEG_TARBALL, root / JPEG_TARBALL):
        if tarball.is_file():
            return _checked(_from_jpeg_tarball_cached(tarball), tarball, lossy=True)
    raise DataError(f"No CIFAR-10 copy in {root}.\n{_HINT.format(root=root)}")


def from_tfds() -> RawData:
    import tensorflow_datasets as tfds

    try:
        train, test = tfds.load("cifar10", split=["train", "test"], batch_size=-1, as_supervised=True)
    except Exception as e:  # TFDS raises many types when offline; all mean the same here
        raise DataError(f"tensorflow-datasets could not load CIFAR-10 ({type(e).__name__}: {e}).\n"
                        f"Offline? Point --data-dir or {ENV_DATA_DIR} at a local copy: "
                        f"{_HINT.format(root='<folder>')}") from e
    arrays = tuple((tfds.as_numpy(x), tfds.as_numpy(y)) for x, y in (train, test))
    return _checked(RawData(*arrays, source="tensorflow-datasets:cifar10", lossy=False), "tensorflow-datasets:cifar10",
                    lossy=False)


def _checked(raw: RawData, where, lossy: bool) -> RawData:
    """Validate counts, shapes and labels of what a source gave."""
    for part, (x, y) in (("train", raw.train), ("test", raw.test)):
        if x.shape != (COUNTS[part], 32, 32, 3) or x.dtype != np.uint8:
            raise DataError(f"{where}: {part} images are {x.dtype} {x.shape}, expected uint8 "
                            f"({COUNTS[part]}, 32, 32, 3). The copy is incomplete or not CIFAR-10.")
        if len(y) != COUNTS[part] or y.min() < 0 or y.max() > 9:
            raise DataError(f"{where}: {len(y)} {part} labels in {y.min()}..{y.max()}, expected {COUNTS[part]} "
                            "in 0..9.")
        per_class = np.bincount(y, minlength=10)
        if not np.all(per_class == COUNTS[part] // 10):
            raise DataError(f"{where}: {part} has {per_class.tolist()} images per class, expected "
                            f"{COUNTS[part] // 10} of each.")
    return RawData(raw.train, raw.test, source=str(where), lossy=lossy)


def _from_batches(read, where) -> RawData:
    parts = []
    for part in ("train", "test"):
        xs, ys = [], []
        for name in _BATCH_FILES[part]:
            try:
                batch = pickle.loads(read(name), encoding="bytes")
                xs.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                ys.append(np.asarray(batch[b"labels"], np.int64))
            except (OSError, KeyError) as e:
                raise DataError(f"{where}: cannot read {name} ({type(e).__name__}: {e}).\n"
                                f"{_HINT.format(root='<folder>')}") from None
            except (pickle.UnpicklingError, EOFError, ValueError) as e:
                raise DataError(f"{where}: {name} is not a CIFAR-10 python batch ({e}).") from None
        parts.append((np.concatenate(xs), np.concatenate(ys)))
    return RawData(*parts, source=str(where), lossy=False)


def _from_archive(path: Path) -> RawData:
    try:
        with tarfile.open(path, "r:gz") as tar:
            def read(name):
                member = tar.extractfile(f"{BATCHES}/{name}")
                if member is None:
                    raise KeyError(name)
                return member.read()
            return _from_batches(read, path)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{path} is not a readable .tar.gz ({e}); download it again.") from None


def _cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "tf_lottery")


def _from_jpeg_tarball_cached(tarball: Path) -> RawData:
    """Decode the tarball once; later loads read the cached arrays (keyed by its SHA-256)."""
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()[:16]
    cache = _cache_dir() / f"cifar10-jpeg-{digest}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as d:
                return RawData((d["x_train"], d["y_train"]), (d["x_test"], d["y_test"]), str(tarball), lossy=True)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is decoded again
    raw = _from_jpeg_tarball(tarball)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "wb") as f:
        np.savez(f, x_train=raw.train[0], y_train=raw.train[1], x_test=raw.test[0], y_test=raw.test[1])
    os.replace(tmp, cache)  # whole or not at all
    return raw


def _from_jpeg_tarball(tarball: Path) -> RawData:
    from PIL import Image

    images = {"train": [], "test": []}
    labels = {"train": [], "test": []}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if not member.isfile() or len(parts) < 4 or parts[-3] not in images:
                    continue
                part, cls = parts[-3], parts[-2]
                if cls not in CLASSES:
                    raise DataError(f"{tarball}: {member.name} is in unknown class folder {cls!r}; expected one of "
                                    f"{', '.join(CLASSES)}.")
                with Image.open(io.BytesIO(tar.extractfile(member).read())) as img:
                    pixels = np.asarray(img.convert("RGB"), np.uint8)
                if pixels.shape != (32, 32, 3):
                    raise DataError(f"{tarball}: {member.name} is {pixels.shape[1]}x{pixels.shape[0]}, expected 32x32.")
                images[part].append((member.name, pixels))
                labels[part].append(CLASSES.index(cls))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{tarball} is not a readable .tar.gz of JPEGs ({e}).") from None
    out = []
    for part in ("train", "test"):
        order = np.argsort([name for name, _ in images[part]], kind="stable")  # tar order is not a promise
        x = np.stack([images[part][i][1] for i in order]) if images[part] else np.zeros((0, 32, 32, 3), np.uint8)
        out.append((x, np.asarray(labels[part], np.int64)[order]))
    return RawData(*out, source=str(tarball), lossy=True)
