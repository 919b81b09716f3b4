"""Tickets that leave the package: a run's mask, the weights it starts from and the weights
it trained to, as Keras models and a plain npz.

    python -m tf_lottery.tickets list results/fig4_lenet
    python -m tf_lottery.tickets export results/fig4_lenet --trial 0 --round 7 --out tickets/lenet-21
    python -m tf_lottery.tickets export runs --network conv2 --round 3 --control reinit --out t/

A source is a results folder (its `ledger/`) or a run store (`runs/`, one folder per
configuration: `--network` or `--store` picks one where several are there). A run is
named as its key is (`trial<t>/<strategy>/round<r>/<control>`): `--trial`, `--strategy`,
`--round`, `--control` (ticket, reinit, random, reset) and `--reinit`, or `--key`.

`export_ticket` writes into a folder:
- `ticket.npz`: `mask/<weight>`, `initial/<weight>` and `trained/<weight>` arrays;
- `initial.keras`: the network at the weights the run started from, times its mask, with
  the mask in the model: the ticket ready to train (`tf_keras.models.load_model`, then
  `fit`: its pruned weights stay exactly zero);
- `trained.keras`: the trained sparse network, and `trained.tflite`, the same as TFLite with
  its zeros sparse-encoded (`models/portable.py`, which also gives TF-MOT's form);
- `ticket.json`: the network, data set, run, its seeds and metrics.
The starting weights are known when they are a seeded draw: theta_0 of the trial for a
winning ticket reset to its initialization (and Strategy 2's `reset` runs), the control's
own draw for a random reinitialization or random sparse network; the trained weights when
the source kept them (a ledger keeps them for each trial's round 0 and last round; a store
for every run). What is not known is left out, and `ticket.json` says so.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tf_lottery.data.datasets import SHAPES
from tf_lottery.execution.store import RunStore
from tf_lottery.ledger.records import LEDGER, Ledger
from tf_lottery.models import keras_masks
from tf_lottery.models.portable import to_tflite
from tf_lottery.models.registry import build_model, initial_weights

SEEDED_STARTS = {"ticket": "init_seed", "reset": "init_seed", "reinit": "reinit_seed", "random": "random_seed"}
RECORDED = ("key", "trial", "strategy", "round", "control", "reinit", "pm", "early_stop_iter", "test_acc_early_stop",
            "test_acc_end", "init_seed", "reinit_seed", "random_seed", "trained_on", "code_version")


class TicketError(ValueError):
    """A source, network or run that cannot be exported, said in one line."""


@dataclass
class Ticket:
    network: str  # the registry name
    dataset: str
    mask: dict[str, np.ndarray]
    initial: dict[str, np.ndarray] | None = None  # the weights the run started from (before masking)
    trained: dict[str, np.ndarray] | None = None
    record: dict = field(default_factory=dict)  # the run's key, seeds and metrics; what is missing and why

    def model(self, weights: str = "initial"):
        """The network with the mask and `weights` ("initial", times the mask, or "trained")."""
        values = self.initial if weights == "initial" else self.trained
        if values is None:
            raise TicketError(f"This ticket holds no {weights} weights ({self.record.get('missing', {})}).")
        input_shape, classes = SHAPES[self.dataset]
        model, _ = build_model(self.network, input_shape, classes, dropout=self.record.get("dropout", 0.0))
        keras_masks.set_masks(model, self.mask)
        keras_masks.set_weights(model, {name: v * self.mask[name] if name in self.mask else v
                                        for name, v in values.items()})
        return model


def _sources(source: Path) -> dict[str, object]:
    """Store folder name -> something with identity-and-runs reads: a ledger's view or a store."""
    if (source / LEDGER / "runs.jsonl").is_file():
        ledger = Ledger.read(source)
        return {name: (record["identity"], ledger.view(name)) for name, record in ledger.stores.items()}
    stores = {f.name: RunStore.existing(f) for f in sorted(source.iterdir()) if (f / "config.json").is_file()} \
        if source.is_dir() else {}
    if not stores:
        raise TicketError(f"{source} is neither a results folder with a ledger nor a run store.")
    return {name: (store.identity, store) for name, store in stores.items()}


def _pick(sources: dict, network: str | None, store: str | None) -> str:
    names = [n for n, (identity, _) in sources.items()
             if (store is None or n == store) and (network is None or identity["training"]["model"] == network)]
    if len(names) != 1:
        raise TicketError(f"{'No' if not names else 'Several'} configurations match ({', '.join(sources)}): name one "
                          "with --store NAME (or --network).")
    return names[0]


