"""VGG-19 for CIFAR-10 (the variant of Liu et al. 2019 the paper uses, as in the authors'
later code, open_lth `cifar_vgg_19`): 3x3 same-padded convs 2x64, pool, 2x128, pool, 4x256,
pool, 4x512, pool, 4x512, each followed by batch norm and ReLU, then global average
pooling (2x2 -> 1x1) and the 10-way output. Convs have no bias (batch norm follows)."""
from __future__ import annotations

import tf_keras

from tf_lottery.models.layers import batch_norm, masked_conv, masked_dense
from tf_lottery.models.spec import DEEP_COST, DEEP_PAPER, DEEP_SMOKE, NO_DROPOUT_LAYERS, ModelSpec, compounded, deep_protocol

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


# 160 epochs of 703 steps at batch 64, drops after epochs 80 and 120; evaluated every 2 epochs.
SPEC = ModelSpec(
    "vgg19",
    lambda input_shape, num_classes, dropout, conv_dropout, sync_batch_norm: cifar_vgg(
        input_shape, num_classes, sync_batch_norm=sync_batch_norm),
    dataset="cifar10",
    display_name="VGG-19",
    protocol=deep_protocol(112_480, 64, (56_240, 84_360), eval_every=1406, steps_per_call=703),
    description="VGG-19 on CIFAR-10: convs 2x64, 2x128, 4x256, 4x512, 4x512 with batch norm, avg-pool, fc 10; "
                "SGD momentum 0.9, lr 0.1 (/10 after epochs 80, 120), weight decay 1e-4, batch 64, 112,480 "
                "iterations, flips + pad-and-crop; global pruning 20% of the conv weights per round, output "
                "unpruned",
    presets={
        "paper": DEEP_PAPER,
        # REDUCED: one trial; 1/100 of the schedule (1,125 iterations; drops at 562, 844;
        # warmup 100), evaluated every 375 (the paper's 30K/60K/112K); per round the rate
        # of five paper rounds (67.2%: Pm 100, 32.8, 10.8%); one reinit at the smallest Pm.
        "fast": {"trials": 1, "scale_iterations": 0.01, "eval_every": 375, "steps_per_call": 125, "rounds": 2,
                 "control_rounds": (2,), "reinits": 1, "oneshot": False, "conv_rate": compounded(0.2, 5)},
        "smoke": {**DEEP_SMOKE, "scale_iterations": 20 / 112_480, "batch_size": 8},  # its step costs 5x ResNet's
    },
    preset_cost=DEEP_COST,
    cpu_steps_per_second=0.8,
    no_dropout=NO_DROPOUT_LAYERS, no_conv_dropout=NO_DROPOUT_LAYERS,
)
