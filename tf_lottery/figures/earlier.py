"""Adding settings to a figure's results (`--add-to-results`) without their earlier runs.

A researcher trains one network today and another next week, perhaps on another machine
with another store. With `--add-to-results` the rows of the settings already in
`results/<figure>/summary.csv` that these flags do not select are kept, and the figure,
its tables and its comparison are redrawn over them and the new runs together. Each
earlier command stays on record in `run.json` (`earlier_results`: its command, code
version, machine and the run hashes whose rows it contributed).
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tf_lottery.analysis.tables import NOT_RECORDED, with_integer_columns
from tf_lottery.cli import changed_text

# What run.json says of the command that wrote it: kept, per earlier command, with its run hashes.
COMMAND_FIELDS = ("command", "finished_utc", "preset", "changed_flags", "store", "data_source", "execution",
                  "wall_seconds", "code_version", "packages", "machine")


class CannotAdd(ValueError):
    """The results folder holds nothing these flags' results can be added to."""


@dataclass(frozen=True)
class EarlierResults:
    rows: pd.DataFrame  # summary.csv's rows of the settings kept
    record: dict  # the folder's run.json

    @property
    def run_hashes(self) -> list[str]:
        return list(dict.fromkeys(self.rows["run_hash"]))


def split_hashes(text: str | None) -> list[str]:
    return [h for h in str(text or "").split(", ") if h]


def load(out: Path, figure: str, preset: str, selected: list[str]) -> EarlierResults | None:
    """The rows of `out`'s settings other than `selected` (run hashes), or None if `out`
    holds no results yet or only settings these flags select."""
    record_path, summary_path = out / "run.json", out / "summary.csv"
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
    except ValueError:
        raise CannotAdd(f"{record_path} is not valid JSON; replace the results (--overwrite) or write them "
                        f"elsewhere (--results DIR).") from None
    if record.get("figure") != figure:
        raise CannotAdd(f"{out} holds results of '{record.get('figure')}', not of {figure}; write them elsewhere "
                        f"(--results DIR).")
    if record.get("preset") != preset:
        raise CannotAdd(f"{out} holds results of the '{record.get('preset')}' preset, not '{preset}': a figure "
                        f"mixes no presets. Run with --preset {record.get('preset')}, or write these results "
                        f"elsewhere (--results DIR).")
    try:
        rows = with_integer_columns(pd.read_csv(summary_path))
    except (OSError, ValueError):
        raise CannotAdd(f"{out} has run.json but no readable summary.csv to add to; replace the results "
                        f"(--overwrite) or write them elsewhere (--results DIR).") from None
    if "run_hash" not in rows:
        raise CannotAdd(f"{summary_path} has no run_hash column (written by older code); replace the results "
                        f"(--overwrite) or write them elsewhere (--results DIR).")
    rows = rows[~rows["run_hash"].isin(selected)]
    if rows.empty:
        return None
    if "trained_on" not in rows:
        rows = rows.assign(trained_on=NOT_RECORDED)
    return EarlierResults(rows.reset_index(drop=True), record)


def describe(earlier: EarlierResults, out: Path) -> str:
    runs = earlier.rows.drop_duplicates(["run_hash", "key"])
    return (f"Adding to {out}: keeping {len(runs)} run(s) of run hash {', '.join(earlier.run_hashes)} from its "
            f"summary.csv (their runs need not be in the store).")


def with_earlier(summary: pd.DataFrame, earlier: EarlierResults | None, order: list[str],
                 settings: tuple[str, ...] = ()) -> pd.DataFrame:
    """`summary` with the earlier rows, the networks in `order`, within a network the
    `settings` columns ascending (so tables and legends list a sweep in order, however it
    was added up), then earlier rows first (a stable sort)."""
    if earlier is None:
        return summary
    both = pd.concat([earlier.rows, summary], ignore_index=True)
    rank = {m: i for i, m in enumerate(order)}
    return both.sort_values(["model", *settings], key=lambda s: s.map(lambda m: rank.get(m, len(rank)))
                            if s.name == "model" else s, kind="stable", ignore_index=True)


