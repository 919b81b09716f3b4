"""Several Ray worker processes on one machine: same results as one process, and a killed
worker costs only its run in progress."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT

# One xdist worker runs these one after another: each starts a local Ray cluster, and
# `ray stop --force` stops every cluster on the machine.
pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_DEDUP_LOGS": "0"}


def fig4(data_dir, store, results, workers, *extra, iterations=600):
    return [sys.executable, str(ROOT / "reproductions" / "fig4_lenet.py"), "--preset", "smoke", "--iterations",
            str(iterations), "--data-dir", str(data_dir), "--store", str(store), "--results", str(results),
            "--workers", str(workers), *extra]


def summary(results):
    return pd.read_csv(results / "fig4_lenet" / "summary.csv").drop(columns="seconds")


def runs_of(results):
    return json.loads((results / "fig4_lenet" / "run.json").read_text())["runs"]


def test_two_workers_match_one_and_survive_a_killed_worker(data_dir, tmp_path):
    # The one-process study to compare with, beside the Ray one (much of a process is
    # single-threaded start-up).
    with open(tmp_path / "one.log", "w") as log:  # a file: a full pipe would block it
        one = subprocess.Popen(fig4(data_dir, tmp_path / "one", tmp_path / "r1", 1), env=ENV, stdout=log,
                               stderr=subprocess.STDOUT)
    with open(tmp_path / "two.err", "w") as err:  # what to show should Ray fail to start
        driver = subprocess.Popen(fig4(data_dir, tmp_path / "two", tmp_path / "r2", 2), env=ENV, text=True,
                                  stdout=subprocess.PIPE, stderr=err)
    pids, output, stored_before, deadline = [], [], {}, time.time() + 600
    for line in driver.stdout:
        output.append(line)
        pids += [int(p) for p in re.findall(r"^worker \d+: pid (\d+)", line)]
        if line.startswith("[1/6]"):  # round 0 stored; both workers now start runs that need it
            assert {os.getpriority(os.PRIO_PROCESS, p) for p in pids} == {os.getpriority(os.PRIO_PROCESS, 0)}
            stored_before = {p: p.stat().st_mtime_ns for p in (tmp_path / "two").rglob("metrics.json")}
            time.sleep(0.5)
            os.kill(pids[0], signal.SIGKILL)
        assert time.time() < deadline, "".join(output)
    assert driver.wait() == 0, "".join(output) + (tmp_path / "two.err").read_text()[-5000:]
    log = "".join(output)
    assert len(pids) == 3 and "A worker died during" in log, log  # two workers and a replacement

    # Nothing stored before the kill was trained again, and the study is complete.
    assert all(p.stat().st_mtime_ns == t for p, t in stored_before.items())
    assert runs_of(tmp_path / "r2") == {"runs": 6, "trained": 6, "reused": 0, "from_ledgers": 0}
    assert one.wait(timeout=600) == 0, (tmp_path / "one.log").read_text()
    pd.testing.assert_frame_equal(summary(tmp_path / "r2"), summary(tmp_path / "r1"))

    rerun = subprocess.run(fig4(data_dir, tmp_path / "two", tmp_path / "r2", 1), env=ENV, check=True,
                           capture_output=True, text=True)  # in this process: the store alone says what is done
    assert runs_of(tmp_path / "r2") == {"runs": 6, "trained": 0, "reused": 6, "from_ledgers": 0}, rerun.stdout


def test_joins_a_running_ray_cluster_with_paths_relative_to_the_driver(data_dir, tmp_path):
    """Cluster workers start in their own folder, not the driver's: relative paths must still work."""
    ray = str(Path(sys.executable).parent / "ray")
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    head = tmp_path / "head"
    head.mkdir()
    subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    "--disable-usage-stats"], cwd=head, env={**ENV, "RAY_worker_niceness": "0"}, check=True,
                   capture_output=True)  # workers beside the other pytest worker: not at Ray's nice 15
    try:
        command = fig4(os.path.relpath(data_dir, tmp_path), "store", "results", 2, "--ray-address", "auto",
                       iterations=300)
        # SIGTERM to the driver: its workers save their runs' progress, and it exits cleanly.
        stopped = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        for line in stopped.stdout:
            if line.startswith("[1/6]"):  # round 0 stored; both workers start runs that need it
                stopped.send_signal(signal.SIGTERM)
                break
        out, err = stopped.communicate(timeout=300)
        assert stopped.returncode == 128 + signal.SIGTERM, out + err
        assert "Stopped on request" in out and "Traceback" not in err, out + err
        done = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True)
    finally:
        subprocess.run([ray, "stop", "--force"], env=ENV, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Connected to Ray cluster" in done.stdout + done.stderr
    runs = runs_of(tmp_path / "results")
    assert runs["runs"] == 6 and runs["reused"] >= 1 and runs["trained"] + runs["reused"] == 6  # stored before the stop


def test_gpu_workers_where_ray_sees_no_gpu_are_refused(data_dir, tmp_path):
    done = subprocess.run(fig4(data_dir, tmp_path / "store", tmp_path / "results", 2, "--gpus-per-worker", "1"),
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error: --gpus-per-worker 1, but Ray sees no GPU here." in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
