"""Sweeps: the runs of several configurations (learning rates, pruning rates, widths) as
one study, so that one pool of workers trains all of them at once instead of one
configuration after another.

A `SweptRun` is a run of one configuration; its key is prefixed by the configuration's
store folder, so the keys of all configurations live in one namespace. `SweepStore` routes
each key to that configuration's own `RunStore` (the same folders a single-configuration
study uses, so runs are shared both ways), and `SweepExecutor` builds one
`LotteryExperiment` per configuration, lazily, in each worker.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import load_for
from tf_lottery.execution.store import RunStore
from tf_lottery.lottery.experiment import (LotteryExperiment, RunSpec, copy_source_name, describe_run,
                                          is_stored, reads, records_rewind_point, with_dependencies)


def store_name(cfg: ExperimentConfig) -> str:
    return cfg.training.model


def store_folder(cfg: ExperimentConfig) -> str:
    """The folder of `cfg`'s store, which names the configuration in a sweep's keys and logs."""
    return f"{store_name(cfg)}-{cfg.run_hash()}"


@dataclass(frozen=True)
class SweptRun:
    cfg: ExperimentConfig
    run: RunSpec
    # The round 0 of another configuration this one waits for and is copied from (not
    # part of its identity; see `sweep`).
    copy_of: "SweptRun | None" = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{store_folder(self.cfg)}/{self.run.key}"

    @property
    def test_curve(self) -> bool:
        return self.run.test_curve

    @property
    def weights(self) -> bool:
        return self.run.weights

    def dependencies(self) -> list["SweptRun"]:
        copied = [self.copy_of] if self.copy_of else []
        return [SweptRun(self.cfg, d) for d in self.run.dependencies()] + copied


def sweep(configs, runs_of) -> list[SweptRun]:
    """Every run `runs_of(cfg)` lists, for every configuration (ordered, with dependencies).

    Round 0 does not depend on the pruning settings: a configuration's round 0 waits for
    the same round 0 of an earlier configuration differing only in them, and is copied
    from it (`LotteryExperiment`) instead of trained alongside it on another worker."""
    runs, unpruned = [], {}
    for cfg in configs:
        for run in with_dependencies(runs_of(cfg)):
            swept = SweptRun(cfg, run)
            if run.is_unpruned and not records_rewind_point(cfg):
                first = unpruned.setdefault((_without_pruning(cfg), run.trial), swept)
                swept = swept if first.cfg == cfg else SweptRun(cfg, run, copy_of=first)
            runs.append(swept)
    return runs


def _without_pruning(cfg: ExperimentConfig) -> str:
    return json.dumps({k: v for k, v in cfg.run_defining().items() if k != "pruning"}, sort_keys=True, default=list)


class SweepStore:
    """The stores of a sweep's configurations behind one key space (what the scheduler and
    the Ray backend need: `has`, `metrics`, `checkpointed_at` and `lease_holder`)."""

    def __init__(self, root, configs, read_only: bool = False):
        self.stores = {store_folder(c): RunStore(root, store_name(c), c, read_only=read_only)
                       for c in configs}

    def locate(self, key: str) -> tuple[RunStore, str]:
        """The configuration's store and the run's key there."""
        folder, run_key = key.split("/", 1)
        return self.stores[folder], run_key

    def has(self, key: str) -> bool:
        store, run_key = self.locate(key)
        return store.has(run_key)

    def metrics(self, key: str) -> dict:
        store, run_key = self.locate(key)
        return store.metrics(run_key)

    def checkpointed_at(self, key: str) -> int | None:
        store, run_key = self.locate(key)
        return store.checkpointed_at(run_key)

    def lease_holder(self, key: str) -> dict | None:
        store, run_key = self.locate(key)
        return store.lease_holder(run_key)

    def store_of(self, cfg: ExperimentConfig) -> RunStore:
        return self.stores[store_folder(cfg)]


def swept_reads(swept: SweptRun) -> list[SweptRun]:
    """The runs whose arrays training `swept` reads (`experiment.reads`), and the round 0
    it is copied from."""
    return [SweptRun(swept.cfg, r) for r in reads(swept.cfg, swept.run)] + ([swept.copy_of] if swept.copy_of else [])


def swept_with_weights(swept: SweptRun) -> SweptRun:
    return dataclasses.replace(swept, run=dataclasses.replace(swept.run, weights=True))


class SweepView:
    """A sweep's runs in a results ledger, read as a report reads a `SweepStore`."""

    def __init__(self, ledger):
        self.ledger = ledger

    def store_of(self, cfg: ExperimentConfig):
        return self.ledger.view(store_folder(cfg))

    def has(self, key: str) -> bool:
        folder, run_key = key.split("/", 1)
        return self.ledger.has(folder, run_key)

    def metrics(self, key: str) -> dict:
        folder, run_key = key.split("/", 1)
        return self.ledger.view(folder).metrics(run_key)


def swept_is_stored(store: SweepStore, swept: SweptRun) -> bool:
    return is_stored(store.store_of(swept.cfg), swept.run)


def swept_copy_source_name(store: SweepStore, swept: SweptRun) -> str | None:
    """The store a run not stored yet will be copied from: the configuration whose round 0
    it waits for in this sweep, or one that has it already."""
    if swept.copy_of is not None and not store.has(swept.key):
        return store.store_of(swept.copy_of.cfg).dir.name
    return copy_source_name(store.store_of(swept.cfg), swept.cfg, swept.run)


def describe_swept(swept: SweptRun, metrics: dict) -> str:
    return f"[{store_folder(swept.cfg)}] {describe_run(swept.run, metrics)}"


class SweepExecutor:
    """Trains runs of any configuration of a sweep: one experiment (model, compiled loop)
    per configuration and one copy of each data split, built on first use in this process."""

    def __init__(self, data_dir, store_root, strategy=None, xla: str = "auto", tensorboard=None):
        self.data_dir, self.store_root, self.strategy, self.xla = data_dir, Path(store_root), strategy, xla
        self.tensorboard = tensorboard
        self.experiments, self.datasets, self.data_source = {}, {}, None

    def execute(self, swept: SweptRun) -> dict:
        cfg = swept.cfg
        if cfg not in self.experiments:
            if cfg.data not in self.datasets:
                self.datasets[cfg.data] = load_for(cfg.data, self.data_dir)
            dataset = self.datasets[cfg.data]
            self.experiments[cfg] = LotteryExperiment(cfg, dataset, RunStore(self.store_root, store_name(cfg), cfg),
                                                      self.strategy, log=_naming(store_folder(cfg)), xla=self.xla,
                                                      tensorboard=self.tensorboard)
            self.data_source = dataset.source
        return self.experiments[cfg].execute(swept.run)


def _naming(folder: str):
    """A log that names the configuration on each line (its runs' keys recur across a
    sweep's configurations), as the line the scheduler prints when a run ends does."""
    def log(message: str) -> None:
        text = message.lstrip()
        print(f"{message[:len(message) - len(text)]}[{folder}] {text}", flush=True)
    return log
