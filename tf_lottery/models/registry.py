"""Model builders (tf_keras, so TF-MOT can wrap them) and seeded initial weights.

Each builder returns a built model whose prunable kernels carry a `MaskConstraint`, and
records per prunable weight which pruning-rate group it belongs to ("fc", "output", ...),
so rates from the paper's table can be mapped to layers.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import tf_keras

from tf_lottery.models import keras_masks
from tf_lottery.seeds import derive_seed

_INITIALIZER_ATTRS = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def lenet300_100(input_shape=(28, 28, 1), num_classes=10, hidden=(300, 100)):
    """Lenet-300-100: fully connected, ReLU, glorot-normal kernels, zero biases."""
    layers = [tf_keras.layers.Flatten(input_shape=input_shape, name="flatten")]
    for i, units in enumerate(hidden, start=1):
        layers.append(_dense(units, "relu", f"fc{i}"))
    layers.append(_dense(num_classes, None, "output"))
    model = tf_keras.Sequential(layers, name="lenet300_100")
    groups = {f"fc{i}/kernel": "fc" for i in range(1, len(hidden) + 1)} | {"output/kernel": "output"}
    return model, groups


def _dense(units, activation, name):
    return tf_keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_constraint=keras_masks.MaskConstraint(),
        name=name,
    )


MODELS: dict[str, Callable] = {"lenet300_100": lenet300_100}


def build_model(name: str, input_shape, num_classes: int):
    """Build `name` under the current distribution strategy scope; returns (model, rate groups)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; available: {', '.join(MODELS)}.")
    model, groups = MODELS[name](input_shape=input_shape, num_classes=num_classes)
    model.build((None, *input_shape))
    keras_masks.build_masks(model)
    prunable = set(keras_masks.masked_variables(model))
    if prunable != set(groups):
        raise AssertionError(f"{name}: rate groups {sorted(groups)} do not match prunable weights {sorted(prunable)}.")
    return model, groups


def initial_weights(model, seed: int) -> dict[str, np.ndarray]:
    """A fresh draw of every weight from its layer's own initializer.

    Each weight gets its own seed derived from `seed` and its name, so a draw depends only
    on (seed, architecture), never on construction order or global random state.
    """
    weights = {}
    for layer in model.layers:
        for attr in _INITIALIZER_ATTRS:
            variable = getattr(layer, attr, None)
            init = getattr(layer, f"{attr}_initializer", None)
            if variable is None or init is None:
                continue
            name = keras_masks.weight_name(variable)
            config = init.get_config()
            if "seed" in config:  # constant initializers (zeros, ones) take no seed
                config["seed"] = derive_seed(seed, name)
            weights[name] = type(init).from_config(config)(variable.shape, dtype=variable.dtype).numpy()
    missing = {keras_masks.weight_name(v) for v in model.weights} - set(weights)
    if missing:
        raise NotImplementedError(f"No initializer known for weights {sorted(missing)}.")
    return weights
