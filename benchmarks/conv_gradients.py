"""Training speed of each CIFAR-10 network with the package's conv layers against the
same layers with TensorFlow's own convolution gradient.

The package's stride-1 same-padded conv layers (`tf_lottery.models.layers.same_conv`)
compute the input gradient as a forward convolution (dy with the flipped, channel-swapped
kernel); TensorFlow's `Conv2DBackpropInput` computes the same values, on some CPUs far
more slowly. Measured in one process and one run (compare numbers only within a run):
training steps/s at each network's paper protocol (batch, optimizer, augmentation), both
ways, and their ratio.

    python benchmarks/conv_gradients.py --data-dir ../shared/data [--models conv4,vgg19] [--threads 2]

Prints, last: speedup conv2=<x> conv4=<x> conv6=<x> resnet20=<x> vgg19=<x>
"""
import argparse

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tf_keras

from tf_lottery.models.layers import MaskedConv2D

from measure import protocol_trainer, steps_per_second

MODELS = ("conv2", "conv4", "conv6", "resnet20", "vgg19")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"Comma-separated networks (default: all of {', '.join(MODELS)}).")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2).")
    parser.add_argument("--steps", type=int, default=10, help="Training steps per timed chunk (default 10).")
    parser.add_argument("--chunks", type=int, default=2, help="Timed chunks per measurement (default 2).")
    args = parser.parse_args()
    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")

    package_op = MaskedConv2D.convolution_op
    speedups = {}
    for name in models:
        timed = {}
        for way, op in (("tensorflow", tf_keras.layers.Conv2D.convolution_op), ("package", package_op)):
            MaskedConv2D.convolution_op = op  # the layers' op as they are built (a fresh model each time)
            trainer, _, cfg = protocol_trainer(name, args.data_dir, args.threads, steps_per_call=args.steps)
            timed[way] = steps_per_second(trainer, cfg, args.chunks)
        MaskedConv2D.convolution_op = package_op
        speedups[name] = timed["package"] / timed["tensorflow"]
        print(f"{name}: {timed['package']:.2f} training steps/s with the package's conv layers, "
              f"{timed['tensorflow']:.2f} with TensorFlow's conv gradient: {speedups[name]:.2f}x; "
              f"{args.threads} thread(s)", flush=True)
    print("speedup " + " ".join(f"{name}={s:.2f}" for name, s in speedups.items()))


if __name__ == "__main__":
    main()
