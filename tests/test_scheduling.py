"""The run graph and the driver loop, with a fake backend: milliseconds, no TensorFlow."""
import time
from dataclasses import dataclass

import pytest

from tf_lottery.lottery.experiment import RunSpec, plan
from tf_lottery import stopping
from tf_lottery.execution.scheduling import RunFailed, RunGraph, list_plan, run_graph
from tf_lottery.execution.timing import CpuShare, Heartbeat, Timing
from tf_lottery.execution.store import TrainedElsewhere
from tf_lottery.stopping import StopRequested

from conftest import tiny_config


def test_the_longest_waiting_chain_comes_first():
    specs = plan(tiny_config(trials=2))
    graph = RunGraph(specs, stored=lambda key: False)
    assert graph.ready() == [RunSpec.unpruned(0), RunSpec.unpruned(1)]
    graph.start(RunSpec.unpruned(0))
    graph.finish(RunSpec.unpruned(0))
    ready = graph.ready()
    assert ready[:2] == [RunSpec.unpruned(1), RunSpec(0, "iterative", 1)]  # chains of 4 and 3 runs
    assert ready[2:] == [RunSpec(0, "oneshot", 2)]  # its reinit waits for it


def test_stored_runs_are_skipped_and_their_dependents_ready():
    specs = plan(tiny_config())
    graph = RunGraph(specs, stored=lambda run: run.key == RunSpec.unpruned(0).key)
    assert graph.remaining == len(specs) - 1
    assert RunSpec(0, "iterative", 1) in graph.ready()


def test_a_plan_missing_a_dependency_is_refused():
    with pytest.raises(ValueError, match="missing from the plan"):
        RunGraph([RunSpec(0, "iterative", 2)], stored=lambda key: False)


@dataclass(frozen=True)
class Job:
    key: str
    after: tuple = ()

    def dependencies(self):
        return list(self.after)


class FakeWorkers:
    """Runs finish in reverse submission order, like workers racing; one run may fail."""

    def __init__(self, slots, fail=None):
        self.slots, self.fail, self.running, self.log = slots, fail, [], []

    def submit(self, run):
        assert len(self.running) < self.slots
        self.running.append(run)
        self.log.append(("start", run.key))

    def next_result(self):
        run = self.running.pop()
        self.log.append(("end", run.key))
        if run.key == self.fail:
            raise RunFailed(run, FloatingPointError("diverged"))
        return run, {"seconds": 1.0}


def jobs():
    a = Job("a")
    b, c = Job("b", (a,)), Job("c", (a,))
    return [a, b, c, Job("d", (b,)), Job("e")]


def test_every_run_starts_after_its_dependencies_and_slots_are_respected():
    workers = FakeWorkers(slots=2)
    stats = run_graph(jobs(), lambda key: False, workers, lambda r, m: r.key, lambda msg: None, Timing(lambda run: 1.0))
    assert stats == {"runs": 5, "trained": 5, "reused": 0}
    ended = []
    for event, key in workers.log:
        if event == "start":
            deps = {"b": "a", "c": "a", "d": "b"}.get(key)
            assert deps is None or deps in ended, key
        else:
            ended.append(key)


def test_a_failed_run_stops_new_runs_but_lets_running_ones_finish():
    workers = FakeWorkers(slots=2, fail="a")
    with pytest.raises(FloatingPointError):
        run_graph(jobs(), lambda key: False, workers, lambda r, m: r.key, lambda msg: None, Timing(lambda run: 1.0))
    starts = [k for event, k in workers.log if event == "start"]
    assert starts == ["a", "e"]  # e was running alongside and finished; nothing started after the failure
    assert ("end", "e") in workers.log


