"""The results ledger: a compact, durable record of every run a results folder reports.

A run store lives and dies with its machine; a results folder is committed. So each
results folder holds, in `ledger/`, what its report needs and what later runs start from:

    ledger/stores.json     each store's identity (its config.json: schema, experiment and
                           every result-defining field) and the data its runs trained on
    ledger/runs.jsonl      one line per run, sorted: store, key, its metrics as stored
                           (seeds, results, where, when and by which code it trained),
                           without curves; its parts (a test curve) likewise; its arrays'
                           SHA-256s; `differs_from`: what a second copy of it said
    ledger/curves.parquet  every run's evaluation curves, one row per evaluation
    ledger/test_curve.parquet  the test curves of the runs that have one
    ledger/arrays/<store>/<key>/<name>.npz  the arrays below, bit-exact, compressed

Arrays kept (`kept_arrays`): every mask (bit-packed), and the trained weights other runs
start from: a trial's round 0 (one-shot pruning, rewinding) and its last iterative round
(the next round prunes it), stored as the values the mask keeps. Weights of networks
over `MAX_WEIGHTS` parameters (VGG-19) are not kept; a later round of such a study
retrains the chain it needs (see `tf_lottery.ledger.seeding`). Arrays of other kinds of
run (v1's XOR stages, which are tiny) are all kept. A trial's initialization is not kept:
it is redrawn from its recorded seed.

Runs are addressed by (store folder, run key); the store folder names the run hash, so a
ledger from any machine serves any other. Merging keeps the first copy of a run and
records in `differs_from` where a second one differed (conv nets' floats differ between
CPU kinds). Everything is written sorted and with fixed timestamps, so an unchanged ledger
is byte-identical when rewritten, and git stores one copy of an array shared by folders.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LEDGER = "ledger"
MAX_WEIGHTS = 5_000_000  # parameters: Lenet (266K) and Conv-2/4/6 (2.3-4.3M) keep weights, VGG-19 (20M) does not
CURVE_FIELDS = {"curves": "metrics", "test_curve": "part"}  # equal-length series stored as parquet
WEIGHT_ARRAYS = ("final", "rewind")  # trained weights: kept only where other runs start from them
_TRUNK = re.compile(r"^trial(\d+)/iterative/round(\d+)/ticket$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class LedgerError(ValueError):
    """A ledger folder is damaged or not a ledger."""


@dataclass
class LedgerRun:
    """One run as a ledger holds it: metrics (curves included) and parts as the store had
    them, and its arrays, read when asked for."""

    metrics: dict
    parts: dict = field(default_factory=dict)
    arrays: dict[str, Callable[[], dict[str, np.ndarray]]] = field(default_factory=dict)
    differs_from: list = field(default_factory=list)


class Ledger:
    """Runs by (store folder, key), with each store's identity and data record."""

    def __init__(self):
        self.stores: dict[str, dict] = {}
        self.runs: dict[tuple[str, str], LedgerRun] = {}

    def __len__(self) -> int:
        return len(self.runs)

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def read(cls, folder) -> "Ledger":
        """The ledger of results folder `folder` (empty if it has none)."""
        ledger, root = cls(), Path(folder) / LEDGER
        if not (root / "runs.jsonl").is_file():
            return ledger
        try:
            ledger.stores = json.loads((root / "stores.json").read_text())
            lines = [json.loads(line) for line in (root / "runs.jsonl").read_text().splitlines() if line]
            curves = {name: _read_curves(root / f"{name}.parquet") for name in CURVE_FIELDS}
        except (OSError, ValueError, pa.ArrowException) as e:
            raise LedgerError(f"{root} is damaged ({e}); restore it from git (git checkout -- {root}).") from None
        for line in lines:
            address = (line["store"], line["key"])
            metrics, parts = line["metrics"], line.get("parts", {})
            for name, where in CURVE_FIELDS.items():
                series = line.get(f"{name}_series")
                if series is not None:
                    values = curves[name].get(address, {})
                    holder = metrics if where == "metrics" else parts
                    holder[name] = {s: values.get(s, []) for s in series}
            arrays = {name: _array_reader(root / "arrays" / line["store"] / line["key"] / f"{name}.npz", digest)
                      for name, digest in line.get("arrays", {}).items()}
            ledger.runs[address] = LedgerRun(metrics, parts, arrays, line.get("differs_from", []))
        return ledger

    # -- building --------------------------------------------------------------------------
    def add(self, store: str, key: str, run: LedgerRun, identity: dict, data: dict | None) -> bool:
        """Add a run of store `store` (with that store's identity and data record); if the
        ledger has it already, keep the first copy and record how the new one differs.
        Returns whether the run was new."""
        known = self.stores.setdefault(store, {"identity": identity, "data": data})
        if known["identity"] != identity:
            raise LedgerError(f"Store {store} appears with two identities; a ledger was edited by hand.")
        if data and not known.get("data"):
            known["data"] = data
        held = self.runs.get((store, key))
        if held is None:
            self.runs[(store, key)] = run
            return True
        difference = _difference(held, run)
        if difference and difference not in held.differs_from:
            held.differs_from.append(difference)
        for name, reader in run.arrays.items():  # a retrained copy can supply weights the first lacked
            held.arrays.setdefault(name, reader)
        return False

    def merge(self, other: "Ledger") -> None:
        for (store, key), run in sorted(other.runs.items()):
            entry = other.stores[store]
            self.add(store, key, run, entry["identity"], entry.get("data"))

    def store_record(self, store: str) -> dict:
        """A store's identity and data record, as `add` takes them."""
        entry = self.stores[store]
        return {"identity": entry["identity"], "data": entry.get("data")}

    def has(self, store: str, key: str) -> bool:
        return (store, key) in self.runs

    def view(self, store: str) -> "LedgerView":
        return LedgerView(self, store)

    # -- writing ---------------------------------------------------------------------------
    def write(self, folder) -> dict[str, int]:
        """Write the ledger into results folder `folder` (replacing its ledger whole);
        returns the bytes of each part."""
        root = Path(folder) / LEDGER
        tmp = root.with_name(f".{LEDGER}-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        try:
            self._write_into(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = root.with_name(f".{LEDGER}-old-{uuid.uuid4().hex[:8]}")
        if root.exists():
            os.rename(root, old)
        os.rename(tmp, root)
        shutil.rmtree(old, ignore_errors=True)
        return sizes(root)

    def _write_into(self, root: Path) -> None:
        keep = kept_arrays(self)
        lines, curves = [], {name: [] for name in CURVE_FIELDS}
        for (store, key), run in sorted(self.runs.items()):
            metrics = {k: v for k, v in run.metrics.items() if k not in ("curves", "files")}
            parts = {k: v for k, v in run.parts.items() if k not in CURVE_FIELDS}
            line = {"store": store, "key": key, "metrics": metrics}
            if parts:
                line["parts"] = parts
            for name, where in CURVE_FIELDS.items():
                series = run.metrics.get(name) if where == "metrics" else run.parts.get(name)
                if series is not None:
                    line[f"{name}_series"] = list(series)
                    curves[name].append((store, key, series))
            digests, kept = {}, sorted(keep.get((store, key), ()))
            mask = run.arrays["mask"]() if "mask" in run.arrays and set(kept) & set(WEIGHT_ARRAYS) else None
            for name in kept:
                path = root / "arrays" / store / key / f"{name}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode_arrays(run.arrays[name](), name, mask if name in WEIGHT_ARRAYS else None))
                digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            if digests:
                line["arrays"] = digests
            if run.differs_from:
                line["differs_from"] = run.differs_from
            lines.append(json.dumps(line, sort_keys=True, allow_nan=True))
        (root / "stores.json").write_text(json.dumps(self.stores, indent=1, sort_keys=True, default=list) + "\n")
        (root / "runs.jsonl").write_text("".join(line + "\n" for line in lines))
        for name, rows in curves.items():
            _write_curves(root / f"{name}.parquet", rows)


class LedgerView:
    """One store's runs in a ledger, read as a report reads a `RunStore`."""

    def __init__(self, ledger: Ledger, store: str):
        self.ledger, self.name = ledger, store

    def _run(self, key: str) -> LedgerRun:
        try:
            return self.ledger.runs[(self.name, key)]
        except KeyError:
            raise KeyError(f"The ledger holds no run {key} of {self.name}.") from None

    def has(self, key: str) -> bool:
        return self.ledger.has(self.name, key)

    def metrics(self, key: str) -> dict:
        return json.loads(json.dumps(self._run(key).metrics))  # a copy, as a store's read is

    def has_part(self, key: str, name: str) -> bool:
        return self.has(key) and name in self._run(key).parts

    def part(self, key: str, name: str) -> dict:
        return self._run(key).parts[name]

    def arrays(self, key: str, name: str) -> dict[str, np.ndarray]:
        return self._run(key).arrays[name]()

    def data_record(self) -> dict | None:
        return self.ledger.stores.get(self.name, {}).get("data")


def kept_arrays(ledger: Ledger) -> dict[tuple[str, str], set[str]]:
    """Which arrays of which runs the ledger keeps (the rule in the module's docstring)."""
    last_round: dict[tuple[str, int], int] = {}
    for (store, key), run in ledger.runs.items():
        if (m := _TRUNK.match(key)) and "final" in run.arrays:
            trial = (store, int(m.group(1)))
            last_round[trial] = max(last_round.get(trial, 0), int(m.group(2)))
    keep = {}
    for (store, key), run in ledger.runs.items():
        names = set(run.arrays)
        m = _TRUNK.match(key)
        if m is not None:
            trial, rnd = (store, int(m.group(1))), int(m.group(2))
            if rnd not in (0, last_round.get(trial)) or _weights_size(run) > MAX_WEIGHTS:  # size: read only if kept
                names -= set(WEIGHT_ARRAYS)
        if names:
            keep[(store, key)] = names
    return keep


def _weights_size(run: LedgerRun) -> int:
    """Parameters of a run's network (the dense size of its trained weights)."""
    return sum(v.size for v in run.arrays["final"]().values()) if "final" in run.arrays else 0


def sizes(root: Path) -> dict[str, int]:
    """Bytes of each part of the ledger folder `root` (arrays summed)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            part = "arrays" if path.relative_to(root).parts[0] == "arrays" else path.name
            found[part] = found.get(part, 0) + path.stat().st_size
    return found


# -- arrays -------------------------------------------------------------------------------------
def encode_arrays(arrays: dict[str, np.ndarray], name: str, mask: dict[str, np.ndarray] | None = None) -> bytes:
    """A deterministic, compressed npz of `arrays`: masks (`name` "mask") as bits, trained
    weights as the values `mask` keeps where everything else is exactly zero."""
    members = {}
    for weight, values in sorted(arrays.items()):
        base = weight.replace("/", "|")
        values = np.asarray(values)
        if name == "mask" and np.isin(values, (0, 1)).all():
            members[f"{base}#bits"] = np.packbits(values.astype(bool).ravel())
            members[f"{base}#shape"] = np.asarray(values.shape, dtype=np.int64)
            members[f"{base}#dtype"] = np.frombuffer(values.dtype.str.encode(), dtype=np.uint8)
        elif mask is not None and weight in mask and not values[mask[weight] == 0].any():
            kept = mask[weight] != 0
            members[f"{base}#kept"] = values[kept]
            members[f"{base}#shape"] = np.asarray(values.shape, dtype=np.int64)
        else:
            members[base] = values
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, values in members.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(values), allow_pickle=False)
            info = zipfile.ZipInfo(f"{member}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data.getvalue())
    return buffer.getvalue()


def decode_arrays(data: bytes, mask: Callable[[], dict[str, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    out = {}
    for member, values in members.items():
        base, _, role = member.partition("#")
        weight = base.replace("|", "/")
        if role == "bits":
            shape = tuple(members[f"{base}#shape"])
            dtype = np.dtype(members[f"{base}#dtype"].tobytes().decode())
            out[weight] = np.unpackbits(values, count=math.prod(shape)).reshape(shape).astype(dtype)
        elif role == "kept":
            keep = mask()[weight] != 0
            full = np.zeros(tuple(members[f"{base}#shape"]), dtype=values.dtype)
            full[keep] = values
            out[weight] = full
        elif not role:
            out[weight] = values
    return out


def _array_reader(path: Path, digest: str) -> Callable[[], dict[str, np.ndarray]]:
    mask_path = path.with_name("mask.npz")

    def read() -> dict[str, np.ndarray]:
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != digest:
            raise LedgerError(f"{path} is missing or damaged (checksum mismatch); restore it from git.")
        return decode_arrays(data, lambda: decode_arrays(mask_path.read_bytes()))
    return read


# -- curves -------------------------------------------------------------------------------------
def _write_curves(path: Path, rows: list[tuple[str, str, dict]]) -> None:
    """Runs' equal-length series as one table (store, key, then a column per series)."""
    names = sorted({s for _, _, series in rows for s in series})
    columns = {"store": [], "key": [], **{s: [] for s in names}}
    for store, key, series in rows:
        n = max((len(v) for v in series.values()), default=0)
        columns["store"] += [store] * n
        columns["key"] += [key] * n
        for s in names:
            values = series.get(s)
            columns[s] += list(values) if values is not None else [None] * n
    table = pa.table({k: pa.array(v, type=_type(v) if k not in ("store", "key") else pa.string())
                      for k, v in columns.items()})
    pq.write_table(table, path, compression="zstd", use_dictionary=["store", "key"])


def _type(values: list):
    return pa.int64() if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values) \
        else pa.float64()


def _read_curves(path: Path) -> dict[tuple[str, str], dict[str, list]]:
    if not path.is_file():
        return {}
    table = pq.read_table(path).to_pydict()
    found: dict[tuple[str, str], dict[str, list]] = {}
    series = [c for c in table if c not in ("store", "key")]
    for i, address in enumerate(zip(table["store"], table["key"])):
        run = found.setdefault(address, {s: [] for s in series})
        for s in series:
            run[s].append(table[s][i])
    return found


def _difference(held: LedgerRun, other: LedgerRun) -> dict | None:
    """What a second copy of a run says differently (results only, not timings)."""
    ignore = {"seconds", "steady_seconds", "cpu_seconds", "resumed_at", "files", "code_version", "copied_from",
              "from_ledger", "trained_on"}
    changed = {k: other.metrics.get(k) for k in set(held.metrics) | set(other.metrics)
               if k not in ignore and _json(held.metrics.get(k)) != _json(other.metrics.get(k))}
    if not changed:
        return None
    return {"trained_on": other.metrics.get("trained_on"), "code_version": other.metrics.get("code_version"),
            "changed": sorted(changed)}


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)
