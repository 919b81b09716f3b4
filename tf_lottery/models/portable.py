"""A ticket in the forms other tools take, and a user's network in the package's form.

- `masked_copy(model)`: a Keras model of Dense and Conv2D layers (and any others) with
  every Dense and Conv2D kernel masked, the package's way (`MaskedDense`, `MaskedConv2D`):
  what `api.find_ticket` prunes when given a network of one's own.

- `plain_copy(model)`: the same network with Keras' own Dense and Conv2D layers, their
  kernels at the masked values (no mask left: its zeros are in the weights).
- `to_tfmot(model)`: the network with every masked layer wrapped by TF-MOT's
  `prune_low_magnitude`, its pruning masks equal to the ticket's (not all ones), under a
  schedule that never recomputes them (`KeepMasks`): trained with TF-MOT's
  `UpdatePruningStep` callback it keeps exactly the ticket's zeros.
  `tfmot.sparsity.keras.strip_pruning` of it is a plain Keras model again.
- `to_tflite(model)`: TFLite bytes of a plain model (or of a ticket, through
  `plain_copy`), with `EXPERIMENTAL_SPARSITY` so the zeros shrink the file.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras

from tf_lottery.models.keras_masks import MaskConstraint, MaskedKernel
from tf_lottery.models.layers import MaskedConv2D, MaskedDense

_PLAIN = {"Dense": tf_keras.layers.Dense, "Conv2D": tf_keras.layers.Conv2D}


class KeepMasks(tfmot.sparsity.keras.PruningSchedule):
    """A TF-MOT schedule that never prunes: the masks stay as they are set."""

    def __call__(self, step):
        return tf.constant(False), tf.constant(0.0)

    def get_config(self):
        return {"class_name": type(self).__name__, "config": {}}


def _plain_layer(layer):
    """A masked layer as the Keras layer it extends (without its mask constraint)."""
    base = next(cls for cls in type(layer).__mro__ if cls.__name__ in _PLAIN and cls.__module__.startswith("tf_keras"))
    config = layer.get_config()
    config.pop("kernel_constraint", None)
    return base.from_config(config)


def _is_masked(layer) -> bool:
    return isinstance(layer, MaskedKernel) and isinstance(layer.kernel_constraint, MaskConstraint)


def _copy(model, wrap):
    """`model` cloned with each masked layer as `wrap(plain layer)`, the weights copied
    (masked kernels at their masked values); returns (clone, {original layer name: clone's layer})."""
    def clone(layer):
        return wrap(_plain_layer(layer)) if _is_masked(layer) else layer.__class__.from_config(layer.get_config())

    copy = tf_keras.models.clone_model(model, clone_function=clone)
    by_name = {}
    for original, new in zip(model.layers, copy.layers):
        inner = getattr(new, "layer", new)  # a TF-MOT wrapper's layer
        if _is_masked(original):
            inner.kernel.assign(original.kernel * original.kernel_mask)
            if original.use_bias:
                inner.bias.assign(original.bias)
        else:
            new.set_weights(original.get_weights())
        by_name[original.name] = new
    return copy, by_name


def masked_copy(model):
    """`model` with its Dense and Conv2D layers as masked ones (same settings, fresh weights)."""
    masked = {tf_keras.layers.Dense: MaskedDense, tf_keras.layers.Conv2D: MaskedConv2D}

    def clone(layer):
        cls = masked.get(type(layer))
        if cls is None:
            return layer.__class__.from_config(layer.get_config())
        return cls.from_config({**layer.get_config(), "kernel_constraint": MaskConstraint()})

    return tf_keras.models.clone_model(model, clone_function=clone)


def plain_copy(model):
    """The ticket as a model of Keras' own layers, its zeros in the weights."""
    return _copy(model, lambda layer: layer)[0]


def to_tfmot(model):
    """The ticket with TF-MOT pruning wrappers whose masks are the ticket's."""
    wrapped, by_name = _copy(model, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=KeepMasks()))
    for original in model.layers:
        if _is_masked(original):
            (_, mask, _), = by_name[original.name].pruning_vars
            mask.assign(original.kernel_mask)
    return wrapped


def to_tflite(model, sparse: bool = True) -> bytes:
    """TFLite bytes of `model` (a ticket is made plain first), sparse-encoded where asked."""
    if any(_is_masked(layer) for layer in model.layers):
        model = plain_copy(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if sparse:
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()
