"""Conv-2/4/6 on CIFAR-10: the models, pruning invariants on conv layers, the controls of
Figures 1, 5 and 10, and a smoke run of every conv-net script."""
import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras

from conftest import IN_THIS_PROCESS, without_data
from tf_lottery.analysis import plots
from tf_lottery.presets import model_protocol
from tf_lottery.config import DataConfig, ExperimentConfig, PruningConfig, StudyConfig, TrainingConfig
from tf_lottery.data.datasets import load_dataset
from tf_lottery.execution.store import RunStore, StoreMismatch
from tf_lottery.figures import conv
from tf_lottery.figures.runner import parse_figure, run_figure
from tf_lottery.figures.strategies import FIG9, FIG10
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec
from tf_lottery.models import layers
from tf_lottery.models.registry import prunable_sizes
from tf_lottery.models.spec import compounded
from tf_lottery.pruning import masks, rules
from tf_lottery.pruning.strategies import PruningPlan

SMOKE = ["--preset", "smoke", *IN_THIS_PROCESS]  # TensorFlow already runs: keep its threads


@pytest.fixture(scope="session")
def cifar(data_dir):
    if not (data_dir / "cifar10-jpeg").is_dir():
        without_data("the CIFAR-10 JPEG copy")
    return load_dataset("cifar10", data_dir, max_examples=300)


def conv_config(model="conv2", **pruning) -> ExperimentConfig:
    protocol = model_protocol({"model": model})
    return ExperimentConfig(
        data=DataConfig(dataset="cifar10", max_examples=300),
        training=TrainingConfig(model=model, iterations=40, eval_every=20, steps_per_call=20, batch_size=20,
                                learning_rate=protocol["learning_rate"], eval_batch_size=300),
        pruning=PruningConfig(**{"conv_rate": protocol["conv_rate"], "fc_rate": 0.2, "output_rate": 0.1, **pruning}),
        study=StudyConfig(trials=1, rounds=1, control_rounds=(1,), reinits=1, random_sparse=1, oneshot=False))


def test_architectures_have_the_papers_weight_counts():
    totals = {m: sum(prunable_sizes(m, "cifar10")[1].values()) for m in conv.CONV_MODELS}
    assert totals == {"conv2": 4_300_992, "conv4": 2_425_024, "conv6": 2_261_184}  # Conv-6: the paper prints 1.7M
    groups, sizes = prunable_sizes("conv6", "cifar10")
    assert sum(s for n, s in sizes.items() if groups[n] == "conv") == 1_144_512
    assert [n for n, g in groups.items() if g == "output"] == ["output/kernel"]


