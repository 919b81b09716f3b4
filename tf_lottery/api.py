"""Lottery tickets from Python (a notebook), as the scripts find them:

    from tf_lottery import api
    study = api.find_ticket("lenet300_100", data_dir="../shared/data", rounds=2, iterations=300)
    study.summary                 # one row per run: Pm, early stop, accuracies, seeds
    ticket = study.ticket(round=2)
    model = ticket.model()        # the winning ticket ready to train, its mask inside

A registered network gets its paper protocol and the preset's values exactly as on the
command line (`configure`); keyword arguments override them by config field name
(`iterations`, `learning_rate`, `fc_rate`, ...) or by the names below. Runs are kept in a
store (a temporary folder by default): the same call with the same `store` trains nothing
again.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tf_lottery.analysis import tables
from tf_lottery.cli import LOTTERY_SECTIONS
from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import load_for
from tf_lottery.execution.store import RunStore
from tf_lottery.figures.spec import model_presets
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, plan
from tf_lottery.presets import compose, model_protocol
from tf_lottery.tickets import Ticket, ticket_from



def configure(network: str = "lenet300_100", preset: str = "paper", **settings) -> ExperimentConfig:
    """The configuration the scripts build for `network` at `preset`, with `settings` (config
    field names, e.g. iterations=300, fc_rate=0.3, trials=1) in place of theirs. Raises
    ValueError for a setting that does not fit."""
    presets = model_presets()
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; presets: {', '.join(presets)}.")
    defaults = {f.name: f.default for cls in LOTTERY_SECTIONS.values() for f in dataclasses.fields(cls)}
    unknown = set(settings) - set(defaults) - {"seed"}
    if unknown:
        raise ValueError(f"Unknown settings {sorted(unknown)}; they are config fields (see `tf_lottery.config`).")
    sections, seed = compose(LOTTERY_SECTIONS, presets[preset], {}, {"model": network, **settings}, defaults,
                             model_protocol)
    cfg = ExperimentConfig(**sections, seed=settings.get("seed", seed))
    cfg.validate()
    return cfg


@dataclass
class Study:
    """What `find_ticket` trained: its configuration, its store and one row per run."""
    config: ExperimentConfig
    store: Path
    summary: pd.DataFrame

    def ticket(self, round: int, trial: int = 0, control: str = "ticket", strategy: str = "iterative",
               reinit: int = 0) -> Ticket:
        """A run of the study as a `tickets.Ticket`: its mask, initial and trained weights."""
        key = RunSpec(trial, strategy, round, control, reinit).key
        return ticket_from(self.store, key, store=RunStore.folder_name(self.config.training.model, self.config))


def find_ticket(network: str = "lenet300_100", data_dir=None, *, preset: str = "paper", rounds: int | None = None,
                rates: dict[str, float] | None = None, scope: str | None = None, reset: str | None = None,
                controls_at: tuple[int, ...] | None = None, store=None, tensorboard=None, log=print,
                **settings) -> Study:
    """Iterative magnitude pruning of `network` (a registered name), `rounds` rounds of
    `rates` per layer group ({"conv": .., "fc": .., "output": ..}; the protocol's by
    default), `scope` "layerwise" or "global", `reset` "init" (the paper), "rewind" or
    "continue"; the controls (random reinits, random sparse networks) at the rounds
    `controls_at`. Any other config field as a keyword (trials, iterations, reinits, ...).
    Data from tensorflow-datasets, or from the local folder `data_dir`; TensorBoard scalars
    of every run into the folder `tensorboard`, if given."""
    named = {"rounds": rounds, "scope": scope, "reset": reset, "control_rounds": controls_at,
             **{f"{group}_rate": rate for group, rate in (rates or {}).items()}}
    cfg = configure(network, preset, **{k: v for k, v in named.items() if v is not None}, **settings)
    root = Path(store) if store is not None else Path(tempfile.mkdtemp(prefix="tf_lottery-"))
    experiment = LotteryExperiment(cfg, load_for(cfg.data, data_dir), RunStore(root, cfg.training.model, cfg), log=log,
                                   tensorboard=tensorboard)
    specs = plan(cfg)
    experiment.run(specs)
    return Study(cfg, root, tables.summary_table(experiment.store, specs, cfg))
