"""Layer helpers for the paper's networks: masked dense and conv layers (the conv layers
with a faster input gradient), and a dropout layer whose randomness belongs to the run.

Every layer gets an explicit name: weight names ('fc1/kernel') key initial weights, masks
and stored arrays, so they must not depend on how many layers a process has built before
(Keras auto-names do: 'dense_7').
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras

from tf_lottery.models.keras_masks import MaskConstraint, MaskedKernel

serializable = tf_keras.utils.register_keras_serializable(package="tf_lottery")


@serializable
class MaskedDense(MaskedKernel, tf_keras.layers.Dense):
    """A dense layer that owns its kernel's mask (`keras_masks.MaskedKernel`)."""


def masked_dense(units: int, activation, name: str):
    """A dense layer with a prunable kernel: Gaussian Glorot kernel, zero bias (the paper)."""
    return MaskedDense(units, activation=activation, kernel_initializer="glorot_normal",
                                 bias_initializer="zeros", kernel_constraint=MaskConstraint(), name=name)


@tf.custom_gradient
def same_conv(x, kernel):
    """A stride-1 same-padded convolution with an odd kernel, whose input gradient is
    computed as the forward convolution it equals: `dy` convolved with the kernel flipped
    in space and with its channels swapped.

    The same values as `tf.nn.conv2d`'s own gradient, up to float rounding, but faster on
    CPUs where oneDNN's `Conv2DBackpropInput` is slow: on an AMD EPYC without AVX-512 (2
    threads, 2026-11-26) it took 4-24x this forward convolution's time for VGG-19's
    512-channel layers on 4x4 and 2x2 maps, and VGG-19 trains 2.75x faster this way
    (`benchmarks/conv_gradients.py`; ResNet-20 1.14x, the conv nets 0.98-1.09x)."""
    y = tf.nn.conv2d(x, kernel, 1, "SAME")

    def grad(dy):
        dx = tf.nn.conv2d(dy, tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]), 1, "SAME")
        dk = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                                             strides=[1, 1, 1, 1], padding="SAME")
        return dx, dk

    return y, grad


@serializable
class MaskedConv2D(MaskedKernel, tf_keras.layers.Conv2D):
    """Conv2D that owns its kernel's mask (`keras_masks.MaskedKernel`), and whose stride-1,
    same-padded convolutions with odd kernels use `same_conv` (every conv of the paper's
    networks but ResNet-20's strided ones)."""

    def convolution_op(self, inputs, kernel):
        if (self.strides, self.dilation_rate, self.padding, self.groups, self.data_format) != \
                ((1, 1), (1, 1), "same", 1, "channels_last") or not all(k % 2 for k in self.kernel_size):
            return super().convolution_op(inputs, kernel)
        return same_conv(inputs, tf.convert_to_tensor(kernel))


def masked_conv(filters: int, kernel_size: int, name: str, activation="relu", strides: int = 1, use_bias=True):
    """A same-padded conv layer with a prunable kernel: Gaussian Glorot kernel, zero bias."""
    return MaskedConv2D(filters, kernel_size, strides=strides, padding="same", activation=activation,
                        use_bias=use_bias, kernel_initializer="glorot_normal", bias_initializer="zeros",
                        kernel_constraint=MaskConstraint(), name=name)


def batch_norm(name: str, synchronized: bool = False):
    """Batch norm with PyTorch's defaults (momentum 0.1 there, 0.9 here; epsilon 1e-5), as
    in the authors' later (PyTorch) code; Keras' own are 0.99 and 1e-3. `synchronized`
    computes the statistics over the global batch under a multi-replica strategy, as one
    device training on the whole batch does (the paper); otherwise over each replica's."""
    return tf_keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized, name=name)


@serializable
class RunSeededDropout(tf_keras.layers.Layer):
    """Dropout drawing from its own `tf.random.Generator`, which every run re-seeds
    (`reset_random_state`). Keras' Dropout draws from process-wide random state, so its
    masks would depend on which runs a worker trained before."""

    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)

    def build(self, input_shape):
        self.generator = tf.random.Generator.from_seed(0)  # re-seeded at the start of every run

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = tf.cast(self.generator.uniform(tf.shape(x)) >= self.rate, x.dtype)
        return x * keep / (1.0 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def reset_random_state(model, seed: int) -> None:
    """Re-seed every run-seeded generator in `model` from `seed` and the layer's name."""
    from tf_lottery.seeds import derive_seed

    for layer in model.submodules:
        if isinstance(layer, RunSeededDropout):
            layer.generator.reset_from_seed(derive_seed(seed, "dropout", layer.name))
