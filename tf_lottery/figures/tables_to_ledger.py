"""A ledger for a results folder written before ledgers existed, rebuilt from its tables.

    python -m tf_lottery.figures.tables_to_ledger results/fig5_conv [results/... ...]
    python -m tf_lottery.figures.tables_to_ledger results/fig3_lenet --rows-from results/fig4_lenet

The stores that trained those runs are lost; what survives is `summary.csv` (one row per
run) and, for some figures, `curves.csv` (every evaluation). Each command in `run.json`
(and in its `earlier_results`) is parsed by today's code into its configurations and runs,
and each run's row becomes its ledger record: its metrics, seeds and where it trained, and
its curves, whole where `curves.csv` has them, else only the evaluations the tables kept
(the early stop, and the deep figures' checkpoints). Such a record says so
(`ledger_source`), holds no arrays, and reports exactly as the tables did; a later study
that starts from one of its runs retrains what it needs (`tf_lottery.ledger.seeding`).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import pandas as pd

from tf_lottery.execution.store import RunStore
from tf_lottery.figures import conv, deep, lenet, strategies
from tf_lottery.figures.runner import figure_runs, parse_figure
from tf_lottery.ledger.records import Ledger, LedgerRun
from tf_lottery.lottery.sweep import SweptRun

FIGURES = {f.name: f for f in (lenet.FIG3, lenet.FIG4, conv.FIG1, conv.FIG5, conv.FIG6, strategies.FIG9,
                               strategies.FIG10, deep.FIG7, deep.FIG8, deep.FIG38_41, deep.FIG42_43, deep.FIG44_45)}
SOURCE = ("converted from the committed tables: the store that trained this run is lost, so its curves hold only "
          "the evaluations the tables kept and no arrays were kept")
METRIC_COLUMNS = ("key", "trial", "strategy", "round", "control", "reinit", "pm", "pm_prunable", "diverged",
                  "early_stop_iter", "test_acc_early_stop", "train_acc_early_stop", "test_acc_end", "train_acc_end",
                  "init_seed", "order_seed", "noise_seed", "reinit_seed", "random_seed", "seconds", "trained_on")
INTEGER_METRICS = ("trial", "round", "reinit", "early_stop_iter", "init_seed", "order_seed", "noise_seed", "reinit_seed",
                   "random_seed")
RUN_IDS = ["strategy", "control", "trial", "round", "reinit"]


def convert(folder: Path, rows_from: Path | None = None) -> Ledger:
    """The ledger of results folder `folder`, from its run.json, summary.csv and curves.csv
    (a figure that writes no summary, Figure 3, takes its runs' rows from `rows_from`'s,
    the folder of the figure that trained them from the same store)."""
    record = json.loads((folder / "run.json").read_text())
    figure = FIGURES[record["figure"]]
    summary = pd.read_csv((rows_from or folder) / "summary.csv")
    curves = pd.read_csv(folder / "curves.csv") if (folder / "curves.csv").is_file() else None
    parts = record.get("earlier_results", []) + [{"command": record["command"], "run_hash": None}]
    ledger = Ledger()
    for part in parts:
        _, cfg = parse_figure(figure, shlex.split(part["command"])[2:])
        for run in figure_runs(figure, cfg):
            run_cfg, spec = (run.cfg, run.run) if isinstance(run, SweptRun) else (cfg, run)
            if part["run_hash"] is not None and run_cfg.run_hash() not in part["run_hash"]:
                continue  # that command's rows were replaced by a later one's
            row = _row(summary, spec, run_cfg.run_hash())
            store = RunStore.folder_name(run_cfg.training.model, run_cfg)
            identity = RunStore.identity_of(run_cfg.training.model, run_cfg)
            data = (record.get("data") or {}).get(run_cfg.training.model)
            ledger.add(store, spec.key, _record(row, curves, run_cfg), identity, data)
    return ledger


def _row(summary: pd.DataFrame, spec, run_hash: str) -> pd.Series:
    rows = summary[(summary["key"] == spec.key) & (summary["strategy"] == spec.strategy)]
    if "run_hash" in rows:
        rows = rows[rows["run_hash"] == run_hash]
    if len(rows) != 1:
        raise ValueError(f"summary.csv has {len(rows)} rows for {spec.key} of run hash {run_hash}, not 1.")
    return rows.iloc[0]


def _record(row: pd.Series, curves: pd.DataFrame | None, cfg) -> LedgerRun:
    metrics = {k: _plain(row[k], k in INTEGER_METRICS) for k in METRIC_COLUMNS if k in row and not _missing(row[k])}
    metrics["ledger_source"] = SOURCE
    parts = {}
    own = None
    if curves is not None:
        own = curves[(curves[RUN_IDS] == pd.Series({k: row[k] for k in RUN_IDS})).all(axis=1)]
    if own is not None and len(own):
        metrics["curves"] = {"iteration": [int(v) for v in own["iteration"]],
                             **{k: [_plain(v) for v in own[k]] for k in ("val_loss", "val_acc")}}
        if own["test_acc"].notna().any():
            parts["test_curve"] = {k: [_plain(v) for v in own[k]] for k in ("test_loss", "test_acc")}
    else:
        metrics["curves"], test = _kept_evaluations(row, cfg)
        if test is not None:
            parts["test_curve"] = test
    return LedgerRun(metrics, parts)


def _kept_evaluations(row: pd.Series, cfg) -> tuple[dict, dict | None]:
    """The evaluations summary.csv kept: the early stop, and the deep figures' checkpoints."""
    points: dict[int, dict] = {}
    if not _missing(row["early_stop_iter"]):
        points[int(row["early_stop_iter"])] = {"val_loss": _plain(row["val_loss_early_stop"]),
                                               "val_acc": _plain(row["val_acc_early_stop"])}
    checkpoints = [c.removeprefix("iteration_") for c in row.index if c.startswith("iteration_")]
    for name in checkpoints:
        if _missing(row[f"iteration_{name}"]):  # another network's checkpoint
            continue
        it = int(row[f"iteration_{name}"])
        point = points.setdefault(it, {"val_loss": math.nan})
        point["val_acc"], point["test_acc"] = _plain(row[f"val_acc_{name}"]), _plain(row[f"test_acc_{name}"])
    iterations = sorted(points)
    nan = math.nan
    curves = {"iteration": iterations, "val_loss": [points[i]["val_loss"] for i in iterations],
              "val_acc": [points[i].get("val_acc", nan) for i in iterations]}
    if not checkpoints:
        return curves, None
    return curves, {"test_loss": [nan] * len(iterations), "test_acc": [points[i].get("test_acc", nan) for i in iterations]}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _plain(value, integer: bool = False):
    """A CSV cell as the JSON value the store held: floats exact (pandas writes them in full),
    integers as integers (a column with gaps reads as floats)."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if integer else value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="Results folders to give a ledger.")
    parser.add_argument("--rows-from", type=Path, default=None,
                        help="Read the runs' rows from this folder's summary.csv (for a folder that has none).")
    args = parser.parse_args(argv)
    for folder in args.folders:
        ledger = convert(folder, args.rows_from)
        sizes = ledger.write(folder)
        print(f"{folder}: {len(ledger)} runs, {sum(sizes.values()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
