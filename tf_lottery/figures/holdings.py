"""What a report shows, described from its configurations and runs, not from the flags of
the commands that trained them: each setting's differences from the preset it is labelled
with, and the trials, rounds and controls present against those the preset plans. A figure
added up from several commands, days or machines is labelled by what its ledger holds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tf_lottery.presets import SEED_FIELDS, changed_text, flag
from tf_lottery.lottery.experiment import RunSpec
from tf_lottery.models.registry import display_name

CONTROL_NAMES = {"reinit": "random reinits", "random": "random sparse", "reset": "Strategy 2 tickets"}


@dataclass(frozen=True)
class Setting:
    """One configuration of a report: what it shows, and how that differs from its preset."""
    name: str  # "Conv-6 (dropout 0.5)": the network and the values of the fields the figure compares
    run_hash: str
    changes: dict  # {flag: value} of the result-defining fields that differ from the preset's
    shortfall: tuple[str, ...]  # "rounds 0-1 (preset 0-3)": the runs shown against those the preset plans
    runs: int
    trials: int | None  # trials present (None for runs that are not lottery runs, as XOR's stages)
    rounds: str | None  # iterative rounds present: "0-3"
    trained_on: dict  # CPU kind (or "not recorded") -> runs

    def differences(self) -> str:
        return ", ".join(filter(None, [changed_text(self.changes), *self.shortfall]))

    def record(self) -> dict:
        """Its part of run.json's `holds`."""
        return {"setting": self.name, "run_hash": self.run_hash, "runs": self.runs, "trials": self.trials,
                "rounds": self.rounds,
                "changed": {flag: list(v) if isinstance(v, tuple) else v for flag, v in self.changes.items()},
                "short_of_preset": list(self.shortfall), "trained_on": self.trained_on}


def differences(cfg, reference) -> dict:
    """{flag: value} of `cfg`'s result-defining fields that differ from `reference`'s (seeds,
    which draw the protocol again rather than change it, aside)."""
    out = {}
    for f in dataclasses.fields(cfg):
        if not f.metadata.get("identity", True) or f.name in SEED_FIELDS:
            continue
        value, other = getattr(cfg, f.name), getattr(reference, f.name)
        if dataclasses.is_dataclass(value):
            out.update(differences(value, other))
        elif value != other:
            out[flag(f.name)] = value
    return out


def _span(values) -> str:
    values = sorted(values)
    return "none" if not values else str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _against(what: str, have: str, plan: str, fewer: bool) -> str:
    """"rounds 0-1 of 0-3" for part of the preset's runs, "trials 5 (preset 3)" otherwise."""
    return f"{what} {have} of {plan}" if fewer else f"{what} {have} (preset {plan})"


def shortfall(shown: list, planned: list) -> tuple[str, ...]:
    """How the RunSpecs `shown` differ from those `planned`: in trials or iterative rounds,
    else in each kind of control and one-shot pruning (empty when they are the same runs)."""
    if {r.key for r in shown} == {r.key for r in planned}:
        return ()
    out = []
    trials, planned_trials = {r.trial for r in shown}, {r.trial for r in planned}
    if trials != planned_trials:
        out.append(_against("trials", str(len(trials)), str(len(planned_trials)), trials < planned_trials))
    rounds = {r.round for r in shown if r.strategy == "iterative"}
    planned_rounds = {r.round for r in planned if r.strategy == "iterative"}
    if rounds != planned_rounds:
        out.append(_against("rounds", _span(rounds), _span(planned_rounds), rounds < planned_rounds))
    if out:
        return tuple(out)
    for kind, name in {**CONTROL_NAMES, "oneshot": "one-shot tickets"}.items():
        have, plan = (sum(r.control == kind or r.strategy == kind for r in runs) for runs in (shown, planned))
        if have != plan:
            out.append(_against(name, str(have), str(plan), have < plan))
    return tuple(out) or ("other runs than the preset's",)


def compared_fields(variants: tuple) -> tuple[str, ...]:
    """The fields a figure's variants set, and the network."""
    return tuple(dict.fromkeys(["model", *(k for v in variants for k in v)]))


def compared_values(cfg, fields) -> dict:
    """`cfg`'s values of `fields`, found in whichever of its sections holds them."""
    sections = [getattr(cfg, f.name) for f in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))]
    return {f.name: getattr(s, f.name) for s in sections for f in dataclasses.fields(s) if f.name in fields}


def setting_name(cfg, compared) -> str:
    """The network, with its values of the other fields a figure compares ("" for XOR's one setting)."""
    if not hasattr(cfg, "training"):
        return ""
    values = {k: v for k, v in compared_values(cfg, compared).items() if k != "model"}
    extra = ", ".join(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                      for k, v in values.items())
    return display_name(cfg.training.model) + (f" ({extra})" if extra else "")


def setting(cfg, preset_cfg, compared, shown: list, planned: list, trained_on: dict) -> Setting:
    """`cfg`, reported with the runs `shown`, against `preset_cfg` and the runs it plans
    (each a RunSpec; other kinds of run, as XOR's stages, are compared by settings alone)."""
    if not all(isinstance(r, RunSpec) for r in shown + planned):
        return Setting(setting_name(cfg, compared), cfg.run_hash(), differences(cfg, preset_cfg), (), len(shown),
                       None, None, trained_on)
    return Setting(setting_name(cfg, compared), cfg.run_hash(), differences(cfg, preset_cfg),
                   shortfall(shown, planned), len(shown), len({r.trial for r in shown}),
                   _span({r.round for r in shown if r.strategy == "iterative"}), trained_on)


def label(preset: str, settings: list[Setting]) -> str:
    """Figure-title label: the preset (REDUCED unless it is the paper's), and how the shown
    settings differ from it (CHANGED: the paper's protocol, differently)."""
    text = "paper protocol" if preset == "paper" else f"REDUCED: '{preset}' preset"
    parts = {s.name: s.differences() for s in settings}
    differing = {name: part for name, part in parts.items() if part}
    if not differing:
        return text
    if len(set(parts.values())) == 1:  # every setting differs alike: no names needed
        said = next(iter(differing.values()))
    else:
        said = "; ".join(f"{name}: {part}" for name, part in differing.items())
    return f"{'CHANGED: ' if preset == 'paper' else ''}{text} with {said}"
