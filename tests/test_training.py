"""Training invariants: masks hold through optimizer steps, resets are exact, batches are seeded."""
import numpy as np
import pytest
import tensorflow as tf

from tf_lottery.models import keras_masks

from tf_lottery.pruning import masks

from tf_lottery.pruning import rules as pruning
from tf_lottery.config import TrainingConfig
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.training.trainer import Trainer, batch_indices


@pytest.fixture(scope="module")
def trainer(small_mnist):
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model, groups = build_model("lenet300_100", (28, 28, 1), 10)
    cfg = TrainingConfig(iterations=300, eval_every=100, steps_per_call=50)
    return Trainer(model, small_mnist, cfg, strategy), groups


def random_mask(weights, groups, seed=0):
    return pruning.random_pruning(masks.full_mask(weights, groups), {n: 0.7 for n in groups}, seed)


def test_pruned_weights_stay_exactly_zero_through_training(trainer):
    trainer, groups = trainer
    theta0 = initial_weights(trainer.model, 1)
    mask = random_mask(theta0, groups)
    result = trainer.train(masks.apply(theta0, mask), mask, order_seed=0)
    for name, m in mask.items():
        final = result.final_weights[name]
        assert np.all(final[m == 0] == 0.0), name
        assert np.count_nonzero(final[m == 1]) > 0.99 * m.sum(), name
    assert result.train_acc_end > 0.8 and 100 <= result.early_stop_iter <= 300


def test_reset_sets_theta0_times_mask_and_a_fresh_optimizer(trainer):
    trainer, groups = trainer
    theta0 = initial_weights(trainer.model, 2)
    mask = random_mask(theta0, groups, seed=1)
    trainer.train(masks.apply(theta0, mask), mask, order_seed=0)  # leaves optimizer state behind
    lr = float(trainer.optimizer.learning_rate)
    trainer.reset(masks.apply(theta0, mask), mask)
    current = keras_masks.get_weights(trainer.model)
    for name, w in theta0.items():
        np.testing.assert_array_equal(current[name], w * mask[name] if name in mask else w)
    assert all(not np.any(v.numpy()) for v in trainer.optimizer.variables)
    assert float(trainer.optimizer.learning_rate) == lr
    for name, m in keras_masks.get_masks(trainer.model).items():
        np.testing.assert_array_equal(m, mask[name])


def test_same_seeds_give_the_same_run(trainer):
    trainer, groups = trainer
    theta0 = initial_weights(trainer.model, 3)
    mask = masks.full_mask(theta0, groups)
    a = trainer.train(theta0, mask, order_seed=5)
    b = trainer.train(theta0, mask, order_seed=5)
    np.testing.assert_array_equal(a.val_loss, b.val_loss)
    np.testing.assert_array_equal(a.final_weights["fc1/kernel"], b.final_weights["fc1/kernel"])


def test_initial_weights_are_seeded_glorot_normal_with_zero_biases(trainer):
    model = trainer[0].model
    a, b, c = initial_weights(model, 7), initial_weights(model, 7), initial_weights(model, 8)
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(a["fc1/kernel"], c["fc1/kernel"])
    assert not np.any(a["fc1/bias"])
    assert a["fc1/kernel"].std() == pytest.approx(np.sqrt(2 / (784 + 300)), rel=0.05)


def test_batches_are_per_epoch_permutations_independent_of_chunking():
    whole = batch_indices(n=50, batch_size=10, seed=1, start_step=0, steps=12)
    chunked = np.concatenate([batch_indices(50, 10, 1, s, 3) for s in range(0, 12, 3)])
    np.testing.assert_array_equal(whole, chunked)
    for epoch in range(2):
        assert sorted(whole[5 * epoch : 5 * epoch + 5].ravel()) == list(range(50))
    assert not np.array_equal(whole[:5], whole[5:10])
    assert not np.array_equal(whole, batch_indices(50, 10, 2, 0, 12))
