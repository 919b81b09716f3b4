"""The general trainer: its own step arithmetic, per-run randomness, divergence, lazy test
evaluation, schedules, weight decay, batch norm, augmentation, evaluation batches,
resuming from a checkpoint."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from conftest import tiny_config
from tf_lottery.analysis import tables
from tf_lottery.machine import cpu_kind
from tf_lottery.config import TrainingConfig
from tf_lottery.execution.store import RunStore
from tf_lottery.execution.xla import use_xla
from tf_lottery.execution.timing import measured_seconds
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, plan
from tf_lottery.models import registry
from tf_lottery.models.keras_masks import get_masks, masked_variables, set_masks
from tf_lottery.models.keras_masks import get_weights as keras_get_weights
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.pruning import masks
from tf_lottery.training.augment import PAD, pad_crop_flip
from tf_lottery.stopping import StopRequested
from tf_lottery.training.checkpoint import Checkpoint
from tf_lottery.training.schedules import StepWarmup
from tf_lottery.training import trainer as trainer_module
from tf_lottery.training.trainer import Trainer, steady_seconds, trained_by, where_trained
from tiny_models import TINY_CONV


@pytest.fixture(autouse=True)
def tiny_conv_registered(monkeypatch):
    monkeypatch.setitem(registry.MODELS, "tiny_conv", TINY_CONV)


def make_trainer(data, model="lenet300_100", dropout=0.0, conv_dropout=0.0, **training):
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        m, groups = build_model(model, data.train.x.shape[1:], 10, dropout, conv_dropout)
    cfg = TrainingConfig(**{"iterations": 200, "eval_every": 100, "steps_per_call": 50, **training})
    return Trainer(m, data, cfg, strategy, jit=use_xla("auto", groups)), groups


@pytest.mark.parametrize("training", [{"iterations": 5050}, {"eval_every": 150}, {"steps_per_call": 0}])
def test_the_trainer_checks_its_own_step_arithmetic(small_mnist, training):
    # 5,050 iterations in chunks of 100 used to train 5,000 steps silently.
    with pytest.raises(ValueError, match="must divide|>= 1"):
        make_trainer(small_mnist, **{"iterations": 300, "eval_every": 100, "steps_per_call": 100, **training})


def _run(trainer, groups, seed, **kw):
    theta0 = initial_weights(trainer.model, seed)
    return trainer.train(theta0, masks.full_mask(theta0, groups), order_seed=seed, noise_seed=seed, **kw)


@pytest.mark.parametrize("model, conv_dropout", [("lenet300_100", 0.0), ("tiny_conv", 0.3)])
def test_dropout_and_augmentation_do_not_depend_on_earlier_runs(small_mnist, model, conv_dropout):
    # A worker that trained other runs before must give the same result as a fresh one.
    noisy = {"model": model, "dropout": 0.5, "conv_dropout": conv_dropout, "augment": True}
    used, groups = make_trainer(small_mnist, **noisy)
    _run(used, groups, seed=1)
    again = _run(used, groups, seed=2)
    fresh_trainer, _ = make_trainer(small_mnist, **noisy)
    fresh = _run(fresh_trainer, groups, seed=2)
    np.testing.assert_array_equal(again.val_loss, fresh.val_loss)
    np.testing.assert_array_equal(again.final_weights["fc1/kernel"], fresh.final_weights["fc1/kernel"])
    plain_trainer, _ = make_trainer(small_mnist, model)
    assert not np.array_equal(_run(plain_trainer, groups, seed=2).val_loss, fresh.val_loss)  # noise is on


def test_a_model_drawing_from_tensorflows_global_random_state_is_refused(small_mnist):
    # Keras' own Dropout: its masks would depend on the runs trained before (see RunSeededDropout).
    model = tf_keras.Sequential([tf_keras.layers.Flatten(input_shape=small_mnist.train.x.shape[1:]),
                                 tf_keras.layers.Dense(8), tf_keras.layers.Dropout(0.5), tf_keras.layers.Dense(10)])
    cfg = TrainingConfig(iterations=200, eval_every=100, steps_per_call=50)
    with pytest.raises(ValueError, match=r"process-wide random state in training \(RandomUniform\)"):
        Trainer(model, small_mnist, cfg, tf.distribute.get_strategy(), jit=False)


class Crash(Exception):
    pass


def test_a_run_resumed_from_its_checkpoint_ends_exactly_as_if_never_interrupted(small_mnist, tmp_path, monkeypatch):
    noisy = {"model": "tiny_conv", "dropout": 0.5, "conv_dropout": 0.3, "augment": True, "eval_every": 50}
    trainer, groups = make_trainer(small_mnist, **noisy)
    whole = _run(trainer, groups, seed=4, snapshot_at=50)
    store, key = RunStore(tmp_path, "tiny_conv", tiny_config()), "trial0/iterative/round00/ticket"
    checkpoint = Checkpoint(lambda: store.checkpoint(key), lambda *saved: store.save_checkpoint(key, *saved),
                            every_seconds=0, resumed=lambda step: resumed.append(step))
    resumed = []

    def crash_at_150(step, total):
        if step == 150:
            raise Crash  # killed after the evaluation at 150, before its checkpoint: resumes from 100

    monkeypatch.setattr(trainer_module, "cpu_kind", lambda: "CPU A")
    with pytest.raises(Crash):
        _run(trainer, groups, seed=4, snapshot_at=50, checkpoint=checkpoint, progress=crash_at_150)
    # The crashed run's weights, optimizer and generators are still in the trainer: all restored.
    monkeypatch.setattr(trainer_module, "cpu_kind", lambda: "CPU B")  # resumed on another machine
    again = _run(trainer, groups, seed=4, snapshot_at=50, checkpoint=checkpoint)
    assert resumed == [100] and again.resumed_at == 100 and whole.resumed_at == 0
    threads = trained_by().rsplit(", ", 1)[1]  # this process's thread count, e.g. "2 threads"
    assert whole.trained_on == f"{cpu_kind()}, {threads}" and threads.endswith(("thread", "threads"))
    assert again.trained_on == f"CPU A, {threads} (iterations 0-100); CPU B, {threads} (iterations 100-200)"
    for field in ("val_loss", "test_acc"):
        np.testing.assert_array_equal(getattr(again, field), getattr(whole, field))
    for weights in ("final_weights", "snapshot"):
        for name, value in getattr(whole, weights).items():
            np.testing.assert_array_equal(getattr(again, weights)[name], value, err_msg=f"{weights} {name}")
    assert (again.early_stop_iter, again.test_acc_early_stop, again.train_acc_end) == \
        (whole.early_stop_iter, whole.test_acc_early_stop, whole.train_acc_end)
    # A checkpoint of other inputs (here another data order) is not resumed from.
    assert _run(trainer, groups, seed=5, checkpoint=Checkpoint(checkpoint.load, lambda *_: None)).resumed_at == 0
    store.save(key, {"done": True})
    assert store.checkpoint(key) is None  # a stored run needs no checkpoint


def test_where_a_run_trained_merges_the_processes_of_one_cpu():
    assert where_trained([["A", 0]], 500) == "A"
    assert where_trained([["A", 0], ["A", 200], ["B", 300], ["B", 400]], 500) == \
        "A (iterations 0-300); B (iterations 300-500)"


def test_time_estimates_use_a_runs_time_without_its_stalls(small_mnist, monkeypatch):
    # A paused process or cores shared for a while inflate a run's wall time, and with it the
    # estimates scaled by it: a stalled evaluation interval counts as the median one.
    assert steady_seconds(100.0, [1.0, 1.0, 2.0, 50.0]) == 100.0 - (50.0 - 1.5)
    assert steady_seconds(10.0, [1.0, 2.0, 3.0]) == steady_seconds(7.0, []) + 3.0 == 10.0  # no stall, no change
    trainer, groups = make_trainer(small_mnist, eval_every=50)  # 4 evaluation intervals
    now = [0.0]  # a clock that moves only while the process is stalled in its second interval
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: now[0], process_time=lambda: 0.0))

    def stall(step, total):
        now[0] += 100.0 if step == 100 else 0.0

    stalled = _run(trainer, groups, seed=3, progress=stall)
    assert (stalled.seconds, stalled.steady_seconds) == (100.0, 0.0)
    assert measured_seconds({"seconds": 9.0, "steady_seconds": 4.0}) == 4.0
    assert measured_seconds({"seconds": 9.0}) == 9.0  # stored before steady times were measured
    assert measured_seconds({"seconds": 9.0, "diverged": True}) is None and measured_seconds(None) is None


def test_a_stop_saves_the_runs_progress_after_the_current_chunk_and_the_run_resumes_from_there(small_mnist,
                                                                                                 tmp_path):
    trainer, groups = make_trainer(small_mnist)  # 200 iterations, chunks of 50, evaluations at 100 and 200
    whole = _run(trainer, groups, seed=6)
    store, key = RunStore(tmp_path, "lenet", tiny_config()), "trial0/iterative/round00/ticket"
    asks = iter([False, False, True])  # asked during the third chunk, between evaluations
    stop_at_150 = Checkpoint(lambda: store.checkpoint(key), lambda *saved: store.save_checkpoint(key, *saved),
                             stop_requested=lambda: next(asks))
    with pytest.raises(StopRequested) as stopped:
        _run(trainer, groups, seed=6, checkpoint=stop_at_150)
    assert stopped.value.step == 150 and store.checkpointed_at(key) == 150
    arrays, saved = store.checkpoint(key)
    assert len(saved["interval_seconds"]) == 1  # the evaluation interval up to 100
    again = _run(trainer, groups, seed=6, checkpoint=Checkpoint(stop_at_150.load, stop_at_150.save))
    assert again.resumed_at == 150 and whole.cpu_seconds > 0 and again.cpu_seconds > saved["cpu_seconds"] > 0
    np.testing.assert_array_equal(again.val_loss, whole.val_loss)
    np.testing.assert_array_equal(again.final_weights["fc1/kernel"], whole.final_weights["fc1/kernel"])
    assert again.early_stop_iter == whole.early_stop_iter
    # A checkpoint saved by code that did not record CPU time resumes too; the run's total is unknown.
    store.save_checkpoint(key, arrays, {k: v for k, v in saved.items() if k != "cpu_seconds"})
    older = _run(trainer, groups, seed=6, checkpoint=Checkpoint(stop_at_150.load, stop_at_150.save))
    assert older.resumed_at == 150 and older.cpu_seconds is None
    np.testing.assert_array_equal(older.val_loss, whole.val_loss)


def test_weight_names_do_not_depend_on_what_the_process_built_before(small_mnist):
    first = [v.name for v in build_model("lenet300_100", (28, 28, 1), 10)[0].weights]
    tf_keras.layers.Dense(3, name=None).build((None, 2))  # Keras auto-names would shift after this
    assert [v.name for v in build_model("lenet300_100", (28, 28, 1), 10)[0].weights] == first


def test_test_accuracy_without_curves_equals_the_curve_values(small_mnist):
    trainer, groups = make_trainer(small_mnist, iterations=300)
    with_curve, lazy = _run(trainer, groups, 3), _run(trainer, groups, 3, test_curve=False)
    es = list(with_curve.iterations).index(with_curve.early_stop_iter)
    assert lazy.test_acc is None and lazy.test_acc_end == with_curve.test_acc[-1]
    assert lazy.test_acc_early_stop == with_curve.test_acc[es] == with_curve.test_acc_early_stop
    np.testing.assert_array_equal(lazy.val_loss, with_curve.val_loss)


def test_a_run_best_at_its_end_evaluates_the_training_set_once(small_mnist, monkeypatch):
    trainer, groups = make_trainer(small_mnist, iterations=100)  # one evaluation: the best is the last
    splits = []
    evaluate = trainer.evaluate
    monkeypatch.setattr(trainer, "evaluate", lambda split: splits.append(split) or evaluate(split))
    result = _run(trainer, groups, 3, test_curve=False)
    assert splits == ["validation", "test", "train"]
    assert result.early_stop_iter == 100 and result.train_acc_early_stop == result.train_acc_end
    assert result.test_acc_early_stop == result.test_acc_end


def test_evaluation_in_bounded_batches_matches_one_batch(small_mnist):
    whole, groups = make_trainer(small_mnist)
    batched, _ = make_trainer(small_mnist, eval_batch_size=128)  # 3,000 training examples: 24 batches, padded
    weights = initial_weights(whole.model, 4)
    for t in (whole, batched):
        t.reset(weights, masks.full_mask(weights, groups))
    for split in ("train", "validation"):
        np.testing.assert_allclose(batched.evaluate(split), whole.evaluate(split), rtol=1e-5)


def test_a_diverged_run_is_stored_as_a_result_and_the_study_goes_on(small_mnist, tmp_path):
    cfg = dataclasses.replace(tiny_config(), training=TrainingConfig(
        iterations=200, eval_every=100, steps_per_call=50, optimizer="sgd", learning_rate=1e4))
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    specs = plan(cfg)
    assert experiment.run(specs)["trained"] == len(specs)
    summary = tables.summary_table(experiment.store, specs, cfg)
    assert summary["diverged"].all() and summary["test_acc_end"].isna().all()
    later = experiment.store.metrics(RunSpec(0, "iterative", 2).key)
    assert later["diverged_because"] == "builds on trial0/iterative/round01/ticket, which diverged"
    assert experiment.store.metrics(RunSpec(0, "oneshot", 2, "reinit", 0).key)["diverged_because"] == \
        "builds on trial0/iterative/round00/ticket, which diverged"


def test_a_stored_run_gets_its_test_curve_added_when_a_figure_needs_it(small_mnist, tmp_path):
    cfg = tiny_config()
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    ticket = RunSpec(0, "iterative", 1)
    experiment.run([ticket])
    assert not experiment.store.has_part(ticket.key, "test_curve")
    curve_ticket = dataclasses.replace(ticket, test_curve=True)
    assert experiment.run([curve_ticket])["trained"] == 1  # only the curve is missing
    curve = experiment.store.part(ticket.key, "test_curve")
    assert curve["test_acc"][-1] == experiment.store.metrics(ticket.key)["test_acc_end"]
    assert experiment.run([curve_ticket])["trained"] == 0


def test_learning_rate_drops_and_warmup():
    schedule = StepWarmup(0.1, drops=(10, 20), factor=0.1, warmup=5)
    values = [float(schedule(s)) for s in (0, 2, 5, 9, 10, 19, 20, 30)]
    np.testing.assert_allclose(values, [0.0, 0.04, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_weight_decay_shrinks_weights_and_momentum_trains(small_mnist):
    plain, groups = make_trainer(small_mnist, optimizer="momentum", learning_rate=0.01)
    decayed, _ = make_trainer(small_mnist, optimizer="momentum", learning_rate=0.01, weight_decay=0.5)
    a, b = _run(plain, groups, 5), _run(decayed, groups, 5)
    assert a.val_acc[-1] > 0.6
    assert np.linalg.norm(b.final_weights["fc1/kernel"]) < 0.9 * np.linalg.norm(a.final_weights["fc1/kernel"])


def test_conv_groups_nested_blocks_batch_norm_reset_and_cpu_compile_choice(small_mnist):
    trainer, groups = make_trainer(small_mnist, model="tiny_conv")
    assert groups == {"block1/conv/kernel": "conv", "block1/shortcut/kernel": "conv", "fc1/kernel": "fc",
                      "output/kernel": "output"}
    assert not trainer.jit  # conv net on a CPU: no XLA (its conv backward pass is pathologically slow)
    first = _run(trainer, groups, 6)
    assert not np.all(first.final_weights["block1/bn/moving_mean"] == 0)  # statistics were updated
    again = _run(trainer, groups, 6)  # batch-norm statistics are reset with the run
    np.testing.assert_array_equal(first.val_loss, again.val_loss)


def test_pad_crop_flip_is_a_seeded_shifted_or_mirrored_crop():
    x = tf.reshape(tf.range(2 * 6 * 6, dtype=tf.float32), (2, 6, 6, 1))
    a = pad_crop_flip(x, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(a, pad_crop_flip(x, tf.constant([1, 2], tf.int64)).numpy())
    assert not np.array_equal(a, pad_crop_flip(x, tf.constant([1, 3], tf.int64)).numpy())
    padded = np.pad(x.numpy(), ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    for i in range(2):
        crops = [padded[i, r:r + 6, c:c + 6] for r in range(2 * PAD + 1) for c in range(2 * PAD + 1)]
        assert any(np.array_equal(a[i], c) or np.array_equal(a[i], c[:, ::-1]) for c in crops)


def test_strategy_2_continues_from_the_trained_weights(small_mnist, tmp_path):
    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, pruning=dataclasses.replace(cfg.pruning, reset="continue"))
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(tmp_path, "lenet", cfg), log=lambda *_: None)
    starts = {}
    train = experiment.trainer.train

    def recording(start, mask, *args, **kw):
        starts[len(starts)] = start
        return train(start, mask, *args, **kw)

    experiment.trainer.train = recording
    experiment.run([RunSpec(0, "iterative", 1)])
    trained = experiment.store.arrays(RunSpec.unpruned(0).key, "final")
    mask = experiment.store.arrays(RunSpec(0, "iterative", 1).key, "mask")
    for name, w in masks.apply(trained, mask).items():
        np.testing.assert_array_equal(starts[1][name], w)


def test_a_ticket_saved_as_keras_loads_with_its_mask_and_trains_keeping_its_zeros(tmp_path):
    model, _ = build_model("lenet300_100", (28, 28, 1), 10)
    rng = np.random.default_rng(0)
    mask = {name: (rng.random(v.shape) > 0.7).astype(np.float32) for name, v in masked_variables(model).items()}
    set_masks(model, mask)
    model.save(tmp_path / "ticket.keras")
    loaded = tf_keras.models.load_model(tmp_path / "ticket.keras")  # its variables lose their layer scopes
    masked = {layer.name: layer for layer in loaded.layers if hasattr(layer, "kernel_mask")}
    assert set(masked) == {name.split("/")[0] for name in mask}
    assert all(any(v is layer.kernel_mask for v in loaded.non_trainable_variables) for layer in masked.values())
    for name, layer in masked.items():
        np.testing.assert_array_equal(layer.kernel_mask.numpy(), mask[f"{name}/kernel"])
    loaded.compile(optimizer="adam", loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loaded.fit(rng.random((32, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 32), epochs=1, verbose=0)
    for name, layer in masked.items():
        assert not np.any(layer.kernel.numpy()[mask[f"{name}/kernel"] == 0]), name
    # The package's weight dicts leave the masks out: they are stored apart.
    assert not any(name.endswith("kernel_mask") for name in keras_get_weights(model))
    assert {name for name in get_masks(model)} == set(mask)


def test_every_trained_run_writes_its_tensorboard_scalars(small_mnist, tmp_path):
    cfg = tiny_config(rounds=1, control_rounds=(), reinits=0, random_sparse=0, oneshot=False)
    store = RunStore(tmp_path / "runs", "lenet300_100", cfg)
    LotteryExperiment(cfg, small_mnist, store, log=lambda *_: None, tensorboard=tmp_path / "tb").run(plan(cfg))
    for spec in plan(cfg):
        (events,) = (tmp_path / "tb" / store.dir.name / spec.key).glob("events.out.tfevents.*")
        tags = {}
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
        assert tags["validation/loss"] == [100, 200] and tags["validation/accuracy"] == [100, 200]
        assert tags["density/fc1/kernel"] == [0] and tags["end/test_accuracy"] == [200]
