"""Time the same batch of lottery runs with 1 worker and with 2 Ray workers.

The batch is a small study (trials x (round 0, round 1, a reinit of round 1), at the
model's paper protocol but for its length: by default Lenet, 4 trials, 12 runs of 10,000
iterations on full MNIST; `--model conv4` times a conv net on CIFAR-10, 2 trials of 1,000
iterations), trained into fresh stores three ways:
in this process with one thread (what `--workers 1` does), on two Ray worker processes
with one thread each (what `--workers 2` does, the default here), and, for reference, on
one Ray worker using every core (one process using the whole machine). Every timing
includes what a user waits for: worker start-up, data loading and compilation. Checks that
the one-thread ways give the same summary table (a run on more threads may round
differently: Conv-2 did, Lenet did not), and prints as the last line
`speedup_2_workers=<x>` (1 worker -> 2 workers; target >= 1.3 on a 2-core machine). Run it
on an otherwise idle machine:

    python benchmarks/parallel_runs.py --data-dir ../shared/data [--model conv4]

`speedup_2_workers_vs_1_worker_all_cores` decides a network's best layout on a CPU: two
one-thread workers (the default, one per core), or one worker on every core (`--workers 1
--threads-per-worker 2`) if one run's steps use the cores better than two runs at once.
"""
import argparse
import contextlib
import functools
import os
import tempfile
import time
from pathlib import Path

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import pandas as pd

from tf_lottery import machine

from tf_lottery.analysis import tables
from tf_lottery.lottery.experiment import describe_run, plan
from tf_lottery.execution.ray_workers import RayWorkers
from tf_lottery.figures.kinds import lottery_executor
from tf_lottery.execution.scheduling import InProcess, run_graph
from tf_lottery.execution.timing import Timing, first_guess
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import parse_figure
from tf_lottery.execution.store import RunStore


def timed_batch(cfg, data_dir, root: Path, workers: int, threads: int, ray: bool) -> tuple[float, pd.DataFrame]:
    store = RunStore(root, cfg.training.model, cfg)
    specs = plan(cfg)
    factory = functools.partial(lottery_executor, [cfg], data_dir, str(root))
    t0 = time.perf_counter()
    backend = RayWorkers(factory, workers, threads, store) if ray else contextlib.nullcontext(InProcess(factory()))
    with backend as b:
        guess = first_guess(cfg)
        stats = run_graph(specs, lambda run: store.has(run.key), b, describe_run, print, Timing(lambda run: guess))
    seconds = time.perf_counter() - t0
    assert stats["trained"] == len(specs)
    return seconds, tables.summary_table(store, specs, cfg).drop(columns="seconds")


def differences(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """The columns where two summaries differ, if they do."""
    columns = [c for c in a.columns if not a[c].equals(b[c])] if list(a.columns) == list(b.columns) else ["columns"]
    return f"; differ in {', '.join(columns)}" if columns else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="Local data folder (default: tensorflow-datasets).")
    parser.add_argument("--model", default="lenet300_100", help="Any registered network (default Lenet-300-100).")
    parser.add_argument("--iterations", type=int, default=None,
                        help="Iterations per run (default: 10,000 for Lenet, 1,000 for other networks).")
    parser.add_argument("--trials", type=int, default=None, help="Trials (default: 4 for Lenet, 2 for others).")
    args = parser.parse_args()
    lenet = args.model == "lenet300_100"
    iterations = args.iterations or (10_000 if lenet else 1_000)
    trials = args.trials or (4 if lenet else 2)
    # The model's paper protocol through the flags a figure script takes, shortened.
    _, (cfg,) = parse_figure(FIG4, ["--model", args.model, "--iterations", str(iterations), "--trials", str(trials),
                                    "--rounds", "1", "--control-rounds", "1", "--reinits", "1", "--no-oneshot"])
    cores = os.cpu_count() or 1
    machine.limit_threads(1)  # this process is the one-thread worker
    with tempfile.TemporaryDirectory() as tmp:
        one, table_one = timed_batch(cfg, args.data_dir, Path(tmp) / "one", workers=1, threads=1, ray=False)
        two, table_two = timed_batch(cfg, args.data_dir, Path(tmp) / "two", workers=2, threads=1, ray=True)
        whole, table_whole = timed_batch(cfg, args.data_dir, Path(tmp) / "whole", workers=1, threads=cores, ray=True)
    print(f"{args.model}: {len(table_one)} runs of {iterations} iterations: 1 worker (1 thread) {one:.1f} s, "
          f"2 workers (1 thread each) {two:.1f} s, 1 worker using all {cores} cores {whole:.1f} s")
    print(f"identical_summaries={table_one.equals(table_two)} (1 thread in this process and on workers"
          f"{differences(table_one, table_two)}), on all cores too: {table_one.equals(table_whole)}"
          f"{differences(table_one, table_whole)}")
    print(f"speedup_2_workers_vs_1_worker_all_cores={whole / two:.2f}")
    print(f"speedup_2_workers={one / two:.2f}")


if __name__ == "__main__":
    main()