class StoppedWorkers(FakeWorkers):
    """A stop is asked for when run `asked_at` ends; runs still training save their progress."""

    def __init__(self, slots, asked_at):
        super().__init__(slots)
        self.asked_at = asked_at

    def next_result(self):
        if stopping.requested():
            run = self.running.pop()
            raise RunFailed(run, StopRequested(150))
        run, metrics = super().next_result()
        if run.key == self.asked_at:
            stopping.ask()
        return run, metrics


@pytest.mark.parametrize("slots, asked_at, stopped_at", [(1, "a", None), (2, "e", 150)])
def test_a_stop_starts_no_new_run_and_says_where_the_runs_in_training_saved_their_progress(slots, asked_at,
                                                                                          stopped_at):
    # One worker: asked between runs. Two: "a" is still training when "e" ends.
    workers, lines = StoppedWorkers(slots, asked_at), []
    with stopping.handling_signals(), pytest.raises(StopRequested) as stopped:
        run_graph(jobs(), lambda key: False, workers, lambda r, m: r.key, lines.append, Timing(lambda run: 1.0))
    assert not stopping.requested()  # the request ends with the study
    assert stopped.value.step == stopped_at
    assert [k for event, k in workers.log if event == "start"] == ["a", "e"][:slots]
    saved = f"; saved their progress: a at iteration {stopped_at:,}" if stopped_at else ""
    assert lines[-1] == f"Stopped on request; 1 run(s) stored this time{saved}. Run the same command again to resume."


def test_the_estimate_scales_each_runs_guess_by_what_stored_runs_took():
    # "a" and "e" are stored and took half their guessed time; "d" is guessed twice as long.
    guess = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 200.0, "e": 100.0}
    lines = []
    list_plan(jobs(), lambda run: run.key in "ae", 1, lines.append, Timing(lambda run: guess[run.key],
              seconds_of=lambda run: guess[run.key] / 2))
    assert lines[-1] == ("5 runs in this study: 2 already stored, 3 to train on 1 worker(s); estimated 3 min 20 s "
                         "(scaled by the measured times of 2 stored run(s), 0.5x the first guess).")
    list_plan(jobs(), lambda run: False, 2, lines.append, Timing(lambda run: guess[run.key]))
    assert lines[-1].endswith("estimated 5 min 00 s (a first guess for a 2-core CPU, until runs are timed).")
    lines.clear()
    list_plan(jobs(), lambda run: run.key == "a", 1, lines.append, Timing(lambda run: guess[run.key],
              resumes_at=lambda run: 300 if run.key in "ab" else None))  # a stored run's checkpoint is gone
    assert lines[:2] == ["  stored    a", "  to train  b (resumes from its checkpoint at iteration 300)"]
    assert lines[-1].endswith("(a first guess for a 2-core CPU, until runs are timed; 1 of the runs to train "
                              "resumes from its checkpoint).")
    list_plan(jobs()[:1], lambda run: False, 1, lines.append, Timing(lambda run: 60.0))
    assert lines[-1].startswith("1 run in this study: 0 already stored, 1 to train")


