"""Resuming a run inside its training, after a crash, a kill or a preempted machine.

The store commits whole runs; a long one (a VGG-19 run is hours on a CPU, a preemptible
TPU may vanish) also saves its progress every `every_seconds`: every variable the next
steps read (weights and batch-norm statistics, optimizer state, the best weights so far,
the dropout generators' states) and the curves so far. Batch order and augmentation are
keyed by the step, so a resumed run continues exactly as the uninterrupted one would.
A checkpoint names what it continues (`run_digest`); one of other inputs is ignored.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Checkpoint:
    """Where one run keeps its progress: `load()` gives the saved (arrays, meta) or None,
    `save(arrays, meta)` replaces it whole; `resumed(step)` is told when a run resumes.
    When `stop_requested()` turns true (see stopping.py) the run saves its
    progress after its current chunk of steps and raises `StopRequested`."""
    load: Callable[[], tuple[dict[str, np.ndarray], dict] | None]
    save: Callable[[dict[str, np.ndarray], dict], None]
    every_seconds: float = 600.0
    resumed: Callable[[int], None] = lambda step: None
    stop_requested: Callable[[], bool] = lambda: False


def run_digest(start_weights: dict, mask: dict, **settings) -> str:
    """What a run's training depends on besides the trainer's configuration."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for arrays in (start_weights, mask):
        for name in sorted(arrays):
            h.update(name.encode())
            h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()
