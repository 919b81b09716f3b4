"""Typed experiment configuration, mirrored from the paper's Figure 2 table.

Every field has help text and becomes a command-line flag (see `cli.py`). The fields that
change what a single training run computes are hashed into the store path, so finished
runs are found again and reused by any study (preset) that needs them; fields that only
choose *which* runs a study contains (trials, rounds, reinits) are not hashed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field


def option(default, help, **kw):
    """A dataclass field with help text (and flag metadata: choices, list type)."""
    return field(default=default, metadata={"help": help, **kw})


def _changed(values: dict, defaults: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _changed(value, defaults.get(key, {}))
            if value:
                out[key] = value
        elif key not in defaults or value != defaults[key]:
            out[key] = value
    return out


def changed_fields_hash(values: dict, defaults: dict) -> str:
    """Hash of the fields that differ from their defaults, so adding a field whose default
    changes nothing keeps every existing hash (and stored run) valid."""
    canonical = json.dumps(_changed(values, defaults), sort_keys=True, default=list)
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class DataConfig:
    dataset: str = option("mnist", "Data set.")
    validation_size: int = option(5000, "Training examples held out for validation (paper: 5,000).")
    split_seed: int = option(0, "Seed of the validation hold-out (the same split for every trial).")


@dataclass(frozen=True)
class TrainingConfig:
    model: str = option("lenet300_100", "Architecture.")
    iterations: int = option(50_000, "Training iterations per run (paper: 50K for Lenet).")
    batch_size: int = option(60, "Global batch size (paper: 60).")
    optimizer: str = option("adam", "Optimizer: adam or sgd.", choices=("adam", "sgd"))
    learning_rate: float = option(1.2e-3, "Learning rate (paper: Adam 1.2e-3 for Lenet).")
    adam_epsilon: float = option(1e-8, "Adam epsilon; the paper is silent, its authors' TF1 code used tf.train.AdamOptimizer's 1e-8.")
    eval_every: int = option(100, "Evaluate validation and test loss/accuracy every this many iterations.")
    steps_per_call: int = option(
        100, "Training steps per compiled call; evaluation happens only at call ends, so it must divide eval_every."
    )


@dataclass(frozen=True)
class PruningConfig:
    fc_rate: float = option(0.2, "Fraction of surviving fully connected weights pruned per round (paper: 20%).")
    output_rate: float = option(0.1, "Rate for the output layer (paper: half the fc rate).")
    scope: str = option("layerwise", "layerwise: each layer by its own magnitudes; global: pooled.",
                    choices=("layerwise", "global"))

    def rates(self, groups: dict[str, str]) -> dict[str, float]:
        """Per-weight rates from the rate groups a model declares."""
        by_group = {"fc": self.fc_rate, "output": self.output_rate}
        unknown = set(groups.values()) - set(by_group)
        if unknown:
            raise ValueError(f"No pruning rate configured for groups {sorted(unknown)}.")
        return {name: by_group[g] for name, g in groups.items()}


@dataclass(frozen=True)
class StudyConfig:
    """Which runs a study contains; not part of the run hash."""

    trials: int = option(5, "Independent trials (fresh theta_0 each; paper: 5).")
    rounds: int = option(20, "Iterative pruning rounds after round 0 (paper's Lenet ladder: 0..20).")
    control_rounds: tuple = option(
        (), "Rounds that get controls (reinit, one-shot); empty means every round >= 1.", type="int_list"
    )
    reinits: int = option(3, "Random reinitializations per winning ticket (paper: 3).")
    reinit_strategies: tuple = option(
        ("iterative", "oneshot"), "Strategies whose tickets get random-reinit controls.", type="str_list"
    )
    oneshot: bool = option(True, "Also prune one-shot from the trained round-0 network at each control round.")

    def levels(self) -> list[int]:
        chosen = self.control_rounds or tuple(range(1, self.rounds + 1))
        bad = [r for r in chosen if not 1 <= r <= self.rounds]
        if bad:
            raise ValueError(f"control_rounds {bad} outside 1..rounds={self.rounds}.")
        return sorted(set(chosen))


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    seed: int = 0

    def validate(self) -> None:
        t = self.training
        positive = {"iterations": t.iterations, "batch_size": t.batch_size, "eval_every": t.eval_every,
                    "steps_per_call": t.steps_per_call, "trials": self.study.trials,
                    "validation_size": self.data.validation_size}
        bad = {k: v for k, v in positive.items() if v < 1}
        if bad:
            raise ValueError(f"These settings must be >= 1: {bad}.")
        if t.eval_every % t.steps_per_call or t.iterations % t.eval_every:
            raise ValueError(
                f"steps_per_call ({t.steps_per_call}) must divide eval_every ({t.eval_every}), "
                f"which must divide iterations ({t.iterations})."
            )
        if t.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {t.learning_rate}.")
        for name in ("fc_rate", "output_rate"):
            if not 0.0 <= getattr(self.pruning, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self.pruning, name)}.")
        if self.study.rounds < 0 or self.study.reinits < 0:
            raise ValueError("rounds and reinits must be >= 0.")
        unknown = set(self.study.reinit_strategies) - {"iterative", "oneshot"}
        if unknown:
            raise ValueError(f"Unknown reinit strategies {sorted(unknown)}; use iterative, oneshot.")
        self.study.levels()

    def run_defining(self) -> dict:
        """Everything that changes a run's result (the study plan does not)."""
        return {
            "data": dataclasses.asdict(self.data),
            "training": {k: v for k, v in dataclasses.asdict(self.training).items() if k != "steps_per_call"},
            "pruning": dataclasses.asdict(self.pruning),
            "seed": self.seed,
        }

    def run_hash(self) -> str:
        return changed_fields_hash(self.run_defining(), ExperimentConfig().run_defining())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
