"""TFLite file sizes of a Lenet-300-100 ticket, dense against sparse-encoded
(`Optimize.EXPERIMENTAL_SPARSITY`), at the paper's Pm levels 100%, 21.1% and 3.6%
(iterative rounds 0, 7 and 15: fc layers 20% a round, the output 10%). The masks are
magnitude masks of a fresh initialization with the trunk's exact per-layer counts; the
file size depends on the counts, not on which weights survive.

    python benchmarks/tflite_sizes.py

Prints one line per level: pm=<x> dense_bytes=<d> sparse_bytes=<s> ratio=<s/d>
"""
import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tf_lottery.config import ExperimentConfig
from tf_lottery.models import keras_masks, portable
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.pruning.strategies import PruningPlan


def main() -> None:
    cfg = ExperimentConfig()
    model, groups = build_model("lenet300_100", (28, 28, 1), 10)
    plan = PruningPlan.from_config(cfg.pruning, groups)
    weights = initial_weights(model, 0)
    mask = {name: weights[name] * 0 + 1 for name in groups}
    for rnd in range(16):
        if rnd in (0, 7, 15):
            keras_masks.set_masks(model, mask)
            keras_masks.set_weights(model, {n: v * mask[n] if n in mask else v for n, v in weights.items()})
            pm = 100 * sum(m.sum() for m in mask.values()) / sum(m.size for m in mask.values())
            dense = len(portable.to_tflite(model, sparse=False))
            sparse = len(portable.to_tflite(model))
            print(f"pm={pm:.1f} dense_bytes={dense} sparse_bytes={sparse} ratio={sparse / dense:.3f}", flush=True)
        mask = plan.prune(weights, mask, seed=rnd)


if __name__ == "__main__":
    main()
