"""Time: a study's estimate before it trains, the ETA as runs end, progress inside a long
run, and what they know of runs (first guesses from each network's speed, times measured
on stored runs or recorded in a results ledger, how runs share this machine's cores)."""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable

from tf_lottery.models.registry import model_spec


@dataclass(frozen=True)
class CpuShare:
    """How a study's runs share this machine's `cores`: each on `threads_per_run` intra-op
    threads (0: all cores). Its estimate then counts the CPU time stored runs took, which
    is the same whether they trained as two single-threaded workers or one on both cores,
    and divides it among the threads that will work at once; wall times would carry the
    layout they were measured under."""
    cores: int
    threads_per_run: int

    def threads_at_once(self, runs: int) -> int:
        return max(1, min(self.cores, runs * (self.threads_per_run or self.cores)))


@dataclass(frozen=True)
class Timing:
    """What a study's estimate and ETA know of its runs.

    `guess_seconds(run)` is a first guess of the time a run has left on one thread (less
    for a run its checkpoint has carried part way), `seconds_of(run)` a stored run's
    measured wall time and `cpu_seconds_of(run)` its CPU time: the estimate scales the
    guesses by what stored runs took (their CPU time shared among `cpu`'s threads when the
    runs train on this machine's cores, else their wall time among the workers), and the
    ETA by what this session's runs took (so runs of different lengths are weighed right).
    `resumes_at(run)` is the iteration a run's checkpoint holds, if any; `copied_from(run)`
    names where a run will be copied from instead of trained, if anywhere, and
    `leased_to(run)` the other process training it now, if any: no time is counted for
    either.
    """
    guess_seconds: Callable[[object], float]
    seconds_of: Callable[[object], float | None] | None = None
    cpu_seconds_of: Callable[[object], float | None] | None = None
    cpu: CpuShare | None = None
    resumes_at: Callable[[object], int | None] | None = None
    copied_from: Callable[[object], str | None] | None = None
    leased_to: Callable[[object], dict | None] | None = None

    def not_ours(self, run) -> str:
        """"copy" or "elsewhere" for a run this study will not train itself, else ""."""
        if self.copied_from is not None and self.copied_from(run):
            return "copy"
        return "elsewhere" if self.leased_to is not None and self.leased_to(run) else ""

    def own_work(self, run) -> float:
        """The first guess of the time this study will spend training `run`."""
        return 0.0 if self.not_ours(run) else self.guess_seconds(run)


def _timed(graph, guess_seconds: Callable, measured: Callable | None) -> list[tuple[float, float]]:
    return [(seconds, guess_seconds(run)) for run in graph.done if measured is not None and (seconds := measured(run))]


def estimate(graph, slots: int, timing: Timing, what: str | None) -> str:
    """The estimate a study logs first: its runs stored and to train on `slots` workers, and
    the time the latter take (`graph`: a scheduling.RunGraph)."""
    total, cpu, resumes_at = len(graph.order), timing.cpu, timing.resumes_at
    left = graph.left()
    not_ours = [timing.not_ours(run) for run in left]  # reads the store: once per run
    copies, elsewhere = not_ours.count("copy"), not_ours.count("elsewhere")
    ours = [run for run, theirs in zip(left, not_ours) if not theirs]
    todo = len(ours)
    workers = max(1, min(slots, todo))
    guessed = sum(map(timing.guess_seconds, ours))
    # Stored runs are nobody's work left: their plain guesses.
    timed = _timed(graph, timing.guess_seconds, timing.seconds_of)
    cpu_timed = _timed(graph, timing.guess_seconds, timing.cpu_seconds_of)
    on_cpu = cpu is not None and (bool(cpu_timed) or not timed)  # runs stored by older code have wall times only
    lanes = cpu.threads_at_once(workers) if on_cpu else workers
    timed = cpu_timed if on_cpu else timed
    if timed:  # the stored runs say how fast the machine that trained them was
        scale = sum(s for s, _ in timed) / sum(g for _, g in timed)
        basis = (f"scaled by the {'CPU' if on_cpu else 'measured'} times of {len(timed)} stored run(s), "
                 f"{scale:.2g}x the first guess")
    else:
        scale, basis = 1.0, "a first guess for a 2-core CPU, until runs are timed"
    if on_cpu:
        basis += f", {lanes} thread(s) at once"
    resuming = sum(bool(resumes_at(run)) for run in ours) if resumes_at else 0
    if resuming:
        basis += (f"; {resuming} of the runs to train "
                  + ("resumes from its checkpoint" if resuming == 1 else "resume from their checkpoints"))
    what = what or ("run" if total == 1 else "runs")  # a figure's kind may count other things (XOR stages)
    copied = f"{copies} to copy, " if copies else ""
    copied += f"{elsewhere} in training by another process, " if elsewhere else ""
    return (f"{total} {what} in this study: {len(graph.done)} already stored, {copied}{todo} to train on "
            f"{workers} worker(s); estimated {duration(scale * guessed / lanes)} ({basis}).")


