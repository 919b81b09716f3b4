"""The kinds of study a figure can run: lottery-ticket runs of a registered model, sweeps
of several such configurations on one pool of workers, and v1's stacked XOR stages."""
from __future__ import annotations

import dataclasses
import functools

from tf_lottery import cli, presets
from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import load_for
from tf_lottery.execution.timing import Timing, store_timing
from tf_lottery.execution.store import RunStore
from tf_lottery.lottery.experiment import (LotteryExperiment, copy_source_name, describe_run, reads, is_stored,
                                           with_dependencies)
from tf_lottery.lottery.sweep import (SweepExecutor, SweepStore, SweepView, describe_swept, store_folder,
                                      swept_copy_source_name, swept_is_stored, swept_reads, swept_with_weights)
from tf_lottery.lottery.xor_study import XorConfig, XorStudy, describe_stage
from tf_lottery.models.registry import model_spec, prunable_sizes
from tf_lottery.pruning.strategies import PruningPlan
from tf_lottery.training.trainer import require_batch_fits


def only(configs: list):
    """The one configuration of a kind of study that has one (a figure without variants)."""
    (cfg,) = configs
    return cfg


def lottery_executor(configs: list, data_dir, store_root, strategy=None, xla: str = "auto", tensorboard=None):
    """Everything one process needs to train lottery runs (built in each worker)."""
    cfg = only(configs)
    dataset = load_for(cfg.data, data_dir)
    return LotteryExperiment(cfg, dataset, RunStore(store_root, cfg.training.model, cfg), strategy, xla=xla,
                             tensorboard=tensorboard)


class LotteryKind:
    sections, data, strategies = cli.LOTTERY_SECTIONS, True, True

    @staticmethod
    def make_config(sections, seed):
        return ExperimentConfig(**sections, seed=seed)

    protocol = staticmethod(presets.model_protocol)
    executor = staticmethod(lottery_executor)
    with_dependencies = staticmethod(with_dependencies)
    is_stored = staticmethod(is_stored)
    describe = staticmethod(describe_run)

    @staticmethod
    def open_store(root, configs, runs, read_only: bool = False):
        cfg = only(configs)
        return RunStore(root, cfg.training.model, cfg, read_only=read_only)

    @staticmethod
    def reads(configs, run):
        """The runs whose stored arrays training `run` reads (see `ledger.seeding`)."""
        return reads(only(configs), run)

    @staticmethod
    def with_weights(run):
        return dataclasses.replace(run, weights=True)

    @staticmethod
    def report_store(ledger, configs):
        """The figure's runs in a results ledger, read as its report reads the store."""
        return ledger.view(store_folder(only(configs)))

    @staticmethod
    def graph_options(configs, store, cpu=None, recorded=None):
        cfg = only(configs)
        return {"timing": store_timing(store, lambda run: cfg, cpu, functools.partial(copy_source_name, store, cfg),
                                       recorded)}

    @staticmethod
    def check(configs, data_dir, store_root, load_data: bool, read_only: bool = False) -> None:
        """Errors a user can fix, found before any run starts: settings that do not fit the
        model (ValueError), and (if `load_data`) unreadable data (DataError) or data other
        than the store's runs were trained on (StoreMismatch). `read_only`: write nothing."""
        _check_configs(configs, data_dir, store_root, load_data, read_only)


def _check_configs(configs: list, data_dir, store_root, load_data: bool, read_only: bool) -> None:
    for cfg in configs:
        training = cfg.training
        model_spec(training.model).check_dropout(training.dropout, training.conv_dropout)
        groups, _ = prunable_sizes(training.model, cfg.data.dataset)
        PruningPlan.from_config(cfg.pruning, groups)
    if load_data:
        for data in dict.fromkeys(cfg.data for cfg in configs):  # each data set loaded once
            dataset = load_for(data, data_dir)
            for cfg in configs:
                if cfg.data == data:
                    RunStore(store_root, cfg.training.model, cfg, read_only=read_only).check_data(dataset)
                    require_batch_fits(cfg.training.batch_size, len(dataset.train))  # else in every worker


def sweep_executor(configs: list, data_dir, store_root, strategy=None, xla: str = "auto",
                   tensorboard=None) -> SweepExecutor:
    """What one process needs to train the runs of every configuration of a sweep."""
    return SweepExecutor(data_dir, store_root, strategy, xla, tensorboard)


class SweepKind(LotteryKind):
    """Lottery runs of several configurations (a figure's `select(cfg)` returns the
    `SweptRun`s of the variants of `cfg` it sweeps, test-curve flags set), trained by one
    pool of workers."""

    executor = staticmethod(sweep_executor)
    describe = staticmethod(describe_swept)
    is_stored = staticmethod(swept_is_stored)

    @staticmethod
    def open_store(root, configs, runs, read_only: bool = False):
        return SweepStore(root, sorted({r.cfg for r in runs}, key=lambda c: c.run_hash()), read_only)

    @staticmethod
    def with_dependencies(runs):
        return runs  # `sweep()` lists every run after its dependencies

    @staticmethod
    def reads(configs, swept):
        return swept_reads(swept)

    with_weights = staticmethod(swept_with_weights)

    @staticmethod
    def address(swept):
        """Where a results ledger keeps a run: (store folder, key). Figures that compare
        settings (the only ones --add-to-results merges) are sweeps."""
        return store_folder(swept.cfg), swept.run.key

    @staticmethod
    def report_store(ledger, configs):
        return SweepView(ledger)

    @staticmethod
    def graph_options(configs, store, cpu=None, recorded=None):
        return {"timing": store_timing(store, lambda swept: swept.cfg, cpu,
                                       functools.partial(swept_copy_source_name, store), recorded)}


def xor_executor(configs: list, data_dir, store_root, strategy=None, xla: str = "auto", tensorboard=None) -> XorStudy:
    """What a worker process needs to train XOR stages (seconds each: no TensorBoard scalars)."""
    cfg = only(configs)
    return XorStudy(cfg, RunStore(store_root, "xor", cfg))


class XorKind:
    sections, data, strategies = {"xor": XorConfig}, False, False

    @staticmethod
    def make_config(sections, seed):
        return dataclasses.replace(sections["xor"], seed=seed)

    executor = staticmethod(xor_executor)
    describe = staticmethod(describe_stage)

    @staticmethod
    def protocol(asked):
        return {}

    @staticmethod
    def open_store(root, configs, runs, read_only: bool = False):
        return RunStore(root, "xor", only(configs), read_only=read_only)

    @staticmethod
    def with_dependencies(stages):
        return stages  # the study lists every stage after the ones it reads

    @staticmethod
    def reads(configs, stage):
        return []  # a ledger keeps every array of XOR stages (they are tiny)

    @staticmethod
    def with_weights(stage):
        return stage

    @staticmethod
    def report_store(ledger, configs):
        return ledger.view(RunStore.folder_name("xor", only(configs)))

    @staticmethod
    def is_stored(store, stage):
        return store.has(stage.key)

    @staticmethod
    def graph_options(configs, store, cpu=None, recorded=None):  # XOR stages take seconds: no estimate to refine
        cfg = only(configs)
        return {"timing": Timing(lambda stage: 2.0), "what": f"XOR stages of {cfg.trials} networks",
                "dependencies": lambda stage: XorStudy.dependencies_of(cfg, stage)}

    @staticmethod
    def check(configs, data_dir, store_root, load_data: bool, read_only: bool = False) -> None:
        pass
