"""The compiled training loop.

Speed on a CPU comes from the loop around the model, not the model: the data live in
memory as tensors, each call of one XLA-compiled `tf.function` runs `steps_per_call` steps
gathering its batches in-graph from precomputed indices, and evaluation is a raw forward
pass in another compiled function. One `Trainer` serves every run of a study: a new run
assigns weights, masks and a zeroed optimizer state to the same variables, so nothing is
retraced or recompiled between runs.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras

from tf_lottery import keras_masks, masks
from tf_lottery.config import TrainingConfig
from tf_lottery.data import Dataset


@dataclass
class RunResult:
    iterations: np.ndarray  # evaluation points
    val_loss: np.ndarray
    val_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    early_stop_iter: int  # iteration of minimum validation loss (first one on ties)
    train_acc_early_stop: float
    train_acc_end: float
    final_weights: dict
    seconds: float


def batch_indices(n: int, batch_size: int, seed: int, start_step: int, steps: int) -> np.ndarray:
    """Example indices for steps [start_step, start_step + steps), shape [steps, batch_size].

    Each epoch is a fresh permutation of the n examples (seeded by (seed, epoch)), cut into
    n // batch_size batches; the remainder of each permutation is dropped. Depends only on
    the global step, so any chunking of a run sees the same batches.
    """
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples.")
    out = np.empty((steps, batch_size), np.int32)
    step = start_step
    while step < start_step + steps:
        epoch, pos = divmod(step, per_epoch)
        take = min(per_epoch - pos, start_step + steps - step)
        rows = _epoch_batches(n, batch_size, seed, epoch)[pos : pos + take]
        out[step - start_step : step - start_step + take] = rows
        step += take
    return out


@functools.lru_cache(maxsize=2)  # one epoch spans many chunks: shuffle it once
def _epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    per_epoch = n // batch_size
    batches = np.random.default_rng([seed, epoch]).permutation(n)[: per_epoch * batch_size]
    batches = batches.reshape(per_epoch, batch_size)
    batches.flags.writeable = False
    return batches


def make_optimizer(name: str, learning_rate: float, adam_epsilon: float = 1e-7):
    """A Keras 2 optimizer by name (1e-7 is Keras' own Adam epsilon)."""
    if name == "adam":
        return tf_keras.optimizers.Adam(learning_rate, epsilon=adam_epsilon)
    if name == "sgd":
        return tf_keras.optimizers.SGD(learning_rate)
    raise ValueError(f"Unknown optimizer {name!r}; use adam or sgd.")


def start_run(model, optimizer, start_weights: dict, mask: dict) -> None:
    """Start a run on reused variables: weights and masks as given, optimizer state zeroed,
    which is exactly the state of a freshly created optimizer."""
    masks.validate(mask, start_weights)
    keras_masks.set_masks(model, mask)
    keras_masks.set_weights(model, start_weights)
    for v in optimizer.variables:
        v.assign(tf.zeros_like(v))


class Trainer:
    """Trains one model (built under `strategy`) on one data set, run after run."""

    def __init__(self, model, dataset: Dataset, cfg: TrainingConfig, strategy: tf.distribute.Strategy):
        self.model, self.cfg, self.strategy = model, cfg, strategy
        self.n_train = len(dataset.train)
        with strategy.scope():
            self.optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.adam_epsilon)
            self.optimizer.build(model.trainable_variables)
            self._best = [tf.Variable(v, trainable=False) for v in model.weights]
        self._splits = {
            name: (tf.constant(split.x), tf.constant(split.y))
            for name, split in (("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test))
        }
        self._train_chunk = tf.function(self._train_chunk_fn, jit_compile=True)
        self._evaluate = tf.function(self._evaluate_fn, jit_compile=True)
        self._save_best = tf.function(lambda: [b.assign(v) for b, v in zip(self._best, self.model.weights)])
        self._load_best = tf.function(lambda: [v.assign(b) for b, v in zip(self._best, self.model.weights)])

    # -- compiled pieces -------------------------------------------------------------
    def _step_fn(self, x, y):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.cfg.batch_size)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))  # also applies the mask constraints
        return loss

    def _train_chunk_fn(self, indices):
        x_all, y_all = self._splits["train"]
        for i in tf.range(tf.shape(indices)[0]):
            batch = indices[i]
            self.strategy.run(self._step_fn, args=(tf.gather(x_all, batch), tf.gather(y_all, batch)))

    def _evaluate_fn(self, x, y):
        logits = self.model(x, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32))
        return loss, acc

    def evaluate(self, split: str) -> tuple[float, float]:
        loss, acc = self._evaluate(*self._splits[split])
        return float(loss), float(acc)

    # -- one run -----------------------------------------------------------------------
    def reset(self, start_weights: dict, mask: dict) -> None:
        start_run(self.model, self.optimizer, start_weights, mask)

    def train(self, start_weights: dict, mask: dict, order_seed: int) -> RunResult:
        """Train from `start_weights` (already masked) for cfg.iterations steps."""
        cfg, t0 = self.cfg, time.perf_counter()
        self.reset(start_weights, mask)
        points = np.arange(cfg.eval_every, cfg.iterations + 1, cfg.eval_every)
        curves = np.zeros((len(points), 4), np.float64)
        best = np.inf
        step = 0
        for row, point in enumerate(points):
            while step < point:
                self._train_chunk(batch_indices(self.n_train, cfg.batch_size, order_seed, step, cfg.steps_per_call))
                step += cfg.steps_per_call
            curves[row] = (*self.evaluate("validation"), *self.evaluate("test"))
            if curves[row, 0] < best:  # strict: the first minimum wins ties
                best = curves[row, 0]
                self._save_best()
        if not np.all(np.isfinite(curves)):
            raise FloatingPointError("Training diverged: non-finite loss or accuracy.")
        final = keras_masks.get_weights(self.model)
        train_acc_end = self.evaluate("train")[1]
        self._load_best()
        train_acc_es = self.evaluate("train")[1]
        return RunResult(
            iterations=points,
            val_loss=curves[:, 0],
            val_acc=curves[:, 1],
            test_loss=curves[:, 2],
            test_acc=curves[:, 3],
            early_stop_iter=int(points[int(np.argmin(curves[:, 0]))]),
            train_acc_early_stop=train_acc_es,
            train_acc_end=train_acc_end,
            final_weights=final,
            seconds=time.perf_counter() - t0,
        )
