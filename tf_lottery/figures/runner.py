"""The pipeline shared by the reproduction scripts: flags -> data -> runs -> tables -> files."""
from __future__ import annotations

import functools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from tf_lottery import cli

from tf_lottery.execution import distribute

from tf_lottery.analysis import provenance

from tf_lottery.analysis import tables
from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import load_dataset, resolve_data_dir
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, describe_run, plan, with_dependencies
from tf_lottery.execution.scheduling import InProcess, run_graph
from tf_lottery.execution.store import RunStore


@dataclass
class Study:
    cfg: ExperimentConfig
    options: object
    store: RunStore
    specs: list[RunSpec]
    summary: pd.DataFrame
    curves: pd.DataFrame
    out: Path
    started: float
    stats: dict
    data_source: str

    @property
    def label(self) -> str:
        """Figure-title label; anything but the paper preset is marked as reduced."""
        p = self.options.preset
        return "paper protocol" if p == "paper" else f"REDUCED: '{p}' preset"

    def write_tables(self) -> None:
        self.summary.to_csv(self.out / "summary.csv", index=False)
        self.curves.to_csv(self.out / "curves.csv", index=False)

    def write_run_json(self, **extra) -> dict:
        return provenance.write_run_json(
            self.out / "run.json",
            preset=self.options.preset,
            reduced=self.options.preset != "paper",
            config=self.cfg.to_dict(),
            run_hash=self.cfg.run_hash(),
            store=str(self.store.dir),
            data_source=self.data_source,
            seeds={
                "base_seed": self.cfg.seed,
                "split_seed": self.cfg.data.split_seed,
                **{f"{kind}_by_trial": {int(t): int(v) for t, v in self.summary.groupby("trial")[kind].first().items()}
                   for kind in ("init_seed", "order_seed")},
                "reinit_seeds": "per run, column reinit_seed of summary.csv",
            },
            runs=self.stats,
            execution=execution_record(self.options),
            wall_seconds=round(time.perf_counter() - self.started, 1),
            training_seconds_of_all_runs=round(float(self.summary.drop_duplicates("key")["seconds"].sum()), 1),
            **extra,
        )


EXECUTION_OPTIONS = ("workers", "threads_per_worker", "gpus_per_worker", "ray_address", "strategy", "tpu")


def execution_record(options) -> dict:
    return {k: getattr(options, k, None) for k in EXECUTION_OPTIONS}


def configure_process(options) -> None:
    """The thread limit of this process if it trains runs itself; call before any TensorFlow op."""
    if options.workers == 1:
        distribute.limit_threads(options.threads_per_worker)


def train_runs(runs, store: RunStore, factory: Callable, options, describe: Callable, log=print,
               **graph_options) -> tuple[dict, str | None]:
    """Train the missing `runs` in this process (--workers 1) or on Ray workers.

    `factory()` builds the executor (an object with `execute(run)` and `data_source`); on
    Ray each worker calls it once in its own process. `graph_options` go to `run_graph`.
    Returns (run counts, data source). Call `configure_process` first.
    """
    if options.workers == 1:
        executor = factory()
        return run_graph(runs, store.has, InProcess(executor), describe, log, **graph_options), \
            getattr(executor, "data_source", None)
    from tf_lottery.execution.ray_workers import RayWorkers  # Ray is only needed for several workers

    with RayWorkers(factory, options.workers, options.threads_per_worker, store, options.ray_address, log,
                    gpus=options.gpus_per_worker) as backend:
        return run_graph(runs, store.has, backend, describe, log, **graph_options), backend.data_source


def lottery_executor(cfg: ExperimentConfig, data_dir, store_root, strategy=None) -> LotteryExperiment:
    """Everything one process needs to train Lenet lottery runs (built in each worker)."""
    dataset = load_dataset(cfg.data.dataset, data_dir, cfg.data.validation_size, cfg.data.split_seed)
    return LotteryExperiment(cfg, dataset, RunStore(store_root, cfg.training.model, cfg), strategy)


def run_study(argv, figure: str, description: str,
              select: Callable[[ExperimentConfig], list[RunSpec]] = plan) -> Study:
    """Parse flags, train whatever `select` needs that is not stored, and build the tables."""
    started = time.perf_counter()
    options, cfg = cli.parse(argv, description)
    print(f"{figure}: preset '{options.preset}', run hash {cfg.run_hash()}, {options.workers} worker(s)", flush=True)
    configure_process(options)
    strategy = None
    if options.strategy != "default":
        strategy = distribute.make_strategy(options.strategy, options.tpu)
        if not distribute.is_chief(strategy):  # every worker trains every run; only the chief keeps results
            task = strategy.cluster_resolver.task_id
            options.store = str(Path(options.store) / f".worker{task}")
            options.results = tempfile.mkdtemp(prefix=f"tf_lottery-worker{task}-")
    store = RunStore(options.store, cfg.training.model, cfg)
    specs = with_dependencies(select(cfg))
    # Absolute, and the environment variable read here: workers on a Ray cluster share
    # neither this process's working directory nor its environment.
    data_dir = resolve_data_dir(options.data_dir)
    factory = functools.partial(lottery_executor, cfg, data_dir and data_dir.resolve(), Path(options.store).resolve(),
                                strategy)
    stats, source = train_runs(specs, store, factory, options, describe_run,
                               guess_seconds_per_run=LotteryExperiment.guess_seconds_per_run(cfg))
    out = Path(options.results) / figure
    out.mkdir(parents=True, exist_ok=True)
    return Study(cfg, options, store, specs, tables.summary_table(store, specs), tables.curves_table(store, specs),
                 out, started, stats, source)