def test_on_this_machines_cores_the_estimate_shares_cpu_time_among_the_threads_at_work():
    # "a" and "e" took 100 s of CPU time each (2 threads for 50 s, or 1 for 100 s): 400 s of
    # work is left (b, c, d), which two threads do in 200 s whether as one worker or two.
    guess = {"a": 100.0, "b": 100.0, "c": 100.0, "d": 200.0, "e": 100.0}
    cpu_time = {"seconds_of": lambda run: 50.0, "cpu_seconds_of": lambda run: guess[run.key]}
    lines = []
    for workers, threads in ((1, 2), (2, 1), (1, 0), (4, 1)):
        list_plan(jobs(), lambda run: run.key in "ae", workers, lines.append, Timing(lambda run: guess[run.key],
                  cpu=CpuShare(cores=2, threads_per_run=threads), **cpu_time))
        assert lines[-1].endswith(f"on {min(workers, 3)} worker(s); estimated 3 min 20 s (scaled by the CPU times "
                                  "of 2 stored run(s), 1x the first guess, 2 thread(s) at once).")
    list_plan(jobs(), lambda run: run.key in "ae", 1, lines.append, Timing(lambda run: guess[run.key],
              cpu=CpuShare(cores=2, threads_per_run=1), **cpu_time))
    assert "estimated 6 min 40 s" in lines[-1] and "1 thread(s) at once" in lines[-1]
    # Runs stored before CPU time was recorded: their wall times, among the workers, as before.
    list_plan(jobs(), lambda run: run.key in "ae", 1, lines.append, Timing(lambda run: guess[run.key],
              seconds_of=lambda run: 50.0, cpu_seconds_of=lambda run: None, cpu=CpuShare(2, 2)))
    assert lines[-1].endswith("estimated 3 min 20 s (scaled by the measured times of 2 stored run(s), 0.5x the "
                              "first guess).")
    list_plan(jobs(), lambda run: False, 2, lines.append, Timing(lambda run: guess[run.key], cpu=CpuShare(2, 1)))
    assert lines[-1].endswith("estimated 5 min 00 s (a first guess for a 2-core CPU, until runs are timed, "
                              "2 thread(s) at once).")


def test_the_eta_weighs_a_resumed_run_by_the_part_this_session_trained(monkeypatch):
    # "a" resumes half way (its guess 50 s until it is stored and its checkpoint deleted,
    # then 100 s again); the machine is half as fast as guessed, so "a" takes 100 s.
    now, checkpointed = [0.0], {"a"}
    monkeypatch.setattr("tf_lottery.execution.scheduling.time.perf_counter", lambda: now[0])

    class Timed(FakeWorkers):
        def next_result(self):
            run, metrics = super().next_result()
            now[0] += 100.0 if run.key == "a" else 200.0
            checkpointed.discard(run.key)
            return run, metrics

    lines = []
    run_graph([Job("a"), Job("b"), Job("c")], lambda run: False, Timed(slots=1), lambda r, m: r.key, lines.append,
              Timing(lambda run: 50.0 if run.key in checkpointed else 100.0))
    assert lines[1:] == ["[1/3] a (1 s; ETA 6 min 40 s)", "[2/3] b (1 s; ETA 3 min 20 s)", "[3/3] c (1 s; ETA 0 s)"]


def test_a_run_to_be_copied_is_listed_as_such_and_costs_nothing_in_the_estimate(monkeypatch):
    # "e" (say, a round 0 under other pruning settings) will be copied from "a" once "a" is stored.
    copied_from = lambda run: "a's store" if run.key == "e" else None  # noqa: E731
    lines = []
    list_plan(jobs(), lambda run: False, 1, lines.append, Timing(lambda run: 100.0, copied_from=copied_from))
    assert lines[4] == "  to copy   e (from a's store)"
    assert lines[-1].startswith("5 runs in this study: 0 already stored, 1 to copy, 4 to train on 1 worker(s); "
                                "estimated 6 min 40 s")
    # Trained first (the copy is ready before anything else), it leaves no time to scale an ETA by.
    now = [0.0]
    monkeypatch.setattr("tf_lottery.execution.scheduling.time.perf_counter", lambda: now[0])

    class Timed(FakeWorkers):
        def next_result(self):
            run, metrics = super().next_result()
            now[0] += 0.0 if run.key == "e" else 200.0
            return run, metrics

    lines.clear()
    run_graph([Job("e"), Job("a")], lambda run: False, Timed(slots=1), lambda r, m: r.key, lines.append,
              Timing(lambda run: 100.0, copied_from=copied_from))
    assert lines == ["2 runs in this study: 0 already stored, 1 to copy, 1 to train on 1 worker(s); estimated "
                     "1 min 40 s (a first guess for a 2-core CPU, until runs are timed).", "[1/2] e (1 s)",
                     "[2/2] a (1 s; ETA 0 s)"]


