"""Conv-2, Conv-4 and Conv-6 (the paper's Figure 2, after Simonyan & Zisserman's VGG):
blocks of two 3x3 same-padded ReLU convolutions (64, 128, 256 filters) each followed by
2x2 max pooling, then fully connected 256, 256 and the 10-way output."""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import RunSeededDropout, masked_conv, masked_dense

CONV_BLOCKS = {"conv2": (64,), "conv4": (64, 128), "conv6": (64, 128, 256)}


def conv_net(input_shape=(32, 32, 3), num_classes=10, blocks=(64,), dropout: float = 0.0, conv_dropout: float = 0.0,
             name: str = "conv"):
    """`dropout` follows each hidden fc layer and `conv_dropout` each pooling layer: the
    paper is silent on where its dropout goes; fc-only is the default (docs/design.md)."""
    layers = [tf_keras.layers.InputLayer(input_shape=input_shape, name="input")]
    for b, filters in enumerate(blocks, start=1):
        layers += [masked_conv(filters, 3, f"conv{2 * b - 1}"), masked_conv(filters, 3, f"conv{2 * b}"),
                   tf_keras.layers.MaxPooling2D(2, name=f"pool{b}")]
        if conv_dropout:
            layers.append(RunSeededDropout(conv_dropout, name=f"pool{b}_dropout"))
    layers.append(tf_keras.layers.Flatten(name="flatten"))
    for i in (1, 2):
        layers.append(masked_dense(256, "relu", f"fc{i}"))
        if dropout:
            layers.append(RunSeededDropout(dropout, name=f"dropout{i}"))
    layers.append(masked_dense(num_classes, None, "output"))
    return tf_keras.Sequential(layers, name=name)
