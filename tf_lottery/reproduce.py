"""The pipeline shared by the reproduction scripts: flags -> data -> runs -> tables -> files."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from tf_lottery import cli, provenance, tables
from tf_lottery.config import ExperimentConfig
from tf_lottery.data import load_dataset
from tf_lottery.lottery import LotteryExperiment, RunSpec, plan, with_dependencies
from tf_lottery.store import RunStore


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
            wall_seconds=round(time.perf_counter() - self.started, 1),
            training_seconds_of_all_runs=round(float(self.summary.drop_duplicates("key")["seconds"].sum()), 1),
            **extra,
        )


def run_study(argv, figure: str, description: str,
              select: Callable[[ExperimentConfig], list[RunSpec]] = plan) -> Study:
    """Parse flags, train whatever `select` needs that is not stored, and build the tables."""
    started = time.perf_counter()
    options, cfg = cli.parse(argv, description)
    print(f"{figure}: preset '{options.preset}', run hash {cfg.run_hash()}", flush=True)
    dataset = load_dataset(cfg.data.dataset, options.data_dir, cfg.data.validation_size, cfg.data.split_seed)
    store = RunStore(options.store, cfg.training.model, cfg)
    experiment = LotteryExperiment(cfg, dataset, store)
    specs = with_dependencies(select(cfg))
    stats = experiment.run(specs)
    out = Path(options.results) / figure
    out.mkdir(parents=True, exist_ok=True)
    return Study(cfg, options, store, specs, tables.summary_table(store, specs), tables.curves_table(store, specs),
                 out, started, stats, dataset.source)