class SharedStore(FakeWorkers):
    """Another process sharing the store trains run "a" until `busy` asks have been refused."""

    def __init__(self, slots, busy):
        super().__init__(slots)
        self.busy = busy

    def next_result(self):
        if self.running[-1].key == "a" and self.busy:
            self.busy -= 1
            run = self.running.pop()
            self.log.append(("elsewhere", run.key))
            raise RunFailed(run, TrainedElsewhere(run.key, {"host": "node2", "pid": 7, "since": 0.0}))
        return super().next_result()


def test_a_run_another_process_trains_is_asked_for_again_while_the_study_goes_on(monkeypatch):
    monkeypatch.setattr("tf_lottery.execution.scheduling.ASK_AGAIN_AFTER", 0.05)
    workers, lines = SharedStore(slots=1, busy=3), []
    stats = run_graph(jobs(), lambda run: False, workers, lambda r, m: r.key, lines.append, Timing(lambda run: 1.0))
    assert stats["trained"] == 5
    assert workers.log[:3] == [("start", "a"), ("elsewhere", "a"), ("start", "e")]  # e meanwhile
    assert [e for e, k in workers.log if k == "a"] == ["start", "elsewhere"] * 3 + ["start", "end"]
    told = [line for line in lines if "another process" in line]
    assert told == ["  a: in training by pid 7 on node2 since " + time.strftime("%H:%M", time.localtime(0))
                    + " (another process sharing the store); this study goes on with other runs and uses it "
                    "once stored"]  # once, not at every ask


def test_a_plan_lists_runs_another_process_trains_and_counts_no_time_for_them():
    lines = []
    list_plan(jobs(), lambda run: False, 1, lines.append, Timing(lambda run: 100.0,
              leased_to=lambda run: {"host": "node2", "pid": 7, "since": 0.0} if run.key == "a" else None))
    assert lines[0].startswith("  elsewhere a (in training by pid 7 on node2 since ")
    assert lines[-1].startswith("5 runs in this study: 0 already stored, 1 in training by another process, 4 to "
                                "train on 1 worker(s); estimated 6 min 40 s")


def test_a_heartbeat_logs_long_runs_at_most_once_per_interval_and_never_at_the_end():
    now, lines = [0.0], []
    beat = Heartbeat("trial0/iterative/round01/ticket", lines.append, interval=120, clock=lambda: now[0])
    for step, t in ((100, 60), (200, 150), (300, 200), (400, 280), (600, 400)):
        now[0] = t
        beat(step, 600)
    assert lines == ["  trial0/iterative/round01/ticket: iteration 200/600 after 2 min 30 s, about 5 min 00 s left",
                     "  trial0/iterative/round01/ticket: iteration 400/600 after 4 min 40 s, about 2 min 20 s left"]


def test_a_resumed_runs_heartbeat_times_only_the_steps_since_the_checkpoint():
    now, lines = [1000.0], []
    beat = Heartbeat("run", lines.append, interval=120, clock=lambda: now[0])
    beat.resumed(400)
    now[0] = 1150.0
    beat(500, 600)  # 100 steps in 150 s: 100 more take 150 s
    assert lines == ["  run: resumed from its checkpoint at iteration 400",
                     "  run: iteration 500/600 after 2 min 30 s, about 2 min 30 s left"]


def test_a_heartbeats_time_left_ignores_a_pause():
    now, lines = [0.0], []
    beat = Heartbeat("run", lines.append, interval=120, clock=lambda: now[0])
    for step, t in ((100, 60), (200, 120), (300, 1120), (400, 1180), (500, 1240)):  # asleep for 1,000 s
        now[0] = t
        beat(step, 1000)
    assert lines == ["  run: iteration 200/1,000 after 2 min 00 s, about 8 min 00 s left",
                     "  run: iteration 300/1,000 after 18 min 40 s, about 7 min 00 s left",
                     "  run: iteration 500/1,000 after 20 min 40 s, about 5 min 00 s left"]
