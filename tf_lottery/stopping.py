"""Stopping a study cleanly on SIGTERM or Ctrl-C, keeping the training run's progress.

A preempted cloud VM or TPU, a batch scheduler's time limit and `kill` send SIGTERM, a
user at a terminal Ctrl-C. By default either ends the process at once and a run in
training loses what it did since its last periodic checkpoint (up to 10 minutes). Inside
`handling_signals()` the first signal only asks: the run in training saves its progress
after its current chunk of steps and raises `StopRequested`, no new run starts,
and the script exits with 128 + the signal's number; the same command resumes. A second
signal stops at once. Ray workers are asked by their driver (see ray_workers.py).
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

class StopRequested(Exception):
    """A stop was asked for: `step` is where the run in training saved its progress, None
    where no run was training."""

    def __init__(self, step: int | None = None):
        super().__init__("stopped on request" + (f" at iteration {step:,}" if step is not None else ""))
        self.step = step

    def __reduce__(self):  # from a Ray worker to its driver
        return StopRequested, (self.step,)



SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []  # the signals that asked to stop, in this process
_handling: list[bool] = []  # inside `handling_signals()`


@contextlib.contextmanager
def handling_signals():
    """Handle SIGTERM and SIGINT as above inside this block (only the main thread can),
    then give back the handlers it found and forget the request."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _ask) for signum in SIGNALS}
    _handling.append(True)
    try:
        yield
    finally:
        _handling.pop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()


def take_back_signals() -> None:
    """Handle the signals again inside `handling_signals()` after a library replaced the
    handlers (`ray.init` installs one that aborts the driver on SIGTERM)."""
    if _handling and threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, _ask)


def ask(signum: int = signal.SIGTERM) -> None:
    """Ask this process to stop as `signum` would (how the driver tells its Ray workers)."""
    if not _received:
        _received.append(signum)


def _ask(signum, frame) -> None:
    if _received:
        raise KeyboardInterrupt  # asked twice: stop now
    ask(signum)
    print(f"{signal.Signals(signum).name}: stopping after the current chunk of steps, saving the run's progress "
          "(Ctrl-C again stops at once).", file=sys.stderr, flush=True)


def requested() -> bool:
    return bool(_received)


def exit_status() -> int:
    """The shell's status of a process the first signal asked to stop."""
    return 128 + (_received[0] if _received else signal.SIGINT)