@pytest.mark.parametrize("kernel_size, strides", [(3, 1), (1, 1), (3, 2), (1, 2)])
def test_conv_layers_give_tensorflows_values_and_gradients(kernel_size, strides):
    # Stride 1 takes the package's input gradient (same_conv); stride 2 (ResNet-20's) TensorFlow's own.
    layer = layers.masked_conv(8, kernel_size, "c", activation=None, strides=strides)
    plain = tf_keras.layers.Conv2D(8, kernel_size, strides=strides, padding="same")
    x = tf.random.stateless_normal((2, 6, 6, 5), seed=(1, 2))
    layer.build(x.shape), plain.build(x.shape)
    plain.set_weights(layer.get_weights()[:2])  # kernel and bias; the third is the mask
    grads = []
    for conv_layer in (layer, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = conv_layer(x)
            loss = tf.reduce_sum(y * tf.cos(y))
        grads.append([y, *tape.gradient(loss, [x, conv_layer.kernel])])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_layerwise_counts_are_exact_per_group():
    groups, sizes = prunable_sizes("conv4", "cifar10")
    plan = PruningPlan.from_config(PruningConfig(conv_rate=0.1, fc_rate=0.2, output_rate=0.1), groups)
    rng = np.random.default_rng(0)
    weights = {n: rng.normal(size=(s,)) for n, s in sizes.items()}
    mask = plan.prune(weights, masks.full_mask(weights, groups))
    rate = {"conv": 0.1, "fc": 0.2, "output": 0.1}
    assert masks.counts(mask) == {n: rules.keep_after_rate(s, rate[groups[n]]) for n, s in sizes.items()}


def test_pruned_conv_weights_stay_zero_and_controls_keep_the_tickets_counts(cifar, tmp_path):
    cfg = conv_config()
    experiment = LotteryExperiment(cfg, cifar, RunStore(tmp_path, "conv2", cfg), log=lambda *_: None)
    ticket, reinit, random = (RunSpec(0, "iterative", 1, c) for c in ("ticket", "reinit", "random"))
    experiment.run([ticket, reinit, random])
    store = experiment.store
    mask = store.arrays(ticket.key, "mask")
    final = store.arrays(ticket.key, "final")
    for name in ("conv1/kernel", "conv2/kernel", "fc1/kernel", "output/kernel"):
        assert not final[name][mask[name] == 0].any()  # exactly zero after training
    counts = store.metrics(ticket.key)["layer_counts"]
    assert store.metrics(random.key)["layer_counts"] == counts == store.metrics(reinit.key)["layer_counts"]
    random_mask = experiment.mask_for(random)
    assert masks.counts(random_mask) == counts and not np.array_equal(random_mask["fc1/kernel"], mask["fc1/kernel"])
    assert store.metrics(random.key)["random_seed"] != store.metrics(reinit.key)["reinit_seed"]
    # Both controls start from a fresh draw, not from theta_0.
    theta0 = experiment.theta0(0)
    for spec in (reinit, random):
        assert not np.array_equal(experiment.start_weights(spec)["conv1/kernel"], theta0["conv1/kernel"])


@pytest.mark.slow
def test_strategy2_tickets_restart_from_theta0_with_the_continued_trunks_mask(cifar, tmp_path):
    cfg = conv_config(reset="continue")
    experiment = LotteryExperiment(cfg, cifar, RunStore(tmp_path, "conv2", cfg), log=lambda *_: None)
    trunk, reset = RunSpec(0, "iterative", 1), RunSpec(0, "iterative", 1, "reset")
    experiment.run([reset])
    trained = experiment.store.arrays(RunSpec.unpruned(0).key, "final")
    mask = experiment.store.arrays(trunk.key, "mask")
    np.testing.assert_array_equal(experiment.start_weights(trunk)["fc1/kernel"], trained["fc1/kernel"])
    np.testing.assert_array_equal(experiment.start_weights(reset)["fc1/kernel"], experiment.theta0(0)["fc1/kernel"])
    assert masks.counts(experiment.mask_for(reset)) == masks.counts(mask)


def test_a_store_refuses_runs_on_other_data(cifar, tmp_path):
    cfg = conv_config()
    other = dataclasses.replace(cifar, fingerprint="0" * 16, source="elsewhere", lossy=False)
    RunStore(tmp_path, "conv2", cfg, read_only=True).check_data(other)  # --plan: records nothing
    RunStore(tmp_path, "conv2", cfg).check_data(cifar)
    for read_only in (False, True):
        with pytest.raises(StoreMismatch, match="other data"):
            RunStore(tmp_path, "conv2", cfg, read_only=read_only).check_data(other)


def parse(figure, argv):
    return parse_figure(figure, argv)[1]


def test_presets_scale_each_protocol_and_flags_select_variants():
    fast = {c.training.model: c for c in parse(conv.FIG5, ["--preset", "fast"])}
    assert {m: c.training.iterations for m, c in fast.items()} == {"conv2": 6000, "conv4": 7500, "conv6": 9000}
    assert fast["conv6"].pruning.conv_rate == compounded(0.15, 4) and fast["conv2"].pruning.fc_rate == 0.5904
    dropout = [c for c in parse(conv.FIG6, ["--preset", "fast", "--model", "conv2"]) if c.training.dropout]
    assert [(c.training.iterations, c.training.learning_rate) for c in dropout] == [(9000, 3e-4)]
    paper = parse(conv.FIG6, ["--model", "conv4", "--dropout", "0.5"])
    assert [(c.training.iterations, c.training.learning_rate) for c in paper] == [(75000, 2e-4)]
    with pytest.raises(SystemExit):
        parse(conv.FIG5, ["--model", "lenet300_100"])
    lenet, conv2 = parse(conv.FIG1, ["--preset", "fast", "--model", "lenet300_100"]) + \
        parse(conv.FIG1, ["--preset", "fast", "--model", "conv2"])
    assert lenet.training.iterations == 50_000 and lenet.study.trials == 3  # Figure 4's runs
    assert conv2.training.iterations == 6000 and conv2.study.trials == 1


def test_pm_labels_of_networks_sharing_an_axis_never_crowd_each_other():
    # Conv-2's and Conv-4's fast ladders on Figure 5's shared axis.
    ticks = [100, 43.6, 41.2, 19.6, 17.0, 9.2, 7.1]
    assert plots.labelled_ticks(ticks) == ["100", "43.6", "", "19.6", "17", "9.2", "7.1"]
    assert plots.labelled_ticks([100, 80, 64]) == ["100", "80", "64"]  # one network's ladder keeps every label


@pytest.fixture(scope="module")
def conv_smoke(data_dir, tmp_path_factory):
    """The results of every conv script's smoke preset for Conv-2, sharing one store."""
    root = tmp_path_factory.mktemp("conv_smoke")
    common = [*SMOKE, "--model", "conv2", "--data-dir", str(data_dir), "--store", str(root / "runs"),
              "--results", str(root / "results")]
    for figure in (conv.FIG5, conv.FIG1, FIG10, conv.FIG6):
        assert run_figure(figure, common) == 0
    return root / "results"


@pytest.mark.slow
@pytest.mark.xdist_group("conv_smoke")
def test_every_conv_script_runs_its_smoke_preset_sharing_runs(conv_smoke):
    out = conv_smoke
    record = json.loads((out / "fig1_sizes" / "run.json").read_text())
    assert record["runs"]["trained"] == 1  # only the random sparse network: the rest came from Figure 5
    assert record["lossy_data"] is True and record["reduced"] is True
    assert "LOSSY" in (out / "fig5_conv" / "comparison.md").read_text()
    for name in ("fig5_conv/fig5_conv.png", "fig5_conv/fig13_conv_train_acc.png", "fig1_sizes/fig14_end_accuracy.png",
                 "fig10_conv_strategies/tickets.csv", "fig6_conv_dropout/fig6_conv_dropout.png"):
        assert (out / name).is_file(), name


@pytest.mark.slow
@pytest.mark.xdist_group("conv_smoke")
def test_a_network_is_added_to_a_figure_whose_earlier_runs_are_gone(conv_smoke, data_dir, tmp_path):
    out = tmp_path / "results" / "fig1_sizes"
    shutil.copytree(conv_smoke / "fig1_sizes", out)  # Conv-2's Figure 1, its store not used here
    first = json.loads((out / "run.json").read_text())
    added = [*SMOKE, "--model", "lenet300_100", "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
             "--results", str(tmp_path / "results"), "--add-to-results"]
    assert run_figure(conv.FIG1, added) == 0
    record, summary = json.loads((out / "run.json").read_text()), pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["network"])) == ["Lenet", "Conv-2"]  # the paper's order
    assert record["run_hash"] == f"{first['run_hash']}, {summary['run_hash'].iloc[0]}"
    assert [c["training"]["model"] for c in record["config"]] == ["conv2", "lenet300_100"]
    assert [(p["run_hash"], p["command"]) for p in record["earlier_results"]] == [([first["run_hash"]],
                                                                                  first["command"])]
    assert set(record["data"]) == {"lenet300_100", "conv2"} and sum(record["trained_on"].values()) == 9
    claims = pd.read_csv(out / "comparison.csv")["claim"]
    assert {c.split("-")[0] for c in claims} == {"lenet300_100", "conv2"}


@pytest.mark.slow
def test_the_lenet_strategies_script_runs_its_smoke_preset(data_dir, tmp_path):
    argv = [*SMOKE, "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"), "--results", str(tmp_path)]
    assert run_figure(FIG9, argv) == 0
    tickets = pd.read_csv(tmp_path / "fig9_lenet_strategies" / "tickets.csv")
    assert set(tickets["reset"]) == {"init", "continue"} and set(tickets["control"]) == {"ticket"}

