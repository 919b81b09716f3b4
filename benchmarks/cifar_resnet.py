"""ResNet-20 (or VGG-19) training speed on this CPU at the paper's protocol (batch 128,
augmentation on), against the machine's dense GEMM throughput.

Measures, in one process and one run (compare numbers only within a run):
- dense GEMM GFLOP/s (float32 2048x2048 matmuls, the same thread count);
- training steps/s with augmentation (the protocol) and without, and the achieved
  training GFLOP/s (3x the forward FLOPs of the conv and dense layers);
- what limits it: the share of a step spent in augmentation, and the GFLOP/s of a
  training-mode forward pass alone against the whole step's. ResNet-20's convolutions
  have 16-64 channels (small GEMMs that use the cores poorly) and between them batch
  norm, ReLU and residual adds: memory-bound work that counts no FLOPs.

    python benchmarks/cifar_resnet.py --data-dir ../shared/data [--model vgg19] [--threads 2]

Prints, last: resnet20_steps_per_s=<x> peak_fraction=<y>
"""
import argparse
import time

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf

from measure import forward_flops, gemm_gflops, protocol_trainer, steps_per_second


LIMITS = {"resnet20": "Convolutions of 16-64 channels use GEMM poorly, and batch norm, ReLU and the residual adds are "
                      "memory-bound work that counts no FLOPs.",
          "vgg19": "Convolutions of 64-512 channels are large GEMMs; oneDNN's convolution kernels can outrun the "
                   "2048x2048 matmul measured here, so the fraction can pass 1."}


def forward_seconds(model, batch, repeats: int = 5) -> float:
    """Seconds of one training-mode forward pass (batch norm on batch statistics)."""
    x = tf.random.uniform((batch, 32, 32, 3))
    forward = tf.function(lambda: model(x, training=True))
    forward()
    t0 = time.perf_counter()
    for _ in range(repeats):
        forward().numpy()
    return (time.perf_counter() - t0) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="resnet20", choices=("resnet20", "vgg19"))
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2).")
    parser.add_argument("--chunks", type=int, default=3, help="Timed chunks of 100 iterations (default 3).")
    args = parser.parse_args()

    trainer, model, cfg = protocol_trainer(args.model, args.data_dir, args.threads)
    plain, _, _ = protocol_trainer(args.model, args.data_dir, args.threads, augment=False)
    gemm = gemm_gflops()
    with_aug = steps_per_second(trainer, cfg, args.chunks)
    without_aug = steps_per_second(plain, cfg, args.chunks)
    flops = forward_flops(model)
    forward = forward_seconds(model, cfg.batch_size)
    train_gflops = 3 * flops * cfg.batch_size * with_aug / 1e9
    forward_gflops = flops * cfg.batch_size / forward / 1e9
    print(f"{args.model}: {with_aug:.2f} training steps/s at batch {cfg.batch_size} with augmentation "
          f"({without_aug:.2f} without: augmentation costs {1 - with_aug / without_aug:.0%} of a step); "
          f"{train_gflops:.0f} training GFLOP/s; dense GEMM {gemm:.0f} GFLOP/s; {args.threads} thread(s)")
    print(f"forward pass alone: {forward_gflops:.0f} GFLOP/s ({forward_gflops / gemm:.2f} of GEMM), the whole "
          f"training step {train_gflops / gemm:.2f}. {LIMITS[args.model]}")
    print(f"{args.model}_steps_per_s={with_aug:.2f} peak_fraction={train_gflops / gemm:.2f}")


if __name__ == "__main__":
    main()
