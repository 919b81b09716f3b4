"""Command-line flags generated from the config dataclasses, and the study presets."""
from __future__ import annotations

import argparse
import dataclasses

from tf_lottery.config import DataConfig, ExperimentConfig, PruningConfig, StudyConfig, TrainingConfig

_SECTIONS = {"data": DataConfig, "training": TrainingConfig, "pruning": PruningConfig, "study": StudyConfig}

# Presets override defaults; explicit flags override presets. `paper` is the protocol.
PRESETS: dict[str, dict] = {
    "paper": {},
    # Same protocol (50K iterations, full data, same rates); fewer trials, Pm levels and
    # reinits: 105 runs, about an hour on a 2-core CPU.
    "fast": {"trials": 3, "rounds": 16, "control_rounds": (3, 7, 9, 12, 15, 16), "reinits": 1},
    # Tiny, for tests: 300 iterations, 1 trial, 2 rounds.
    "smoke": {"iterations": 300, "trials": 1, "rounds": 2, "control_rounds": (2,), "reinits": 1},
}
PRESET_COST = {
    "paper": "5 trials x (21 trunk + 20 one-shot + 120 reinit) = 805 runs of 50K iterations; ~8-9 h here",
    "fast": "3 trials x (17 trunk + 6 one-shot + 12 reinit) = 105 runs of 50K iterations; ~1 h here",
    "smoke": "6 runs of 300 iterations; under a minute",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_list(kind: str):
    item = int if kind == "int_list" else str
    return lambda text: tuple(item(x) for x in text.split(",") if x.strip())


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    for section, cls in _SECTIONS.items():
        group = parser.add_argument_group(section)
        for f in dataclasses.fields(cls):
            meta, kw = f.metadata, {"default": None, "help": f"{f.metadata['help']} (default: {f.default})"}
            if f.type == "bool" or isinstance(f.default, bool):
                kw["action"] = argparse.BooleanOptionalAction
            elif "type" in meta:
                kw["type"], kw["metavar"] = _parse_list(meta["type"]), "A,B,..."
            else:
                kw["type"] = type(f.default)
                if "choices" in meta:
                    kw["choices"] = meta["choices"]
            group.add_argument(_flag(f.name), dest=f.name, **kw)
    parser.add_argument("--seed", type=int, default=None, help="Base seed of every derived seed (default: 0).")


def config_from_args(args: argparse.Namespace, preset: str) -> ExperimentConfig:
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; available: {', '.join(PRESETS)}.")
    chosen = {**PRESETS[preset], **{k: v for k, v in vars(args).items() if v is not None}}
    sections = {
        section: cls(**{f.name: chosen[f.name] for f in dataclasses.fields(cls) if f.name in chosen})
        for section, cls in _SECTIONS.items()
    }
    cfg = ExperimentConfig(**sections, seed=chosen.get("seed", 0))
    cfg.validate()
    return cfg


def build_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--preset", choices=list(PRESETS), default="paper",
                        help="; ".join(f"{k}: {v}" for k, v in PRESET_COST.items()))
    parser.add_argument("--data-dir", default=None,
                        help="Read data from this local folder (holding mnist/) instead of tensorflow-datasets; "
                             "also set by TF_LOTTERY_DATA_DIR.")
    parser.add_argument("--store", default="runs", help="Folder of the resumable run store.")
    parser.add_argument("--results", default="results", help="Folder for tables, figures and comparisons.")
    add_config_flags(parser)
    return parser


def parse(argv, description: str):
    """Parse `argv` into (namespace of non-config options, ExperimentConfig)."""
    parser = build_parser(description)
    args = parser.parse_args(argv)
    options = argparse.Namespace(**{k: getattr(args, k) for k in ("preset", "data_dir", "store", "results")})
    config_args = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in vars(options)})
    try:
        cfg = config_from_args(config_args, args.preset)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    return options, cfg
