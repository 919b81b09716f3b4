"""The run store: identity checks, first writer wins, commit point, verified loads, checkpoints, leases."""
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pytest

from tf_lottery.config import RUN_SCHEMA, ExperimentConfig, TrainingConfig
from tf_lottery.execution import store as store_module
from tf_lottery.execution.store import RunStore, StoreCorrupt, StoreMismatch, TrainedElsewhere

KEY = "trial0/iterative/round00/ticket"


def arrays(value):
    return {"mask": {"fc1/kernel": np.full((3, 4), value, np.float32)}}


def test_a_run_records_its_arrays_checksums_and_the_code_version(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    assert store.save(KEY, {"a": 1}, arrays(1.0))
    m = store.metrics(KEY)
    assert m["a"] == 1 and set(m["files"]) == {"mask.npz"}
    assert set(m["code_version"]) == {"commit", "dirty"}
    np.testing.assert_array_equal(store.arrays(KEY, "mask")["fc1/kernel"], np.ones((3, 4)))


def test_first_writer_wins_and_the_stored_run_is_never_replaced(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    assert store.save(KEY, {"writer": 1}, arrays(1.0))
    inode = os.stat(store.dir / KEY).st_ino
    with open(store.dir / KEY / "mask.npz", "rb") as reader:  # someone is reading the run meanwhile
        assert not store.save(KEY, {"writer": 2}, arrays(2.0))
        assert reader.read(2) == b"PK"
    assert os.stat(store.dir / KEY).st_ino == inode and store.metrics(KEY)["writer"] == 1
    assert store.arrays(KEY, "mask")["fc1/kernel"][0, 0] == 1.0
    assert not [p for p in (store.dir / KEY).parent.iterdir() if p.name.startswith(".tmp")]


def _save_as(root, writer):
    store = RunStore(root, "lenet", ExperimentConfig())
    return store.save(KEY, {"writer": writer}, arrays(float(writer)))


def test_concurrent_writers_store_one_complete_copy(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        won = pool.starmap(_save_as, [(tmp_path, w) for w in range(8)])
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    assert sum(won) == 1
    writer = store.metrics(KEY)["writer"]
    assert won[writer] and store.arrays(KEY, "mask")["fc1/kernel"][0, 0] == writer


def test_truncated_arrays_are_detected_on_load(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    store.save(KEY, {"a": 1}, arrays(1.0))
    path = store.dir / KEY / "mask.npz"
    path.write_bytes(path.read_bytes()[:50])  # as after a power loss mid-write
    with pytest.raises(StoreCorrupt, match=r"Delete .*round00/ticket and run the same command again"):
        store.arrays(KEY, "mask")


def test_an_empty_leftover_folder_does_not_block_a_save_but_a_partial_one_is_reported(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    (store.dir / KEY).mkdir(parents=True)
    assert not store.has(KEY) and store.save(KEY, {"a": 1}, arrays(1.0))
    other = "trial0/iterative/round01/ticket"
    (store.dir / other).mkdir(parents=True)
    (store.dir / other / "mask.npz").write_bytes(b"partial")
    with pytest.raises(StoreCorrupt, match="incomplete run folder"):
        store.save(other, {"a": 1}, arrays(1.0))


def test_what_a_killed_writer_leaves_is_no_run_and_is_removed_once_abandoned(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    store.save(KEY, {"a": 1}, arrays(1.0))
    store.save_checkpoint("trial0/iterative/round01/ticket", {}, {"step": 100})
    parent = (store.dir / KEY).parent

    def killed_mid_commit(name):  # metrics.json written, the rename never happened
        folder = parent / f".tmp-{name}-0123abcd"
        folder.mkdir()
        (folder / "metrics.json").write_text("{}")
        return folder

    young, old = killed_mid_commit("young"), killed_mid_commit("old")
    half_checkpoint = store.dir / ".checkpoints" / ".trial0__iterative__round01__ticket.npz.89abcdef"
    half_checkpoint.write_bytes(b"PK")
    for path in (old, half_checkpoint):
        os.utime(path, (0, 0))
    assert store.keys() == [KEY]
    RunStore(tmp_path, "lenet", ExperimentConfig())  # the next process to open the store
    assert young.is_dir() and not old.exists(), "only abandoned folders go: a young one may be mid-commit"
    assert not half_checkpoint.exists() and store.checkpointed_at("trial0/iterative/round01/ticket") == 100
    assert store.keys() == [KEY] and store.metrics(KEY)["a"] == 1 and (store.dir / "config.json").is_file()


def test_a_store_holding_another_configuration_is_refused(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    config = json.loads((store.dir / "config.json").read_text())
    config["training"]["iterations"] = 123  # edited by hand, or written by an incompatible version
    (store.dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(StoreMismatch, match="another configuration"):
        RunStore(tmp_path, "lenet", ExperimentConfig())
    other = RunStore(tmp_path, "lenet", ExperimentConfig(training=TrainingConfig(iterations=300)))
    assert other.dir != store.dir  # different identities are keyed apart


def test_stores_of_an_older_schema_are_reported_and_not_used(tmp_path):
    old = tmp_path / "lenet300_100-44136fa355"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"training": {}}))  # schema 1 had no schema field
    said = []
    store = RunStore(tmp_path, "lenet300_100", ExperimentConfig(), log=said.append)
    assert store.dir != old and json.loads((store.dir / "config.json").read_text())["schema"] == RUN_SCHEMA
    assert "lenet300_100-44136fa355" in said[0] and "older, incompatible" in said[0]


def test_a_read_only_store_writes_nothing_and_reads_what_is_stored(tmp_path):
    """What --plan opens: nothing created, nothing cleaned up, the identity still checked."""
    assert not RunStore(tmp_path / "runs", "lenet", ExperimentConfig(), read_only=True).has(KEY)
    assert not (tmp_path / "runs").exists()
    store = RunStore(tmp_path / "runs", "lenet", ExperimentConfig())
    store.save(KEY, {"a": 1}, arrays(1.0))
    leftover = store.dir / ".tmp-killed-0123abcd"
    leftover.mkdir()
    os.utime(leftover, (0, 0))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    reader = RunStore(tmp_path / "runs", "lenet", ExperimentConfig(), read_only=True)
    assert reader.has(KEY) and reader.metrics(KEY)["a"] == 1 and reader.keys() == [KEY]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # even the leftover stays
    (store.dir / "config.json").write_text(json.dumps({"schema": RUN_SCHEMA, "edited": True}))
    with pytest.raises(StoreMismatch, match="another configuration"):
        RunStore(tmp_path / "runs", "lenet", ExperimentConfig(), read_only=True)


def test_parts_are_added_once(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    store.save(KEY, {"a": 1})
    assert store.save_part(KEY, "test_curve", {"test_acc": [0.5]})
    assert not store.save_part(KEY, "test_curve", {"test_acc": [0.9]})
    assert store.part(KEY, "test_curve") == {"test_acc": [0.5]}


def test_a_checkpoint_is_replaced_whole_ignored_when_damaged_and_dropped_when_the_run_is_stored(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    assert store.checkpoint(KEY) is None
    store.save_checkpoint(KEY, {"snapshot/fc1/kernel": np.zeros(3)}, {"step": 100})
    store.save_checkpoint(KEY, {"snapshot/fc1/kernel": np.ones(3)}, {"step": 200})
    saved, meta = store.checkpoint(KEY)
    assert store.checkpointed_at(KEY) == 200 and store.checkpointed_at("trial0/iterative/round01/ticket") is None
    assert meta == {"step": 200} and list(saved) == ["snapshot/fc1/kernel"] and saved["snapshot/fc1/kernel"][0] == 1
    assert [p.name for p in (store.dir / ".checkpoints").iterdir()] == [KEY.replace("/", "__") + ".npz"]
    assert store.keys() == []  # not a stored run
    path = store.dir / ".checkpoints" / f"{KEY.replace('/', '__')}.npz"
    path.write_bytes(path.read_bytes()[:40])  # as if the disk lost its end
    assert store.checkpoint(KEY) is None and store.checkpointed_at(KEY) is None
    store.save_checkpoint(KEY, {}, {"step": 300})
    store.save(KEY, {"a": 1})
    assert store.checkpoint(KEY) is None and not path.exists()


def _lease_of(store, holder: dict, age: float = 0.0) -> None:
    """Run KEY leased to `holder`, its last renewal `age` seconds ago."""
    path = store._lease_path(KEY)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(holder))
    os.utime(path, (time.time() - age,) * 2)


def test_a_lease_is_held_while_a_run_trains_and_released_after_it_even_if_it_fails(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    with store.lease(KEY):
        assert store.lease_holder(KEY)["pid"] == os.getpid()  # other processes' view: this one trains it
    assert store.lease_holder(KEY) is None
    with pytest.raises(FloatingPointError), store.lease(KEY):
        raise FloatingPointError("diverged")
    assert store.lease_holder(KEY) is None and not list((store.dir / ".leases").iterdir())


def test_a_live_process_s_lease_keeps_others_off_its_run(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for host in (platform.node(), "another-node"):  # a live pid here, a renewed lease there
            _lease_of(store, {"host": host, "pid": other.pid, "since": time.time()})
            with pytest.raises(TrainedElsewhere, match=f"pid {other.pid} on {host}") as elsewhere:
                with store.lease(KEY):
                    pytest.fail("trained a run another process is training")
            assert elsewhere.value.holder["pid"] == other.pid
    finally:
        other.kill()
        other.wait()


def test_a_vanished_process_s_lease_is_taken_over(tmp_path):
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    vanished = [({"host": platform.node(), "pid": dead.pid, "since": 0.0}, 0.0),  # died on this machine: at once
                ({"host": "another-node", "pid": 1, "since": 0.0}, store_module.LEASE_EXPIRES + 1)]  # renewed no more
    for holder, age in vanished:
        _lease_of(store, holder, age)
        with store.lease(KEY):
            assert store.lease_holder(KEY)["pid"] == os.getpid()
        assert store.lease_holder(KEY) is None


def test_a_lease_is_renewed_while_its_run_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "LEASE_RENEWED_EVERY", 0.05)
    store = RunStore(tmp_path, "lenet", ExperimentConfig())
    with store.lease(KEY):
        path = store._lease_path(KEY)
        os.utime(path, (0, 0))
        time.sleep(0.5)
        assert time.time() - path.stat().st_mtime < 5
