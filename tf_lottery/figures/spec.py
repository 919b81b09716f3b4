"""Figures as specifications, and the kinds of study they run.

A `Figure` is data: its name, presets, the runs it needs (and which of them need test curves,
evaluated every `eval_every` iterations; the others are tested only where the figure reads them), and a `report` that turns the stored runs into tables, plots and the paper
comparison. A `StudyKind` says how a study's configuration is built from flags and how its
runs are stored and executed (lottery-ticket runs of any registered model, sweeps of
several configurations on one pool of workers, or v1's XOR stages). `runner.run_figure` does everything else, the same way for every figure.

To add a figure: write a module in this folder defining a `Figure` (reuse a kind and the
runs of other figures where you can: runs are shared through the store), and a three-line
script in `reproductions/` that calls `run_figure`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from tf_lottery import cli
from tf_lottery.config import TrainingConfig
from tf_lottery.figures import holdings
from tf_lottery.models.registry import MODELS, display_name


class StudyKind(Protocol):
    """How a kind of study is built, stored, trained and read (implemented as classes of
    static methods in kinds.py). `configs` is always the figure's list of configurations;
    kinds of one configuration (lottery, XOR) take figures without variants."""

    sections: dict[str, type]  # config sections, each a dataclass whose fields become flags
    data: bool  # whether the study reads a data set (--data-dir)
    strategies: bool  # whether runs can train under a tf.distribute strategy

    @staticmethod
    def make_config(sections: dict, seed: int): ...

    @staticmethod
    def protocol(asked: dict) -> dict: ...  # the network's paper protocol for these values

    @staticmethod
    def open_store(root, configs: list, runs: list, read_only: bool = False): ...  # RunStore-like: locate, has

    @staticmethod
    def executor(configs: list, data_dir, store_root, strategy=None, xla: str = "auto",
                 tensorboard=None): ...  # .execute(run)

    @staticmethod
    def with_dependencies(runs: list) -> list: ...

    @staticmethod
    def is_stored(store, run) -> bool: ...

    @staticmethod
    def reads(configs: list, run) -> list: ...  # the runs whose stored arrays training `run` reads

    @staticmethod
    def with_weights(run): ...  # `run`, flagged to be retrained for the arrays later runs read

    @staticmethod
    def report_store(ledger, configs: list): ...  # the runs in a results ledger, read as a report reads a store

    @staticmethod
    def describe(run, metrics: dict) -> str: ...

    @staticmethod
    def graph_options(configs: list, store, cpu=None, recorded=None) -> dict: ...  # run_graph's `timing`, `what`,
    # `dependencies`; `recorded(run)`: a run's metrics in the results ledgers, for a plan's estimate

    @staticmethod
    def check(configs: list, data_dir, store_root, load_data: bool, read_only: bool = False) -> None: ...


@dataclass(frozen=True)
class Figure:
    name: str  # results/<name>/
    description: str  # the script's --help text
    kind: StudyKind
    select: Callable  # configs -> the runs this figure needs
    report: Callable  # FigureContext -> dict of extra run.json fields (after writing its files)
    curve_runs: Callable = field(default=lambda configs: set())  # configs -> keys of runs that need test curves
    # Field values the figure compares (e.g. one dict per network): one configuration per
    # variant the flags select. Without variants, the list of configurations has one.
    variants: tuple = ()
    # Largest first: "paper" (the protocol), then reduced ones. By default each network's
    # own presets and their costs (models/), so that figures of one network share runs.
    presets: dict[str, dict] = None
    preset_cost: dict[str, str] = None

    def __post_init__(self):
        if self.presets is None:
            object.__setattr__(self, "presets", model_presets(self.networks))
        if self.preset_cost is None:
            object.__setattr__(self, "preset_cost", preset_costs(self.networks))

    @property
    def networks(self) -> tuple[str, ...]:
        """The networks the figure compares (the default one if its variants name none)."""
        return tuple(dict.fromkeys(v["model"] for v in self.variants if "model" in v)) or (TrainingConfig.model,)


def model_presets(networks: tuple[str, ...] = tuple(MODELS)) -> dict[str, dict]:
    """The presets of these networks by name, largest first as each network lists them,
    each holding every registered network's own values (`per_model`): the flags' network
    takes its own."""
    order: list[str] = []
    for m in networks:
        before = -1
        for name in MODELS[m].presets:
            if name not in order:
                order.insert(before + 1, name)
            before = order.index(name)
    return {name: {"per_model": {m: spec.presets[name] for m, spec in MODELS.items() if name in spec.presets}}
            for name in order}


def preset_costs(networks: tuple[str, ...]) -> dict[str, str]:
    """What each preset costs, per network, networks of one text named together."""
    costs = {}
    for name in model_presets(networks):
        texts = {}
        for m in networks:
            texts.setdefault(MODELS[m].preset_cost.get(name, "-"), []).append(display_name(m))
        costs[name] = texts.popitem()[0] if len(texts) == 1 else "; ".join(
            f"{', '.join(names)}: {text}" for text, names in texts.items())
    return costs


@dataclass
class FigureContext:
    """What a figure's report needs: the configurations, the runs as the ledger holds them,
    where to write, and what they are (`settings`: each configuration against its preset)."""

    figure: Figure
    cfg: list  # the configurations reported (one per variant, or the one of a figure without)
    options: cli.RunOptions
    store: object
    runs: list
    out: Path
    earlier: object = None  # merging.EarlierResults with --add-to-results (then `cfg` holds theirs too)
    settings: list = field(default_factory=list)  # holdings.Setting of each configuration

    @property
    def config(self):
        """The configuration of a figure without variants."""
        (cfg,) = self.cfg
        return cfg

    @property
    def reduced(self) -> bool:
        """Anything but the paper preset as published: another preset, other settings or fewer runs."""
        return self.options.preset != "paper" or any(s.differences() for s in self.settings)

    @property
    def label(self) -> str:
        return holdings.label(self.options.preset, self.settings)
