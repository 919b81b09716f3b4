"""Lenet-300-100 (the paper's Figure 2): fully connected 300-100-10, ReLU."""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import RunSeededDropout, masked_dense


def lenet(input_shape=(28, 28, 1), num_classes=10, hidden=(300, 100), dropout: float = 0.0):
    layers = [tf_keras.layers.Flatten(input_shape=input_shape, name="flatten")]
    for i, units in enumerate(hidden, start=1):
        layers.append(masked_dense(units, "relu", f"fc{i}"))
        if dropout:
            layers.append(RunSeededDropout(dropout, name=f"dropout{i}"))
    layers.append(masked_dense(num_classes, None, "output"))
    return tf_keras.Sequential(layers, name=f"lenet{'_'.join(map(str, hidden))}")
