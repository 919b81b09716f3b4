"""What a run store holds: one paragraph per store folder (its settings, the runs stored,
the runs in training with their iteration, its data, its size), read-only.

    python -m tf_lottery.execution.inventory [--store runs]

For the runs a particular command needs, use that script's `--plan`.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from tf_lottery.config import RUN_SCHEMA
from tf_lottery.execution.store import RunStore


def ranges(numbers) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, numbers = [], sorted(set(numbers))
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


def settings(identity: dict) -> str:
    """The settings a store's runs share, in a line."""
    training, pruning, data = (identity.get(k, {}) for k in ("training", "pruning", "data"))
    if not training or not pruning:  # not a lottery study (v1's XOR): its identity as it is
        return f"{identity.get('experiment')}: " + ", ".join(
            f"{k} {v}" for k, v in sorted(identity.items()) if k not in ("experiment", "schema"))
    extras = [f"dropout {training['dropout']:g}"] if training.get("dropout") else []
    extras += [f"conv dropout {training['conv_dropout']:g}"] if training.get("conv_dropout") else []
    extras += [f"weight decay {training['weight_decay']:g}"] if training.get("weight_decay") else []
    extras += [f"warmup {training['warmup_iterations']:,}"] if training.get("warmup_iterations") else []
    extras += [f"lr x{training.get('lr_drop_factor', 0.1):g} at {', '.join(f'{d:,}' for d in training['lr_drops'])}"
               ] if training.get("lr_drops") else []
    extras += ["augmented"] if training.get("augment") else []
    rates = ", ".join(f"{g} {pruning[f'{g}_rate']:g}" for g in ("conv", "fc", "output") if pruning.get(f"{g}_rate"))
    return (f"{training['model']} on {data.get('dataset', '?')}, seed {identity.get('seed', 0)}: "
            f"{training['iterations']:,} iterations, {training['optimizer']} lr {training['learning_rate']:g}, "
            f"batch {training['batch_size']}{''.join(', ' + e for e in extras)}; {pruning['scope']} "
            f"{pruning.get('method', 'magnitude')} pruning per round ({rates or 'none'}), reset {pruning['reset']}")


def stored_runs(store: RunStore) -> list[str]:
    """The stored runs, grouped: 'trial0 iterative ticket: rounds 0-3' (keys as they are for
    stores whose runs are not lottery runs)."""
    groups, inits, other = collections.defaultdict(list), [], []
    for key in store.keys():
        metrics = store.metrics(key)
        if {"trial", "strategy", "round", "control"} <= set(metrics):
            # keyed so that a trial's tickets sort before its controls
            groups[(metrics["trial"], metrics["strategy"], metrics["control"] != "ticket", metrics["control"])].append(
                metrics["round"])
        elif key.endswith("/init"):
            inits.append(key.split("/")[0])
        else:
            other.append(key)
    lines = [f"trial{t} {strategy} {control}{'s' if control != 'ticket' else ''}: "
             f"{'round' if len(set(r)) == 1 else 'rounds'} {ranges(r)}" + (f" ({len(r)} runs)" if len(r) > len(set(r)) else "")
             for (t, strategy, _, control), r in sorted(groups.items())]
    lines += [f"initial weights (theta_0) of {', '.join(inits)}"] if inits else []
    return lines + ([f"{len(other)} run(s): {', '.join(other[:5])}{', ...' if len(other) > 5 else ''}"] if other else [])


def in_training(store: RunStore) -> list[str]:
    """Runs with saved progress: key and the iteration a rerun resumes from."""
    total = store.identity.get("training", {}).get("iterations")
    out = []
    for path in sorted((store.dir / ".checkpoints").glob("[!.]*.npz")):
        key = path.name[:-len(".npz")].replace("__", "/")
        step = store.checkpointed_at(key)
        if step is not None:
            out.append(f"{key} at iteration {step:,}" + (f" of {total:,}" if total else ""))
    return out


def size(folder: Path) -> str:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return f"{total / 2**20:,.0f} MiB" if total >= 2**20 else f"{total / 2**10:,.0f} KiB"


def describe(folder: Path) -> list[str]:
    """One store folder, in a few lines."""
    head = f"{folder.name} ({size(folder)})"
    try:
        schema = json.loads((folder / "config.json").read_text()).get("schema", 1)  # schema 1 had no such field
        if schema < RUN_SCHEMA:
            return [f"{head}: written by an older, incompatible version (run schema {schema} < {RUN_SCHEMA}); never "
                    f"used, delete it to free space"]
        store = RunStore.existing(folder)
    except (OSError, ValueError, KeyError, AttributeError):
        return [f"{folder.name}: unreadable config.json (not a store folder, or damaged)"]
    data = store.data_record()
    lines = [head]
    lines.append(f"  {settings(store.identity)}")
    if data:
        lines.append(f"  data: {data['dataset']} {'(LOSSY copy) ' if data['lossy'] else ''}first read from "
                     f"{data['first_source']}")
    runs, training = stored_runs(store), in_training(store)
    lines += [f"  stored: {line}" for line in runs] or ["  stored: no runs yet"]
    lines += [f"  in training: {line}" for line in training]
    return lines


def inventory(root: Path) -> str:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        return f"{root}: no store folders."
    return "\n".join([f"{root}: {len(folders)} store folder(s)", *(line for f in folders for line in describe(f))])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="runs", help="Folder of the run store (default: runs).")
    root = Path(parser.parse_args(argv).store)
    if not root.is_dir():
        print(f"error: --store {root} is not a folder; give the one your scripts used (--store).", file=sys.stderr)
        return 2
    print(inventory(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
