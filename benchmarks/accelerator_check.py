"""The check to run whenever a GPU or TPU is at hand: one command, about 8 minutes on one GPU.

    python benchmarks/accelerator_check.py --data-dir ../shared/data
    python benchmarks/accelerator_check.py --tiny --data-dir ../shared/data   # seconds, on a CPU (a test runs it)

Prints the devices; for Lenet-300-100, Conv-2 and ResNet-20 at the paper's batch sizes
(XLA as the package chooses it: on for everything on a GPU or TPU) the training steps/s and
the evaluation examples/s; then trains trial 0's iterative rounds 0 to `--rounds` of Lenet
at the paper's protocol, checks that every run's pruned weights are exactly zero as the
device left them, and compares each run's early-stop iteration and test accuracy with the
CPU's run of the same run hash in `results/fig4_lenet`'s ledger, against Lenet's noise
floor (`tf_lottery/paper/noise.py`). Record what it prints in docs/benchmarks.md. The last
line is `accelerator_check=ok` or `accelerator_check=failed (...)`.
"""
import argparse
import math
import tempfile
import time
from pathlib import Path

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
import numpy as np
import tensorflow as tf

from tf_lottery.config import DataConfig, TrainingConfig
from tf_lottery.data.datasets import load_for
from tf_lottery.execution.store import RunStore
from tf_lottery.execution.xla import use_xla
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import parse_figure
from tf_lottery.ledger.records import Ledger
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec
from tf_lottery.models.registry import build_model, initial_weights, model_spec
from tf_lottery.paper.noise import noise
from tf_lottery.presets import model_protocol
from tf_lottery.pruning import masks
from tf_lottery.training.trainer import Trainer, batch_indices

NETWORKS = ("lenet300_100", "conv2", "resnet20")
ROOT = Path(__file__).resolve().parents[1]


def devices() -> str:
    found = []
    for device in tf.config.list_physical_devices():
        details = tf.config.experimental.get_device_details(device) if device.device_type != "CPU" else {}
        found.append(f"{device.device_type} {details.get('device_name', device.name)}")
    return ", ".join(found)


def speed(network: str, data_dir, tiny: bool) -> tuple[float, float]:
    """(training steps/s, evaluation examples/s) of `network` at its protocol, unpruned."""
    fields = set(TrainingConfig.__dataclass_fields__)
    protocol = {k: v for k, v in model_protocol({"model": network}).items() if k in fields}
    steps = 5 if tiny else 100
    # The step is the protocol's; the schedule's drops do not change its speed.
    cfg = TrainingConfig(**{**protocol, "model": network, "steps_per_call": steps, "eval_every": steps,
                            "iterations": 100 * steps, "lr_drops": (), "eval_batch_size": 256 if tiny else 1000})
    data = load_for(DataConfig(dataset=model_spec(network).dataset, max_examples=256 if tiny else 0), data_dir)
    model, groups = build_model(network, data.train.x.shape[1:], data.num_classes)
    theta0 = initial_weights(model, 0)
    trainer = Trainer(model, data, cfg, tf.distribute.get_strategy(), jit=use_xla("auto", groups))
    trainer.reset(theta0, masks.full_mask(theta0, groups))
    def chunk(i):  # done when a weight it wrote is read back from the device
        trainer._train_chunk(batch_indices(trainer.n_train, cfg.batch_size, 0, steps * i, steps))
        model.trainable_variables[0].numpy()

    chunk(0)  # traces, compiles and warms up
    chunks = 1 if tiny else 10
    t0 = time.perf_counter()
    for i in range(1, chunks + 1):
        chunk(i)
    steps_per_s = steps * chunks / (time.perf_counter() - t0)
    trainer.evaluate("test")
    t0 = time.perf_counter()
    trainer.evaluate("test")
    return steps_per_s, len(data.test) / (time.perf_counter() - t0)


def lenet_study(data_dir, rounds: int, tiny: bool, store_root: Path) -> list[str]:
    """Train trial 0's iterative rounds 0..`rounds` of Lenet; the problems found, if any."""
    flags = ["--rounds", str(rounds), "--trials", "1", "--control-rounds", "", "--reinits", "0",
             "--random-sparse", "0", "--no-oneshot"] + (["--iterations", "200", "--max-examples", "2000"] if tiny else [])
    _, (cfg,) = parse_figure(FIG4, flags)
    experiment = LotteryExperiment(cfg, load_for(cfg.data, data_dir), RunStore(store_root, cfg.training.model, cfg))
    specs = [RunSpec(0, "iterative", r) for r in range(rounds + 1)]
    experiment.run(specs)
    problems = []
    ledger = Ledger.read(ROOT / "results" / "fig4_lenet")
    cpu = ledger.view(experiment.store.dir.name)
    for spec in specs:
        mask, final = experiment.store.arrays(spec.key, "mask"), experiment.store.arrays(spec.key, "final")
        if any(np.any(final[n][mask[n] == 0]) for n in mask):
            problems.append(f"{spec.key}: pruned weights are not zero")
        mine = experiment.store.metrics(spec.key)
        line = (f"{spec.key}: Pm {mine['pm']:.1f}%, early stop {mine['early_stop_iter']:,}, test accuracy "
                f"{100 * mine['test_acc_early_stop']:.2f}%")
        if cpu.has(spec.key):
            theirs = cpu.metrics(spec.key)
            gap = 100 * (mine["test_acc_early_stop"] - theirs["test_acc_early_stop"])
            log_ratio = math.log(mine["early_stop_iter"] / theirs["early_stop_iter"])
            within = abs(gap) <= 2 * noise("lenet300_100", "points") and \
                abs(log_ratio) <= 2 * noise("lenet300_100", "ratio")
            line += (f"; the CPU's ({theirs.get('trained_on', 'not recorded')}): early stop "
                     f"{theirs['early_stop_iter']:,}, {100 * theirs['test_acc_early_stop']:.2f}% "
                     f"({'within' if within else 'beyond'} twice the noise floor)")
            if not within:
                problems.append(f"{spec.key}: differs from the CPU's run beyond the noise")
        else:
            line += "; no CPU run of this run hash to compare with"
        print(line, flush=True)
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="Local data folder (mnist/, cifar10*/); default: TFDS.")
    parser.add_argument("--rounds", type=int, default=2, help="Lenet's iterative rounds after round 0 (default 2).")
    parser.add_argument("--tiny", action="store_true", help="Seconds on a CPU: a few steps, small data, 200 iterations.")
    args = parser.parse_args(argv)
    print(f"devices: {devices()}", flush=True)
    for network in NETWORKS:
        steps_per_s, examples_per_s = speed(network, args.data_dir, args.tiny)
        print(f"{network}: {steps_per_s:,.1f} training steps/s, {examples_per_s:,.0f} evaluation examples/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        problems = lenet_study(args.data_dir, 1 if args.tiny else args.rounds, args.tiny, Path(tmp))
    print("accelerator_check=" + ("ok" if not problems else f"failed ({'; '.join(problems)})"), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
