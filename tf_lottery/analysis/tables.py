"""Tidy tables from stored runs: one row per run (summary) and per evaluation (curves).

Accuracies are fractions in [0, 1]; `pm` is the percent of prunable weights remaining.
The trunk's round 0 is also every strategy's unpruned starting point, so in studies with
one-shot runs it is listed under `oneshot` as well (same run, same numbers) to make each
strategy's line start at Pm = 100%.
"""
from __future__ import annotations

import pandas as pd

from tf_lottery.lottery.experiment import RunSpec
from tf_lottery.execution.store import RunStore

RUN_COLUMNS = ["strategy", "control", "trial", "round", "reinit", "pm"]
SUMMARY_COLUMNS = RUN_COLUMNS + [
    "early_stop_iter",
    "val_loss_early_stop",
    "test_acc_early_stop",
    "train_acc_early_stop",
    "test_acc_end",
    "train_acc_end",
    "init_seed",
    "order_seed",
    "reinit_seed",
    "seconds",
    "key",
]


def _rows(store: RunStore, specs: list[RunSpec]):
    has_oneshot = any(spec.strategy == "oneshot" for spec in specs)
    for spec in specs:
        m = store.metrics(spec.key)
        yield m
        if has_oneshot and spec.strategy == "iterative" and spec.round == 0:
            yield {**m, "strategy": "oneshot"}


def summary_table(store: RunStore, specs: list[RunSpec]) -> pd.DataFrame:
    rows = []
    for m in _rows(store, specs):
        c = m["curves"]
        es = c["iteration"].index(m["early_stop_iter"])
        rows.append({
            **{k: m[k] for k in RUN_COLUMNS},
            "early_stop_iter": m["early_stop_iter"],
            "val_loss_early_stop": c["val_loss"][es],
            "test_acc_early_stop": c["test_acc"][es],
            "train_acc_early_stop": m["train_acc_early_stop"],
            "test_acc_end": c["test_acc"][-1],
            "train_acc_end": m["train_acc_end"],
            "init_seed": m["init_seed"],
            "order_seed": m["order_seed"],
            "reinit_seed": m.get("reinit_seed"),
            "seconds": m["seconds"],
            "key": m["key"],
        })
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    df["reinit_seed"] = df["reinit_seed"].astype("Int64")
    return df.sort_values(["strategy", "control", "round", "trial", "reinit"], ignore_index=True)


def curves_table(store: RunStore, specs: list[RunSpec]) -> pd.DataFrame:
    frames = []
    for m in _rows(store, specs):
        frame = pd.DataFrame(m["curves"])
        for k in RUN_COLUMNS:
            frame[k] = m[k]
        frames.append(frame[RUN_COLUMNS + list(m["curves"])])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["strategy", "control", "round", "trial", "reinit", "iteration"], ignore_index=True)
