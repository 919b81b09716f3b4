"""Command-line flags generated from the config dataclasses, and the options of a run that
are not configuration (`RunOptions`). The flags' values are composed into configurations
by `presets.py`: defaults, the network's protocol, the figure's preset, then the flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os

from tf_lottery.execution.xla import XLA_CHOICES
from tf_lottery.config import DataConfig, PruningConfig, StudyConfig, TrainingConfig
from tf_lottery.presets import Epochs, changed_settings, compose, flag, select_variants

SCRATCH_PRESET = "smoke"  # for tests and trying flags: results/smoke by default, freely replaced
LOTTERY_SECTIONS = {"data": DataConfig, "training": TrainingConfig, "pruning": PruningConfig, "study": StudyConfig}


@dataclasses.dataclass
class RunOptions:
    """How a figure's script runs, apart from the configuration (never part of a run's
    identity): where results and runs go, which ledgers it reuses, and where runs train."""

    preset: str = "paper"
    results: str = "results"
    store: str = "runs"
    data_dir: str | None = None
    overwrite: bool = False
    add_to_results: bool = False  # offered by figures that compare settings
    ledgers: list = dataclasses.field(default_factory=list)  # --from DIR, repeatable
    report_only: bool = False
    plan: bool = False
    workers: int = 1
    threads_per_worker: int = 1
    gpus_per_worker: float = 0.0
    ray_address: str | None = None
    strategy: str = "default"  # tf.distribute, for kinds of study that offer it
    tpu: str | None = None
    xla: str = "auto"
    tensorboard: str | None = None  # a folder for TensorBoard scalars of every run trained
    changed: dict = dataclasses.field(default_factory=dict)  # flags that changed the preset's settings
    command: str = ""  # the equivalent command line, as run.json records it (also when called from Python)

    EXECUTION = ("workers", "threads_per_worker", "gpus_per_worker", "ray_address", "strategy", "tpu", "xla",
                 "tensorboard")

    def execution(self) -> dict:
        """The execution flags, as run.json records them."""
        return {k: getattr(self, k) for k in self.EXECUTION}


def steps(text: str) -> int | Epochs:
    """A flag counting iterations: `5000` (or `5000it`) iterations, or `20ep` epochs."""
    value = text.strip()
    try:
        if value.endswith("ep") and math.isfinite(count := float(value[:-2])) and count >= 0:
            return Epochs(count)
        return int(value[:-2] if value.endswith("it") else value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"not a number of iterations (5000, 5000it) or epochs (20ep): {text!r}")


def _parse_list(kind: str, counts_steps: bool = False):
    item = steps if counts_steps else int if kind == "int_list" else str
    return lambda text: tuple(item(x) for x in text.split(",") if x.strip())


def finite_float(text: str) -> float:
    """A float flag's value: nan and inf parse as floats but would only fail after training."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _help(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def add_config_flags(parser: argparse.ArgumentParser, sections: dict[str, type]) -> None:
    """One flag per dataclass field (the base seed is the separate flag --seed)."""
    for section, cls in sections.items():
        group = parser.add_argument_group(section)
        for f in dataclasses.fields(cls):
            if f.name == "seed":
                continue
            meta = f.metadata
            in_epochs = " Also in epochs (20ep: 20 x training examples // batch)." if meta.get("steps") else ""
            kw = {"default": None, "help": _help(f"{meta['help']}{in_epochs} (default: {f.default})")}
            if isinstance(f.default, bool):
                kw["action"] = argparse.BooleanOptionalAction
            elif "type" in meta:
                kw["type"], kw["metavar"] = _parse_list(meta["type"], meta.get("steps", False)), "A,B,..."
            elif meta.get("steps"):  # iterations, or epochs: 20ep
                kw["type"], kw["metavar"] = steps, "N|Nep"
            else:
                kw["type"] = finite_float if isinstance(f.default, float) else type(f.default)
                if "choices" in meta:
                    kw["choices"] = meta["choices"]
            group.add_argument(flag(f.name), dest=f.name, **kw)
    parser.add_argument("--seed", type=int, default=None, help="Base seed of every derived seed (default: 0).")


