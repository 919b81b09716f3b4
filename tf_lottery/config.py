"""Typed experiment configuration, mirrored from the paper's Figure 2 table.

Every field has help text and becomes a command-line flag (see `cli.py`). A run's identity
is every field that changes what the run computes (model, data, split, training, pruning,
seed), with its value, whatever the defaults are, plus `RUN_SCHEMA`; it is hashed into the
store path, so finished runs are found again and reused by any study (preset) that needs
them and never confused with other work. Fields marked `identity=False` only choose how a
run is executed (steps per compiled call, evaluation batch) or which runs a study contains
(`StudyConfig`), so they are left out.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

# Bump when a change makes stored runs mean something else (a changed default still
# changes the hash by itself; this covers changes of meaning the values do not show).
# 2: identity covers every field's value, the model and the data set (was: changed fields only).
RUN_SCHEMA = 2


def option(default, help, **kw):
    """A dataclass field with help text and flag metadata (choices, list type, identity)."""
    return field(default=default, metadata={"help": help, **kw})


_ABSENT = object()


def identity(obj) -> dict:
    """The fields of a config dataclass (recursively) that define a run's result.

    A field added after runs were stored declares `neutral=<value>`: the value that does
    exactly what the code did before the field existed. At that value it is left out, so
    those runs keep their identity; at any other value (whatever the default) it is in.
    """
    out = {}
    for f in dataclasses.fields(obj):
        if not f.metadata.get("identity", True):
            continue
        value = getattr(obj, f.name)
        if value == f.metadata.get("neutral", _ABSENT):
            continue
        out[f.name] = identity(value) if dataclasses.is_dataclass(value) else value
    return out


def identity_hash(values: dict) -> str:
    """A stable hash of a run identity (canonical JSON: sorted keys, tuples as lists)."""
    canonical = json.dumps({"schema": RUN_SCHEMA, **values}, sort_keys=True, default=list)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


class SettingsError(ValueError):
    """Settings that parse but cannot be used: they do not fit the model, the data or the
    devices, or a folder cannot be written. Scripts print it as one line (exit status 2)."""


def _positive(**values) -> None:
    bad = {k: v for k, v in values.items() if v < 1}
    if bad:
        raise ValueError(f"These settings must be >= 1: {bad}.")


def require_finite(settings) -> None:
    """nan compares False with every bound, so range checks alone let it through."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    bad = {k: v for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}
    if bad:
        raise ValueError(f"These settings must be finite numbers: {bad}.")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = option("mnist", "Data set (set by the model's protocol).")
    validation_size: int = option(5000, "Training examples held out for validation (paper: 5,000).")
    split_seed: int = option(0, "Seed of the validation hold-out (the same split for every trial).")
    max_examples: int = option(0, "Keep only the first N examples of each split (after the validation hold-out; "
                                  "0: all). For smoke tests on real data.", neutral=0)
    input_scaling: str = option("unit", "Pixel scaling (the paper is silent): unit divides by 255 as the authors' "
                                        "Lenet code did; standardize also subtracts the training set's per-channel "
                                        "mean and divides by its std, as open_lth does for CIFAR-10.",
                                choices=("unit", "standardize"), neutral="unit")


