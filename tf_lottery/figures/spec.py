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

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from tf_lottery import cli
from tf_lottery.figures import earlier as earlier_results


class StudyKind(Protocol):
    sections: dict[str, type]  # config sections, each a dataclass whose fields become flags
    data: bool  # whether the study reads a data set (--data-dir)
    strategies: bool  # whether runs can train under a tf.distribute strategy

    def make_config(self, sections: dict, seed: int): ...

    def protocol(self, asked: dict) -> dict: ...

    def open_store(self, root, cfg, runs): ...  # a RunStore, or anything with has(key) and metrics(key)

    def executor(self, cfg, data_dir, store_root, strategy, xla: str): ...

    def with_dependencies(self, runs: list) -> list: ...

    def is_stored(self, store, run) -> bool: ...

    def describe(self, run, metrics: dict) -> str: ...

    def graph_options(self, cfg, store, cpu=None) -> dict: ...  # run_graph's `timing`, `what`, `dependencies`

    def check(self, cfg, data_dir, store_root, load_data: bool) -> None: ...


@dataclass(frozen=True)
class Figure:
    name: str  # results/<name>/
    description: str  # the script's --help text
    kind: StudyKind
    presets: dict[str, dict]  # largest first: "paper" (the protocol), then reduced ones
    preset_cost: dict[str, str]
    select: Callable  # cfg -> the runs this figure needs
    report: Callable  # FigureContext -> dict of extra run.json fields (after writing its files)
    curve_runs: Callable = field(default=lambda cfg: set())  # cfg -> keys of runs that need test curves
    # Field values the figure compares (e.g. one dict per network): then `cfg`, for
    # `select`, `curve_runs` and `report`, is the list of the variants' configurations.
    variants: tuple = ()


@dataclass
class FigureContext:
    """What a figure's report needs: the configuration, the stored runs, where to write."""

    figure: Figure
    cfg: object
    options: object
    store: object
    runs: list
    out: Path
    earlier: object = None  # figures/earlier.py's EarlierResults with --add-to-results

    @property
    def reduced(self) -> bool:
        """Anything but the paper preset as published, by another preset or by flags."""
        return self.options.preset != "paper" or bool(self.changes)

    @property
    def changes(self) -> list[str]:
        """The flags that changed the preset's settings, this command's and, with
        --add-to-results, those of the earlier commands whose results are shown, each
        named with its networks when the results come from several commands."""
        own = cli.changed_text(getattr(self.options, "changed", {}))
        if self.earlier is None:
            return [own] if own else []
        configs = self.cfg if isinstance(self.cfg, list) else [self.cfg]
        fields = earlier_results.compared_fields(self.figure.variants)
        ours = [_values(c, fields) for c in configs]
        mine = [f"{earlier_results.setting_names(ours, self.figure.variants)}: {own}"] if own else []
        return earlier_results.changes(self.earlier, self.figure.variants) + mine

    @property
    def label(self) -> str:
        """Figure-title label: the preset, REDUCED unless it is the paper's, and the flags
        that changed it (CHANGED: the paper protocol with flags is not the paper's)."""
        preset = "paper protocol" if self.options.preset == "paper" else f"REDUCED: '{self.options.preset}' preset"
        changes = self.changes
        if not changes:
            return preset
        return f"{'CHANGED: ' if self.options.preset == 'paper' else ''}{preset} with {'; '.join(changes)}"


def _values(cfg, fields: list[str]) -> dict:
    """`cfg`'s values of `fields`, found in whichever of its sections holds them."""
    sections = [getattr(cfg, f.name) for f in dataclasses.fields(cfg)] if dataclasses.is_dataclass(cfg) else []
    return {name: getattr(section, name) for name in fields for section in sections if hasattr(section, name)}