def add_execution_flags(parser: argparse.ArgumentParser, strategies: bool) -> None:
    """Where runs execute: how many worker processes, and (per run) which tf.distribute strategy."""
    group = parser.add_argument_group("execution (never changes results, so not part of the run hash)")
    group.add_argument("--workers", type=int, default=None,
                       help="Runs trained at once, one Ray worker process each; 1 trains in this process without "
                            "Ray (default: the number of CPU cores, or 1 with a --strategy other than default).")
    group.add_argument("--threads-per-worker", type=int, default=1,
                       help="TensorFlow intra-op threads per worker (0: TensorFlow's default, all cores).")
    group.add_argument("--gpus-per-worker", type=finite_float, default=0.0,
                       help="GPUs Ray assigns each worker (0.5: two workers share one). Ray hides GPUs from "
                            "workers given none, so set it on GPU machines (default 0: workers use CPUs).")
    group.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="Write each run it trains as TensorBoard scalars under DIR/<store folder>/<run key> "
                            "(validation and test loss and accuracy at each evaluation, layer densities): "
                            "tensorboard --logdir DIR.")
    group.add_argument("--ray-address", default=None,
                       help="Join this Ray cluster (e.g. 'auto' or 'ray://head:10001') instead of starting a "
                            "local one; --store must then be a path every node shares.")
    if strategies:
        from tf_lottery.execution.distribute import STRATEGIES

        group.add_argument("--strategy", choices=STRATEGIES, default="default",
                           help="tf.distribute strategy each run trains under: default (one device), mirrored "
                                "(all local GPUs), tpu, multiworker (TF_CONFIG).")
        group.add_argument("--tpu", default=None,
                           help="TPU for --strategy tpu: name, grpc:// address, or 'local' on a TPU VM.")
        group.add_argument("--xla", choices=XLA_CHOICES, default="auto",
                           help="Compile training with XLA: auto (yes, except conv nets on a CPU, where XLA's conv "
                                "backward pass is pathologically slow), on, off.")


def _check_execution(parser, options: RunOptions) -> None:
    strategy = options.strategy
    if options.workers is None:
        options.workers = (os.cpu_count() or 1) if strategy == "default" else 1
    wrong = {flag: value for flag, value, least in (("--workers", options.workers, 1),
                                                    ("--threads-per-worker", options.threads_per_worker, 0),
                                                    ("--gpus-per-worker", options.gpus_per_worker, 0))
             if value < least}
    if wrong:
        parser.error(f"--workers must be >= 1, --threads-per-worker and --gpus-per-worker >= 0; got "
                     f"{', '.join(f'{flag} {value:g}' for flag, value in wrong.items())}.")
    if options.workers > 1 and strategy != "default":
        parser.error(f"--strategy {strategy} spans all devices within one run; use it with --workers 1.")
    if options.tpu is not None and strategy != "tpu":
        parser.error("--tpu is only used with --strategy tpu.")
    if options.workers == 1 and (options.ray_address is not None or options.gpus_per_worker):
        parser.error("--ray-address and --gpus-per-worker need --workers > 1 (one worker trains in this "
                     "process, on the devices it sees).")


