"""The model registry: each network with its data set and its paper protocol.

A `ModelSpec` holds a builder and the protocol of the paper's Figure 2 for that network
(optimizer, learning rate, schedule, batch size, iterations, evaluation cadence, pruning
rates and scope, what is never pruned), as overrides of the config fields; `cli` applies
them before the preset and the explicit flags. Prunable weights are found, not listed:
every conv or dense kernel carrying a `MaskConstraint`, in nested blocks too, is in group
`conv` or `fc`, and the kernel of the last dense layer is in group `output`.

To add a model: write a builder (explicitly named layers; `layers.masked_conv` /
`masked_dense` for prunable kernels) and register it in `MODELS` with its protocol (and,
if it has no layers for --dropout or --conv-dropout, why: `no_dropout`, `no_conv_dropout`).
Runs are identified by the network's name and settings, not its code: a changed
architecture needs a new name (or, for a paper network, a `RUN_SCHEMA` bump).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tf_keras

from tf_lottery.models import keras_masks
from tf_lottery.models.conv import CONV_BLOCKS, conv_net
from tf_lottery.models.lenet import lenet
from tf_lottery.models.resnet import cifar_resnet
from tf_lottery.models.vgg import cifar_vgg
from tf_lottery.seeds import derive_seed

_INITIALIZER_ATTRS = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


@dataclass(frozen=True)
class ModelSpec:
    # (input_shape, num_classes, dropout, conv_dropout, sync_batch_norm) -> uncompiled tf_keras model;
    # sync_batch_norm: batch-norm statistics over the global batch of a multi-replica strategy.
    build: Callable
    dataset: str
    display_name: str  # as the paper names it in figures ("Conv-2")
    protocol: dict = field(default_factory=dict)  # config field -> value, from the paper's Figure 2
    description: str = ""
    dropout_protocol: dict = field(default_factory=dict)  # what changes when trained with dropout
    # Training steps/s (validation every 100 included) of one single-threaded worker on
    # the 2-core development CPU (a Zen 3 day): only the first time estimate of a study.
    cpu_steps_per_second: float = 1000.0
    # Why the network takes no dropout after its fc layers (--dropout) or its conv blocks
    # (--conv-dropout); None where it has those layers.
    no_dropout: str | None = None
    no_conv_dropout: str | None = None

    def check_dropout(self, name: str, dropout: float, conv_dropout: float) -> None:
        """Refuse dropout the network has no layers for (a setting, checked before any run)."""
        for flag, rate, why in (("--dropout", dropout, self.no_dropout),
                                ("--conv-dropout", conv_dropout, self.no_conv_dropout)):
            if rate and why:
                raise ValueError(f"{name} {why}: {flag} must be 0.")


def _lenet(input_shape, num_classes, dropout, conv_dropout, sync_batch_norm):
    return lenet(input_shape, num_classes, (300, 100), dropout)  # no batch norm to synchronize


def _without_dropout(builder):
    """A batch-norm network the paper trains without dropout."""
    def build(input_shape, num_classes, dropout, conv_dropout, sync_batch_norm):
        return builder(input_shape, num_classes, sync_batch_norm=sync_batch_norm)
    return build


_NO_DROPOUT_LAYERS = "has no dropout layers (the paper trains it without)"


def _deep_protocol(iterations: int, batch_size: int, lr_drops: tuple, eval_every: int, steps_per_call: int,
                   ignore: tuple = ()) -> dict:
    """VGG-19 and ResNet-20 (the paper's Figure 2 and section 4): SGD with momentum 0.9 and
    weight decay 1e-4, learning rate 0.1 divided by 10 at the drops, flips and pad-and-crop,
    global pruning of 20% of the conv weights per round, output not pruned, no early
    stopping (accuracy at fixed iterations, evaluated every `eval_every`)."""
    return {"dataset": "cifar10", "iterations": iterations, "batch_size": batch_size, "optimizer": "momentum",
            "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "lr_drops": lr_drops, "augment": True,
            "eval_every": eval_every, "steps_per_call": steps_per_call, "eval_batch_size": 1000,
            "conv_rate": 0.2, "fc_rate": 0.0, "output_rate": 0.0, "scope": "global", "global_groups": ("conv",),
            "ignore": ignore}


def _conv_spec(name: str, lr: float, iterations: int, conv_rate: float, dropout_lr: float,
               cpu_steps_per_second: float) -> ModelSpec:
    blocks = CONV_BLOCKS[name]
    return ModelSpec(
        lambda input_shape, num_classes, dropout, conv_dropout, sync_batch_norm: conv_net(
            input_shape, num_classes, blocks, dropout, conv_dropout, name),
        dataset="cifar10",
        display_name=f"Conv-{len(blocks) * 2}",
        protocol={"dataset": "cifar10", "iterations": iterations, "batch_size": 60, "optimizer": "adam",
                  "learning_rate": lr, "eval_every": 100, "conv_rate": conv_rate, "fc_rate": 0.2,
                  "output_rate": 0.1, "scope": "layerwise", "eval_batch_size": 1000},
        dropout_protocol={"iterations": 3 * iterations, "learning_rate": dropout_lr},
        description=f"{name.capitalize()}-{len(blocks) * 2} on CIFAR-10: convs {'-'.join(f'{f}x2' for f in blocks)}, fc 256-256-10, "
                    f"Adam {lr:g}, batch 60, {iterations // 1000}K iterations, conv {conv_rate:.0%} / fc 20% / "
                    f"output 10% per round, layer-wise; with dropout {3 * iterations // 1000}K iterations at "
                    f"{dropout_lr:g}",
        cpu_steps_per_second=cpu_steps_per_second,
    )


MODELS: dict[str, ModelSpec] = {
    "lenet300_100": ModelSpec(
        _lenet,
        dataset="mnist",
        display_name="Lenet",
        protocol={"dataset": "mnist", "iterations": 50_000, "batch_size": 60, "optimizer": "adam",
                  "learning_rate": 1.2e-3, "eval_every": 100, "fc_rate": 0.2, "output_rate": 0.1,
                  "scope": "layerwise"},
        description="Lenet-300-100 on MNIST: fc 300-100-10, Adam 1.2e-3, batch 60, 50K iterations, "
                    "fc 20% / output 10% per round, layer-wise",
        no_conv_dropout="has no conv layers",
    ),
    "conv2": _conv_spec("conv2", 2e-4, 20_000, 0.10, dropout_lr=3e-4, cpu_steps_per_second=3.5),
    "conv4": _conv_spec("conv4", 3e-4, 25_000, 0.10, dropout_lr=2e-4, cpu_steps_per_second=2.0),
    "conv6": _conv_spec("conv6", 3e-4, 30_000, 0.15, dropout_lr=2e-4, cpu_steps_per_second=1.4),
    # 30K iterations at batch 128, drops at 20K and 25K; the 2,560 shortcut weights unpruned.
    "resnet20": ModelSpec(
        _without_dropout(cifar_resnet),
        dataset="cifar10",
        display_name="ResNet-20",
        protocol=_deep_protocol(30_000, 128, (20_000, 25_000), eval_every=1000, steps_per_call=100,
                                ignore=("*shortcut*",)),
        description="ResNet-20 (the paper's 'Resnet-18') on CIFAR-10: 16-filter conv, 3 stages x 3 basic blocks "
                    "(16/32/64), batch norm, avg-pool, fc 10; SGD momentum 0.9, lr 0.1 (/10 at 20K, 25K), weight "
                    "decay 1e-4, batch 128, 30K iterations, flips + pad-and-crop; global pruning 20% of the conv "
                    "weights per round, 1x1 shortcuts and output unpruned",
        cpu_steps_per_second=3.0,
        no_dropout=_NO_DROPOUT_LAYERS, no_conv_dropout=_NO_DROPOUT_LAYERS,
    ),
    # 160 epochs of 703 steps at batch 64, drops after epochs 80 and 120; evaluated every 2 epochs.
    "vgg19": ModelSpec(
        _without_dropout(cifar_vgg),
        dataset="cifar10",
        display_name="VGG-19",
        protocol=_deep_protocol(112_480, 64, (56_240, 84_360), eval_every=1406, steps_per_call=703),
        description="VGG-19 on CIFAR-10: convs 2x64, 2x128, 4x256, 4x512, 4x512 with batch norm, avg-pool, fc 10; "
                    "SGD momentum 0.9, lr 0.1 (/10 after epochs 80, 120), weight decay 1e-4, batch 64, 112,480 "
                    "iterations, flips + pad-and-crop; global pruning 20% of the conv weights per round, output "
                    "unpruned",
        cpu_steps_per_second=0.8,
        no_dropout=_NO_DROPOUT_LAYERS, no_conv_dropout=_NO_DROPOUT_LAYERS,
    ),
}


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
    spec.check_dropout(name, dropout, conv_dropout)
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
    missing = {keras_masks.weight_name(v) for v in model.weights} - set(weights)
    if missing:
        raise NotImplementedError(f"No initializer known for weights {sorted(missing)}.")
    return weights
