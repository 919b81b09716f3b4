"""Runs as a dependency graph, executed by any number of workers.

A study is a list of runs, each with a `key` and dependencies (runs whose stored outputs
it reads; by default `run.dependencies()`). A run is ready when everything it depends on
is stored (`stored(run)` says whether a run is). Among ready runs, the one heading the longest chain of runs that wait on it
goes first (the iterative trunks), so that chain never waits behind controls; ties go in
plan order. Which worker trains a run never changes its result: every run reads its inputs
from the store and its seeds from its key. A run another process sharing the store is
training (its lease, execution/store.py) waits: it is asked for again after a run ends,
or every `ASK_AGAIN_AFTER` seconds while nothing else trains, until that process stored it.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Protocol, Sequence

from tf_lottery import stopping
from tf_lottery.execution.store import TrainedElsewhere, describe_holder
from tf_lottery.execution.timing import Timing, duration, estimate
from tf_lottery.stopping import StopRequested

ASK_AGAIN_AFTER = 30.0  # seconds, for a run another process is training


class Run(Protocol):
    key: str


class RunGraph:
    """Which runs are stored, running, ready or waiting. Pure bookkeeping, no I/O."""

    def __init__(self, runs: Sequence[Run], stored: Callable[[object], bool], dependencies: Callable | None = None):
        self.order = {run: i for i, run in enumerate(runs)}
        self.deps = {run: list((dependencies or type(run).dependencies)(run)) for run in runs}
        missing = {d for ds in self.deps.values() for d in ds if d not in self.order}
        if missing:
            raise ValueError(f"Runs depend on runs missing from the plan: {sorted(d.key for d in missing)}.")
        self.done = {run for run in runs if stored(run)}
        self.todo = [run for run in runs if run not in self.done]
        self.running: set = set()
        self.elsewhere: dict = {}  # run -> when to ask again for a run another process trains
        dependents: dict = {run: [] for run in runs}
        for run, ds in self.deps.items():
            for d in ds:
                dependents[d].append(run)
        self.chain: dict = {}  # longest chain of runs that wait on a run, itself included
        for run in reversed(_topological(runs, self.deps)):
            self.chain[run] = 1 + max((self.chain[r] for r in dependents[run]), default=0)

    def ready(self, now: float = -math.inf) -> list:
        """Runs that can start at time `now`, most urgent first."""
        waiting = [r for r in self.todo
                   if r not in self.running and r not in self.done and self.elsewhere.get(r, -math.inf) <= now]
        ready = [r for r in waiting if all(d in self.done for d in self.deps[r])]
        return sorted(ready, key=lambda r: (-self.chain[r], self.order[r]))

    def start(self, run) -> None:
        self.running.add(run)
        self.elsewhere.pop(run, None)

    def trained_elsewhere(self, run, ask_again_at: float) -> None:
        self.running.discard(run)
        self.elsewhere[run] = ask_again_at

    def finish(self, run) -> None:
        self.running.discard(run)
        self.done.add(run)

    def abandon(self, run) -> None:
        self.running.discard(run)

    @property
    def remaining(self) -> int:
        return len(self.left())

    def left(self) -> list:
        """Runs to train that are not stored yet (running ones included)."""
        return [r for r in self.todo if r not in self.done]


def _topological(runs, deps) -> list:
    """`runs` ordered so that every run comes after its dependencies."""
    ordered, seen = [], set()

    def visit(run):
        if run not in seen:
            seen.add(run)
            for d in deps[run]:
                visit(d)
            ordered.append(run)

    for run in runs:
        visit(run)
    return ordered


class Backend(Protocol):
    """Executes runs: `submit` up to `slots` at once, `next_result` blocks for one."""

    slots: int

    def submit(self, run) -> None: ...

    def next_result(self) -> tuple[object, dict]: ...


class InProcess:
    """The calling process trains each run itself, one at a time."""

    slots = 1

    def __init__(self, executor):
        self.executor, self._queued = executor, []

    def submit(self, run) -> None:
        self._queued.append(run)

    def next_result(self):
        run = self._queued.pop(0)
        try:
            return run, self.executor.execute(run)
        except TrainedElsewhere as e:
            raise RunFailed(run, e) from None


def run_graph(runs: Sequence[Run], stored: Callable[[object], bool], backend: Backend,
              describe: Callable[[object, dict], str], log: Callable[[str], None], timing: Timing,
              what: str | None = None, dependencies: Callable | None = None) -> dict:
    """Train every run of `runs` that is not stored, dependencies first, through `backend`,
    logging the estimate (`timing`) first and each run as it ends, with the ETA.

    `what` names the runs in the estimate ("runs" by default); `dependencies(run)` lists the
    runs a run reads (by default `run.dependencies()`). If a run raises, no new run starts;
    runs already in progress finish and are stored, then the error propagates. After a stop
    is asked for (stopping.py) no new run starts either, and `StopRequested`
    propagates once the runs in training saved their progress.
    """
    graph = RunGraph(runs, stored, dependencies)
    total, todo = len(runs), graph.remaining
    log(estimate(graph, backend.slots, timing, what))
    t0, trained, guessed_done, failure, stopped = time.perf_counter(), 0, 0.0, None, []
    guessed_at_start = {}  # a run's guess shrinks as its checkpoints advance; this session trained the rest
    told_elsewhere = set()
    try:
        while graph.remaining:
            starting = failure is None and not stopped and not stopping.requested()
            if starting:
                for run in graph.ready(time.monotonic())[: backend.slots - len(graph.running)]:
                    graph.start(run)
                    guessed_at_start[run] = timing.own_work(run)
                    backend.submit(run)
            if not graph.running:
                if not (starting and graph.elsewhere):
                    break
                waited = time.perf_counter()
                _sleep_until(min(graph.elsewhere.values()))
                t0 += time.perf_counter() - waited  # the ETA extrapolates this process's own pace
                continue
            try:
                run, metrics = backend.next_result()
            except RunFailed as e:
                if isinstance(e.error, TrainedElsewhere):
                    if e.run not in told_elsewhere:
                        told_elsewhere.add(e.run)
                        log(f"  {e.run.key}: in training by {describe_holder(e.error.holder)} (another process "
                            "sharing the store); this study goes on with other runs and uses it once stored")
                    graph.trained_elsewhere(e.run, time.monotonic() + ASK_AGAIN_AFTER)
                    continue
                graph.abandon(e.run)
                if isinstance(e.error, StopRequested):
                    stopped.append(e)
                else:
                    failure = failure or e
                continue
            graph.finish(run)
            guessed = guessed_at_start.pop(run)
            trained, guessed_done = trained + 1, guessed_done + (0.0 if run in told_elsewhere else guessed)
            left = sum(map(timing.own_work, graph.left()))
            eta = f"; ETA {duration((time.perf_counter() - t0) / guessed_done * left)}" if guessed_done else ""
            log(f"[{trained}/{todo}] {describe(run, metrics)} ({metrics['seconds']:.0f} s{eta})")
    except KeyboardInterrupt:
        log(f"Interrupted; {trained} run(s) stored this time. Run the same command again to resume.")
        raise
    except StopRequested as e:  # from the run trained in this process
        stopped.append(RunFailed(next(iter(graph.running)), e))
    if failure is not None:
        log(f"Stopped after {failure.run.key} failed; {trained} run(s) stored this time.")
        raise failure.error
    if stopped or (graph.remaining and stopping.requested()):  # the latter: asked between runs
        saved = ", ".join(f"{e.run.key} at iteration {e.error.step:,}" for e in stopped if e.error.step is not None)
        saved = f"; saved their progress: {saved}" if saved else ""
        log(f"Stopped on request; {trained} run(s) stored this time{saved}. Run the same command again to resume.")
        raise stopped[0].error if stopped else StopRequested()
    return {"runs": total, "trained": trained, "reused": total - todo}


def _sleep_until(moment: float) -> None:
    """Sleep until `moment` (time.monotonic), or until a stop is asked for."""
    while not stopping.requested() and (left := moment - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))


def list_plan(runs: Sequence[Run], stored: Callable[[object], bool], slots: int, log: Callable[[str], None],
              timing: Timing, what: str | None = None, dependencies: Callable | None = None,
              restored: set = frozenset()) -> None:
    """What `run_graph` would do, without training: every run, stored (in the store, or in a
    results ledger: keys in `restored`) or not, and the estimate."""
    graph = RunGraph(runs, stored, dependencies)
    for run in runs:
        if run in graph.done:
            log(f"  {'ledger' if run.key in restored else 'stored':9} {run.key}")
        elif source := timing.copied_from and timing.copied_from(run):
            log(f"  to copy   {run.key} (from {source})")
        elif holder := timing.leased_to and timing.leased_to(run):
            log(f"  elsewhere {run.key} (in training by {describe_holder(holder)}; waited for, not trained again)")
        else:
            step = timing.resumes_at(run) if timing.resumes_at else None
            log(f"  to train  {run.key}" + (f" (resumes from its checkpoint at iteration {step:,})" if step else ""))
    log(estimate(graph, slots, timing, what))


class RunFailed(Exception):
    """A backend's report that `run` raised `error` (other runs may still be in progress)."""

    def __init__(self, run, error: BaseException):
        super().__init__(f"{run.key}: {error!r}")
        self.run, self.error = run, error
