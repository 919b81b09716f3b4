"""In-graph data augmentation, seeded per run and step (stateless, so a run's draws depend
only on its seed and the global step: not on chunking, workers or earlier runs)."""
from __future__ import annotations

import tensorflow as tf

PAD = 4  # the paper's 4-pixel padding before random 32x32 crops


def pad_crop_flip(x, seed, first=0, global_batch=None):
    """Per example: zero-pad by PAD, crop back to the input size at a random offset, and
    flip horizontally with probability 1/2. `seed` is a stateless seed, shape [2].

    The draws are made for the whole global batch (`global_batch` examples, default
    `x`'s) and rows [first, first + len(x)) used, so that replicas, each holding a slice
    of the batch, augment exactly as one device does."""
    n, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    total = n if global_batch is None else global_batch
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    offsets = tf.random.stateless_uniform([total, 2], crop_seed, 0, 2 * PAD + 1, dtype=tf.int32)[first:first + n]
    padded = tf.pad(x, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
    rows = offsets[:, :1] + tf.range(height)[None]
    cols = offsets[:, 1:] + tf.range(width)[None]
    x = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    flip = (tf.random.stateless_uniform([total], flip_seed) < 0.5)[first:first + n]
    return tf.where(flip[:, None, None, None], tf.reverse(x, [2]), x)
