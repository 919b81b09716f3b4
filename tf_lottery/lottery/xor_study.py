"""The v1 XOR study: success rates of random networks by width, and of unit-pruned tickets.

Stages (each trains `trials` stacked networks in one compiled call and is stored, so the
study resumes after an interruption):
- random/hNN: random initializations with NN hidden units, NN = 1..max_hidden. The
  max_hidden stage is also every ticket's parent (theta_0 and trained weights).
- oneshot/<heuristic>/unitsK: prune the trained parent to K units at once, reset to theta_0.
- iterative/<heuristic>/unitsK: remove one unit per round (train, prune, reset) down to
  min(prune_to) units; round K's scores come from round K+1's trained weights.
- .../reinit: the same unit mask with a fresh draw from the initializer (own seed).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tf_lottery.pruning import masks
from tf_lottery.config import identity, identity_hash, option, require_finite
from tf_lottery.models.registry import initial_weights
from tf_lottery.seeds import derive_seed
from tf_lottery.execution.store import RunStore
from tf_lottery.pruning.unit_pruning import HEURISTICS, prune_units
from tf_lottery.models.xor import unit_mask_to_masks, xor_model
from tf_lottery.training.xor_trainer import XorTrainer


@dataclass(frozen=True)
class XorConfig:
    trials: int = option(1000, "Networks per configuration (trained together, stacked).")
    max_hidden: int = option(10, "Widest network: random widths 1..max_hidden; tickets are pruned from it.")
    init_std: float = option(0.1, "Std of the normal initializer, truncated at 2 std (v1: 0.1).")
    optimizer: str = option("adam", "Optimizer (not in v1's surviving text).", choices=("adam", "sgd"))
    learning_rate: float = option(0.01, "Learning rate (not in v1's surviving text).")
    iterations: int = option(10_000, "Full-batch training iterations (not in v1's surviving text).")
    loss_threshold: float = option(1e-3, "'Zero loss' means final mean cross-entropy below this.")
    # Which stages run does not change any stage's result: not part of the identity.
    prune_to: tuple = option((4, 2), "Unit counts of the pruned tickets; iterative pruning runs down to the smallest.",
                             type="int_list", identity=False)
    heuristics: tuple = option(HEURISTICS, "Unit-pruning heuristics: input, output, product.", type="str_list",
                               identity=False)
    seed: int = option(0, "Base seed of every derived seed.")

    def validate(self) -> None:
        require_finite(self)
        if self.trials < 1 or self.iterations < 1 or self.max_hidden < 2 or self.seed < 0:
            raise ValueError("trials and iterations must be >= 1, max_hidden >= 2 and seed >= 0.")
        if not self.prune_to or not all(1 <= k < self.max_hidden for k in self.prune_to):
            raise ValueError(f"prune_to must list unit counts in 1..{self.max_hidden - 1}, got {self.prune_to}.")
        unknown = set(self.heuristics) - set(HEURISTICS)
        if unknown:
            raise ValueError(f"Unknown heuristics {sorted(unknown)}; use {', '.join(HEURISTICS)}.")
        if self.learning_rate <= 0 or self.init_std <= 0 or self.loss_threshold <= 0:
            raise ValueError("learning_rate, init_std and loss_threshold must be positive.")

    def run_defining(self) -> dict:
        return identity(self)

    def run_hash(self) -> str:
        return identity_hash(self.run_defining())


@dataclass(frozen=True)
class Stage:
    strategy: str  # random | oneshot | iterative
    units: int
    heuristic: str = "-"
    control: str = "random"  # random | ticket | reinit

    @property
    def key(self) -> str:
        if self.strategy == "random":
            return f"random/h{self.units:02d}"
        return f"{self.strategy}/{self.heuristic}/units{self.units:02d}/{self.control}"


def xor_stages(c: XorConfig) -> list[Stage]:
    """Every stage of the study, each after the stages it reads."""
    out = [Stage("random", h) for h in range(1, c.max_hidden + 1)]
    for h in c.heuristics:
        for k in sorted(c.prune_to, reverse=True):
            out += [Stage("oneshot", k, h, "ticket"), Stage("oneshot", k, h, "reinit")]
        for k in range(c.max_hidden - 1, min(c.prune_to) - 1, -1):
            out.append(Stage("iterative", k, h, "ticket"))
            if k in c.prune_to:
                out.append(Stage("iterative", k, h, "reinit"))
    return out


class XorStudy:
    def __init__(self, cfg: XorConfig, store: RunStore):
        cfg.validate()
        self.cfg, self.store, self.data_source = cfg, store, "generated: the four XOR points"
        self._trainers: dict[int, XorTrainer] = {}

    def trainer(self, hidden: int) -> XorTrainer:
        """One compiled model per width, reused by every stage of that width."""
        if hidden not in self._trainers:
            model = xor_model(self.cfg.trials, hidden, self.cfg.init_std)
            self._trainers[hidden] = XorTrainer(model, self.cfg.optimizer, self.cfg.learning_rate, self.cfg.iterations)
        return self._trainers[hidden]

    def stages(self) -> list[Stage]:
        return xor_stages(self.cfg)

    def init_seed(self, hidden: int) -> int:
        return derive_seed(self.cfg.seed, "xor-init", hidden)

    def reinit_seed(self, stage: Stage) -> int:
        return derive_seed(self.cfg.seed, "xor-reinit", stage.strategy, stage.heuristic, stage.units)

    def _parent(self) -> tuple[dict, dict]:
        key = Stage("random", self.cfg.max_hidden).key
        return self.store.arrays(key, "init"), self.store.arrays(key, "final")

    def unit_mask(self, stage: Stage) -> np.ndarray:
        c = self.cfg
        if stage.strategy == "random":
            return np.ones((c.trials, stage.units), np.float32)
        if stage.control == "reinit":
            return self.store.arrays(dataclasses.replace(stage, control="ticket").key, "units")["mask"]
        if stage.strategy == "oneshot" or stage.units == c.max_hidden - 1:  # pruned from the dense parent
            trained, previous = self._parent()[1], np.ones((c.trials, c.max_hidden), np.float32)
        else:
            before = Stage("iterative", stage.units + 1, stage.heuristic, "ticket")
            trained, previous = self.store.arrays(before.key, "final"), self.store.arrays(before.key, "units")["mask"]
        return prune_units(trained["hidden/kernel"], trained["output/kernel"], previous, stage.units, stage.heuristic)

    def execute(self, stage: Stage) -> dict:
        c = self.cfg
        mask_units = self.unit_mask(stage)
        hidden = mask_units.shape[1]
        trainer = self.trainer(hidden)
        if stage.strategy == "random":
            seed = self.init_seed(stage.units)
            start = initial_weights(trainer.model, seed)
        elif stage.control == "reinit":
            seed = self.reinit_seed(stage)
            start = initial_weights(trainer.model, seed)
        else:
            seed, start = self.init_seed(c.max_hidden), self._parent()[0]
        weight_masks = unit_mask_to_masks(mask_units)
        result = trainer.train(masks.apply(start, weight_masks), weight_masks)
        metrics = {"key": stage.key, **dataclasses.asdict(stage), "seed": seed, "seconds": result.seconds,
                   "boundary_rate": float(result.boundary.mean()),
                   "zero_loss_rate": float((result.loss < c.loss_threshold).mean())}
        arrays = {"result": {"loss": result.loss, "boundary": result.boundary}, "units": {"mask": mask_units}}
        if stage.control in ("random", "ticket") and hidden == c.max_hidden:
            arrays["final"] = result.final_weights  # later stages score units with these
        if stage.strategy == "random" and stage.units == c.max_hidden:
            arrays["init"] = start
        self.store.save(stage.key, metrics, arrays)
        return metrics

    @staticmethod
    def dependencies_of(cfg: XorConfig, stage: Stage) -> list[Stage]:
        """The stages whose stored outputs `stage` reads."""
        if stage.strategy == "random":
            return []
        if stage.control == "reinit":
            return [dataclasses.replace(stage, control="ticket")]
        if stage.strategy == "oneshot" or stage.units == cfg.max_hidden - 1:
            return [Stage("random", cfg.max_hidden)]
        return [Stage("iterative", stage.units + 1, stage.heuristic, "ticket")]

    def trials_table(self) -> pd.DataFrame:
        """One row per network and stage; `parent_success` is the trial's max_hidden network's success."""
        parent = self.store.arrays(Stage("random", self.cfg.max_hidden).key, "result")
        parent_ok = parent["boundary"] & (parent["loss"] < self.cfg.loss_threshold)
        frames = []
        for stage in self.stages():
            r, m = self.store.arrays(stage.key, "result"), self.store.metrics(stage.key)
            frames.append(pd.DataFrame({
                "strategy": stage.strategy, "heuristic": stage.heuristic, "units": stage.units,
                "control": stage.control, "seed": m["seed"], "seconds": m["seconds"],
                "trial": np.arange(self.cfg.trials), "final_loss": r["loss"],
                "boundary": r["boundary"], "zero_loss": r["loss"] < self.cfg.loss_threshold,
                "parent_success": parent_ok,
            }))
        return pd.concat(frames, ignore_index=True)


def describe_stage(stage: Stage, m: dict) -> str:
    return f"{stage.key}: decision boundary {m['boundary_rate']:.3f}, zero loss {m['zero_loss_rate']:.3f}"


def success_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Success rates per stage, over all trials and over the trials whose parent succeeded."""
    keys = ["strategy", "heuristic", "units", "control", "seed"]
    trials = trials.assign(success=trials["boundary"] & trials["zero_loss"])

    def rates(df):
        given = df[df["parent_success"]]
        out = {"trials": len(df), "parent_succeeded": len(given), "seconds": df["seconds"].iloc[0]}
        for column in ("boundary", "zero_loss", "success"):
            out[f"{column}_rate"] = df[column].mean()
            out[f"{column}_rate_parent_succeeded"] = given[column].mean() if len(given) else float("nan")
        return pd.Series(out)

    table = trials.groupby(keys, sort=False).apply(rates, include_groups=False).reset_index()
    return table.astype({"trials": int, "parent_succeeded": int})
