"""How a run's configuration is composed, in layers: the dataclass defaults, then the
network's paper protocol (its `ModelSpec`), then a preset (its per-network values, its
iterations as a fraction of the protocol's), then a figure's variant, then explicit values.
Pure functions of dicts and dataclasses: flags (`cli.py`) and Python callers compose alike.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tf_lottery.config import DataConfig, TrainingConfig
from tf_lottery.data.datasets import training_examples
from tf_lottery.models.registry import model_spec


def flag(name: str) -> str:
    """A config field's command-line flag: `lr_drops` -> `--lr-drops`."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Epochs:
    """A training length given in epochs (`20ep`): iterations once the data set and the
    batch are known (see `in_iterations`)."""
    count: float

    def __repr__(self) -> str:
        return f"{self.count:g}ep"


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


def select_variants(variants: tuple, explicit: dict, defaults: dict) -> tuple[list, dict]:
    """The variants the explicit flags select, and the explicit values left to apply to them.

    On a field the variants set, a flag selects variants: one value, or several (a,b). A
    variant that does not set the field has its default (--warmup-iterations 0: no warmup).
    Raises ValueError when the values select none of the variants.
    """
    compared = {k for v in variants for k in v}
    selected = {k: set(v.split(",")) if isinstance(v, str) else {v} for k, v in explicit.items() if k in compared}
    chosen = [v for v in variants if all(v.get(k, defaults.get(k)) in values for k, values in selected.items())]
    if variants and not chosen:
        raise ValueError(f"This figure compares {', '.join(flag(k) for k in sorted(compared))} over "
                     f"{'; '.join(', '.join(f'{k}={v[k]}' for k in v) for v in variants)}; "
                     f"{', '.join(f'{flag(k)} {explicit[k]}' for k in selected)} selects none of them.")
    return chosen, {k: v for k, v in explicit.items() if k not in selected}


def compose(sections: dict[str, type], preset: dict, variant: dict, explicit: dict, defaults: dict,
                    protocol) -> tuple[dict, int]:
    """(section name -> its config instance, seed): the model's protocol, overridden by the
    preset (its per-model values included), the variant and the explicit flags, in that order."""
    preset = dict(preset)
    per_model = preset.pop("per_model", {})
    model = explicit.get("model", variant.get("model", preset.get("model", TrainingConfig.model)))
    if per_model and model not in per_model:
        raise ValueError(f"This preset has no settings for {model} (it has them for {', '.join(per_model)}): choose "
                         f"another preset, or networks it has.")
    asked = {**preset, **per_model.get(model, {}), **variant, **explicit}
    if "rounds" in explicit and "control_rounds" not in explicit and "control_rounds" in asked:
        asked["control_rounds"] = controls_within(asked["control_rounds"], explicit["rounds"])
    scale = asked.pop("scale_iterations", None)
    dropout_scale = asked.pop("scale_dropout_iterations", scale)
    scale = dropout_scale if asked.get("dropout", 0.0) > 0 else scale
    protocol_values = protocol(asked)
    chosen = in_iterations({**protocol_values, **asked})
    if "iterations" in defaults:  # the sections' own default: XOR's is not Lenet's
        chosen.update(scaled_schedule(chosen, protocol_values.get("iterations", defaults["iterations"]),
                                       None if "iterations" in explicit else scale, explicit))
    built = {section: cls(**{f.name: chosen[f.name] for f in dataclasses.fields(cls)
                             if f.name in chosen and f.name != "seed"})
             for section, cls in sections.items()}
    return built, chosen.get("seed", 0)


# Which draw of the protocol, not what the protocol is: a seed is no change to a preset.
SEED_FIELDS = ("seed", "split_seed")


def changed_settings(sections: dict[str, type], preset: dict, variants: list, explicit: dict, defaults: dict,
                      protocol) -> dict:
    """{flag: value} of the explicit flags that change a setting of the preset (for any
    variant), so that results label and record what they are not: the preset as published.
    Seeds and fields that never change results are not changes; nor is a flag giving the
    preset's own value."""
    changed = {}
    for variant in variants:
        given, _ = compose(sections, preset, variant, explicit, defaults, protocol)
        preset_values, _ = compose(sections, preset, variant, {}, defaults, protocol)
        for section, values in given.items():
            for f in dataclasses.fields(values):
                value = getattr(values, f.name)
                if (f.name in explicit and f.name not in SEED_FIELDS and f.metadata.get("identity", True)
                        and value != getattr(preset_values[section], f.name)):
                    changed[flag(f.name)] = value
    return changed


def changed_text(changed: dict) -> str:
    """`{"--rounds": 1, "--augment": False}` as the flags read: `--rounds 1 --no-augment`."""
    def one(flag: str, value) -> str:
        if isinstance(value, bool):
            return flag if value else flag.replace("--", "--no-", 1)
        return f"{flag} {','.join(map(str, value)) if isinstance(value, (tuple, list)) else value}"

    return " ".join(one(flag, value) for flag, value in changed.items())


def controls_within(control_rounds: tuple, rounds: int) -> tuple:
    """A preset's control rounds under a smaller --rounds: those within it, else the last round
    (a preset puts its controls at its smallest Pm); none for --rounds 0."""
    return tuple(r for r in control_rounds if r <= rounds) or ((rounds,) if rounds else ())


def scaled_schedule(chosen: dict, full: int, scale: float | None, explicit: dict) -> dict:
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
    spec = model_spec(asked.get("model", TrainingConfig.model))
    return {**spec.protocol, **(spec.dropout_protocol if asked.get("dropout", 0.0) > 0 else {})}
