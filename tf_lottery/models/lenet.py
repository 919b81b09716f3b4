"""Lenet-300-100 (the paper's Figure 2): fully connected 300-100-10, ReLU."""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import RunSeededDropout, masked_dense
from tf_lottery.models.spec import ModelSpec


def lenet(input_shape=(28, 28, 1), num_classes=10, hidden=(300, 100), dropout: float = 0.0):
    layers = [tf_keras.layers.Flatten(input_shape=input_shape, name="flatten")]
    for i, units in enumerate(hidden, start=1):
        layers.append(masked_dense(units, "relu", f"fc{i}"))
        if dropout:
            layers.append(RunSeededDropout(dropout, name=f"dropout{i}"))
    layers.append(masked_dense(num_classes, None, "output"))
    return tf_keras.Sequential(layers, name=f"lenet{'_'.join(map(str, hidden))}")


def _build(input_shape, num_classes, dropout, conv_dropout, sync_batch_norm):
    return lenet(input_shape, num_classes, (300, 100), dropout)  # no batch norm to synchronize


SPEC = ModelSpec(
    "lenet300_100", _build,
    dataset="mnist",
    display_name="Lenet",
    protocol={"dataset": "mnist", "iterations": 50_000, "batch_size": 60, "optimizer": "adam",
              "learning_rate": 1.2e-3, "eval_every": 100, "fc_rate": 0.2, "output_rate": 0.1, "scope": "layerwise"},
    description="Lenet-300-100 on MNIST: fc 300-100-10, Adam 1.2e-3, batch 60, 50K iterations, "
                "fc 20% / output 10% per round, layer-wise",
    presets={
        "paper": {"random_sparse": 2},  # 10 random sparse networks per level over 5 trials (Figure 1)
        # Same protocol (50K iterations, full data, same rates); fewer trials, Pm levels and
        # reinits: 105 runs for Figure 4, about an hour on a 2-core CPU.
        "fast": {"trials": 3, "rounds": 16, "control_rounds": (3, 7, 9, 12, 15, 16), "reinits": 1,
                 "random_sparse": 1},
        # Tiny, for tests and a first look: 300 iterations, 1 trial, 2 rounds.
        "smoke": {"iterations": 300, "trials": 1, "rounds": 2, "control_rounds": (2,), "reinits": 1,
                  "random_sparse": 1},
    },
    preset_cost={
        "paper": "5 trials x (21 trunk + 20 one-shot + 120 reinit) = 805 runs of 50K iterations for Figure 4; about "
                 "7-8 h on 2 cores",
        "fast": "3 trials x (17 trunk + 6 one-shot + 12 reinit) = 105 runs of 50K iterations for Figure 4; about 1 h "
                "on 2 cores",
        "smoke": "6 runs of 300 iterations; under a minute",
    },
    no_conv_dropout="has no conv layers",
)
