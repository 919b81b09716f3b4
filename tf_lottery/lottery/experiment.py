"""The lottery-ticket experiment: one iterative trunk per trial and control branches.

Trunk (the paper's Strategy 1): theta_0 -> train -> prune the surviving weights of each
layer by magnitude -> reset survivors to theta_0 -> train ... Each trunk round stores its
mask and trained weights. Branches read them:
- reinit: the same mask, a fresh theta_0' from the same initializer (own recorded seed);
- oneshot: prune the trained round-0 network straight to round k's per-layer counts,
  reset to theta_0 (and its own reinit controls).
Every run is stored on completion and skipped when already stored, so a study resumes
where it stopped, and any subset of runs can be requested (dependencies run first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tf_lottery.pruning import masks

from tf_lottery.pruning import rules as pruning

from tf_lottery.execution import scheduling
from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import Dataset
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.seeds import derive_seed
from tf_lottery.execution.store import RunStore
from tf_lottery.training.trainer import Trainer

STRATEGIES = ("iterative", "oneshot")
CONTROLS = ("ticket", "reinit")


@dataclass(frozen=True, order=True)
class RunSpec:
    trial: int
    strategy: str  # iterative | oneshot
    round: int
    control: str = "ticket"  # ticket | reinit
    reinit: int = 0  # index of the reinitialization (0 for tickets)

    def __post_init__(self):
        if self.strategy not in STRATEGIES or self.control not in CONTROLS:
            raise ValueError(f"Bad run {self}: strategy in {STRATEGIES}, control in {CONTROLS}.")
        if self.strategy == "oneshot" and self.round == 0:
            raise ValueError("One-shot round 0 is the trunk's round 0; ask for iterative round 0.")

    @property
    def key(self) -> str:
        leaf = "ticket" if self.control == "ticket" else f"reinit{self.reinit}"
        return f"trial{self.trial}/{self.strategy}/round{self.round:02d}/{leaf}"

    def dependencies(self) -> list["RunSpec"]:
        if self.control == "reinit":
            return [RunSpec(self.trial, self.strategy, self.round)]
        if self.strategy == "oneshot":
            return [RunSpec(self.trial, "iterative", 0)]
        return [RunSpec(self.trial, "iterative", self.round - 1)] if self.round > 0 else []


def plan(cfg: ExperimentConfig) -> list[RunSpec]:
    """Every run of the study, each after its dependencies, trial by trial."""
    study, specs = cfg.study, []
    levels = study.levels()

    def with_reinits(spec):
        reinits = study.reinits if spec.strategy in study.reinit_strategies else 0
        return [spec] + [RunSpec(spec.trial, spec.strategy, spec.round, "reinit", i) for i in range(reinits)]

    for trial in range(study.trials):
        specs.append(RunSpec(trial, "iterative", 0))
        if study.oneshot:
            for k in levels:
                specs += with_reinits(RunSpec(trial, "oneshot", k))
        for k in range(1, study.rounds + 1):
            trunk = RunSpec(trial, "iterative", k)
            specs += with_reinits(trunk) if k in levels else [trunk]
    return specs


def with_dependencies(specs: list[RunSpec]) -> list[RunSpec]:
    """`specs` plus everything they need, each run after its dependencies."""
    ordered, seen = [], set()

    def visit(spec):
        if spec in seen:
            return
        for dep in spec.dependencies():
            visit(dep)
        seen.add(spec)
        ordered.append(spec)

    for spec in specs:
        visit(spec)
    return ordered


class LotteryExperiment:
    """Builds the model and trainer once (under `strategy`) and executes runs into `store`."""

    # Used for the first time estimate, before a run has been timed on this machine
    # (one worker thread on this 2-core CPU: about 1,000 steps/s with evaluation).
    ASSUMED_STEPS_PER_SECOND = 1000.0

    def __init__(self, cfg: ExperimentConfig, dataset: Dataset, store: RunStore, strategy=None, log=None):
        cfg.validate()
        self.cfg, self.store = cfg, store
        self.log = log or (lambda message: print(message, flush=True))
        self.strategy = strategy or tf.distribute.get_strategy()
        self.data_source = dataset.source
        input_shape = dataset.train.x.shape[1:]
        with self.strategy.scope():
            self.model, self.groups = build_model(cfg.training.model, input_shape, dataset.num_classes)
        self.trainer = Trainer(self.model, dataset, cfg.training, self.strategy)
        self.rates = cfg.pruning.rates(self.groups)
        self.schedules = {name: pruning.LotterySchedule(rate) for name, rate in self.rates.items()}

    # -- seeds ---------------------------------------------------------------------
    def init_seed(self, trial: int) -> int:
        return derive_seed(self.cfg.seed, "init", trial)

    def order_seed(self, trial: int) -> int:
        return derive_seed(self.cfg.seed, "data-order", trial)

    def reinit_seed(self, spec: RunSpec) -> int:
        return derive_seed(self.cfg.seed, "reinit", spec.trial, spec.strategy, spec.round, spec.reinit)

    # -- state the runs need -------------------------------------------------------------
    def theta0(self, trial: int) -> dict[str, np.ndarray]:
        key = f"trial{trial}/init"
        if not self.store.has(key):
            seed = self.init_seed(trial)
            self.store.save(key, {"trial": trial, "init_seed": seed}, {"weights": initial_weights(self.model, seed)})
        return self.store.arrays(key, "weights")

    def mask_for(self, spec: RunSpec) -> masks.Mask:
        """The mask of a run; trunk masks are read from the store once computed."""
        if spec.control == "reinit":
            return self.mask_for(RunSpec(spec.trial, spec.strategy, spec.round))
        if spec.strategy == "iterative":
            if spec.round == 0:
                return masks.full_mask(self.theta0(spec.trial), self.groups)
            if self.store.has(spec.key):
                return self.store.arrays(spec.key, "mask")
            previous = RunSpec(spec.trial, "iterative", spec.round - 1)
            return self.prune_round(self.store.arrays(previous.key, "final"), self.mask_for(previous))
        trained = self.store.arrays(RunSpec(spec.trial, "iterative", 0).key, "final")
        return self.prune_oneshot(trained, spec.round)

    def prune_round(self, weights, mask) -> masks.Mask:
        """One round of iterative pruning from `mask`."""
        if self.cfg.pruning.scope == "layerwise":
            return pruning.layerwise_magnitude(weights, mask, self.rates)
        pooled = [n for n, g in self.groups.items() if g != "output"]
        mask = pruning.global_magnitude(weights, mask, self.cfg.pruning.fc_rate, layers=pooled)
        outputs = {n: r for n, r in self.rates.items() if n not in pooled}
        return pruning.layerwise_magnitude(weights, mask, outputs)

    def prune_oneshot(self, weights, rounds: int) -> masks.Mask:
        """Prune a dense trained network straight to the sparsity of `rounds` rounds."""
        full = masks.full_mask(weights, self.groups)
        if self.cfg.pruning.scope == "layerwise":
            keep = {n: s.surviving(full[n].size, rounds) for n, s in self.schedules.items()}
            return pruning.magnitude_to_counts(weights, full, keep)
        mask = full
        for _ in range(rounds):  # the same counts as the trunk, without retraining between
            mask = self.prune_round(weights, mask)
        return mask

    # -- execution ----------------------------------------------------------------------
    def execute(self, spec: RunSpec) -> dict:
        """Train one run (its dependencies must be stored) and store it."""
        theta0 = self.theta0(spec.trial)
        mask = self.mask_for(spec)
        seeds = {"init_seed": self.init_seed(spec.trial), "order_seed": self.order_seed(spec.trial)}
        if spec.control == "reinit":
            seeds["reinit_seed"] = self.reinit_seed(spec)
            start = initial_weights(self.model, seeds["reinit_seed"])
        else:
            start = theta0
        result = self.trainer.train(masks.apply(start, mask), mask, seeds["order_seed"])
        metrics = {
            "key": spec.key,
            "trial": spec.trial,
            "strategy": spec.strategy,
            "round": spec.round,
            "control": spec.control,
            "reinit": spec.reinit,
            "pm": 100.0 * masks.density(mask),
            "layer_counts": masks.counts(mask),
            **seeds,
            "early_stop_iter": result.early_stop_iter,
            "train_acc_early_stop": result.train_acc_early_stop,
            "train_acc_end": result.train_acc_end,
            "seconds": result.seconds,
            "curves": {
                "iteration": result.iterations.tolist(),
                "val_loss": result.val_loss.tolist(),
                "val_acc": result.val_acc.tolist(),
                "test_loss": result.test_loss.tolist(),
                "test_acc": result.test_acc.tolist(),
            },
        }
        # Only trunk runs feed later runs; controls keep their metrics alone.
        trunk = spec.strategy == "iterative" and spec.control == "ticket"
        self.store.save(spec.key, metrics, {"mask": mask, "final": result.final_weights} if trunk else None)
        return metrics

    def run(self, specs: list[RunSpec]) -> dict:
        """Train, in this process, every run in `specs` (plus dependencies) not stored yet."""
        return scheduling.run_graph(with_dependencies(specs), self.store.has, scheduling.InProcess(self),
                                    describe_run, self.log, self.guess_seconds_per_run(self.cfg))

    @classmethod
    def guess_seconds_per_run(cls, cfg: ExperimentConfig) -> float:
        return cfg.training.iterations / cls.ASSUMED_STEPS_PER_SECOND


def describe_run(spec: RunSpec, m: dict) -> str:
    """One progress line for a finished run."""
    es = m["curves"]["iteration"].index(m["early_stop_iter"])
    return (f"{spec.key}: Pm {m['pm']:.1f}%, early stop {m['early_stop_iter']}, test acc "
            f"{m['curves']['test_acc'][es]:.4f} there, {m['curves']['test_acc'][-1]:.4f} at end")
