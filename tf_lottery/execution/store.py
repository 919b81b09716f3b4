"""A resumable, crash-safe store of finished runs, safe to share between processes.

Layout: <root>/<experiment>-<identity hash>/config.json (the identity the hash stands
for), and one folder per run key holding `metrics.json` plus any arrays (`<name>.npz`).

- Identity: opening a store whose `config.json` differs from the identity asking for it is
  refused (`StoreMismatch`); stores of an older `RUN_SCHEMA` live under other hashes and
  are reported as unused.
- Commit point: a run is written, every file fsynced, into a temporary folder that is then
  renamed to its key: the rename is the last write, so a killed process or a power loss
  leaves a whole run or none. `metrics.json` holds each array file's SHA-256, checked on
  load (`StoreCorrupt` names the folder to delete). A killed writer's temporary folder is
  never taken for a run; it (and a half-written checkpoint) is removed when the store is
  next opened, once older than `ABANDONED_AFTER` (a live writer finishes one in seconds).
- Races: first writer wins. The rename fails if the run is already there, and the loser
  discards its copy; a stored run is never replaced, so readers are never disturbed.
  Parts added later (a test curve) are linked into place the same way.
- Copies: `adopt` stores another store's run verbatim (checksums verified, `copied_from`
  added), for runs whose result does not depend on what the two identities differ in.
- Checkpoints: a run in training keeps its progress in `.checkpoints/` (one file per run,
  replaced whole); storing the run removes it. A damaged one is ignored: it only costs the
  progress it held.
- Leases: a run in training is leased to its process (`.leases/`, renewed every minute),
  so other processes sharing the store (another figure's script, another user) train
  other runs meanwhile instead of the same one. A lease only saves duplicated work, it
  guards no result: a dead process's lease is taken over (at once on the same machine,
  after `LEASE_EXPIRES` elsewhere), and if two processes ever train one run, the first to
  store it wins as above.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import shutil
import threading
import time
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tf_lottery.config import RUN_SCHEMA, identity_hash
from tf_lottery.machine import code_version, cpu_kind

code_version()  # fixed now, when the code is loaded (see code_version)

_METRICS = "metrics.json"
_DATA = "data.json"
_ADDED = "added_files.json"  # arrays added to a stored run later, with their SHA-256s
_LEFTOVER = re.compile(r"^\..+[.-][0-9a-f]{8}$")  # every temporary name below: hidden, a random suffix
ABANDONED_AFTER = 3600.0  # seconds
LEASE_EXPIRES = 300.0  # seconds without renewal after which a lease is a vanished process's
LEASE_RENEWED_EVERY = 60.0


class StoreMismatch(ValueError):
    """A store folder holds runs of another configuration than the one asking for it."""


class StoreCorrupt(RuntimeError):
    """A stored run is damaged (truncated or altered files)."""


class TrainedElsewhere(Exception):
    """Run `key` is leased to another live process (`holder`: its host, pid and start time)."""

    def __init__(self, key: str, holder: dict):
        super().__init__(f"{key} is in training by {describe_holder(holder)}")
        self.key, self.holder = key, holder

    def __reduce__(self):  # from a Ray worker to its driver
        return TrainedElsewhere, (self.key, self.holder)


def describe_holder(holder: dict) -> str:
    since = time.strftime("%H:%M", time.localtime(holder.get("since", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} since {since}"


def _canonical(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=list))


class RunStore:
    def __init__(self, root, experiment: str, config, log=print, read_only: bool = False):
        """`config.run_defining()` is the identity every run in this store shares.

        `read_only` (for `--plan`): write nothing, not even the store's folder, so a plan
        leaves no trace and works on a store it cannot write; a store not yet created reads
        as empty, and an existing one's identity is still checked.
        """
        identity = self.identity_of(experiment, config)
        self.dir = Path(root) / self.folder_name(experiment, config)
        self.experiment, self.identity, self.read_only = experiment, identity, read_only
        config_file = self.dir / "config.json"
        if not read_only:
            self.dir.mkdir(parents=True, exist_ok=True)
            if not config_file.exists():
                _commit_file(self.dir, config_file.name, json.dumps(identity, indent=1).encode())
        stored = _read_json(config_file) if config_file.exists() else identity
        if stored != identity:
            changed = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
            raise StoreMismatch(f"{self.dir} holds runs of another configuration (differs in {changed}). "
                                "It was changed by hand or written by an incompatible version; use another --store "
                                "or delete that folder.")
        self._report_old_schemas(Path(root), experiment, log)
        if not read_only:
            self._remove_abandoned_writes()

    @staticmethod
    def identity_of(experiment: str, config) -> dict:
        """What a store's config.json holds: the schema, the experiment and every result-defining field."""
        return _canonical({"schema": RUN_SCHEMA, "experiment": experiment, **config.run_defining()})

    @staticmethod
    def folder_name(experiment: str, config) -> str:
        """The store folder of `config`'s runs: the experiment and the run hash."""
        return f"{experiment}-{identity_hash(config.run_defining())}"

    @classmethod
    def existing(cls, folder: Path) -> "RunStore":
        """A store folder as found on disk, its identity read from its config.json."""
        store = cls.__new__(cls)
        store.dir, store.identity = Path(folder), _read_json(Path(folder) / "config.json")
        store.experiment, store.read_only = store.identity["experiment"], True  # only read: a source of copies
        return store

    def differing_only_in(self, sections: tuple[str, ...]) -> list["RunStore"]:
        """The other stores of this experiment beside this one whose identity differs only
        in `sections` and whose runs trained on the same data."""
        def rest(identity: dict) -> dict:
            return {k: v for k, v in identity.items() if k not in sections}

        found = []
        for config_file in sorted(self.dir.parent.glob(f"{self.experiment}-*/config.json")):
            if config_file.parent == self.dir:
                continue
            try:
                other = RunStore.existing(config_file.parent)
            except (OSError, ValueError, KeyError):
                continue  # damaged or foreign folders are not ours to judge here
            if rest(other.identity) == rest(self.identity) and _fingerprint(other) == _fingerprint(self):
                found.append(other)
        return found

    def check_data(self, dataset) -> None:
        """Record which exact data this store's runs train on (first caller), and refuse
        other data: a lossy copy and the original give different runs under one config."""
        if not dataset.fingerprint:  # hand-built data sets (tests) carry none
            return
        record = {"dataset": dataset.name, "fingerprint": dataset.fingerprint, "lossy": dataset.lossy,
                  "first_source": dataset.source}
        if not self.read_only:
            _commit_file(self.dir, _DATA, json.dumps(record, indent=1).encode())
        stored = self.data_record() or record
        if stored["fingerprint"] != dataset.fingerprint:
            raise StoreMismatch(f"{self.dir} holds runs trained on other data ({stored['first_source']}, "
                                f"{'lossy' if stored['lossy'] else 'lossless'}) than {dataset.source} "
                                f"({'lossy' if dataset.lossy else 'lossless'}). Use another --store for this data.")

    def record_data(self, record: dict) -> None:
        """Record the data this store's runs trained on, as a ledger names it (first writer wins)."""
        if not self.read_only:
            _commit_file(self.dir, _DATA, json.dumps(record, indent=1).encode())

    def locate(self, key: str) -> tuple["RunStore", str]:
        """The store and key a run key names (here: this store; a sweep's routes by prefix)."""
        return self, key

    def data_record(self) -> dict | None:
        """What `check_data` recorded: the data this store's runs were trained on."""
        path = self.dir / _DATA
        return _read_json(path) if path.is_file() else None

    _reported: set = set()  # (root, experiment) already checked by this process

    @classmethod
    def _report_old_schemas(cls, root: Path, experiment: str, log) -> None:
        if (root.resolve(), experiment) in cls._reported:  # once, not for every configuration of a sweep
            return
        cls._reported.add((root.resolve(), experiment))
        old = []
        for path in root.glob(f"{experiment}-*/config.json"):
            try:
                if json.loads(path.read_text()).get("schema", 1) < RUN_SCHEMA:
                    old.append(path.parent.name)
            except (OSError, ValueError):
                continue
        if old:
            log(f"Note: {len(old)} store folder(s) in {root} come from an older, incompatible version of tf_lottery "
                f"(run schema < {RUN_SCHEMA}) and are not used: {', '.join(sorted(old))}. Delete them to free space.")

    def _run_dir(self, key: str) -> Path:
        return self.dir / key

    def _remove_abandoned_writes(self) -> None:
        """Delete what killed writers left: a run's temporary folder, a half-written checkpoint
        or file. Only old ones: another process may be writing a young one right now."""
        now = time.time()
        for folder, subfolders, files in os.walk(self.dir):  # skips folders that vanish meanwhile
            leftovers = [n for n in subfolders + files if _LEFTOVER.match(n)]
            subfolders[:] = [n for n in subfolders if n not in leftovers]
            for name in leftovers:
                path = Path(folder) / name
                try:
                    if now - path.stat().st_mtime > ABANDONED_AFTER:
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                except FileNotFoundError:
                    continue  # committed or removed by another process meanwhile

    def has(self, key: str) -> bool:
        return (self._run_dir(key) / _METRICS).is_file()

    def keys(self) -> list[str]:
        """The stored runs' keys (not temporary folders, not checkpoints)."""
        found = []
        for folder, subfolders, files in os.walk(self.dir):
            subfolders[:] = [n for n in subfolders if not n.startswith(".")]
            if _METRICS in files:
                found.append(str(Path(folder).relative_to(self.dir)))
        return sorted(found)

    def save(self, key: str, metrics: dict, arrays: dict[str, dict[str, np.ndarray]] | None = None) -> bool:
        """Store a finished run; False if another writer stored it first (its copy stays).
        Either way the run's checkpoint is no longer needed."""
        def write(tmp: Path) -> None:
            files = {}
            for name, values in (arrays or {}).items():
                path = tmp / f"{name}.npz"
                _write_npz(path, values)
                files[path.name] = _sha256(path)
            record = {**metrics, "files": files, "code_version": code_version(),
                      "trained_on": metrics.get("trained_on") or cpu_kind()}
            _write_synced(tmp / _METRICS, json.dumps(record, indent=1).encode())

        stored = self._commit_run(key, write)
        self._checkpoint_path(key).unlink(missing_ok=True)
        return stored

    def adopt(self, key: str, source: "RunStore") -> bool:
        """Store a copy of `source`'s run `key` as it was trained there (its files, checksums,
        code version and parts, plus `copied_from`); False if this store has the run already."""
        def write(tmp: Path) -> None:
            record = {**source.metrics(key), "files": source.files(key)}
            for name, expected in record["files"].items():
                data = (source._run_dir(key) / name).read_bytes()
                if hashlib.sha256(data).hexdigest() != expected:
                    raise StoreCorrupt(f"{source._run_dir(key) / name} is damaged (checksum mismatch). Delete "
                                       f"{source._run_dir(key)} and run the same command again to retrain it.")
                _write_synced(tmp / name, data)
            for part in source._run_dir(key).glob("*.json"):
                if part.name not in (_METRICS, _ADDED):
                    _write_synced(tmp / part.name, part.read_bytes())
            _write_synced(tmp / _METRICS, json.dumps({**record, "copied_from": source.dir.name}, indent=1).encode())

        return self._commit_run(key, write)

    def _commit_run(self, key: str, write) -> bool:
        """`write(folder)` a run into a temporary folder, then rename it to its key."""
        final = self._run_dir(key)
        if self.has(key):
            return False
        tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            write(tmp)
            _fsync_dir(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            os.rename(tmp, final)  # the commit point
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if not self.has(key):
                raise StoreCorrupt(f"{final} is an incomplete run folder; delete it and rerun.") from None
            return False  # another writer stored the same (deterministic) run first
        _fsync_dir(final.parent)
        return True

    def restore(self, key: str, metrics: dict, parts: dict[str, dict], arrays: dict[str, dict[str, np.ndarray]]) -> bool:
        """Store a run as a results ledger recorded it (its metrics as trained, its parts and
        whichever arrays the ledger kept); False if this store has the run already."""
        def write(tmp: Path) -> None:
            files = {}
            for name, values in arrays.items():
                path = tmp / f"{name}.npz"
                _write_npz(path, values)
                files[path.name] = _sha256(path)
            for name, obj in parts.items():
                _write_synced(tmp / f"{name}.json", json.dumps(obj).encode())
            _write_synced(tmp / _METRICS, json.dumps({**metrics, "files": files}, indent=1).encode())

        return self._commit_run(key, write)

    def add_arrays(self, key: str, arrays: dict[str, dict[str, np.ndarray]]) -> None:
        """Add arrays a stored run lacks (a run restored from a ledger that did not keep its
        weights, retrained for them); first writer wins, as for parts."""
        folder, added = self._run_dir(key), {}
        for name, values in arrays.items():
            tmp = folder / f".{name}.npz.{uuid.uuid4().hex[:8]}"
            _write_npz(tmp, values)
            try:
                os.link(tmp, folder / f"{name}.npz")
            except FileExistsError:
                pass  # another writer added it first: its copy stays
            finally:
                tmp.unlink()
            added[f"{name}.npz"] = _sha256(folder / f"{name}.npz")
        _fsync_dir(folder)
        _commit_file(folder, _ADDED, json.dumps(added).encode())

    def files(self, key: str) -> dict[str, str]:
        """A stored run's array files and their SHA-256s, those added later included."""
        files = dict(self.metrics(key).get("files", {}))
        added = self._run_dir(key) / _ADDED
        return {**files, **(_read_json(added) if added.is_file() else {})}

    def array_names(self, key: str) -> list[str]:
        return sorted(name.removesuffix(".npz") for name in self.files(key))

    def has_arrays(self, key: str, names) -> bool:
        files = self.files(key)
        return all(f"{name}.npz" in files for name in names)

    def part_names(self, key: str) -> list[str]:
        return sorted(p.stem for p in self._run_dir(key).glob("*.json") if p.name not in (_METRICS, _ADDED))

    def metrics(self, key: str) -> dict:
        return _read_json(self._run_dir(key) / _METRICS)

    def arrays(self, key: str, name: str) -> dict[str, np.ndarray]:
        path = self._run_dir(key) / f"{name}.npz"
        expected = self.files(key).get(path.name)
        if expected is None or not path.is_file() or _sha256(path) != expected:
            raise StoreCorrupt(f"{path} is missing or damaged (checksum mismatch). Delete {path.parent} and run the "
                               "same command again to retrain it.")
        with np.load(path) as data:
            return {k.replace("|", "/"): data[k] for k in data.files}

    # -- a run in training ------------------------------------------------------------------
    def _checkpoint_path(self, key: str) -> Path:
        return self.dir / ".checkpoints" / f"{key.replace('/', '__')}.npz"

    def save_checkpoint(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Replace run `key`'s checkpoint: the old file stays until the new one is whole."""
        path = self._checkpoint_path(key)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        try:
            _write_npz(tmp, {**arrays, "_meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def checkpoint(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """Run `key`'s saved progress (arrays, meta), or None if there is none readable."""
        return self._read_checkpoint(key, lambda data: (
            {k.replace("|", "/"): data[k] for k in data.files if k != "_meta"}, json.loads(data["_meta"].tobytes())))

    def checkpointed_at(self, key: str) -> int | None:
        """The iteration run `key` would resume from (reads only the checkpoint's header)."""
        return self._read_checkpoint(key, lambda data: int(json.loads(data["_meta"].tobytes())["step"]))

    def _read_checkpoint(self, key: str, read):
        try:
            with np.load(self._checkpoint_path(key)) as data:
                return read(data)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    def _lease_path(self, key: str) -> Path:
        return self.dir / ".leases" / f"{key.replace('/', '__')}.json"

    @contextmanager
    def lease(self, key: str):
        """Hold run `key`'s lease while the block trains it; raises `TrainedElsewhere` if a
        live process holds it."""
        path = self._lease_path(key)
        path.parent.mkdir(exist_ok=True)
        mine = {"host": platform.node(), "pid": os.getpid(), "since": time.time()}
        if not _commit_file(path.parent, path.name, json.dumps(mine).encode()):
            holder = self.lease_holder(key)
            if holder is not None:
                raise TrainedElsewhere(key, holder)
            path.unlink(missing_ok=True)  # its holder is gone; two processes taking it over at once both train
            if not _commit_file(path.parent, path.name, json.dumps(mine).encode()):
                raise TrainedElsewhere(key, self.lease_holder(key) or {})
        done = threading.Event()
        renewing = threading.Thread(target=_renew, args=(path, done), daemon=True)
        renewing.start()
        try:
            yield
        finally:
            done.set()
            renewing.join()
            if _read_lease(path) == mine:  # not one that took over an expired lease of ours
                path.unlink(missing_ok=True)

    def lease_holder(self, key: str) -> dict | None:
        """The live process run `key` is leased to (host, pid, since), or None."""
        path = self._lease_path(key)
        holder = _read_lease(path)
        try:
            expired = time.time() - path.stat().st_mtime > LEASE_EXPIRES
        except FileNotFoundError:
            return None
        if holder is None or expired or (holder.get("host") == platform.node() and not _alive(holder.get("pid"))):
            return None
        return holder

    # -- parts added to a stored run later (first writer wins) -------------------------------
    def has_part(self, key: str, name: str) -> bool:
        return (self._run_dir(key) / f"{name}.json").is_file()

    def save_part(self, key: str, name: str, obj: dict) -> bool:
        if not self.has(key):
            raise KeyError(f"Run {key} is not stored; parts are added to stored runs.")
        return _commit_file(self._run_dir(key), f"{name}.json", json.dumps(obj).encode())

    def part(self, key: str, name: str) -> dict:
        return _read_json(self._run_dir(key) / f"{name}.json")


def _renew(path: Path, done: threading.Event) -> None:
    while not done.wait(LEASE_RENEWED_EVERY):
        try:
            os.utime(path)
        except FileNotFoundError:
            return


def _read_lease(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError, OverflowError):
        return True  # another user's process, or a lease not ours to judge: leave it to expire
    return True


def _fingerprint(store: RunStore) -> str | None:
    return (store.data_record() or {}).get("fingerprint")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise StoreCorrupt(f"{path} is damaged ({e}). Delete {path.parent} and rerun.") from None


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays keyed by weight names ('fc1/kernel'; npz keys cannot hold '/'), fsynced."""
    with open(path, "wb") as f:
        np.savez(f, **{k.replace("/", "|"): v for k, v in arrays.items()})
        f.flush()
        os.fsync(f.fileno())


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit_file(folder: Path, name: str, data: bytes) -> bool:
    """Write `folder/name` whole or not at all; False if it already exists (first writer wins)."""
    tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}"
    _write_synced(tmp, data)
    try:
        os.link(tmp, folder / name)  # fails if the name exists: never replaces
        _fsync_dir(folder)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
