"""Pruning rules as pure functions (weights, current mask, rates) -> new mask, and the
per-round sparsity schedule as a TF-MOT `PruningSchedule`.

Counts are exact: a rule removes `round_half_up(rate * surviving)` weights of a layer, so
after k rounds a layer of n weights keeps `LotterySchedule(rate).surviving(n, k)` weights.
Ties in magnitude are broken by position: among equal scores, the weight with the lower
flat (C-order) index survives. This makes every rule deterministic.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tf_lottery.pruning.masks import Mask, Weights


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Which of the 1-D `scores` are their k highest, the lower index first among ties (as a
    stable sort of -scores would take them; NaN counts as lowest), in linear time: sorting
    VGG-19's 20M weights took seconds a round."""
    scores = np.where(np.isnan(scores), -np.inf, scores)
    kept = np.zeros(scores.size, bool)
    if k == scores.size:
        kept[:] = True
    elif k > 0:
        kth = np.partition(scores, scores.size - k)[scores.size - k]
        kept = scores > kth
        kept[np.flatnonzero(scores == kth)[: k - int(kept.sum())]] = True
    return kept


def _keep_top(scores: Mapping[str, np.ndarray], mask: Mapping[str, np.ndarray], keep: Mapping[str, int]) -> Mask:
    """Per layer, keep the `keep[name]` highest-scoring weights that `mask` still keeps."""
    new = {}
    for name, m in mask.items():
        alive = np.flatnonzero(m.reshape(-1))
        k = keep[name]
        if not 0 <= k <= alive.size:
            raise ValueError(f"Cannot keep {k} weights of {name!r}: {alive.size} survive.")
        flat = np.zeros(m.size, np.float32)
        flat[alive[top_k(scores[name].reshape(-1)[alive], k)]] = 1.0
        new[name] = flat.reshape(m.shape)
    return new


def keep_after_rate(n_alive: int, rate: float) -> int:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"Pruning rates must be in [0, 1], got {rate}.")
    return n_alive - round_half_up(rate * n_alive)


def _magnitudes(weights: Weights, mask: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = set(mask) - set(weights)
    if missing:
        raise ValueError(f"No weights for masked layers {sorted(missing)}.")
    return {name: np.abs(weights[name]) for name in mask}


def _layer_rates(mask: Mapping[str, np.ndarray], rates: Mapping[str, float]) -> dict[str, float]:
    unknown = set(rates) - set(mask)
    if unknown:
        raise ValueError(f"Rates given for unknown layers {sorted(unknown)}; layers: {sorted(mask)}.")
    return {name: rates.get(name, 0.0) for name in mask}


def layerwise_magnitude(weights: Weights, mask: Mapping[str, np.ndarray], rates: Mapping[str, float]) -> Mask:
    """Remove `rates[layer]` of each layer's surviving weights, smallest magnitude first.

    Layers without a rate are left as they are.
    """
    rates = _layer_rates(mask, rates)
    keep = {n: keep_after_rate(int(mask[n].sum()), r) for n, r in rates.items()}
    return _keep_top(_magnitudes(weights, mask), mask, keep)


def magnitude_to_counts(weights: Weights, mask: Mapping[str, np.ndarray], keep: Mapping[str, int]) -> Mask:
    """Keep exactly `keep[layer]` of each layer's surviving weights, largest magnitude first
    (one-shot pruning to a target count)."""
    return _keep_top(_magnitudes(weights, mask), mask, keep)


def global_magnitude(weights: Weights, mask: Mapping[str, np.ndarray], rate: float, layers=None) -> Mask:
    """Remove `rate` of the surviving weights pooled over `layers` (default: all masked
    layers), smallest magnitude first; layers outside `layers` are untouched."""
    layers = list(mask) if layers is None else list(layers)
    mags = _magnitudes(weights, mask)
    alive = np.concatenate([mags[n].reshape(-1)[mask[n].reshape(-1) > 0] for n in layers])
    k = keep_after_rate(alive.size, rate)
    # Pool order is (layer order, flat index), so top_k gives the documented tie-break.
    kept = top_k(alive, k)
    keep, start = {n: int(mask[n].sum()) for n in mask}, 0
    for n in layers:
        keep[n] = int(kept[start : start + keep[n]].sum())
        start += int(mask[n].sum())
    pooled = {n: mags[n] if n in layers else np.ones_like(mags[n]) for n in mask}
    # A threshold shared by all layers in the pool is the same as each layer keeping its top
    # `keep[n]`, which reuses the per-layer routine (and its tie-break).
    return _keep_top(pooled, mask, keep)


def random_pruning(mask: Mapping[str, np.ndarray], rates: Mapping[str, float], seed: int) -> Mask:
    """Remove `rates[layer]` of each layer's surviving weights uniformly at random: the same
    per-layer counts as `layerwise_magnitude`, different positions."""
    rates = _layer_rates(mask, rates)
    rng = np.random.default_rng(seed)
    scores = {n: rng.random(m.shape) for n, m in mask.items()}
    keep = {n: keep_after_rate(int(mask[n].sum()), r) for n, r in rates.items()}
    return _keep_top(scores, mask, keep)


def random_like(mask: Mapping[str, np.ndarray], seed: int) -> Mask:
    """A random mask with the same per-layer counts as `mask` (the random-sparsity control)."""
    rng = np.random.default_rng(seed)
    dense = {n: np.ones_like(m) for n, m in mask.items()}
    return _keep_top({n: rng.random(m.shape) for n, m in mask.items()}, dense, {n: int(m.sum()) for n, m in mask.items()})


class LotterySchedule(tfmot.sparsity.keras.PruningSchedule):
    """Prune `rate` of the surviving weights once per round: after k rounds a layer keeps
    about (1 - rate)^k of its weights (exactly `surviving(n, k)` of n).

    As a TF-MOT schedule, one round lasts `steps_per_round` training steps starting at
    `begin_step`, so the same schedule can drive `prune_low_magnitude`.
    """

    def __init__(self, rate: float, steps_per_round: int = 1, begin_step: int = 0, end_step: int = -1):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}.")
        if steps_per_round < 1:
            raise ValueError(f"steps_per_round must be >= 1, got {steps_per_round}.")
        self.rate, self.steps_per_round = float(rate), int(steps_per_round)
        self.begin_step, self.end_step = int(begin_step), int(end_step)

    def round_at(self, step):
        return tf.maximum(0, (tf.cast(step, tf.int64) - self.begin_step) // self.steps_per_round)

    def __call__(self, step):
        rounds = tf.cast(self.round_at(step), tf.float32)
        sparsity = 1.0 - tf.pow(1.0 - self.rate, rounds)
        should_prune = self._should_prune_in_step(step, self.begin_step, self.end_step, self.steps_per_round)
        return should_prune, sparsity

    def get_config(self):
        return {
            "class_name": type(self).__name__,
            "config": {
                "rate": self.rate,
                "steps_per_round": self.steps_per_round,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
            },
        }

    def surviving(self, n: int, rounds: int) -> int:
        """Exact number of weights a layer of `n` keeps after `rounds` rounds."""
        for _ in range(rounds):
            n = keep_after_rate(n, self.rate)
        return n

    def target_sparsity(self, rounds: int) -> float:
        return 1.0 - (1.0 - self.rate) ** rounds
