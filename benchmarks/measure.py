"""What the benchmarks share: a model's trainer at its paper protocol, and what speed is
measured against: the machine's dense GEMM throughput and the model's forward FLOPs."""
import dataclasses
import time

import numpy as np
import tensorflow as tf
import tf_keras


def gemm_gflops(size: int = 2048, repeats: int = 20) -> float:
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    step = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    step()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step().numpy()
    return 2 * size ** 3 * repeats / (time.perf_counter() - t0) / 1e9


def forward_flops(model) -> float:
    """Multiply-adds x 2 of every conv and dense layer for one example."""
    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, tf_keras.layers.Conv2D):
            _, h, w, c_out = layer.output_shape
            kh, kw, c_in, _ = layer.kernel.shape
            flops += 2.0 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, tf_keras.layers.Dense):
            flops += 2.0 * np.prod(layer.kernel.shape)
    return flops


def protocol_trainer(model_name: str, data_dir, threads: int, **overrides):
    """(trainer, model, config) of `model_name` at its paper protocol, unpruned, at theta_0,
    with TensorFlow capped at `threads` threads (before anything runs)."""
    from tf_lottery.presets import model_protocol
    from tf_lottery.config import TrainingConfig
    from tf_lottery.data.datasets import load_dataset
    from tf_lottery.models.registry import build_model, initial_weights
    from tf_lottery.pruning import masks
    from tf_lottery.training.trainer import Trainer

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    protocol = {k: v for k, v in model_protocol({"model": model_name}).items() if k in fields}
    # Timed in chunks of 100 steps, which must divide the run (VGG-19's 112,480 iterations
    # do not); the length of the run does not change a step's speed.
    cfg = TrainingConfig(**{**protocol, "model": model_name, "eval_batch_size": 1000, "steps_per_call": 100,
                            "eval_every": 100, "iterations": protocol["iterations"] // 100 * 100, **overrides})
    data = load_dataset("cifar10", data_dir)
    model, groups = build_model(model_name, data.train.x.shape[1:], 10)
    theta0 = initial_weights(model, 0)
    trainer = Trainer(model, data, cfg, tf.distribute.get_strategy(), jit=False)
    trainer.reset(theta0, masks.full_mask(theta0, groups))
    return trainer, model, cfg


def steps_per_second(trainer, cfg, chunks: int) -> float:
    """Training steps/s over `chunks` compiled calls of `cfg.steps_per_call` steps, after one
    call that traces and warms up."""
    from tf_lottery.training.trainer import batch_indices

    steps = cfg.steps_per_call
    chunk = lambda i: trainer._train_chunk(batch_indices(trainer.n_train, cfg.batch_size, 0, steps * i, steps))
    chunk(0)
    t0 = time.perf_counter()
    for i in range(1, chunks + 1):
        chunk(i)
    return steps * chunks / (time.perf_counter() - t0)
