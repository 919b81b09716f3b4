"""TensorBoard scalars of a run: `<root>/<store folder>/<run key>/`, one event file each.

    tensorboard --logdir <root>

At step 0 each masked layer's density (`density/<layer>`); at every evaluation the
validation loss and accuracy (and the test set's where the run records its test curve);
at the last step the early-stop iteration and the test and training accuracy at the end.
`tf.summary` writes to any file system TensorFlow reads (a `gs://` bucket on a TPU VM).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf


def run_writer(root, store: str, key: str, mask: dict[str, np.ndarray]) -> Callable[[int, dict], None]:
    """A function writing `{tag: value}` at a step into the run's event file, which starts
    with the mask's per-layer density."""
    writer = tf.summary.create_file_writer(f"{str(root).rstrip('/')}/{store}/{key}")

    def write(step: int, scalars: dict) -> None:
        with writer.as_default():
            for tag, value in scalars.items():
                if value is not None and np.isfinite(value):
                    tf.summary.scalar(tag, float(value), step=int(step))
        writer.flush()

    write(0, {f"density/{name}": float(np.mean(m)) for name, m in mask.items()})
    return write
