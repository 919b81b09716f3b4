"""Time the same batch of lottery runs with 1 worker and with 2 Ray workers.

The batch is a small Lenet study (4 trials x (round 0, round 1, a reinit of round 1) =
12 runs of 10,000 iterations on full MNIST), trained into two fresh stores: first in this
process with one thread (what `--workers 1` does), then on two Ray worker processes with
one thread each (what `--workers 2` does). Both timings include everything a user waits
for: worker start-up, data loading and compilation. Checks that both give the same
summary table, and prints as the last line `speedup_2_workers=<x>` (target >= 1.3 on a
2-core machine). Run it on an otherwise idle machine:

    python benchmarks/parallel_runs.py --data-dir ../shared/data
"""
import argparse
import functools
import tempfile
import time
from pathlib import Path

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import pandas as pd

from tf_lottery import tables
from tf_lottery.config import ExperimentConfig, StudyConfig, TrainingConfig
from tf_lottery.lottery import LotteryExperiment, describe_run, plan
from tf_lottery.reproduce import configure_process, lottery_executor, train_runs
from tf_lottery.store import RunStore


def timed_batch(cfg, data_dir, root: Path, workers: int) -> tuple[float, pd.DataFrame]:
    options = argparse.Namespace(workers=workers, threads_per_worker=1, ray_address=None)
    store = RunStore(root, cfg.training.model, cfg)
    specs = plan(cfg)
    t0 = time.perf_counter()
    stats, _ = train_runs(specs, store, functools.partial(lottery_executor, cfg, data_dir, str(root)), options,
                          describe_run, guess_seconds_per_run=LotteryExperiment.guess_seconds_per_run(cfg))
    seconds = time.perf_counter() - t0
    assert stats["trained"] == len(specs)
    return seconds, tables.summary_table(store, specs).drop(columns="seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="Local data folder (default: tensorflow-datasets).")
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    cfg = ExperimentConfig(training=TrainingConfig(iterations=args.iterations),
                           study=StudyConfig(trials=args.trials, rounds=1, control_rounds=(1,), reinits=1,
                                             oneshot=False))
    configure_process(argparse.Namespace(workers=1, threads_per_worker=1))
    with tempfile.TemporaryDirectory() as tmp:
        one, table_one = timed_batch(cfg, args.data_dir, Path(tmp) / "one", workers=1)
        two, table_two = timed_batch(cfg, args.data_dir, Path(tmp) / "two", workers=2)
    runs = len(table_one)
    print(f"{runs} runs of {args.iterations} iterations: 1 worker {one:.1f} s, 2 workers {two:.1f} s")
    print(f"identical_summaries={table_one.equals(table_two)}")
    print(f"speedup_2_workers={one / two:.2f}")


if __name__ == "__main__":
    main()