@dataclass(frozen=True)
class TrainingConfig:
    """Defaults are Lenet's protocol; each model's registry entry overrides them with its own."""

    model: str = option("lenet300_100", "Architecture (see tf_lottery/models/registry.py).")
    iterations: int = option(50_000, "Training iterations per run (paper: 50K for Lenet).", steps=True)
    batch_size: int = option(60, "Global batch size (paper: 60 for Lenet and Conv-2/4/6).")
    optimizer: str = option("adam", "Optimizer: adam, sgd, or momentum (SGD with momentum).",
                            choices=("adam", "sgd", "momentum"))
    learning_rate: float = option(1.2e-3, "Learning rate (paper: Adam 1.2e-3 for Lenet).")
    adam_epsilon: float = option(1e-8, "Adam epsilon; the paper is silent, its authors' TF1 code used tf.train.AdamOptimizer's 1e-8.")
    momentum: float = option(0.9, "Momentum of --optimizer momentum (paper: 0.9 for VGG-19 and ResNet-20).")
    weight_decay: float = option(0.0, "L2 weight decay added to every weight's gradient, as in SGD(weight_decay) of the "
                                      "authors' later code (paper: 1e-4 for VGG-19 and ResNet-20; 0 elsewhere).")
    lr_drops: tuple = option((), "Iterations at which the learning rate is multiplied by --lr-drop-factor (the "
                                 "protocol's move with --iterations or a preset's shortening unless given).",
                             type="int_list", steps=True)
    lr_drop_factor: float = option(0.1, "Factor of each learning-rate drop (paper: divide by 10).")
    warmup_iterations: int = option(0, "Linear learning-rate warmup from 0 over this many iterations (0: none; "
                                       "figures give it in the paper's units, scaled with the iterations).",
                                    steps=True)
    dropout: float = option(0.0, "Dropout rate after each hidden fc layer (0: none; paper: 0.5 for its Conv-2/4/6 "
                                 "dropout runs, whose layers it does not state).")
    conv_dropout: float = option(0.0, "Dropout rate after each conv block's pooling (0: none, the default: the paper "
                                      "does not say its conv nets had any).", neutral=0.0)
    batch_norm: str = option("global", "Batch-norm statistics under a multi-replica strategy: global (synchronized "
                                       "over the whole batch, as the paper's single-device training) or per_replica "
                                       "(each replica's share: no cross-replica traffic, the usual Keras behaviour). "
                                       "One device: the same.", choices=("global", "per_replica"), neutral="global")
    augment: bool = option(False, "Random horizontal flips and 4-pixel pad-and-crop, in-graph, seeded per run.")
    eval_every: int = option(100, "Evaluate validation (and, where a figure needs it, test) every this many iterations.",
                             steps=True)
    steps_per_call: int = option(
        100, "Training steps per compiled call; evaluation happens only at call ends, so it must divide eval_every.",
        identity=False)
    eval_batch_size: int = option(10_000, "Examples per evaluation batch (bounds evaluation memory).", identity=False)

    def validate(self) -> None:
        """The step arithmetic every trainer relies on; checked by the trainer itself."""
        _positive(iterations=self.iterations, batch_size=self.batch_size, eval_every=self.eval_every,
                  steps_per_call=self.steps_per_call, eval_batch_size=self.eval_batch_size)
        if self.eval_every % self.steps_per_call or self.iterations % self.eval_every:
            raise ValueError(
                f"steps_per_call ({self.steps_per_call}) must divide eval_every ({self.eval_every}), "
                f"which must divide iterations ({self.iterations})."
            )
        require_finite(self)
        if self.learning_rate <= 0 or self.adam_epsilon <= 0 or self.lr_drop_factor <= 0:
            raise ValueError(f"learning_rate, adam_epsilon and lr_drop_factor must be positive, got "
                             f"{self.learning_rate}, {self.adam_epsilon}, {self.lr_drop_factor}.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}.")
        fractions = {"momentum": self.momentum, "dropout": self.dropout, "conv_dropout": self.conv_dropout}
        if outside := {name: value for name, value in fractions.items() if not 0 <= value < 1}:
            raise ValueError(f"These settings must be in [0, 1): {outside}.")
        if not all(0 < d < self.iterations for d in self.lr_drops) or list(self.lr_drops) != sorted(set(self.lr_drops)):
            raise ValueError(f"lr_drops must be increasing iterations within 1..{self.iterations - 1}, "
                             f"got {self.lr_drops}.")
        if not 0 <= self.warmup_iterations <= self.iterations:
            raise ValueError(f"warmup_iterations must be in 0..{self.iterations}, got {self.warmup_iterations}.")


PRUNING_GROUPS = ("conv", "fc", "output")