def parse_config(argv, description: str, sections: dict[str, type], presets: dict[str, dict],
                 preset_cost: dict[str, str], make, data: bool = True, strategies: bool = True,
                 protocol=lambda chosen: {}, variants: tuple = ()):
    """Parse `argv` into (`RunOptions`, the list of configurations).

    `make(section_instances, seed)` builds the config; it is validated if it has `validate()`.
    `protocol(preset and explicit values)` gives the model protocol's values, which the
    preset and explicit flags override. A preset may hold per-model values under
    "per_model" ({model: {field: value}}), and "scale_iterations": a fraction of the
    protocol's iterations (so that, e.g., dropout runs keep training longer than runs
    without), with "scale_dropout_iterations" in its place for the dropout protocol.
    Learning-rate drops and warmup scale with the iterations (by a preset or --iterations)
    unless given.

    Without `variants` the list holds one configuration. With `variants` (dicts of field
    values a figure compares, e.g. models) it holds one per variant, each built as above with
    the variant's values in place of the preset's. An explicit flag on a field the variants set selects the variants with that
    value (`--model conv2` restricts a three-network figure to Conv-2; `--model
    lenet300_100,conv2` to two).
    """
    parser = _parser(description, sections, presets, preset_cost, data, strategies, bool(variants))
    args = vars(parser.parse_args(argv))
    options = _options(parser, args)
    explicit = {k: v for k, v in args.items() if v is not None}
    defaults = {f.name: f.default for cls in sections.values() for f in dataclasses.fields(cls)}
    try:
        chosen_variants, explicit = select_variants(variants, explicit, defaults)
    except ValueError as e:
        parser.error(str(e))

    def build(variant: dict):
        cfg = make(*compose(sections, presets[options.preset], variant, explicit, defaults, protocol))
        if hasattr(cfg, "validate"):
            cfg.validate()
        return cfg

    try:
        configs = [build(v) for v in chosen_variants or [{}]]
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    options.changed = changed_settings(sections, presets[options.preset], chosen_variants or [{}], explicit,
                                        defaults, protocol)
    return options, configs


def _parser(description: str, sections: dict[str, type], presets: dict[str, dict], preset_cost: dict[str, str],
            data: bool, strategies: bool, variants: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=list(presets), default="paper",
                        help=_help("; ".join(f"{k}: {v}" for k, v in preset_cost.items())))
    if data:
        parser.add_argument("--data-dir", default=None,
                            help="Read data from this local folder (holding mnist/, cifar10/ or cifar10-jpeg/) instead "
                                 "of tensorflow-datasets; also set by TF_LOTTERY_DATA_DIR.")
    parser.add_argument("--store", default="runs", help="Folder of the resumable run store.")
    parser.add_argument("--results", default=None,
                        help="Folder for tables, figures and comparisons, written to <folder>/<figure>/ (default: "
                             "results, or results/smoke for the smoke preset, so trying the package never touches "
                             "the committed results).")
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace results of a larger preset in the results folder (refused otherwise).")
    if variants:
        parser.add_argument("--add-to-results", action="store_true",
                            help="Add these settings' results to those of other settings in the results folder "
                                 "(e.g. another network): their rows in its summary.csv are kept, so their runs "
                                 "need not be in the store, and the figure and comparison show all of them.")
    parser.add_argument("--from", dest="ledgers", action="append", default=[], metavar="DIR",
                        help="Also reuse the runs held by this results folder's ledger (<DIR>/ledger/, e.g. one "
                             "trained on another machine); repeatable. The results folder's own ledger is always "
                             "reused: a study continues from what its results hold, even with an empty store.")
    parser.add_argument("--report-only", action="store_true",
                        help="Rebuild the results folder's tables, plots and comparison from its ledger alone, as "
                             "the command recorded in its run.json chose them: no store, no data, no training.")
    parser.add_argument("--plan", action="store_true",
                        help="List the runs these flags need, stored or to train, with the time estimate, and exit "
                             "without training or writing results.")
    add_execution_flags(parser, strategies)
    add_config_flags(parser, sections)
    return parser


def _options(parser: argparse.ArgumentParser, args: dict) -> RunOptions:
    """Take the flags that are not config fields out of `args`, checked, with --results' default."""
    names = [f.name for f in dataclasses.fields(RunOptions) if f.name not in ("changed", "command")]
    options = RunOptions(**{k: args.pop(k) for k in names if k in args})
    _check_execution(parser, options)
    if options.overwrite and options.add_to_results:
        parser.error("--overwrite replaces the results folder's results, --add-to-results keeps them: choose one.")
    if options.results is None:
        options.results = "results/smoke" if options.preset == SCRATCH_PRESET else "results"
    return options


