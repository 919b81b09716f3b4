"""Masks inside Keras models: a kernel constraint whose mask is a non-trainable weight.

The optimizer applies a variable's constraint after every update, so a pruned weight is
multiplied back to exactly zero after each step, whatever Adam's moments say. Assigning a
new mask between rounds changes a variable, not the graph: compiled functions are reused.

A masked layer (`MaskedKernel`: the package's dense and conv layers) owns its mask as the
weight `<layer>/kernel_mask`, so the mask is in `model.variables`, in checkpoints, in a
SavedModel and in a `.keras` file, and `tf_keras.models.load_model` gives the model back
with its mask (the classes are registered for Keras serialization when this module is
imported, as any of the package's models does). The package's own weight dicts
(`get_weights`, initial weights, stored arrays) leave the masks out: they are kept apart.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras


MASK = "kernel_mask"  # a masked layer's mask weight


@tf_keras.utils.register_keras_serializable(package="tf_lottery")
class MaskConstraint(tf_keras.constraints.Constraint):
    """Multiplies a kernel by its mask: the weight of a `MaskedKernel` layer, or for other
    layers a variable `build(shape)` makes (call it under the strategy scope before
    training; `keras_masks.build_masks(model)` does it for a whole model)."""

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


class MaskedKernel:
    """A mixin for a Keras layer with a `kernel` and a `MaskConstraint`: the mask becomes the
    layer's non-trainable weight `kernel_mask`, all ones until pruned."""

    def build(self, input_shape):
        super().build(input_shape)
        if isinstance(self.kernel_constraint, MaskConstraint):
            self.kernel_mask = self.add_weight(MASK, shape=self.kernel.shape, dtype=self.kernel.dtype,
                                               initializer="ones", trainable=False)
            self.kernel_constraint.mask = self.kernel_mask


def is_mask(variable) -> bool:
    return weight_name(variable).endswith("/" + MASK)


def model_weights(model) -> list:
    """The model's weights but its masks, in the model's order."""
    return [v for v in model.weights if not is_mask(v)]


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
    """Every weight but the masks, by name."""
    return {weight_name(v): v.numpy() for v in model_weights(model)}


def set_weights(model, weights) -> None:
    """Assign every weight but the masks (`set_masks`) from `weights`, by name."""
    by_name = {weight_name(v): v for v in model_weights(model)}
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
