"""Structured pruning of whole hidden units (the paper's v1 XOR experiment), as pure functions.

A unit mask has shape [..., units] (leading axes: e.g. stacked trials). Pruning a unit
removes its incoming weights, its bias and its outgoing weights. The three v1 heuristics
score a unit by its trained weights:
- "input":   mean magnitude of its incoming weights,
- "output":  mean magnitude of its outgoing weights,
- "product": the product of the two.
The lowest-scoring surviving units are pruned; ties keep the lower unit index.
"""
from __future__ import annotations

import numpy as np

HEURISTICS = ("input", "output", "product")


def unit_scores(w_in: np.ndarray, w_out: np.ndarray, heuristic: str) -> np.ndarray:
    """Scores [..., units] from incoming [..., inputs, units] and outgoing [..., units, outputs] weights."""
    if heuristic not in HEURISTICS:
        raise ValueError(f"Unknown unit-pruning heuristic {heuristic!r}; use one of {HEURISTICS}.")
    incoming = np.abs(w_in).mean(axis=-2)
    outgoing = np.abs(w_out).mean(axis=-1)
    return {"input": incoming, "output": outgoing, "product": incoming * outgoing}[heuristic]


def prune_units(w_in: np.ndarray, w_out: np.ndarray, unit_mask: np.ndarray, keep: int, heuristic: str) -> np.ndarray:
    """Keep the `keep` best surviving units of each network (by `heuristic`); returns a new unit mask."""
    alive = unit_mask.sum(axis=-1)
    if np.any(alive < keep) or keep < 0:
        raise ValueError(f"Cannot keep {keep} units: some networks have only {int(alive.min())} left.")
    scores = np.where(unit_mask > 0, unit_scores(w_in, w_out, heuristic), -np.inf)
    order = np.argsort(-scores, axis=-1, kind="stable")  # stable: lower index first among ties
    ranks = np.argsort(order, axis=-1, kind="stable")
    return (ranks < keep).astype(np.float32)


def weight_masks(unit_mask: np.ndarray, n_inputs: int, n_outputs: int) -> dict[str, np.ndarray]:
    """Masks of the hidden layer's kernel, its bias and the next layer's kernel for `unit_mask`."""
    m = unit_mask.astype(np.float32)
    return {
        "incoming": np.repeat(m[..., None, :], n_inputs, axis=-2),
        "bias": m,
        "outgoing": np.repeat(m[..., :, None], n_outputs, axis=-1),
    }
