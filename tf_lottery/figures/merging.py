"""One figure from several commands (`--add-to-results`), merged through the results ledger.

A researcher trains one network today and another next week, perhaps on another machine
with another store. The results folder's ledger holds every run it reports, so with
`--add-to-results` the figure is reported over the runs of these flags and those of every
earlier command recorded in its `run.json` (`earlier_results`): each earlier command's
settings are parsed again from its command line (today's code gives the same run hashes;
a test checks every committed one), and their runs are read from the ledger, not from a
store. An earlier setting these flags select again is replaced by them. Each earlier
command stays on record with the run hashes it still gives.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd


# What run.json says of the command that wrote it: kept, per earlier command, with its run hashes.
COMMAND_FIELDS = ("command", "finished_utc", "preset", "changed_flags", "store", "data_source", "execution",
                  "wall_seconds", "code_version", "packages", "machine")


class CannotAdd(ValueError):
    """The results folder holds nothing these flags' results can be added to."""


@dataclass(frozen=True)
class EarlierCommand:
    record: dict  # its part of run.json: command, run hashes, changed flags, machine, ...
    configs: list  # its configurations still shown


@dataclass(frozen=True)
class EarlierResults:
    record: dict  # the folder's run.json
    commands: list[EarlierCommand]

    @property
    def configs(self) -> list:
        return [c for command in self.commands for c in command.configs]

    @property
    def run_hashes(self) -> list[str]:
        return [c.run_hash() for c in self.configs]


def split_hashes(text: str | None) -> list[str]:
    return [h for h in str(text or "").split(", ") if h]


def load(out: Path, figure: str, preset: str, selected: list[str], configs_of: Callable[[str], list]) \
        -> EarlierResults | None:
    """The earlier commands of results folder `out` with their configurations other than
    `selected` (run hashes), or None if `out` holds no results yet or only settings these
    flags select. `configs_of(command)` parses a recorded command line into its configurations."""
    record_path = out / "run.json"
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
    commands = []
    for part in _commands(record):
        kept = [h for h in part["run_hash"] if h not in selected]
        configs = [c for c in configs_of(part["command"]) if c.run_hash() in kept] if kept else []
        if configs:
            commands.append(EarlierCommand({**part, "run_hash": [c.run_hash() for c in configs]}, configs))
    return EarlierResults(record, commands) if commands else None


def describe(earlier: EarlierResults, out: Path, runs: int) -> str:
    return (f"Adding to {out}: its ledger gives the {runs} run(s) of run hash {', '.join(earlier.run_hashes)}, "
            f"reported with these flags' runs (they need not be in the store).")


def ordered(summary: pd.DataFrame, earlier: EarlierResults | None, order: list[str],
            settings: tuple[str, ...] = ()) -> pd.DataFrame:
    """A summary merged from several commands with the networks in `order`, within a network
    the `settings` columns ascending (so tables and legends list a sweep in order, however
    it was added up), then the earlier commands' rows first (a stable sort)."""
    if earlier is None:
        return summary
    rank = {m: i for i, m in enumerate(order)}
    return summary.sort_values(["model", *settings], key=lambda s: s.map(lambda m: rank.get(m, len(rank)))
                               if s.name == "model" else s, kind="stable", ignore_index=True)


def _commands(record: dict) -> list[dict]:
    """Every command a run.json speaks for, with the run hashes it gave: the earlier ones
    (`earlier_results`), then the one that wrote it (the hashes no earlier one gave)."""
    parts = record.get("earlier_results", [])
    by_parts = {h for part in parts for h in part["run_hash"]}
    own = [h for h in split_hashes(record.get("run_hash")) if h not in by_parts]
    return [*parts, {"run_hash": own, **{k: record[k] for k in COMMAND_FIELDS if k in record}}]


def merged_record(earlier: EarlierResults | None, config: list, run_hashes: list[str]) -> dict:
    """run.json's `config` and `run_hash` over the earlier settings kept and these flags',
    and `earlier_results`: each earlier command with the run hashes it still gives."""
    if earlier is None:
        return {"config": config, "run_hash": ", ".join(run_hashes)}
    kept = [dataclasses.asdict(c) for c in earlier.configs]
    return {"config": kept + config, "run_hash": ", ".join(earlier.run_hashes + run_hashes),
            "earlier_results": [c.record for c in earlier.commands]}
