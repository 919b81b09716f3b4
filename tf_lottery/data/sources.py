"""What every data reader shares: the raw arrays it returns, its error, and the
environment variable naming a local data folder (the readers import this, and
datasets.py imports the readers)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENV_DATA_DIR = "TF_LOTTERY_DATA_DIR"


class DataError(ValueError):
    """A data source is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class RawData:
    """A reader's output: uint8 images [n, h, w(, c)] and integer labels."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    source: str
    lossy: bool  # re-encoded (e.g. JPEG) pixels: results are not comparable in absolute terms
