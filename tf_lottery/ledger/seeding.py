"""Between a study's run store and results ledgers: resuming from a ledger, recording into one.

- `restore`: runs a study needs that its store lacks but a ledger holds are written into
  the store as the ledger recorded them, so that they are not trained again, whatever
  machine trained them (runs are matched by store folder, i.e. run hash, and key).
- Runs still to train read arrays of the runs they start from (`reads`). Where a ledger
  did not keep those arrays (weights of large networks, ledgers converted from tables),
  the run they belong to is flagged (`flag(run)`) so that the study retrains it with its
  recorded seeds for them; its recorded results stay.
- `record`: the runs of a study as its store holds them, into a ledger.
"""
from __future__ import annotations

from typing import Callable, Sequence

from tf_lottery.ledger.records import Ledger, LedgerRun


def restore(ledger: Ledger, store, runs: Sequence, is_stored: Callable, reads: Callable, flag: Callable,
            dry_run: bool = False) -> tuple[list, set[str]]:
    """Restore into `store` (a RunStore or SweepStore: `locate(key)`) the runs of `runs`
    (each after its dependencies) that it lacks and `ledger` holds, and flag the runs whose
    arrays a run still to train reads but which lack them.

    Returns (the runs, flagged where needed; the keys restored). With `dry_run` nothing is
    written: the keys are those that would be restored (for --plan)."""
    restored = set()
    for run in runs:
        run_store, key = store.locate(run.key)
        if not run_store.has(key) and ledger.has(run_store.dir.name, key):
            if not dry_run:
                _restore_one(ledger, run_store, key)
            restored.add(run.key)

    def held(run) -> bool:
        return run.key in restored if dry_run and not store.has(run.key) else is_stored(store, run)

    def has_arrays(run) -> bool:
        run_store, key = store.locate(run.key)
        if run_store.has(key):
            return run_store.has_arrays(key, ("mask", "final")) or bool(run_store.metrics(key).get("diverged"))
        entry = ledger.runs.get((run_store.dir.name, key))
        return entry is not None and ({"mask", "final"} <= set(entry.arrays) or bool(entry.metrics.get("diverged")))

    by_key = {run.key: run for run in runs}
    pending = set()
    for run in reversed(runs):  # dependants before the runs they read
        run = by_key[run.key]
        if run.key in pending or not held(run):
            for dep in reads(run):
                if dep.key in by_key and not has_arrays(dep):
                    by_key[dep.key] = flag(by_key[dep.key])
                    pending.add(dep.key)
    return [by_key[run.key] for run in runs], restored


def _restore_one(ledger: Ledger, run_store, key: str) -> None:
    name = run_store.dir.name
    entry, store_record = ledger.runs[(name, key)], ledger.stores[name]
    if store_record.get("data"):
        run_store.record_data(store_record["data"])
    arrays = {array: read() for array, read in entry.arrays.items()}
    run_store.restore(key, {**entry.metrics, "from_ledger": True}, entry.parts, arrays)


def record(store, runs: Sequence, ledger: Ledger | None = None) -> Ledger:
    """`ledger` (a new one by default) with every run of `runs` that `store` holds added."""
    ledger = ledger if ledger is not None else Ledger()
    for run in runs:
        run_store, key = store.locate(run.key)
        if not run_store.has(key):
            continue
        metrics = run_store.metrics(key)
        metrics.pop("from_ledger", None)
        entry = LedgerRun(metrics, {part: run_store.part(key, part) for part in run_store.part_names(key)},
                          {name: _reader(run_store, key, name) for name in run_store.array_names(key)})
        ledger.add(run_store.dir.name, key, entry, run_store.identity, run_store.data_record())
    return ledger


def _reader(run_store, key: str, name: str):
    return lambda: run_store.arrays(key, name)
