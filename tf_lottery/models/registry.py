"""The model registry: every network's `ModelSpec` (models/spec.py), and what all networks share.

A network's file holds its builder and its spec: the protocol of the paper's Figure 2 for
it (optimizer, learning rate, schedule, batch size, iterations, evaluation cadence, pruning
rates and scope, what is never pruned) as overrides of the config fields, its display
name, and its presets; `cli` applies the protocol, then the preset, then explicit flags. Prunable weights are found, not listed:
every conv or dense kernel carrying a `MaskConstraint`, in nested blocks too, is in group
`conv` or `fc`, and the kernel of the last dense layer is in group `output`.

To add a model: write one file with a builder (explicitly named layers;
`layers.masked_conv` / `masked_dense` for prunable kernels) and its `ModelSpec` (and, if it
has no layers for --dropout or --conv-dropout, why: `no_dropout`, `no_conv_dropout`), and
add the spec to `MODELS`.
Runs are identified by the network's name and settings, not its code: a changed
architecture needs a new name (or, for a paper network, a `RUN_SCHEMA` bump).
"""
from __future__ import annotations

import functools

import numpy as np
import tf_keras

from tf_lottery.models import conv, keras_masks, lenet, resnet, vgg
from tf_lottery.models.spec import ModelSpec
from tf_lottery.seeds import derive_seed

_INITIALIZER_ATTRS = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")

# One line per network; its file holds its builder, protocol, display name and presets.
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    lenet.SPEC,
    conv.CONV2, conv.CONV4, conv.CONV6,
    resnet.SPEC,
    vgg.SPEC,
)}


def register(spec: ModelSpec) -> None:
    """Add a network to the registry for this process (a user's own: `api.find_ticket`)."""
    MODELS[spec.name] = spec


def display_name(name: str) -> str:
    """A registered network's name in figures, or the registry name of any other."""
    return MODELS[name].display_name if name in MODELS else name


def model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; available: {', '.join(MODELS)}.")
    return MODELS[name]


def prunable_groups(model) -> dict[str, str]:
    """Pruning group of every masked kernel by weight name: conv, fc, or output (the last dense layer)."""
    groups, last_dense = {}, None
    for layer in _layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is None or not isinstance(getattr(kernel, "constraint", None), keras_masks.MaskConstraint):
            continue
        name = keras_masks.weight_name(kernel)
        if isinstance(layer, tf_keras.layers.Dense):
            groups[name], last_dense = "fc", name
        elif isinstance(layer, tf_keras.layers.Conv2D):
            groups[name] = "conv"
        else:
            raise TypeError(f"Masked kernel {name} of a {type(layer).__name__}: only Conv2D and Dense are prunable.")
    if last_dense is not None:
        groups[last_dense] = "output"
    return groups


def _layers(model) -> list:
    """Every layer, nested ones included, in the order they were added."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out += _layers(layer)
        else:
            out += [m for m in layer.submodules if isinstance(m, tf_keras.layers.Layer)]
    return out


def build_model(name: str, input_shape, num_classes: int, dropout: float = 0.0, conv_dropout: float = 0.0,
                sync_batch_norm: bool = False):
    """Build `name` under the current distribution strategy scope; returns (model, groups)."""
    spec = model_spec(name)
    spec.check_dropout(dropout, conv_dropout)
    model = spec.build(input_shape=input_shape, num_classes=num_classes, dropout=dropout,
                       conv_dropout=conv_dropout, sync_batch_norm=sync_batch_norm)
    model.build((None, *input_shape))
    keras_masks.build_masks(model)
    names = [keras_masks.weight_name(v) for v in model.weights]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: weight names are not unique ({names}); name every layer explicitly.")
    return model, prunable_groups(model)


@functools.lru_cache(maxsize=None)
def prunable_sizes(name: str, dataset: str) -> tuple[dict[str, str], dict[str, int]]:
    """(groups, number of weights) of each prunable kernel of `name` built for `dataset`,
    for planning (expected Pm per round) without the data (dropout has no weights)."""
    from tf_lottery.data.datasets import SHAPES

    input_shape, num_classes = SHAPES[dataset]
    model, groups = build_model(name, input_shape, num_classes)
    sizes = {n: int(v.shape.num_elements()) for n, v in keras_masks.masked_variables(model).items()}
    return groups, sizes


def initial_weights(model, seed: int) -> dict[str, np.ndarray]:
    """A fresh draw of every weight from its layer's own initializer.

    Each weight gets its own seed derived from `seed` and its name, so a draw depends only
    on (seed, architecture), never on construction order or global random state. Batch
    norm's moving statistics are weights too, so a run's start resets them.
    """
    weights = {}
    for layer in _layers(model):
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
    missing = {keras_masks.weight_name(v) for v in keras_masks.model_weights(model)} - set(weights)
    if missing:
        raise NotImplementedError(f"No initializer known for weights {sorted(missing)}.")
    return weights
