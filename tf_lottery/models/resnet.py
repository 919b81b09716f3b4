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
