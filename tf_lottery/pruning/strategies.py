"""Pruning strategies as registries, so the experiment has no if-chains over them.

- `SCORES`: what a round ranks the surviving weights by (`magnitude`: |w| of the trained
  weights; `random`: a seeded uniform draw, the same counts at random positions).
- `RESETS`: what the survivors restart from after a round (`init`: theta_0, the paper's
  Strategy 1; `continue`: the trained weights, Strategy 2; `rewind`: the weights of round 0
  at an early iteration, later rewinding). Each picks one of a run's `RestartPoints`.
- `PruningPlan`: per-layer rates from the model's groups and the config, with the ignore
  list, and the pools of global pruning. A round removes the lowest-scoring weights of
  each pool (global) or of each layer (layer-wise), with exact counts (`rules`).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from tf_lottery.config import PruningConfig
from tf_lottery.pruning import rules
from tf_lottery.pruning.masks import Mask, Weights


def _magnitude_scores(weights: Weights, mask: Mask, seed: int) -> dict[str, np.ndarray]:
    return {name: weights[name] for name in mask}  # the rules rank by |score|


def _random_scores(weights: Weights, mask: Mask, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.random(m.shape) for name, m in mask.items()}


SCORES: dict[str, Callable[[Weights, Mask, int], dict]] = {"magnitude": _magnitude_scores, "random": _random_scores}

@dataclass(frozen=True)
class RestartPoints:
    """Where a pruned run may restart from, each loaded only when chosen."""

    theta0: Callable[[], Weights]
    trained: Callable[[], Weights]  # the weights it was pruned from
    rewound: Callable[[], Weights]  # round 0's weights at the rewind iteration


RESETS: dict[str, Callable[[RestartPoints], Weights]] = {
    "init": lambda points: points.theta0(),
    "continue": lambda points: points.trained(),
    "rewind": lambda points: points.rewound(),
}


@dataclass(frozen=True)
class PruningPlan:
    rates: dict[str, float]  # per prunable weight; 0 for ignored weights
    pools: tuple[tuple[str, ...], ...]  # weights pruned together (global scope); others layer-wise
    method: str

    @classmethod
    def from_config(cls, cfg: PruningConfig, groups: Mapping[str, str]) -> "PruningPlan":
        by_group = cfg.group_rates()
        ignored = {n for n in groups if any(fnmatch.fnmatchcase(n, p) for p in cfg.ignore)}
        unmatched = [p for p in cfg.ignore if not any(fnmatch.fnmatchcase(n, p) for n in groups)]
        if unmatched or ignored == set(groups):  # a typo would prune what was meant to be kept
            raise ValueError(f"--ignore {','.join(cfg.ignore)} must match some, not all, of the prunable weights "
                             f"{', '.join(groups)}" + (f"; {', '.join(unmatched)} matches none." if unmatched else
                                                       ": it matches all of them."))
        rates = {n: 0.0 if n in ignored else by_group[g] for n, g in groups.items()}
        pools: tuple = ()
        if cfg.scope == "global":
            pool = tuple(n for n, g in groups.items() if g in cfg.global_groups and n not in ignored)
            pool_rates = {rates[n] for n in pool}
            if len(pool_rates) > 1:
                raise ValueError(f"Global pruning pools {sorted(set(groups[n] for n in pool))} with different rates "
                                 f"{sorted(pool_rates)}; give them one rate or narrow --global-groups.")
            pools = (pool,) if pool else ()
        if cfg.method not in SCORES or cfg.reset not in RESETS:
            raise ValueError(f"Unknown pruning method {cfg.method!r} or reset {cfg.reset!r}.")
        return cls(rates, pools, cfg.method)

    def prune(self, weights: Weights, mask: Mask, seed: int = 0) -> Mask:
        """One round: remove each layer's (or pool's) rate of its surviving weights."""
        scores = SCORES[self.method](weights, mask, seed)
        pooled = {n for pool in self.pools for n in pool}
        for pool in self.pools:
            mask = rules.global_magnitude(scores, mask, self.rates[pool[0]], layers=pool)
        return rules.layerwise_magnitude(scores, mask, {n: r for n, r in self.rates.items() if n not in pooled})

    def prune_to_counts(self, weights: Weights, mask: Mask, keep: Mapping[str, int], seed: int = 0) -> Mask:
        """Keep exactly `keep[layer]` of each layer's surviving weights, highest scores first
        (one-shot pruning to the trunk's counts)."""
        return rules.magnitude_to_counts(SCORES[self.method](weights, mask, seed), mask, keep)

    def surviving(self, sizes: Mapping[str, int], rounds: int) -> dict[str, int]:
        """Weights left after `rounds` rounds, per layer (layer-wise) and per pool (global,
        keyed by the pool's first layer with the pool's total): exact, since counts are."""
        pooled = {n for pool in self.pools for n in pool}
        alive = {n: s for n, s in sizes.items() if n not in pooled}
        alive |= {pool[0]: sum(sizes[n] for n in pool) for pool in self.pools}
        return {n: rules.LotterySchedule(self.rates[n]).surviving(a, rounds) for n, a in alive.items()}

    def expected_pm(self, sizes: Mapping[str, int], rounds: int) -> float:
        """Percent of prunable weights remaining after `rounds` rounds."""
        return 100.0 * sum(self.surviving(sizes, rounds).values()) / sum(sizes.values())