def setting_names(settings: list[dict], variants: tuple) -> str:
    """The settings one command gave (each its values of the fields the figure's `variants`
    set), named by network: `conv6` when they are all of the network's variants, else each
    with its other values (`conv6 (dropout 0.5)`), so that commands that gave parts of one
    network are told apart."""
    names = []
    for model in dict.fromkeys(s.get("model") for s in settings if s.get("model")):
        given = [s for s in settings if s.get("model") == model]
        known = {k for s in given for k in s}  # older rows may lack a compared field
        if all({k: x for k, x in v.items() if k in known} in given for v in variants if v.get("model") == model):
            names.append(model)
        else:
            names += [f"{model} ({', '.join(f'{k} {x}' for k, x in s.items() if k != 'model')})" for s in given]
    return ", ".join(names)


def compared_fields(variants: tuple) -> list[str]:
    """The fields a figure's variants set; the network at least."""
    return list(dict.fromkeys(["model", *(k for v in variants for k in v)]))


def changes(earlier: EarlierResults, variants: tuple) -> list[str]:
    """`settings: flags` for each earlier command whose flags changed the preset's settings
    (run.json's `changed_flags`) and whose rows are kept."""
    out = []
    fields = [f for f in compared_fields(variants) if f in earlier.rows]
    for command in _commands(earlier.record):
        rows = earlier.rows[earlier.rows["run_hash"].isin(command["run_hash"])]
        flags = changed_text(command.get("changed_flags") or {})
        if flags and not rows.empty:
            out.append(f"{setting_names(rows[fields].drop_duplicates().to_dict('records'), variants)}: {flags}")
    return out


def earlier_field(earlier: EarlierResults | None, field: str) -> dict:
    """An earlier run.json's per-network `field` (e.g. `data`), for the networks still shown."""
    if earlier is None:
        return {}
    models = set(earlier.rows["model"])
    return {m: v for m, v in earlier.record.get(field, {}).items() if m in models}


def earlier_seeds(earlier: EarlierResults | None) -> set:
    return set() if earlier is None else set(earlier.record.get("seeds", {}).get("base_seeds", []))


def count_cpus(earlier: EarlierResults | None) -> collections.Counter:
    """How many of the earlier rows' runs each CPU trained."""
    if earlier is None:
        return collections.Counter()
    runs = earlier.rows.drop_duplicates(["run_hash", "key"])
    return collections.Counter(runs["trained_on"].fillna(NOT_RECORDED))


def _commands(record: dict) -> list[dict]:
    """Every command a run.json speaks for, with the run hashes it gave: the earlier ones
    (`earlier_results`), then the one that wrote it (the hashes no earlier one gave)."""
    parts = record.get("earlier_results", [])
    by_parts = {h for part in parts for h in part["run_hash"]}
    own = [h for h in split_hashes(record.get("run_hash")) if h not in by_parts]
    return [*parts, {"run_hash": own, **{k: record[k] for k in COMMAND_FIELDS if k in record}}]


def merged_record(earlier: EarlierResults | None, config: list, run_hashes: list[str]) -> dict:
    """run.json's `config` and `run_hash` over the earlier settings kept and these flags',
    and `earlier_results`: each earlier command with the run hashes whose rows it gave."""
    if earlier is None:
        return {"config": config, "run_hash": ", ".join(run_hashes)}
    kept, record = set(earlier.run_hashes), earlier.record
    old_config = record.get("config", [])
    old_config = old_config if isinstance(old_config, list) else [old_config]
    config_of = dict(zip(split_hashes(record.get("run_hash")), old_config))
    parts = []
    for part in _commands(record):
        hashes = [h for h in part["run_hash"] if h in kept]
        if hashes:
            parts.append({**part, "run_hash": hashes})
    hashes = [h for h in config_of if h in kept]
    return {"config": [config_of[h] for h in hashes] + config, "run_hash": ", ".join(hashes + run_hashes),
            "earlier_results": parts}
