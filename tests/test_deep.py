"""VGG-19 and ResNet-20: the architectures, global pruning that never touches batch norm,
shortcuts or the output, the protocols' schedules and their shortening, batch norm under
two replicas, and smoke runs of Figures 7, 8 and 38-45."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import without_data
from test_conv import SMOKE, parse
from tf_lottery.presets import model_protocol
from tf_lottery.config import PruningConfig, TrainingConfig
from tf_lottery.data.datasets import load_dataset
from tf_lottery.figures import deep
from tf_lottery.figures.runner import run_figure
from tf_lottery.models import keras_masks
from tf_lottery.models.layers import batch_norm
from tf_lottery.models.registry import build_model, initial_weights, prunable_groups, prunable_sizes
from tf_lottery.pruning import masks, rules
from tf_lottery.pruning.strategies import PruningPlan
from tf_lottery.training.schedules import learning_rate_for
from tf_lottery.training.augment import pad_crop_flip
from tf_lottery.training.trainer import Trainer


def protocol_pruning(model: str) -> PruningConfig:
    protocol = model_protocol({"model": model})
    return PruningConfig(**{f.name: protocol[f.name] for f in dataclasses.fields(PruningConfig) if f.name in protocol})


def test_architectures_have_the_papers_weight_counts():
    groups, sizes = prunable_sizes("resnet20", "cifar10")
    shortcuts = {n: s for n, s in sizes.items() if "shortcut" in n}
    assert sum(shortcuts.values()) == 2_560 and sizes["output/kernel"] == 640  # what the paper leaves unpruned
    assert sum(sizes.values()) == 270_896 and len(sizes) == 19 + 2 + 1  # 19 3x3 convs, 2 shortcuts, output
    groups, sizes = prunable_sizes("vgg19", "cifar10")
    assert sizes["output/kernel"] == 5_120 and sum(sizes.values()) - 5_120 == 20_018_880  # "20.0M"
    assert [n for n, g in groups.items() if g == "output"] == ["output/kernel"]


def test_masks_are_only_on_conv_and_dense_kernels():
    model, groups = build_model("resnet20", (32, 32, 3), 10)
    masked = keras_masks.masked_variables(model)
    assert set(masked) == set(groups)
    unmasked = {keras_masks.weight_name(v) for v in keras_masks.model_weights(model)} - set(masked)
    assert unmasked and all(n.split("/")[-1] in ("gamma", "beta", "moving_mean", "moving_variance", "bias")
                            for n in unmasked), sorted(unmasked)


def test_global_pruning_removes_exactly_the_requested_count_and_spares_the_excluded():
    groups, sizes = prunable_sizes("resnet20", "cifar10")
    plan = PruningPlan.from_config(protocol_pruning("resnet20"), groups)
    rng = np.random.default_rng(0)
    # Layers of different scales (so pooled and per-layer pruning differ); the excluded
    # ones smallest of all, so a plan that pruned them would.
    weights = {n: rng.normal(size=(s,)) * (0.01 if "shortcut" in n or n == "output/kernel" else 1 + i % 3)
               for i, (n, s) in enumerate(sizes.items())}
    excluded = {n for n in sizes if "shortcut" in n or groups[n] == "output"}
    pooled = sum(s for n, s in sizes.items() if n not in excluded)
    mask = masks.full_mask(weights, groups)
    for k in (1, 2):
        mask = plan.prune(weights, mask)
        kept = masks.counts(mask)
        assert sum(kept[n] for n in sizes if n not in excluded) == plan.surviving(sizes, k)[plan.pools[0][0]]
        assert all(kept[n] == sizes[n] for n in excluded)
    assert plan.surviving(sizes, 1)[plan.pools[0][0]] == rules.keep_after_rate(pooled, 0.2)
    layer_density = {n: kept[n] / sizes[n] for n in sizes if n not in excluded}
    assert max(layer_density.values()) - min(layer_density.values()) > 0.1  # pooled, not per layer
    vgg_groups, _ = prunable_sizes("vgg19", "cifar10")
    vgg = PruningPlan.from_config(protocol_pruning("vgg19"), vgg_groups)
    assert set(vgg.pools[0]) == {n for n, g in vgg_groups.items() if g == "conv"} and vgg.rates["output/kernel"] == 0


def test_learning_rate_schedules_of_the_protocols_and_their_shortening():
    def lr_at(cfg, steps):
        schedule = learning_rate_for(cfg.training)
        return [round(float(schedule(s)), 7) for s in steps]

    resnet = {c.training.learning_rate: c for c in parse(deep.FIG8, [])}
    assert lr_at(resnet[0.1], [0, 19_999, 20_000, 25_000]) == [0.1, 0.1, 0.01, 0.001]
    assert lr_at(resnet[0.03], [0, 10_000, 19_999, 20_000, 29_999]) == [0.0, 0.015, 0.0299985, 0.003, 0.0003]
    fast = {c.training.learning_rate: c for c in parse(deep.FIG8, ["--preset", "fast"])}
    assert fast[0.03].training.iterations == 1200 and fast[0.03].training.lr_drops == (800, 1000)
    assert fast[0.03].training.warmup_iterations == 800 and fast[0.1].training.warmup_iterations == 0
    vgg = parse(deep.FIG7, ["--warmup-iterations", "10000"])  # selects the warmup setting
    assert [(c.training.lr_drops, c.training.warmup_iterations) for c in vgg] == [((56_240, 84_360), 10_000)]
    shortened = parse(deep.FIG8, ["--learning-rate", "0.01", "--iterations", "3000", "--eval-every", "100"])[0]
    assert shortened.training.lr_drops == (2000, 2500)  # explicit iterations move the drops with them
    kept = parse(deep.FIG8, ["--learning-rate", "0.01", "--iterations", "3000", "--eval-every", "100",
                             "--lr-drops", "1000"])[0]
    assert kept.training.lr_drops == (1000,)  # ... unless they are given too


def test_augmentation_is_seeded_and_replicas_augment_their_slice_of_the_global_batch():
    x = tf.random.stateless_uniform((8, 6, 6, 3), [0, 0])
    seed = tf.constant([7, 11], tf.int64)
    whole = pad_crop_flip(x, seed).numpy()
    np.testing.assert_array_equal(whole, pad_crop_flip(x, seed).numpy())
    assert not np.array_equal(whole, pad_crop_flip(x, tf.constant([7, 12], tf.int64)).numpy())
    halves = [pad_crop_flip(x[i:i + 4], seed, first=i, global_batch=8).numpy() for i in (0, 4)]
    np.testing.assert_array_equal(np.concatenate(halves), whole)


@pytest.fixture(scope="module")
def cifar_tiny(data_dir):
    if not (data_dir / "cifar10-jpeg").is_dir():
        without_data("the CIFAR-10 JPEG copy")
    return load_dataset("cifar10", data_dir, max_examples=256)


def make_trainer(data, strategy, sync: bool):
    # A small learning rate: at a high one, 20 steps of a 20-layer batch-norm network on a
    # few hundred images turn float rounding (reduction order) into visibly different runs.
    cfg = TrainingConfig(model="resnet20", iterations=20, eval_every=10, steps_per_call=10, batch_size=32,
                         optimizer="momentum", learning_rate=1e-3, weight_decay=1e-4, augment=True,
                         eval_batch_size=256)
    with strategy.scope():
        model, _ = build_model("resnet20", (32, 32, 3), 10, sync_batch_norm=sync)
    return Trainer(model, data, cfg, strategy, jit=False)


@pytest.mark.parametrize("sync", [True, False])
def test_batch_norm_statistics_over_the_global_batch_or_each_replicas(mirrored, sync):
    # The two replicas' halves have different means: per-replica statistics show it.
    x = tf.random.stateless_normal((8, 4, 4, 3), [0, 1]) + tf.constant([5.0] * 4 + [0.0] * 4)[:, None, None, None]
    single = batch_norm("bn")
    expected = single(x, training=True).numpy()
    with mirrored.scope():
        bn = batch_norm("bn", synchronized=sync)
        bn.build(x.shape)

    def step():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return bn(tf.slice(x, [replica * 4, 0, 0, 0], [4, 4, 4, 3]), training=True)

    per_replica = tf.function(lambda: mirrored.run(step))()
    got = np.concatenate([t.numpy() for t in mirrored.experimental_local_results(per_replica)])
    if sync:
        np.testing.assert_allclose(got, expected, atol=1e-4)
        np.testing.assert_allclose(bn.moving_mean.numpy(), single.moving_mean.numpy(), atol=1e-5)
    else:
        assert np.abs(got - expected).max() > 1.0


@pytest.mark.slow
def test_resnet20_on_two_replicas_matches_one_device_and_keeps_pruned_weights_zero(cifar_tiny, mirrored):
    single = make_trainer(cifar_tiny, tf.distribute.get_strategy(), sync=False)
    replicated = make_trainer(cifar_tiny, mirrored, sync=True)  # what --batch-norm global builds on 2 replicas
    theta0 = initial_weights(single.model, 3)
    groups = prunable_groups(single.model)
    plan = PruningPlan.from_config(protocol_pruning("resnet20"), groups)
    mask = plan.prune(theta0, plan.prune(theta0, masks.full_mask(theta0, groups)))
    one, two = (t.train(masks.apply(theta0, mask), mask, order_seed=0, noise_seed=4) for t in (single, replicated))
    np.testing.assert_allclose(two.val_loss, one.val_loss, rtol=5e-3)
    np.testing.assert_allclose(two.test_acc, one.test_acc, atol=0.02)
    for name, w in one.final_weights.items():
        if name.endswith("kernel"):  # moved about 1e-2 from theta_0 in these 20 steps
            np.testing.assert_allclose(two.final_weights[name], w, atol=2e-2, err_msg=name)
    for name, variable in keras_masks.masked_variables(replicated.model).items():
        assert len(variable.values) == 2
        for replica in variable.values:
            assert np.all(replica.numpy()[mask[name] == 0] == 0.0), (name, replica.device)


@pytest.mark.slow
def test_deep_scripts_run_their_smoke_presets_sharing_runs(data_dir, tmp_path):
    common = [*SMOKE, "--model", "resnet20", "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
              "--results", str(tmp_path / "results")]
    assert run_figure(deep.FIG8, common) == 0  # 3 settings x (2 tickets + 1 reinit)
    assert run_figure(deep.FIG38_41, common) == 0
    assert run_figure(deep.FIG44_45, [*common, "--warmup-iterations", "20000"]) == 0  # one setting: Figure 8's
    assert run_figure(deep.FIG42_43, [*common, "--learning-rate", "0.01"]) == 0
    out = tmp_path / "results"
    for name, trained in (("fig38_41_global_vs_layerwise", 2), ("fig44_45_warmup_sweep", 0),
                          ("fig42_43_lr_sweep", 0)):
        record = json.loads((out / name / "run.json").read_text())
        assert record["runs"]["trained"] == trained, name  # the rest came from Figure 8
    summary = pd.read_csv(out / "fig8_resnet20" / "summary.csv")
    assert summary[["test_acc_10K", "test_acc_30K", "val_acc_30K"]].notna().all().all()
    assert set(summary["iteration_30K"]) == {20}
    pruned = summary[summary["round"] > 0]
    assert (pruned["pm"] > pruned["pm_prunable"]).all()  # Pm counts the unpruned shortcuts and output
    assert (out / "fig8_resnet20" / "fig8_resnet20_resnet20_test.png").is_file()
    assert len(pd.read_csv(out / "fig8_resnet20" / "comparison.csv")) == 7
    assert run_figure(deep.FIG7, [*SMOKE, "--learning-rate", "0.01", "--rounds", "1", "--reinits", "0",
                                  "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
                                  "--results", str(tmp_path / "results")]) == 0


@pytest.mark.parametrize("argv", [["--model", "conv2"], ["--learning-rate", "0.2"]])
def test_flags_that_select_no_setting_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        parse(deep.FIG8, argv)
    assert "selects none" in capsys.readouterr().err


def test_a_flag_at_its_default_selects_the_settings_that_leave_it_there():
    # VGG-19's 0.1 with and without warmup: --warmup-iterations 0 picks the one without.
    cfgs = parse(deep.FIG7, ["--learning-rate", "0.1", "--warmup-iterations", "0"])
    assert [(c.training.learning_rate, c.training.warmup_iterations) for c in cfgs] == [(0.1, 0)]
    assert len(parse(deep.FIG7, ["--learning-rate", "0.1"])) == 2


def test_the_deep_networks_refuse_dropout():
    with pytest.raises(ValueError, match="no dropout"):
        build_model("resnet20", (32, 32, 3), 10, dropout=0.5)


def test_panels_and_long_tables_name_the_iterations_trained():
    rows = pd.DataFrame({"model": "resnet20", "network": "ResNet-20", "setting": "rate 0.1", "learning_rate": 0.1,
                         "warmup_iterations": 0, "scope": "global", "run_hash": "h", "strategy": "iterative",
                         "control": "ticket", "trial": 0, "round": [0, 1], "reinit": 0, "pm": [100.0, 51.8],
                         "key": ["a", "b"],
                         **{f"{m}_acc_{n}": 0.5 for m in ("val", "test") for n in ("10K", "20K", "30K")},
                         "iteration_10K": 400, "iteration_20K": 800, "iteration_30K": 1200})
    titles = [title for _, title in deep._panels(rows, "resnet20", "test", "Test accuracy")]
    assert titles[-1] == "Test accuracy at 1,200 iterations (paper: 30K)"
    full = rows.assign(iteration_10K=10_000, iteration_20K=20_000, iteration_30K=30_000)
    assert deep._panels(full, "resnet20", "test", "Test accuracy")[0][1] == "Test accuracy at 10K iterations"
    long = deep.checkpoints_long(rows)
    assert len(long) == 6 and set(long["paper_iteration"]) == {10_000, 20_000, 30_000}
    assert list(long[long.key == "a"]["iteration"]) == [400, 800, 1200]