class Heartbeat:
    """Progress inside one long run: `heartbeat(step, total)` after each evaluation logs
    the iteration and the time left, at most once per `interval` seconds (so short runs
    stay silent and long ones show they are alive). The time left uses the median time per
    step of the intervals between calls, so a laptop that slept or a paused process does
    not inflate it."""

    def __init__(self, label: str, log: Callable[[str], None], interval: float = 120.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.label, self.log, self.interval, self.clock = label, log, interval, clock
        self.start = self.last = self.previous_time = clock()
        self.previous_step = 0
        self.seconds_per_step: list[float] = []

    def resumed(self, step: int) -> None:
        """The run continues from a checkpoint at `step`: time the steps from there."""
        self.log(f"  {self.label}: resumed from its checkpoint at iteration {step:,}")
        self.start = self.previous_time = self.clock()
        self.previous_step = step

    def __call__(self, step: int, total: int) -> None:
        now = self.clock()
        if step > self.previous_step:
            self.seconds_per_step.append((now - self.previous_time) / (step - self.previous_step))
        self.previous_time, self.previous_step = now, step
        if now - self.last < self.interval or step >= total:
            return
        self.last = now
        self.log(f"  {self.label}: iteration {step:,}/{total:,} after {duration(now - self.start)}, "
                 f"about {duration(statistics.median(self.seconds_per_step) * (total - step))} left")


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def first_guess(cfg) -> float:
    """Seconds one run of `cfg` takes on one thread, before any run has been timed: its
    iterations at its network's speed on the development CPU."""
    return cfg.training.iterations / model_spec(cfg.training.model).cpu_steps_per_second


def cpu_share(threads_per_worker: int, on_gpu: bool, elsewhere: bool) -> CpuShare | None:
    """How a command's runs share this machine's cores; None when they train on GPUs, a TPU
    or a cluster (`elsewhere`), whose speed this machine's CPU time does not tell."""
    return None if on_gpu or elsewhere else CpuShare(os.cpu_count() or 1, threads_per_worker)


def store_timing(store, cfg_of, cpu: CpuShare | None = None, copied_from=None, recorded=None) -> Timing:
    """A study's `Timing` from its store (a RunStore or a SweepStore) and `cfg_of(run)`: each
    run's first guess less what its checkpoint has done, what stored runs took (or, for runs
    a --plan would restore from a results ledger, what it recorded: `recorded(run)`, their
    metrics or None), where checkpoints resume, which runs another process is training now
    (their leases), and (`copied_from(run)`) which runs will be copied rather than trained."""
    def resumes_at(run) -> int | None:
        return store.checkpointed_at(run.key)

    def guess_seconds(run) -> float:
        cfg = cfg_of(run)
        return first_guess(cfg) * max(0.0, 1 - (resumes_at(run) or 0) / cfg.training.iterations)

    def metrics_of(run) -> dict | None:
        return store.metrics(run.key) if store.has(run.key) else recorded and recorded(run)

    return Timing(guess_seconds, seconds_of=lambda run: measured_seconds(metrics_of(run)),
                  cpu_seconds_of=lambda run: measured_cpu_seconds(metrics_of(run)), cpu=cpu, resumes_at=resumes_at,
                  copied_from=copied_from, leased_to=lambda run: store.lease_holder(run.key))


def measured_seconds(metrics: dict | None) -> float | None:
    """How long a run took to train without stalls, from its metrics (None if it diverged
    and stopped early, or is unknown); its wall time if it was stored before that was measured."""
    if not metrics or metrics.get("diverged"):
        return None
    return metrics.get("steady_seconds") or metrics.get("seconds")


def measured_cpu_seconds(metrics: dict | None) -> float | None:
    """The CPU time a run took (None if it diverged, is unknown, or was stored before that was recorded)."""
    return None if not metrics or metrics.get("diverged") else metrics.get("cpu_seconds")
