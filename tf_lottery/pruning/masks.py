"""Masks as values: a dict from weight name to a 0/1 float32 array of the weight's shape.

Only prunable weights have an entry; everything else (biases, batch-norm parameters,
unpruned layers) is implicitly dense.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

Mask = dict[str, np.ndarray]
Weights = Mapping[str, np.ndarray]


def full_mask(weights: Weights, names) -> Mask:
    """A dense mask (all ones) over the weights named in `names`."""
    return {name: np.ones_like(weights[name], dtype=np.float32) for name in names}


def validate(mask: Mapping[str, np.ndarray], weights: Weights) -> None:
    for name, m in mask.items():
        if name not in weights:
            raise ValueError(f"Mask entry {name!r} names no weight; weights: {sorted(weights)}.")
        if m.shape != weights[name].shape:
            raise ValueError(f"Mask {name!r} has shape {m.shape}, weight has {weights[name].shape}.")
        if not np.isin(m, (0.0, 1.0)).all():
            raise ValueError(f"Mask {name!r} holds values other than 0 and 1.")


def counts(mask: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Surviving weights per layer."""
    return {name: int(m.sum()) for name, m in mask.items()}


def density(mask: Mapping[str, np.ndarray]) -> float:
    """Fraction of the masked weights remaining: the paper's Pm (over every conv and dense
    kernel, including those a protocol never prunes, as the paper counts ResNet's)."""
    total = sum(m.size for m in mask.values())
    return sum(counts(mask).values()) / total


def is_nested(inner: Mapping[str, np.ndarray], outer: Mapping[str, np.ndarray]) -> bool:
    """True if every weight kept by `inner` is also kept by `outer`."""
    return inner.keys() == outer.keys() and all(np.all(inner[k] <= outer[k]) for k in inner)


def apply(weights: Weights, mask: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weights with masked entries set to exactly zero; unmasked weights unchanged."""
    return {name: (w * mask[name]).astype(w.dtype) if name in mask else w for name, w in weights.items()}
