"""Command-line flags generated from the config dataclasses.

A configuration is built in layers: the dataclass defaults, then the chosen model's paper
protocol (`models/registry.py`), then the figure's preset, then explicit flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os

from tf_lottery.data.datasets import training_examples
from tf_lottery.execution.xla import XLA_CHOICES
from tf_lottery.config import DataConfig, PruningConfig, StudyConfig, TrainingConfig

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
    changed: dict = dataclasses.field(default_factory=dict)  # flags that changed the preset's settings
    command: str = ""  # the equivalent command line, as run.json records it (also when called from Python)

    EXECUTION = ("workers", "threads_per_worker", "gpus_per_worker", "ray_address", "strategy", "tpu", "xla")

    def execution(self) -> dict:
        """The execution flags, as run.json records them."""
        return {k: getattr(self, k) for k in self.EXECUTION}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Epochs:
    """A training length given in epochs (`20ep`): iterations once the data set and the
    batch are known (see `in_iterations`)."""
    count: float

    def __repr__(self) -> str:
        return f"{self.count:g}ep"


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


def in_iterations(chosen: dict) -> dict:
    """`chosen` with its epoch counts turned into iterations: an epoch is (training examples
    // batch size) steps, as the paper counts VGG-19's 703 (45,000 // 64)."""
    def has_epochs(value) -> bool:
        return isinstance(value, Epochs) or (isinstance(value, tuple) and any(isinstance(v, Epochs) for v in value))

    if not any(map(has_epochs, chosen.values())):
        return chosen
    dataset, batch = chosen.get("dataset", DataConfig.dataset), chosen.get("batch_size", TrainingConfig.batch_size)
    examples = training_examples(dataset, chosen.get("validation_size", DataConfig.validation_size),
                                 chosen.get("max_examples", 0))
    if examples is None:
        raise ValueError(f"Epochs (e.g. 20ep) need the size of {dataset}'s training set, which is not known here: "
                         f"give iterations.")
    per_epoch = examples // batch if batch > 0 else 0
    if per_epoch < 1:
        raise ValueError(f"An epoch of {examples} training examples at batch {batch} has no whole step: give iterations.")

    def convert(value):
        return round(value.count * per_epoch) if isinstance(value, Epochs) else value

    out = {k: tuple(map(convert, v)) if isinstance(v, tuple) else convert(v) for k, v in chosen.items()}
    every = out.get("eval_every", TrainingConfig.eval_every)
    if isinstance(chosen.get("iterations"), Epochs) and out["iterations"] % every:
        raise ValueError(f"--iterations {chosen['iterations']!r} is {out['iterations']:,} iterations ({examples:,} "
                         f"training examples // batch {batch} = {per_epoch} per epoch), which evaluations every "
                         f"{every} do not divide: give iterations, a multiple of --eval-every.")
    return out


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
            group.add_argument(_flag(f.name), dest=f.name, **kw)
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
    chosen_variants, explicit = _select_variants(parser, variants, explicit, defaults)

    def build(variant: dict):
        cfg = make(*_section_values(sections, presets[options.preset], variant, explicit, defaults, protocol))
        if hasattr(cfg, "validate"):
            cfg.validate()
        return cfg

    try:
        configs = [build(v) for v in chosen_variants or [{}]]
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    options.changed = _changed_settings(sections, presets[options.preset], chosen_variants or [{}], explicit,
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


def _select_variants(parser, variants: tuple, explicit: dict, defaults: dict) -> tuple[list, dict]:
    """The variants the explicit flags select, and the explicit values left to apply to them.

    On a field the variants set, a flag selects variants: one value, or several (a,b). A
    variant that does not set the field has its default (--warmup-iterations 0: no warmup).
    """
    compared = {k for v in variants for k in v}
    selected = {k: set(v.split(",")) if isinstance(v, str) else {v} for k, v in explicit.items() if k in compared}
    chosen = [v for v in variants if all(v.get(k, defaults.get(k)) in values for k, values in selected.items())]
    if variants and not chosen:
        parser.error(f"This figure compares {', '.join(_flag(k) for k in sorted(compared))} over "
                     f"{'; '.join(', '.join(f'{k}={v[k]}' for k in v) for v in variants)}; "
                     f"{', '.join(f'{_flag(k)} {explicit[k]}' for k in selected)} selects none of them.")
    return chosen, {k: v for k, v in explicit.items() if k not in selected}


def _section_values(sections: dict[str, type], preset: dict, variant: dict, explicit: dict, defaults: dict,
                    protocol) -> tuple[dict, int]:
    """(section name -> its config instance, seed): the model's protocol, overridden by the
    preset (its per-model values included), the variant and the explicit flags, in that order."""
    preset = dict(preset)
    per_model = preset.pop("per_model", {})
    model = explicit.get("model", variant.get("model", preset.get("model", TrainingConfig.model)))
    asked = {**preset, **per_model.get(model, {}), **variant, **explicit}
    if "rounds" in explicit and "control_rounds" not in explicit and "control_rounds" in asked:
        asked["control_rounds"] = _controls_within(asked["control_rounds"], explicit["rounds"])
    scale = asked.pop("scale_iterations", None)
    dropout_scale = asked.pop("scale_dropout_iterations", scale)
    scale = dropout_scale if asked.get("dropout", 0.0) > 0 else scale
    protocol_values = protocol(asked)
    chosen = in_iterations({**protocol_values, **asked})
    if "iterations" in defaults:  # the sections' own default: XOR's is not Lenet's
        chosen.update(_scaled_schedule(chosen, protocol_values.get("iterations", defaults["iterations"]),
                                       None if "iterations" in explicit else scale, explicit))
    built = {section: cls(**{f.name: chosen[f.name] for f in dataclasses.fields(cls)
                             if f.name in chosen and f.name != "seed"})
             for section, cls in sections.items()}
    return built, chosen.get("seed", 0)


# Which draw of the protocol, not what the protocol is: a seed is no change to a preset.
SEED_FIELDS = ("seed", "split_seed")


def _changed_settings(sections: dict[str, type], preset: dict, variants: list, explicit: dict, defaults: dict,
                      protocol) -> dict:
    """{flag: value} of the explicit flags that change a setting of the preset (for any
    variant), so that results label and record what they are not: the preset as published.
    Seeds and fields that never change results are not changes; nor is a flag giving the
    preset's own value."""
    changed = {}
    for variant in variants:
        given, _ = _section_values(sections, preset, variant, explicit, defaults, protocol)
        preset_values, _ = _section_values(sections, preset, variant, {}, defaults, protocol)
        for section, values in given.items():
            for f in dataclasses.fields(values):
                value = getattr(values, f.name)
                if (f.name in explicit and f.name not in SEED_FIELDS and f.metadata.get("identity", True)
                        and value != getattr(preset_values[section], f.name)):
                    changed[_flag(f.name)] = value
    return changed


def changed_text(changed: dict) -> str:
    """`{"--rounds": 1, "--augment": False}` as the flags read: `--rounds 1 --no-augment`."""
    def one(flag: str, value) -> str:
        if isinstance(value, bool):
            return flag if value else flag.replace("--", "--no-", 1)
        return f"{flag} {','.join(map(str, value)) if isinstance(value, (tuple, list)) else value}"

    return " ".join(one(flag, value) for flag, value in changed.items())


def _controls_within(control_rounds: tuple, rounds: int) -> tuple:
    """A preset's control rounds under a smaller --rounds: those within it, else the last round
    (a preset puts its controls at its smallest Pm); none for --rounds 0."""
    return tuple(r for r in control_rounds if r <= rounds) or ((rounds,) if rounds else ())


def _scaled_schedule(chosen: dict, full: int, scale: float | None, explicit: dict) -> dict:
    """A faithful shortening of a protocol of `full` iterations: to `scale` of them (whole
    evaluations) if given, else to the iterations chosen; the learning-rate drops and warmup
    (the protocol's, or the figure's, in its units) at the same fractions of training,
    unless given as flags."""
    iterations = chosen.get("iterations", full)
    if scale:
        every = chosen.get("eval_every", TrainingConfig.eval_every)
        iterations = max(1, round(full * scale / every)) * every
    factor, out = iterations / full, {"iterations": iterations}
    if "lr_drops" not in explicit:
        out["lr_drops"] = tuple(round(d * factor) for d in chosen.get("lr_drops", ()))
    if "warmup_iterations" not in explicit:
        out["warmup_iterations"] = round(chosen.get("warmup_iterations", 0) * factor)
    return out


def model_protocol(asked: dict) -> dict:
    """The paper protocol of the model asked for (or the default model), in its dropout
    variant if dropout is asked for."""
    from tf_lottery.models.registry import model_spec

    spec = model_spec(asked.get("model", TrainingConfig.model))
    return {**spec.protocol, **(spec.dropout_protocol if asked.get("dropout", 0.0) > 0 else {})}

