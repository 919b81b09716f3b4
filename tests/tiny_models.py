"""A tiny conv net with a nested residual block and batch norm, registered for tests only."""
import tensorflow as tf
import tf_keras

from tf_lottery.models.layers import RunSeededDropout, masked_conv, masked_dense
from tf_lottery.models.spec import ModelSpec


class Block(tf_keras.layers.Layer):
    def __init__(self, filters, **kw):
        super().__init__(**kw)
        self.conv = masked_conv(filters, 3, "conv", activation=None)
        self.bn = tf_keras.layers.BatchNormalization(name="bn")
        self.shortcut = masked_conv(filters, 1, "shortcut", activation=None)

    def call(self, x, training=None):
        return tf.nn.relu(self.bn(self.conv(x), training=training) + self.shortcut(x))


def tiny_conv(input_shape, num_classes, dropout, conv_dropout=0.0, sync_batch_norm=False):
    inputs = tf_keras.Input(input_shape)
    x = Block(4, name="block1")(inputs)
    if conv_dropout:
        x = RunSeededDropout(conv_dropout, name="block1_dropout")(x)
    x = tf_keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = masked_dense(16, "relu", "fc1")(x)
    if dropout:
        x = RunSeededDropout(dropout, name="dropout1")(x)
    return tf_keras.Model(inputs, masked_dense(num_classes, None, "output")(x), name="tiny_conv")


TINY_CONV = ModelSpec("tiny_conv", tiny_conv, dataset="mnist", display_name="Tiny conv", protocol={"dataset": "mnist"})
