"""Masks inside Keras models: a kernel constraint whose mask is a non-trainable variable.

The optimizer applies a variable's constraint after every update, so a pruned weight is
multiplied back to exactly zero after each step, whatever Adam's moments say. Assigning a
new mask between rounds changes a variable, not the graph: compiled functions are reused.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras


class MaskConstraint(tf_keras.constraints.Constraint):
    """Multiplies a kernel by its mask. Call `build(shape)` (under the strategy scope)
    before training; `keras_masks.build_masks(model)` does it for a whole model."""

    def __init__(self):
        self.mask = None

    def build(self, shape) -> None:
        if self.mask is None:
            self.mask = tf.Variable(tf.ones(shape), trainable=False, name="mask")

    def __call__(self, w):
        if self.mask is None:
            raise RuntimeError("MaskConstraint used before build(); call keras_masks.build_masks(model).")
        return w * self.mask

    def get_config(self):
        return {}


def weight_name(variable) -> str:
    """A variable's stable name in weight dicts: 'layer/kernel' (no ':0' suffix)."""
    return variable.name.split(":")[0]


def masked_variables(model) -> dict:
    """Prunable kernels of `model` (those carrying a MaskConstraint), by weight name."""
    return {weight_name(v): v for v in model.weights if isinstance(getattr(v, "constraint", None), MaskConstraint)}


def build_masks(model) -> None:
    for v in masked_variables(model).values():
        v.constraint.build(v.shape)


def get_weights(model) -> dict[str, np.ndarray]:
    return {weight_name(v): v.numpy() for v in model.weights}


def set_weights(model, weights) -> None:
    by_name = {weight_name(v): v for v in model.weights}
    missing = set(by_name) - set(weights)
    if missing:
        raise ValueError(f"No values given for weights {sorted(missing)}.")
    for name, v in by_name.items():
        v.assign(weights[name])


def get_masks(model) -> dict[str, np.ndarray]:
    return {name: v.constraint.mask.numpy() for name, v in masked_variables(model).items()}


def set_masks(model, mask) -> None:
    variables = masked_variables(model)
    if set(mask) != set(variables):
        raise ValueError(f"Mask layers {sorted(mask)} differ from the model's prunable layers {sorted(variables)}.")
    for name, v in variables.items():
        v.constraint.mask.assign(mask[name])
