"""Conv-2 training speed on this CPU against the machine's dense GEMM throughput, and the
cost of the paper protocol's evaluations.

Measures, in one process and one run (compare numbers only within a run):
- dense GEMM GFLOP/s (float32 2048x2048 matmuls, the same thread count);
- Conv-2 training steps/s at batch 60 (plain `tf.function`, oneDNN; XLA is off for conv
  nets on a CPU, see tf_lottery/execution/xla.py), and the achieved training GFLOP/s
  (3x the forward FLOPs, counted from the layer shapes);
- eval_overhead: the extra time of evaluating the validation set every 100 iterations
  (what the package does: test accuracy is read lazily) over pure training; the paper's
  validation-and-test curves (what a figure asks for only for the runs it plots) are
  printed as well.

    python benchmarks/conv_train.py --data-dir ../shared/data [--model conv4] [--threads 2]

Prints, last: conv2_steps_per_s=<x> peak_fraction=<y> eval_overhead=<z>
"""
import argparse
import time

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import numpy as np
import tensorflow as tf
import tf_keras

from tf_lottery.cli import model_protocol
from tf_lottery.config import TrainingConfig
from tf_lottery.data.datasets import load_dataset
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.pruning import masks
from tf_lottery.training.trainer import Trainer, batch_indices


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="conv2", choices=("conv2", "conv4", "conv6"))
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2).")
    parser.add_argument("--chunks", type=int, default=5, help="Timed chunks of 100 iterations (default 5).")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    protocol = model_protocol({"model": args.model})
    cfg = TrainingConfig(model=args.model, **{k: v for k, v in protocol.items()
                                              if k in TrainingConfig.__dataclass_fields__}, eval_batch_size=1000)
    data = load_dataset("cifar10", args.data_dir)
    model, groups = build_model(args.model, data.train.x.shape[1:], 10)
    theta0 = initial_weights(model, 0)
    mask = masks.full_mask(theta0, groups)
    trainer = Trainer(model, data, cfg, tf.distribute.get_strategy(), jit=False)
    trainer.reset(theta0, mask)
    chunk = lambda i: trainer._train_chunk(batch_indices(len(data.train), cfg.batch_size, 0, 100 * i, 100))

    gemm = gemm_gflops()
    chunk(0), trainer.evaluate("validation"), trainer.evaluate("test")  # trace and warm up
    timings = {}
    for name, splits in (("train", ()), ("validation", ("validation",)), ("validation+test", ("validation", "test"))):
        t0 = time.perf_counter()
        for i in range(1, args.chunks + 1):
            chunk(i)
            for split in splits:
                trainer.evaluate(split)
        timings[name] = time.perf_counter() - t0
    steps_per_s = 100 * args.chunks / timings["train"]
    train_gflops = 3 * forward_flops(model) * cfg.batch_size * steps_per_s / 1e9
    overhead = timings["validation"] / timings["train"] - 1
    print(f"{args.model}: {steps_per_s:.1f} training steps/s at batch {cfg.batch_size}, {train_gflops:.0f} GFLOP/s; "
          f"dense GEMM {gemm:.0f} GFLOP/s; {args.threads} thread(s)")
    print(f"evaluation overhead over pure training: validation every 100 iterations {overhead:.2f}, "
          f"validation and test every 100 iterations {timings['validation+test'] / timings['train'] - 1:.2f}")
    print(f"{args.model}_steps_per_s={steps_per_s:.2f} peak_fraction={train_gflops / gemm:.2f} "
          f"eval_overhead={overhead:.2f}")


if __name__ == "__main__":
    main()
