"""The paper's "Resnet-18": the 20-layer CIFAR-10 ResNet of He et al. (2016), as in the
authors' later code (open_lth `cifar_resnet_20`): a 16-filter 3x3 conv, three stages of
three basic blocks (16, 32, 64 filters; the first block of stages 2 and 3 halves the
resolution with stride 2), a 1x1 conv shortcut with batch norm where the shape changes,
global average pooling and the 10-way output. Convs have no bias (batch norm follows).

Every conv kernel is masked; the shortcut kernels (`*_shortcut/kernel`, 2,560 weights) are
kept unpruned by the protocol's `--ignore '*shortcut*'` and the output by its rate 0, so
Pm counts them as the paper does.
"""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import batch_norm, masked_conv, masked_dense
from tf_lottery.models.spec import DEEP_COST, DEEP_PAPER, DEEP_SMOKE, NO_DROPOUT_LAYERS, ModelSpec, compounded, deep_protocol


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, sync: bool, relu: bool = True):
    x = masked_conv(filters, kernel, name, activation=None, strides=stride, use_bias=False)(x)
    x = batch_norm(f"{name}_bn", sync)(x)
    return tf_keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def cifar_resnet(input_shape=(32, 32, 3), num_classes=10, depth: int = 20, width: int = 16,
                 sync_batch_norm: bool = False, name: str = "resnet20"):
    if (depth - 2) % 6:
        raise ValueError(f"A CIFAR ResNet has depth 6n + 2, got {depth}.")
    blocks = (depth - 2) // 6
    inputs = tf_keras.Input(input_shape, name="input")
    x = _conv_bn(inputs, width, 3, 1, "conv", sync_batch_norm)
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        for block in range(1, blocks + 1):
            prefix = f"stage{stage}_block{block}"
            stride = 2 if stage > 1 and block == 1 else 1
            y = _conv_bn(x, filters, 3, stride, f"{prefix}_conv1", sync_batch_norm)
            y = _conv_bn(y, filters, 3, 1, f"{prefix}_conv2", sync_batch_norm, relu=False)
            if stride != 1 or x.shape[-1] != filters:
                x = _conv_bn(x, filters, 1, stride, f"{prefix}_shortcut", sync_batch_norm, relu=False)
            x = tf_keras.layers.ReLU(name=f"{prefix}_relu")(tf_keras.layers.Add(name=f"{prefix}_add")([y, x]))
    x = tf_keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return tf_keras.Model(inputs, masked_dense(num_classes, None, "output")(x), name=name)


# 30K iterations at batch 128, drops at 20K and 25K; the 2,560 shortcut weights unpruned.
SPEC = ModelSpec(
    "resnet20",
    lambda input_shape, num_classes, dropout, conv_dropout, sync_batch_norm: cifar_resnet(
        input_shape, num_classes, sync_batch_norm=sync_batch_norm),
    dataset="cifar10",
    display_name="ResNet-20",
    protocol=deep_protocol(30_000, 128, (20_000, 25_000), eval_every=1000, steps_per_call=100,
                           ignore=("*shortcut*",)),
    description="ResNet-20 (the paper's 'Resnet-18') on CIFAR-10: 16-filter conv, 3 stages x 3 basic blocks "
                "(16/32/64), batch norm, avg-pool, fc 10; SGD momentum 0.9, lr 0.1 (/10 at 20K, 25K), weight "
                "decay 1e-4, batch 128, 30K iterations, flips + pad-and-crop; global pruning 20% of the conv "
                "weights per round, 1x1 shortcuts and output unpruned",
    presets={
        "paper": DEEP_PAPER,
        # REDUCED: one trial; 1/25 of the schedule (1,200 iterations; drops at 800, 1,000;
        # warmup 800), evaluated every 400 (the paper's 10K/20K/30K); per round the rate of
        # three paper rounds (48.8%: Pm 100, 51.8, 27.1%); one reinit at the smallest Pm.
        "fast": {"trials": 1, "scale_iterations": 1 / 25, "eval_every": 400, "rounds": 2, "control_rounds": (2,),
                 "reinits": 1, "oneshot": False, "conv_rate": compounded(0.2, 3)},
        "smoke": {**DEEP_SMOKE, "scale_iterations": 20 / 30_000},
    },
    preset_cost=DEEP_COST,
    cpu_steps_per_second=3.0,
    no_dropout=NO_DROPOUT_LAYERS, no_conv_dropout=NO_DROPOUT_LAYERS,
)