def ticket_from(source, key: str, network: str | None = None, store: str | None = None) -> Ticket:
    """The run `key` of a results folder or store `source` as a `Ticket`."""
    sources = _sources(Path(source))
    name = _pick(sources, network, store)
    identity, runs = sources[name]
    if not runs.has(key):
        raise TicketError(f"{source} holds no run {key} of {name}.")
    metrics = runs.metrics(key)
    record = {"store": name, **{k: metrics[k] for k in RECORDED if k in metrics},
              "dropout": identity["training"].get("dropout", 0.0), "reset": identity["pruning"].get("reset", "init")}

    def read(array: str):
        if hasattr(runs, "has_arrays"):  # a store
            return runs.arrays(key, array) if runs.has_arrays(key, (array,)) else None
        try:  # a ledger, which keeps only some runs' weights
            return runs.arrays(key, array)
        except KeyError:
            return None

    mask, trained = read("mask"), read("final")
    control = metrics.get("control", "ticket")
    if mask is None and control == "reinit":  # a random reinitialization keeps its ticket's mask
        key_of_ticket = key.rsplit("/", 1)[0] + "/ticket"
        mask = runs.arrays(key_of_ticket, "mask") if runs.has(key_of_ticket) else None
    if mask is None:
        raise TicketError(f"{source} keeps no mask for {key} of {name}.")
    seed = metrics.get(SEEDED_STARTS.get(control, ""))
    seeded = seed is not None and (control != "ticket" or record["reset"] == "init" or metrics.get("round") == 0)
    network_name, dataset = identity["training"]["model"], identity["data"]["dataset"]
    ticket = Ticket(network_name, dataset, mask, trained=trained, record=record)
    if seeded:
        input_shape, classes = SHAPES[dataset]
        model, _ = build_model(network_name, input_shape, classes, dropout=record["dropout"])
        ticket.initial = initial_weights(model, int(seed))
    record["missing"] = {k: why for k, why in (
        ("initial", None if seeded else f"the run started from trained weights (reset {record['reset']})"),
        ("trained", None if trained is not None else "the source did not keep them: export from the run store, or "
                                                      "retrain the run")) if why}
    return ticket


def export_ticket(ticket: Ticket, folder) -> list[Path]:
    """Write `ticket` into `folder` (see the module's docstring); returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"mask/{k}": v for k, v in ticket.mask.items()}
    for part in ("initial", "trained"):
        arrays.update({f"{part}/{k}": v for k, v in (getattr(ticket, part) or {}).items()})
    np.savez_compressed(folder / "ticket.npz", **arrays)
    written = [folder / "ticket.npz"]
    for part in ("initial", "trained"):
        if getattr(ticket, part) is not None:
            model = ticket.model(part)
            model.save(folder / f"{part}.keras")
            written.append(folder / f"{part}.keras")
    if ticket.trained is not None:
        (folder / "trained.tflite").write_bytes(to_tflite(model))
        written.append(folder / "trained.tflite")
    (folder / "ticket.json").write_text(json.dumps({"network": ticket.network, "dataset": ticket.dataset,
                                                    **ticket.record}, indent=1, default=str) + "\n")
    return written + [folder / "ticket.json"]


def load_ticket(folder) -> Ticket:
    """A ticket `export_ticket` wrote."""
    folder = Path(folder)
    record = json.loads((folder / "ticket.json").read_text())
    parts: dict[str, dict] = {"mask": {}, "initial": {}, "trained": {}}
    with np.load(folder / "ticket.npz") as arrays:
        for name in arrays.files:
            part, weight = name.split("/", 1)
            parts[part][weight] = arrays[name]
    return Ticket(record.pop("network"), record.pop("dataset"), parts["mask"], parts["initial"] or None,
                  parts["trained"] or None, record)


def _key(args) -> str:
    if args.key:
        return args.key
    leaf = "ticket" if args.control == "ticket" else f"{args.control}{args.reinit}"
    return f"trial{args.trial}/{args.strategy}/round{args.round:02d}/{leaf}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tf_lottery.tickets", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the configurations and runs a source holds, with their arrays")
    listing.add_argument("source")
    export = commands.add_parser("export", help="write one run's ticket into a folder")
    export.add_argument("source")
    export.add_argument("--out", required=True, help="Folder to write the ticket into.")
    export.add_argument("--network", help="The network, where the source holds several configurations.")
    export.add_argument("--store", help="The configuration's store folder name (network-runhash).")
    export.add_argument("--key", help="The run's key (else built from the flags below).")
    export.add_argument("--trial", type=int, default=0)
    export.add_argument("--strategy", default="iterative", choices=("iterative", "oneshot"))
    export.add_argument("--round", type=int, default=0)
    export.add_argument("--control", default="ticket", choices=("ticket", "reinit", "random", "reset"))
    export.add_argument("--reinit", type=int, default=0, help="Which reinit or random network (default 0).")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name, (identity, runs) in _sources(Path(args.source)).items():
                keys = sorted(k for (store, k) in runs.ledger.runs if store == name) if hasattr(runs, "ledger") \
                    else runs.keys()
                print(f"{name} ({identity['training']['model']}): {len(keys)} runs, e.g. {', '.join(keys[:3])}")
            return 0
        ticket = ticket_from(args.source, _key(args), args.network, args.store)
        for path in export_ticket(ticket, args.out):
            print(path)
        for part, why in ticket.record["missing"].items():
            print(f"no {part} weights: {why}")
        return 0
    except TicketError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
