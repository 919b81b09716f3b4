"""Runs on Ray workers: local processes by default, or the nodes of a Ray cluster.

Each worker is a Ray actor that builds its own executor (data, model, compiled loop) once,
with its own thread limit, then trains the runs it is given into the shared store. If a
worker process dies, a new worker replaces it and the run it was training is submitted
again; runs already stored are never redone. When a signal asks the driver to stop
(stopping.py), it asks its busy workers, whose runs save their progress.
"""
from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path
from typing import Callable

import tf_lottery
from tf_lottery.config import SettingsError
from tf_lottery import stopping
from tf_lottery.execution.scheduling import RunFailed
from tf_lottery.stopping import StopRequested


class _Worker:
    """The actor body. `factory()` builds the executor inside the worker process."""

    def __init__(self, factory: Callable, threads: int):
        from tf_lottery.execution.distribute import grow_gpu_memory
        from tf_lottery.machine import limit_threads

        limit_threads(threads)  # before the executor runs any TensorFlow op
        grow_gpu_memory()  # workers may share a GPU (--gpus-per-worker below 1)
        self.executor = factory()

    def info(self) -> dict:
        return {"pid": os.getpid(), "host": platform.node(), "data_source": getattr(self.executor, "data_source", None)}

    def execute(self, run) -> dict:
        return self.executor.execute(run)

    def stop(self) -> None:
        """Ask the run in training to save its progress and stop (runs beside `execute`)."""
        stopping.ask()


def require_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse a host:port (or ray://host:port) nothing listens on at once: Ray itself keeps
    retrying a wrong address for minutes. "auto" is left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {host}:{port} ({e.strerror or e})") from None


class RayWorkers:
    """A `scheduling.Backend` of `workers` Ray actors, `threads` intra-op threads and
    `gpus` GPUs (a fraction shares one) each. Ray hides GPUs from an actor that asks for
    none, so with `gpus=0` workers train on CPUs.

    `address=None` starts a private local Ray instance sized to the workers; otherwise
    joins the cluster at `address` ("auto" for the one this node belongs to). On a
    cluster, the store (and any --data-dir) must be a path every node can read and write.
    """

    def __init__(self, factory: Callable, workers: int, threads: int, store, address: str | None = None,
                 log: Callable[[str], None] = print, retries: int = 2, gpus: float = 0.0):
        import ray

        if workers < 1 or gpus < 0:
            raise ValueError(f"Need workers >= 1 and gpus >= 0, got {workers} and {gpus}.")
        self.ray, self.store, self.log, self.retries = ray, store, log, retries
        # Workers' output (heartbeats of long runs, warnings) is forwarded to this process's
        # output, without colour codes when that is a log file.
        if not sys.stdout.isatty():
            os.environ.setdefault("RAY_COLOR_PREFIX", "0")
        # Ray folds lines that differ only in numbers into "[repeated 2x across cluster]": that
        # hid one of two workers' heartbeats (round02 and round03 of one run hash).
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        runtime_env = {"env_vars": {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}}
        if address is not None:  # ship this package to the cluster's nodes
            runtime_env["py_modules"] = [str(Path(tf_lottery.__file__).parent)]
            try:
                require_reachable(address)
                ray.init(address=address, runtime_env=runtime_env)
            except ConnectionError as e:
                raise SettingsError(f"--ray-address {address}: {e}. Start the cluster first (ray start --head) "
                                    f"or leave out --ray-address to start a local one.") from None
        else:
            # Ray starts workers at nice 15 (its daemons first), so any other busy process on the
            # machine, at the default 0, would starve the training; ours run at the driver's priority.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=max(workers * threads, os.cpu_count() or 1), include_dashboard=False,
                     object_store_memory=256 * 2**20, runtime_env=runtime_env)
        stopping.take_back_signals()
        try:
            self._check_resources(workers, max(threads, 1), gpus)
            # Two threads: `stop` must run while `execute` trains.
            self._actor_class = ray.remote(num_cpus=max(threads, 1), num_gpus=gpus, max_restarts=0,
                                           max_concurrency=2)(_Worker)
            self._factory, self._threads, self._started = factory, threads, 0
            self._free = [self._actor_class.remote(factory, threads) for _ in range(workers)]
            for actor in self._free:
                self._introduce(actor)
        except BaseException:
            ray.shutdown()
            raise
        self.slots = workers
        self._running: dict = {}  # object ref -> (actor, run, attempt)
        self._told_to_stop = False

    def _check_resources(self, workers: int, cpus: int, gpus: float) -> None:
        """Refuse GPU workers where Ray sees no GPU; warn where workers must wait for nodes
        (an autoscaling cluster may still add them)."""
        have = self.ray.cluster_resources()
        if gpus and not have.get("GPU"):
            raise SettingsError(f"--gpus-per-worker {gpus:g}, but Ray sees no GPU here.")
        for name, each in (("CPU", cpus), ("GPU", gpus)):
            need, total = workers * each, have.get(name, 0)
            if need > total:
                self.log(f"Warning: {workers} workers need {need:g} {name}s, Ray has {total:g}: "
                         "some workers wait until more become free.")

    def _introduce(self, actor) -> None:
        """Wait until `actor` has built its executor, and log where it runs."""
        try:
            info = self.ray.get(actor.info.remote())
        except self.ray.exceptions.RayActorError as e:
            raise RuntimeError(f"A Ray worker failed to start:\n{e}") from None
        self.data_source = info["data_source"]
        self.log(f"worker {self._started}: pid {info['pid']} on {info['host']}")
        self._started += 1

    def submit(self, run, attempt: int = 0) -> None:
        actor = self._free.pop()
        self._running[actor.execute.remote(run)] = (actor, run, attempt)

    def next_result(self):
        ray = self.ray
        while True:
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=1.0)
            if stopping.requested() and not self._told_to_stop:  # a signal reached this driver
                self._told_to_stop = True
                for actor, _, _ in self._running.values():
                    actor.stop.remote()
            if not ready:
                continue
            actor, run, attempt = self._running.pop(ready[0])
            try:
                result = run, ray.get(ready[0])
                self._free.append(actor)
                return result
            except ray.exceptions.RayActorError as e:
                if self.store.has(run.key):  # died after storing the run
                    self._free.append(self._fresh_worker())
                    return run, self.store.metrics(run.key)
                if stopping.requested():  # e.g. a preempted machine's SIGTERM reached the worker too
                    raise RunFailed(run, StopRequested()) from e
                self._free.append(self._fresh_worker())
                if attempt >= self.retries:
                    raise RunFailed(run, e) from e
                self.log(f"A worker died during {run.key}; training it again on a new worker.")
                self.submit(run, attempt + 1)
            except ray.exceptions.RayTaskError as e:
                self._free.append(actor)
                raise RunFailed(run, e.as_instanceof_cause()) from e

    def _fresh_worker(self):
        actor = self._actor_class.remote(self._factory, self._threads)
        self._introduce(actor)
        return actor

    def close(self) -> None:
        self.ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
