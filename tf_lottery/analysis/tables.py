"""Tidy tables from stored runs: one row per run (summary) and per evaluation (curves).

Accuracies are fractions in [0, 1]; `pm` is the percent of weights remaining (every conv and
dense kernel, the paper's Pm), `pm_prunable` that of the weights the protocol prunes (they
differ where layers are never pruned: ResNet's shortcuts, VGG's and ResNet's output).
Test accuracies at the early-stop iteration and at the end come with every run; test
curves only with the runs a figure plots as curves (NaN elsewhere in `curves.csv`).
Diverged runs are rows with `diverged` true and NaN metrics. `iterations`,
`protocol_iterations`, `early_stop_censored` and `rounds_per_round` say how a run was
trained against the paper's protocol (`schedule_columns`), which decides what it can test.
The trunk's round 0 is also every strategy's unpruned starting point, so in studies with
one-shot runs it is listed under `oneshot` as well (same run, same numbers) to make each
strategy's line start at Pm = 100%.
"""
from __future__ import annotations

import math

import pandas as pd

from tf_lottery.lottery.experiment import RunSpec
from tf_lottery.execution.store import RunStore
from tf_lottery.presets import model_protocol

NOT_RECORDED = "not recorded"  # the CPU of runs stored before it was recorded
RUN_COLUMNS = ["strategy", "control", "trial", "round", "reinit", "pm"]
SUMMARY_COLUMNS = RUN_COLUMNS + [
    "pm_prunable",
    "early_stop_iter",
    "val_loss_early_stop",
    "val_acc_early_stop",
    "test_acc_early_stop",
    "train_acc_early_stop",
    "test_acc_end",
    "train_acc_end",
    "init_seed",
    "order_seed",
    "reinit_seed",
    "random_seed",
    "seconds",
    "key",
    "noise_seed",
    "diverged",
    "trained_on",
    "iterations",
    "protocol_iterations",
    "early_stop_censored",
    "rounds_per_round",
]

# Integers that some runs lack (a ticket has no reinit seed): nullable, so they are written
# as integers, not floats, whether a table is built from the store or read back from its CSV.
INTEGER_COLUMNS = ("early_stop_iter", "reinit_seed", "random_seed")


def with_integer_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({c: "Int64" for c in INTEGER_COLUMNS if c in df})


def _rows(store: RunStore, specs: list[RunSpec]):
    has_oneshot = any(spec.strategy == "oneshot" for spec in specs)
    for spec in specs:
        m = store.metrics(spec.key)
        n = len(m["curves"]["iteration"])
        test = store.part(spec.key, "test_curve") if store.has_part(spec.key, "test_curve") else \
            {"test_loss": [float("nan")] * n, "test_acc": [float("nan")] * n}
        m["curves"] = {**m["curves"], **test}
        yield m
        if has_oneshot and spec.strategy == "iterative" and spec.round == 0:
            yield {**m, "strategy": "oneshot"}


def summary_table(store: RunStore, specs: list[RunSpec], cfg) -> pd.DataFrame:
    """One row per run of `specs`, trained under `cfg` (see `schedule_columns`)."""
    rows = []
    schedule = schedule_columns(cfg)
    for m in _rows(store, specs):
        c = m["curves"]
        es = c["iteration"].index(m["early_stop_iter"]) if m["early_stop_iter"] in c["iteration"] else None
        rows.append({
            **{k: m[k] for k in RUN_COLUMNS},
            **{k: m[k] for k in ("early_stop_iter", "test_acc_early_stop", "train_acc_early_stop", "test_acc_end",
                                 "train_acc_end", "init_seed", "order_seed", "seconds", "key", "noise_seed",
                                 "diverged")},
            "val_loss_early_stop": float("nan") if es is None else c["val_loss"][es],
            "val_acc_early_stop": float("nan") if es is None else c["val_acc"][es],
            "pm_prunable": m.get("pm_prunable", m["pm"]),  # runs stored before it existed pruned every layer
            "reinit_seed": m.get("reinit_seed"),
            "random_seed": m.get("random_seed"),
            "trained_on": m.get("trained_on", NOT_RECORDED),
            **schedule,
            # At or next to the last evaluation, the minimum is the budget's, not the run's.
            "early_stop_censored": (m["early_stop_iter"] is not None
                                    and m["early_stop_iter"] >= cfg.training.iterations - cfg.training.eval_every),
        })
    df = with_integer_columns(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    return df.sort_values(["strategy", "control", "round", "trial", "reinit"], ignore_index=True)


def schedule_columns(cfg) -> dict:
    """What a claim needs to know of how `cfg`'s runs were trained against the paper's
    protocol for the network: `iterations` trained and `protocol_iterations` (its dropout
    protocol's with dropout), and `rounds_per_round`: how many of the protocol's pruning
    rounds one round applies (1 unless a reduced preset compounds them)."""
    protocol = model_protocol({"model": cfg.training.model, "dropout": cfg.training.dropout})
    compounded = [math.log(1 - getattr(cfg.pruning, name)) / math.log(1 - protocol[name])
                  for name in ("conv_rate", "fc_rate", "output_rate")
                  if 0 < protocol.get(name, 0) < 1 and getattr(cfg.pruning, name) < 1]
    # A network of one's own has no paper protocol: its own length is the full one.
    return {"iterations": cfg.training.iterations,
            "protocol_iterations": protocol.get("iterations", cfg.training.iterations),
            "rounds_per_round": round(max(compounded, default=1.0), 2)}


def curves_table(store: RunStore, specs: list[RunSpec]) -> pd.DataFrame:
    frames = []
    for m in _rows(store, specs):
        frame = pd.DataFrame(m["curves"])
        for k in RUN_COLUMNS:
            frame[k] = m[k]
        frames.append(frame[RUN_COLUMNS + list(m["curves"])])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["strategy", "control", "round", "trial", "reinit", "iteration"], ignore_index=True)


def sweep_summary(store, runs, columns) -> pd.DataFrame:
    """The summary of a sweep's runs (`SweptRun`s), one block per configuration, with the
    columns `columns(cfg)` names (e.g. the model) and the configuration's run hash."""
    frames = []
    for cfg in dict.fromkeys(r.cfg for r in runs):
        frame = summary_table(store.store_of(cfg), [r.run for r in runs if r.cfg == cfg], cfg)
        frames.append(frame.assign(**columns(cfg), run_hash=cfg.run_hash()))
    return pd.concat(frames, ignore_index=True)

