"""VGG-19 for CIFAR-10 (the variant of Liu et al. 2019 the paper uses, as in the authors'
later code, open_lth `cifar_vgg_19`): 3x3 same-padded convs 2x64, pool, 2x128, pool, 4x256,
pool, 4x512, pool, 4x512, each followed by batch norm and ReLU, then global average
pooling (2x2 -> 1x1) and the 10-way output. Convs have no bias (batch norm follows)."""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import batch_norm, masked_conv, masked_dense

VGG19_PLAN = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, 256, "pool", 512, 512, 512, 512, "pool",
              512, 512, 512, 512)


def cifar_vgg(input_shape=(32, 32, 3), num_classes=10, plan=VGG19_PLAN, sync_batch_norm: bool = False,
              name: str = "vgg19"):
    layers, conv, pool = [tf_keras.layers.InputLayer(input_shape=input_shape, name="input")], 0, 0
    for item in plan:
        if item == "pool":
            pool += 1
            layers.append(tf_keras.layers.MaxPooling2D(2, name=f"pool{pool}"))
            continue
        conv += 1
        layers += [masked_conv(item, 3, f"conv{conv}", activation=None, use_bias=False),
                   batch_norm(f"conv{conv}_bn", sync_batch_norm), tf_keras.layers.ReLU(name=f"conv{conv}_relu")]
    layers += [tf_keras.layers.GlobalAveragePooling2D(name="avgpool"), masked_dense(num_classes, None, "output")]
    return tf_keras.Sequential(layers, name=name)
