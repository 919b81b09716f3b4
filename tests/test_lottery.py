"""End-to-end lottery runs on real MNIST (tiny budgets): invariants, resume, outputs."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tf_lottery.pruning import masks

from tf_lottery.analysis import tables
from tf_lottery.machine import cpu_kind
from tf_lottery.training.trainer import trained_by
from tf_lottery.config import PruningConfig
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, copy_source_name, plan
from tf_lottery.execution.store import RunStore, TrainedElsewhere
from tf_lottery.ledger.records import Ledger
from tf_lottery.figures.kinds import LotteryKind
from tf_lottery.pruning.rules import LotterySchedule

from conftest import IN_THIS_PROCESS, ROOT, load_script, tiny_config


@pytest.fixture(scope="module")
def study(small_mnist, tmp_path_factory):
    """One tiny study (2 rounds, one-shot, reinits) whose every trainer call is recorded."""
    cfg = tiny_config()
    store = RunStore(tmp_path_factory.mktemp("store"), "lenet", cfg)
    experiment = LotteryExperiment(cfg, small_mnist, store, log=lambda *_: None)
    experiment.checkpoint_every = 0.0  # a checkpoint after every evaluation
    starts, running = {}, []
    train, execute = experiment.trainer.train, experiment.execute

    def recording(start, mask, *seeds, **options):
        starts[running[-1]] = (start, mask)
        return train(start, mask, *seeds, **options)

    def executing(spec):  # runs execute in dependency order, not plan order: key starts by run
        running.append(spec)
        return execute(spec)

    experiment.trainer.train, experiment.execute = recording, executing
    specs = plan(cfg)
    experiment.run(specs)
    return experiment, specs, [starts[spec] for spec in specs]


def test_plan_orders_dependencies_first():
    specs = plan(tiny_config())
    assert [s.key for s in specs] == [
        "trial0/iterative/round00/ticket",
        "trial0/oneshot/round02/ticket", "trial0/oneshot/round02/reinit0",
        "trial0/iterative/round01/ticket",
        "trial0/iterative/round02/ticket", "trial0/iterative/round02/reinit0",
    ]


def test_runs_save_checkpoints_while_training_and_drop_them_when_stored(study):
    experiment, specs, _ = study
    checkpoints = experiment.store.dir / ".checkpoints"
    assert checkpoints.is_dir() and not any(checkpoints.iterdir())
    assert all(experiment.store.metrics(spec.key)["resumed_at"] == 0 for spec in specs)


def test_a_runs_time_estimate_counts_only_what_its_checkpoint_left(tmp_path):
    cfg = tiny_config()
    store = RunStore(tmp_path, "lenet", cfg)
    timing, run = LotteryKind.graph_options([cfg], store)["timing"], RunSpec(0, "iterative", 1)
    whole, step = timing.guess_seconds(run), cfg.training.iterations // 4
    store.save_checkpoint(run.key, {}, {"step": step})
    assert timing.resumes_at(run) == step
    assert timing.guess_seconds(run) == pytest.approx(whole * (1 - step / cfg.training.iterations))


def test_every_run_starts_from_its_init_times_its_mask(study):
    experiment, specs, starts = study
    for spec, (start, mask) in zip(specs, starts):
        expected_ticket_start = masks.apply(experiment.theta0(0), mask)
        for name, w in start.items():
            if name in mask:
                assert np.all(w[mask[name] == 0] == 0), (spec.key, name)
            if spec.control == "ticket":
                np.testing.assert_array_equal(w, expected_ticket_start[name])
        if spec.control == "reinit":
            ticket = dict(zip(specs, starts))[RunSpec(spec.trial, spec.strategy, spec.round)]
            assert not np.array_equal(start["fc1/kernel"], ticket[0]["fc1/kernel"])
            assert all(np.array_equal(mask[n], ticket[1][n]) for n in mask)


def test_trunk_masks_are_nested_with_scheduled_densities(study):
    experiment, _, _ = study
    previous = None
    for k in range(3):
        mask = experiment.store.arrays(RunSpec(0, "iterative", k).key, "mask")
        if previous is not None:
            assert masks.is_nested(mask, previous)
        for name, count in masks.counts(mask).items():
            assert count == experiment.plan.surviving({name: mask[name].size}, k)[name]
            assert count == LotterySchedule(experiment.plan.rates[name]).surviving(mask[name].size, k)  # TF-MOT
        final = experiment.store.arrays(RunSpec(0, "iterative", k).key, "final")
        assert all(np.all(final[n][mask[n] == 0] == 0) for n in mask)
        previous = mask


def test_oneshot_mask_has_the_trunk_counts_but_its_own_positions(study):
    experiment, _, _ = study
    oneshot = experiment.mask_for(RunSpec(0, "oneshot", 2))
    trunk = experiment.store.arrays(RunSpec(0, "iterative", 2).key, "mask")
    assert masks.counts(oneshot) == masks.counts(trunk)
    assert not np.array_equal(oneshot["fc1/kernel"], trunk["fc1/kernel"])


def test_summary_has_the_required_columns_and_recorded_seeds(study):
    experiment, specs, _ = study
    summary = tables.summary_table(experiment.store, specs, experiment.cfg)
    required = {"strategy", "control", "trial", "round", "pm", "early_stop_iter", "test_acc_early_stop",
                "train_acc_early_stop", "test_acc_end", "train_acc_end"}
    assert required <= set(summary.columns)
    assert len(summary) == len(specs) + 1  # round 0 also listed as one-shot's start
    reinits = summary[summary.control == "reinit"]
    assert reinits.reinit_seed.notna().all() and reinits.reinit_seed.nunique() == len(reinits)
    assert (summary.trained_on == trained_by()).all() and "AVX-512" in cpu_kind()  # the CPU and threads of each run
    curves = tables.curves_table(experiment.store, specs)
    assert len(curves) == 2 * len(summary)  # evaluations at 100 and 200


def test_rerun_trains_nothing(study):
    experiment, specs, _ = study
    assert experiment.run(specs) == {"runs": len(specs), "trained": 0, "reused": len(specs)}


class Interrupt(Exception):
    pass


def test_interrupted_study_resumes_to_the_same_tables(small_mnist, tmp_path, study):
    reference, specs, _ = study
    cfg = tiny_config()
    store = RunStore(tmp_path, "lenet", cfg)
    experiment = LotteryExperiment(cfg, small_mnist, store, log=lambda *_: None)
    execute, calls = experiment.execute, []

    def dies_on_fourth(spec):
        calls.append(spec)
        if len(calls) == 4:
            raise Interrupt  # as if killed mid-run: nothing of this run is stored
        return execute(spec)

    experiment.execute = dies_on_fourth
    with pytest.raises(Interrupt):
        experiment.run(specs)
    assert len(store.keys()) == 1 + 3  # theta_0 and three finished runs
    experiment.execute = execute
    assert experiment.run(specs)["trained"] == len(specs) - 3
    for k in range(3):  # same seeds, same masks
        key = RunSpec(0, "iterative", k).key
        a, b = store.arrays(key, "mask"), reference.store.arrays(key, "mask")
        assert all(np.array_equal(a[n], b[n]) for n in a)
    drop = ["seconds"]
    pd.testing.assert_frame_equal(tables.summary_table(store, specs, experiment.cfg).drop(columns=drop),
                                  tables.summary_table(reference.store, specs, experiment.cfg).drop(columns=drop))


@pytest.mark.slow
def test_fig4_script_smoke_writes_every_output(data_dir, tmp_path):
    fig4 = load_script("fig4_lenet")
    argv = ["--preset", "smoke", "--iterations", "200", "--data-dir", str(data_dir), *IN_THIS_PROCESS,
            "--store", str(tmp_path / "store"), "--results", str(tmp_path / "results")]
    assert fig4.main(argv) == 0
    out = tmp_path / "results" / "fig4_lenet"
    for name in ("summary.csv", "curves.csv", "fig4_lenet.png", "comparison.md", "comparison.csv", "run.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "run.json").read_text())
    assert record["preset"] == "smoke" and record["reduced"] and record["runs"]["trained"] == 6
    assert "tensorflow" in record["packages"] and record["machine"]["cores"]
    assert record["trained_on"] == {trained_by(): 6}  # the CPU and threads of each run the tables hold
    fig4.main(argv)  # everything stored: trains nothing
    assert json.loads((out / "run.json").read_text())["runs"]["trained"] == 0


@pytest.mark.slow
def test_fig3_script_trains_only_its_missing_runs(data_dir, tmp_path):
    argv = ["--preset", "smoke", "--iterations", "200", "--rounds", "3", "--control-rounds", "3", *IN_THIS_PROCESS,
            "--data-dir", str(data_dir), "--store", str(tmp_path / "store"), "--results", str(tmp_path / "results")]
    assert load_script("fig3_lenet").main(argv) == 0
    out = tmp_path / "results" / "fig3_lenet"
    record = json.loads((out / "run.json").read_text())
    assert record["runs"]["trained"] == 5  # tickets at rounds 0-3 and the reinit at round 3 (Pm 51.3%)
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["round"]) == {0, 1, 2, 3} and (out / "fig3_lenet.png").is_file()


def test_global_scope_pools_hidden_layers_and_keeps_output_layerwise(small_mnist, tmp_path):
    cfg = dataclasses.replace(tiny_config(), pruning=PruningConfig(scope="global"))
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    weights = experiment.theta0(0)
    mask = experiment.plan.prune(weights, masks.full_mask(weights, experiment.groups))
    counts = masks.counts(mask)
    assert counts["fc1/kernel"] + counts["fc2/kernel"] == round(0.8 * (784 * 300 + 300 * 100))
    assert counts["output/kernel"] == 900
    assert masks.counts(experiment.prune_oneshot(weights, 1)) == counts


@pytest.mark.slow
def test_kill_9_loses_only_the_run_in_progress(data_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(store, results):
        return [sys.executable, str(ROOT / "reproductions" / "fig4_lenet.py"), "--preset", "smoke",
                "--iterations", "600", "--data-dir", str(data_dir), "--store", str(store), "--results", str(results),
                "--workers", "1"]

    # The uninterrupted study to compare with, beside the interrupted one (much of a process
    # is single-threaded start-up).
    with open(tmp_path / "reference.log", "w") as log:  # a file: a full pipe would block it
        reference = subprocess.Popen(command(tmp_path / "b", tmp_path / "rb"), env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
    killed = subprocess.Popen(command(tmp_path / "a", tmp_path / "ra"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def stored_runs():  # committed runs only: the kill may leave a run folder half-committed
        return sum(len(RunStore.existing(config.parent).keys()) for config in (tmp_path / "a").glob("*/config.json"))

    deadline = time.time() + 240
    while stored_runs() < 3 and time.time() < deadline:  # theta_0 + 2 runs
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    stored = stored_runs()
    assert 3 <= stored < 7, "the kill should land mid-study"
    # SIGTERM (a preempted machine, a scheduler's time limit) stops it cleanly instead.
    stopped = subprocess.Popen(command(tmp_path / "a", tmp_path / "ra"), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    for line in stopped.stdout:
        if "runs in this study" in line:  # training has begun
            stopped.send_signal(signal.SIGTERM)
            break
    out, err = stopped.communicate(timeout=240)
    assert stopped.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert "Stopped on request" in out and "Run the same command again to resume." in out, out
    stored = stored_runs()
    # What was finished is in the results folder's ledger already (theta_0 is no run).
    assert len(Ledger.read(tmp_path / "ra" / "fig4_lenet")) == stored - 1 and "continues from there" in err
    subprocess.run(command(tmp_path / "a", tmp_path / "ra"), env=env, check=True, capture_output=True)
    assert reference.wait(timeout=240) == 0, (tmp_path / "reference.log").read_text()
    resumed = json.loads((tmp_path / "ra" / "fig4_lenet" / "run.json").read_text())["runs"]
    assert resumed["reused"] == stored - 1 and resumed["trained"] == 6 - (stored - 1)
    a = pd.read_csv(tmp_path / "ra" / "fig4_lenet" / "summary.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "rb" / "fig4_lenet" / "summary.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


def test_a_run_another_process_stored_meanwhile_is_not_trained_again(small_mnist, tmp_path):
    cfg = tiny_config(oneshot=False)
    first = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    second = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    spec = RunSpec.unpruned(0)
    stored = first.execute(spec)
    second.trainer.train = lambda *a, **k: pytest.fail("trained a stored run again")
    assert second.execute(spec) == stored  # planned as missing by `second`, stored by `first` before it ran


def test_a_run_another_process_is_training_is_left_to_it(small_mnist, tmp_path):
    cfg = tiny_config(oneshot=False)
    first = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    second = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    spec, trained = RunSpec.unpruned(0), []
    second.trainer.train = lambda *a, **k: pytest.fail("trained a run another process is training")
    train = first.trainer.train

    def first_trains(*args, **kwargs):  # `second` asks for the run while `first` trains it
        with pytest.raises(TrainedElsewhere, match=f"pid {os.getpid()}"):
            second.execute(spec)
        trained.append(spec)
        return train(*args, **kwargs)

    first.trainer.train = first_trains
    stored = first.execute(spec)
    assert trained and second.execute(spec) == stored  # asked again once stored: taken from the store


def test_round_0_is_copied_from_a_store_that_differs_only_in_its_pruning_settings(small_mnist, tmp_path):
    strategy1 = tiny_config(oneshot=False)
    strategy2 = dataclasses.replace(strategy1, pruning=PruningConfig(fc_rate=0.5, reset="continue"))
    other_rate = dataclasses.replace(strategy1, training=dataclasses.replace(strategy1.training, learning_rate=1e-3))
    spec, logged = RunSpec.unpruned(0), []
    first = LotteryExperiment(strategy1, small_mnist, RunStore(tmp_path, "lenet", strategy1), log=lambda *_: None)
    trained = first.execute(spec)
    second = LotteryExperiment(strategy2, small_mnist, RunStore(tmp_path, "lenet", strategy2), log=logged.append)
    assert copy_source_name(second.store, strategy2, spec) == first.store.dir.name  # what a plan lists
    assert copy_source_name(second.store, strategy2, RunSpec(0, "iterative", 1)) is None
    second.trainer.train = lambda *a, **k: pytest.fail("trained round 0 again")
    assert second.execute(spec) == {**trained, "copied_from": first.store.dir.name}
    for name in ("mask", "final"):
        copied, original = second.store.arrays(spec.key, name), first.store.arrays(spec.key, name)
        assert all(np.array_equal(copied[k], original[k]) for k in original)
    assert "copied from" in logged[0]
    assert RunStore(tmp_path, "lenet", other_rate).differing_only_in(("pruning",)) == []  # other training: not shared
