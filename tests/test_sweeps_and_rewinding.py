"""Sweeps train several configurations on one pool; later rewinding restarts from round 0's
early weights."""
import pytest
import dataclasses
import functools

import numpy as np
import pandas as pd

from conftest import IN_THIS_PROCESS, tiny_config
from tf_lottery.analysis import tables
from tf_lottery.config import PruningConfig
from tf_lottery.execution.scheduling import InProcess, run_graph
from tf_lottery.execution.timing import Timing
from tf_lottery.execution.store import RunStore
from tf_lottery.figures.kinds import SweepKind
from tf_lottery.figures.runner import run_figure
from tf_lottery.figures.spec import Figure
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, plan
from tf_lottery.lottery.sweep import (SweepExecutor, SweepStore, describe_swept, sweep, swept_copy_source_name,
                                     swept_is_stored)
from tf_lottery.pruning import masks


def learning_rates(cfg):
    return [dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, learning_rate=lr))
            for lr in (1.2e-3, 3e-3)]


@pytest.mark.slow
def test_a_sweep_trains_every_configuration_in_one_graph_into_their_own_stores(small_mnist, tmp_path):
    configs = learning_rates(tiny_config(oneshot=False))
    runs = sweep(configs, plan)
    store = SweepStore(tmp_path, configs)
    executor = SweepExecutor(None, tmp_path)
    executor.datasets[configs[0].data] = small_mnist  # as if loaded; one copy serves both configurations
    stats = run_graph(runs, functools.partial(swept_is_stored, store), InProcess(executor), describe_swept,
                      lambda *_: None, Timing(lambda run: 1.0))
    assert stats["trained"] == len(runs) == 2 * len(plan(configs[0]))
    assert len(executor.experiments) == 2 and len(executor.datasets) == 1
    # Each configuration's runs are exactly what a study of it alone stores.
    alone_cfg = configs[1]
    alone = LotteryExperiment(alone_cfg, small_mnist, RunStore(tmp_path / "alone", "lenet300_100", alone_cfg),
                              log=lambda *_: None)
    alone.run(plan(alone_cfg))
    drop = ["seconds"]
    pd.testing.assert_frame_equal(tables.summary_table(store.store_of(alone_cfg), plan(alone_cfg), alone_cfg).drop(columns=drop),
                                  tables.summary_table(alone.store, plan(alone_cfg), alone_cfg).drop(columns=drop))


def test_in_a_sweep_round_0_waits_for_the_same_round_0_under_other_pruning_settings(tmp_path):
    strategy1 = tiny_config(oneshot=False)
    strategy2 = dataclasses.replace(strategy1, pruning=PruningConfig(reset="continue"))
    rewinding = dataclasses.replace(strategy1, pruning=PruningConfig(reset="rewind", rewind_iteration=100))
    other_training = learning_rates(strategy1)[1]
    runs = {(r.cfg, r.run.key): r for r in sweep([strategy1, strategy2, rewinding, other_training], plan)}
    round0 = RunSpec.unpruned(0).key
    assert runs[strategy2, round0].dependencies() == [runs[strategy1, round0]]  # then copied, not trained
    assert runs[rewinding, round0].dependencies() == []  # must record its rewind point itself
    assert runs[other_training, round0].dependencies() == []
    # A plan says so, and counts no time for it.
    store = SweepStore(tmp_path, [strategy1, strategy2, rewinding, other_training], read_only=True)
    copied = {key: swept_copy_source_name(store, run) for key, run in runs.items()}
    assert copied[strategy2, round0] == store.store_of(strategy1).dir.name
    assert [key for key, source in copied.items() if source] == [(strategy2, round0)]


def test_a_sweeps_progress_lines_name_their_configuration(small_mnist, tmp_path, capsys):
    strategy1 = tiny_config(oneshot=False)
    strategy2 = dataclasses.replace(strategy1, pruning=PruningConfig(reset="continue"))
    runs = sweep([strategy1, strategy2], lambda cfg: [RunSpec.unpruned(0)])
    executor = SweepExecutor(None, tmp_path)
    executor.datasets[strategy1.data] = small_mnist
    for run in runs:
        executor.execute(run)
    copied = f"  [lenet300_100-{strategy2.run_hash()}] trial0/iterative/round00/ticket: copied from lenet300_100-"
    assert copied in capsys.readouterr().out


@pytest.mark.slow
def test_a_sweep_figure_runs_through_the_one_runner(data_dir, tmp_path):
    reports = []
    figure = Figure(name="lr_sweep", description="test sweep", kind=SweepKind,
                    presets={"paper": {}, "smoke": {"iterations": 100, "trials": 1, "rounds": 1,
                                                    "control_rounds": (1,), "reinits": 0, "oneshot": False}},
                    preset_cost={"paper": "-", "smoke": "-"}, select=lambda configs: sweep(learning_rates(*configs), plan),
                    report=lambda ctx: reports.append(ctx.store) or {})
    argv = ["--preset", "smoke", *IN_THIS_PROCESS, "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
            "--results", str(tmp_path / "results")]
    assert run_figure(figure, argv) == 0
    ledger = reports[0].ledger  # the report reads the results folder's ledger: both configurations' runs
    assert len(ledger.stores) == 2 and all(ledger.has(s, RunSpec(0, "iterative", 1).key) for s in ledger.stores)


def test_later_rewinding_restarts_from_round_0_at_the_rewind_iteration(small_mnist, tmp_path):
    cfg = dataclasses.replace(tiny_config(), pruning=PruningConfig(reset="rewind", rewind_iteration=100))
    assert cfg.run_hash() != tiny_config().run_hash()
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    starts = []
    train = experiment.trainer.train

    def recording(start, mask, *args, **kw):
        starts.append(start)
        return train(start, mask, *args, **kw)

    experiment.trainer.train = recording
    experiment.run([RunSpec(0, "iterative", 1)])
    round0 = RunSpec.unpruned(0).key
    rewound = experiment.store.arrays(round0, "rewind")
    assert not np.array_equal(rewound["fc1/kernel"], experiment.theta0(0)["fc1/kernel"])
    assert not np.array_equal(rewound["fc1/kernel"], experiment.store.arrays(round0, "final")["fc1/kernel"])
    mask = experiment.store.arrays(RunSpec(0, "iterative", 1).key, "mask")
    for name, w in masks.apply(rewound, mask).items():
        np.testing.assert_array_equal(starts[1][name], w)


def test_a_field_added_later_keeps_old_identities_at_its_neutral_value():
    base = tiny_config()
    assert "rewind_iteration" not in base.run_defining()["pruning"]
    assert "rewind_iteration" in dataclasses.replace(
        base, pruning=PruningConfig(reset="rewind", rewind_iteration=100)).run_defining()["pruning"]
