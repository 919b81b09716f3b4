"""Full-batch training of stacked XOR networks (see `models/xor.py`), in one XLA call."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tf_lottery.models import keras_masks
from tf_lottery.models.xor import XOR_X, XOR_Y
from tf_lottery.training.schedules import make_optimizer
from tf_lottery.training.trainer import start_run


@dataclass
class XorResult:
    loss: np.ndarray  # [trials] final mean cross-entropy over the four points
    boundary: np.ndarray  # [trials] bool: all four points on the right side
    final_weights: dict
    seconds: float


class XorTrainer:
    """Full-batch training of stacked XOR networks; reused across runs like `training.Trainer`."""

    def __init__(self, model, optimizer: str, learning_rate: float, iterations: int, strategy=None):
        self.model, self.iterations = model, iterations
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.optimizer = make_optimizer(optimizer, learning_rate)
            self.optimizer.build(model.trainable_variables)
        self._x, self._y = tf.constant(XOR_X), tf.constant(XOR_Y)
        self._fit = tf.function(self._fit_fn, jit_compile=True)

    def _per_trial(self):
        logits = self.model(self._x)[..., 0]  # [trials, 4]
        labels = tf.broadcast_to(self._y, tf.shape(logits))
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits), axis=1)
        boundary = tf.reduce_all(tf.equal(logits > 0, labels > 0.5), axis=1)
        return loss, boundary

    def _step(self):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(self._per_trial()[0])
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def _fit_fn(self):
        for _ in tf.range(self.iterations):
            self.strategy.run(self._step)
        return self._per_trial()

    def train(self, start_weights: dict, mask: dict) -> XorResult:
        t0 = time.perf_counter()
        start_run(self.model, self.optimizer, start_weights, mask)
        loss, boundary = self._fit()
        return XorResult(loss.numpy(), boundary.numpy(), keras_masks.get_weights(self.model), time.perf_counter() - t0)
