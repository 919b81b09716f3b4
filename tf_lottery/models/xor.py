"""The v1 XOR task: many small networks trained at once, stacked along a leading axis.

A network has 2 inputs, one hidden ReLU layer of H units and one sigmoid output, weights
from N(0, std) truncated at 2 std, zero biases, full-batch training on the four points.
Tiny networks are all per-call overhead, so one `tf_keras` model holds `trials`
independent networks (kernels [trials, in, out]) and one XLA-compiled call trains them all
for the whole budget. The summed loss gives each network exactly its own gradient, and
Adam and SGD update elementwise, so stacked training equals training each alone.

The model returns the output unit's pre-activation (logit); the loss applies the sigmoid
(`sigmoid_cross_entropy_with_logits`), exact even where the loss is near zero.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from tf_lottery.models import keras_masks
from tf_lottery.pruning.unit_pruning import weight_masks

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0], np.float32)


class StackedDense(tf_keras.layers.Layer):
    """`trials` independent dense layers: [batch, in] or [trials, batch, in] -> [trials, batch, units]."""

    def __init__(self, trials, units, activation=None, kernel_initializer="glorot_normal", bias_initializer="zeros",
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.trials, self.units = trials, units
        self.activation = tf_keras.activations.get(activation)
        self.kernel_initializer = tf_keras.initializers.get(kernel_initializer)
        self.bias_initializer = tf_keras.initializers.get(bias_initializer)
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (self.trials, int(input_shape[-1]), self.units),
                                      initializer=self.kernel_initializer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.trials, self.units), initializer=self.bias_initializer,
                                    constraint=self.bias_constraint)

    def call(self, x):
        pattern = "bi,tiu->tbu" if x.shape.rank == 2 else "tbi,tiu->tbu"
        return self.activation(tf.einsum(pattern, x, self.kernel) + self.bias[:, None, :])


def xor_model(trials: int, hidden: int, init_std: float = 0.1):
    """`trials` stacked XOR networks with `hidden` units; hidden units carry unit masks
    (incoming kernel, bias, outgoing kernel)."""
    def init():  # truncated at 2 std; seeded per weight by models.initial_weights
        return tf_keras.initializers.TruncatedNormal(stddev=init_std)

    model = tf_keras.Sequential([
        StackedDense(trials, hidden, "relu", init(), "zeros", keras_masks.MaskConstraint(),
                     keras_masks.MaskConstraint(), name="hidden", input_shape=(2,)),
        StackedDense(trials, 1, None, init(), "zeros", keras_masks.MaskConstraint(), name="output"),
    ], name=f"xor_h{hidden}")
    model.build((None, 2))
    keras_masks.build_masks(model)
    return model


def unit_mask_to_masks(unit_mask: np.ndarray) -> dict[str, np.ndarray]:
    """The model's weight masks for a unit mask [trials, hidden]."""
    m = weight_masks(unit_mask, n_inputs=2, n_outputs=1)
    return {"hidden/kernel": m["incoming"], "hidden/bias": m["bias"], "output/kernel": m["outgoing"]}
