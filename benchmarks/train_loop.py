"""Time the compiled training loop against plain Keras `fit` + `evaluate` on masked Lenet.

Both train the same masked Lenet-300-100 for the same iterations at batch 60 with Adam,
evaluating validation and test sets every 100 iterations. The Keras loop is timed twice:
plain (Keras' defaults, `evaluate` at its default batch of 32) and with evaluation in
batches of 1,000. Prints both ratios; then `lazy_eval_speedup=<z>`: a paper-protocol Lenet
run (50K iterations, validation every 100) that evaluates the test set only where a figure
reads it (at the end and at the early-stop iteration) against one recording the test curve
every 100 iterations; and, as the last line, `speedup_vs_keras_fit=<x> steps_per_s=<y>`
(x against the plain loop; y for the compiled loop, evaluation included). Run it on an
otherwise idle machine:

    python benchmarks/train_loop.py --data-dir ../shared/data
"""
import argparse
import time

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf
import tf_keras

from tf_lottery.models import keras_masks

from tf_lottery.pruning import masks

from tf_lottery.pruning import rules as pruning
from tf_lottery.config import TrainingConfig
from tf_lottery.data.datasets import load_dataset
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.training.schedules import make_optimizer
from tf_lottery.training.trainer import Trainer


def masked_lenet(dataset, seed):
    with tf.distribute.get_strategy().scope():
        model, groups = build_model("lenet300_100", dataset.train.x.shape[1:], 10)
    theta0 = initial_weights(model, seed)
    mask = pruning.random_pruning(masks.full_mask(theta0, groups), {n: 0.5 for n in groups}, seed)
    return model, masks.apply(theta0, mask), mask


def time_compiled_loop(dataset, cfg, test_curve=True):
    model, start, mask = masked_lenet(dataset, 0)
    trainer = Trainer(model, dataset, cfg, tf.distribute.get_strategy())
    trainer.train(start, mask, order_seed=0, test_curve=test_curve)  # warm-up: traces and compiles
    t0 = time.perf_counter()
    trainer.train(start, mask, order_seed=1, test_curve=test_curve)
    return time.perf_counter() - t0


def time_keras_fit(dataset, cfg, eval_batch_size=None):
    model, start, mask = masked_lenet(dataset, 0)
    keras_masks.set_masks(model, mask)
    keras_masks.set_weights(model, start)
    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.adam_epsilon)
    model.compile(optimizer, tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    train = (tf.data.Dataset.from_tensor_slices((dataset.train.x, dataset.train.y))
             .shuffle(len(dataset.train), reshuffle_each_iteration=True).batch(cfg.batch_size, drop_remainder=True)
             .repeat())
    chunks = cfg.iterations // cfg.eval_every

    def run(n_chunks):
        for _ in range(n_chunks):
            model.fit(train, steps_per_epoch=cfg.eval_every, epochs=1, verbose=0)
            model.evaluate(dataset.validation.x, dataset.validation.y, batch_size=eval_batch_size, verbose=0)
            model.evaluate(dataset.test.x, dataset.test.y, batch_size=eval_batch_size, verbose=0)

    run(1)  # warm-up
    t0 = time.perf_counter()
    run(chunks)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="Local data folder (holding mnist/); default: TFDS.")
    parser.add_argument("--iterations", type=int, default=5000, help="Iterations timed per loop.")
    parser.add_argument("--lazy-iterations", type=int, default=50_000,
                        help="Iterations of each run of the lazy-evaluation comparison (paper: 50,000).")
    args = parser.parse_args(argv)
    dataset = load_dataset("mnist", args.data_dir)
    cfg = TrainingConfig(iterations=args.iterations)
    fast = time_compiled_loop(dataset, cfg)
    tuned = time_keras_fit(dataset, cfg, eval_batch_size=1000)
    plain = time_keras_fit(dataset, cfg)
    print(f"{cfg.iterations} iterations, evaluation every {cfg.eval_every}: compiled loop {fast:.1f} s, "
          f"Keras fit+evaluate {plain:.1f} s (evaluating in batches of 1,000: {tuned:.1f} s)")
    print(f"speedup against Keras with batched evaluation: {tuned / fast:.2f}")
    paper = TrainingConfig(iterations=args.lazy_iterations)
    curves, lazy = time_compiled_loop(dataset, paper), time_compiled_loop(dataset, paper, test_curve=False)
    print(f"{paper.iterations} iterations: with test curves {curves:.1f} s, test only where read {lazy:.1f} s")
    print(f"lazy_eval_speedup={curves / lazy:.2f}")
    print(f"speedup_vs_keras_fit={plain / fast:.2f} steps_per_s={cfg.iterations / fast:.0f}")


if __name__ == "__main__":
    main()
