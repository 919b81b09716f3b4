"""Optimizers and learning-rate schedules of the paper's protocols."""
from __future__ import annotations

import tensorflow as tf
import tf_keras

from tf_lottery.config import TrainingConfig


class StepWarmup(tf_keras.optimizers.schedules.LearningRateSchedule):
    """`base`, multiplied by `factor` at each iteration in `drops`, times a linear warmup
    min(1, step / warmup) over the first `warmup` iterations (as the authors' later code)."""

    def __init__(self, base: float, drops=(), factor: float = 0.1, warmup: int = 0):
        self.base, self.drops, self.factor, self.warmup = float(base), tuple(int(d) for d in drops), float(factor), int(warmup)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.base, tf.float32)
        for drop in self.drops:
            lr = tf.where(step >= drop, lr * self.factor, lr)
        if self.warmup:
            lr *= tf.minimum(1.0, step / self.warmup)
        return lr

    def get_config(self):
        return {"base": self.base, "drops": self.drops, "factor": self.factor, "warmup": self.warmup}


def make_optimizer(name: str, learning_rate, adam_epsilon: float = 1e-7, momentum: float = 0.9):
    """A Keras 2 optimizer by name (1e-7 is Keras' own Adam epsilon); `learning_rate` may
    be a schedule."""
    if name == "adam":
        return tf_keras.optimizers.Adam(learning_rate, epsilon=adam_epsilon)
    if name == "sgd":
        return tf_keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return tf_keras.optimizers.SGD(learning_rate, momentum=momentum)
    raise ValueError(f"Unknown optimizer {name!r}; use adam, sgd or momentum.")


def learning_rate_for(cfg: TrainingConfig):
    """A protocol's learning rate: a plain float unless it has drops or warmup."""
    if cfg.lr_drops or cfg.warmup_iterations:
        return StepWarmup(cfg.learning_rate, cfg.lr_drops, cfg.lr_drop_factor, cfg.warmup_iterations)
    return cfg.learning_rate


def optimizer_for(cfg: TrainingConfig):
    """The optimizer of a protocol, with its learning-rate schedule."""
    return make_optimizer(cfg.optimizer, learning_rate_for(cfg), cfg.adam_epsilon, cfg.momentum)