@dataclass(frozen=True)
class PruningConfig:
    conv_rate: float = option(0.0, "Fraction of surviving conv weights pruned per round (paper: 10-20%).")
    fc_rate: float = option(0.2, "Fraction of surviving fully connected weights pruned per round (paper: 20%).")
    output_rate: float = option(0.1, "Rate for the output layer (paper: half the fc rate; 0 for VGG and ResNet).")
    scope: str = option("layerwise", "layerwise: each layer by its own magnitudes; global: pooled over "
                                     "--global-groups.", choices=("layerwise", "global"))
    global_groups: tuple = option(("conv", "fc"), "Groups pooled by --scope global (they must share one rate); "
                                                  "other groups stay layer-wise.", type="str_list")
    ignore: tuple = option((), "Weight-name patterns (fnmatch) never pruned, e.g. '*shortcut*'.", type="str_list")
    method: str = option("magnitude", "How a round chooses the weights to remove (tf_lottery/pruning/strategies.py).",
                         choices=("magnitude", "random"))
    reset: str = option("init", "What survivors restart from after each round: init (Strategy 1, theta_0), "
                                "continue (Strategy 2, keep training the trained weights), or rewind (the weights "
                                "of round 0 at --rewind-iteration: later rewinding).",
                        choices=("init", "continue", "rewind"))
    rewind_iteration: int = option(0, "Iteration of round 0 whose weights --reset rewind restarts from.", neutral=0,
                                   steps=True)

    def group_rates(self) -> dict[str, float]:
        return {"conv": self.conv_rate, "fc": self.fc_rate, "output": self.output_rate}

    def validate(self) -> None:
        for name, rate in self.group_rates().items():
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name}_rate must be in [0, 1), got {rate}.")
        if self.rewind_iteration < 0 or (self.rewind_iteration and self.reset != "rewind"):
            raise ValueError("rewind_iteration must be >= 0, and is only used with reset 'rewind'.")
        unknown = set(self.global_groups) - set(PRUNING_GROUPS)
        if unknown:
            raise ValueError(f"Unknown global_groups {sorted(unknown)}; use {', '.join(PRUNING_GROUPS)}.")


@dataclass(frozen=True)
class StudyConfig:
    """Which runs a study contains; not part of a run's identity."""

    trials: int = option(5, "Independent trials (fresh theta_0 each; paper: 5).")
    rounds: int = option(20, "Iterative pruning rounds after round 0 (paper's Lenet ladder: 0..20).")
    control_rounds: tuple = option(
        (), "Rounds that get controls (reinit, one-shot); empty means every round >= 1.", type="int_list"
    )
    reinits: int = option(3, "Random reinitializations per winning ticket (paper: 3).")
    random_sparse: int = option(0, "Randomly sampled sparse networks (random mask with the ticket's per-layer counts, "
                                   "fresh initialization) per control level (paper: 10, Figures 1 and 14).")
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
    study: StudyConfig = field(default_factory=StudyConfig, metadata={"identity": False})
    seed: int = option(0, "Base seed of every derived seed.")

    def validate(self) -> None:
        self.training.validate()
        self.pruning.validate()
        if self.pruning.rewind_iteration % self.training.steps_per_call or \
                self.pruning.rewind_iteration > self.training.iterations:
            raise ValueError(f"rewind_iteration ({self.pruning.rewind_iteration}) must be a multiple of steps_per_call "
                             f"({self.training.steps_per_call}) within the {self.training.iterations} iterations.")
        _positive(trials=self.study.trials, validation_size=self.data.validation_size)
        counts = {"rounds": self.study.rounds, "reinits": self.study.reinits,
                  "random_sparse": self.study.random_sparse, "max_examples": self.data.max_examples}
        negative = {k: v for k, v in counts.items() if v < 0}
        if negative:
            raise ValueError(f"These settings must be >= 0: {negative}.")
        if min(self.seed, self.data.split_seed) < 0:  # NumPy's generators take no negative seed
            raise ValueError(f"seed and split_seed must be >= 0, got {self.seed} and {self.data.split_seed}.")
        unknown = set(self.study.reinit_strategies) - {"iterative", "oneshot"}
        if unknown:
            raise ValueError(f"Unknown reinit strategies {sorted(unknown)}; use iterative, oneshot.")
        self.study.levels()

    def run_defining(self) -> dict:
        """Everything that changes a run's result (the study plan and execution do not)."""
        return identity(self)

    def run_hash(self) -> str:
        return identity_hash(self.run_defining())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
