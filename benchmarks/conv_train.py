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

from tf_lottery.training.trainer import batch_indices

from measure import forward_flops, gemm_gflops, protocol_trainer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="conv2", choices=("conv2", "conv4", "conv6"))
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2).")
    parser.add_argument("--chunks", type=int, default=5, help="Timed chunks of 100 iterations (default 5).")
    args = parser.parse_args()
    trainer, model, cfg = protocol_trainer(args.model, args.data_dir, args.threads)
    chunk = lambda i: trainer._train_chunk(batch_indices(trainer.n_train, cfg.batch_size, 0, 100 * i, 100))

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
