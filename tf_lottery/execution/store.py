"""A resumable, crash-safe store of finished runs.

Layout: <root>/<experiment>-<run hash>/config.json, and one folder per run key holding
`metrics.json` plus any arrays (`<name>.npz`). A run folder is written under a temporary
name and renamed when complete, so a killed process leaves either a whole run or nothing
(a stale temporary folder is ignored and replaced).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from tf_lottery.config import ExperimentConfig

_METRICS = "metrics.json"


class RunStore:
    def __init__(self, root, experiment: str, config: ExperimentConfig):
        self.dir = Path(root) / f"{experiment}-{config.run_hash()}"
        self.dir.mkdir(parents=True, exist_ok=True)
        config_file = self.dir / "config.json"
        if not config_file.exists():
            _write_json_atomic(config_file, config.run_defining())

    def _run_dir(self, key: str) -> Path:
        return self.dir / key

    def has(self, key: str) -> bool:
        return (self._run_dir(key) / _METRICS).is_file()

    def keys(self) -> list[str]:
        return sorted(str(p.parent.relative_to(self.dir)) for p in self.dir.rglob(_METRICS))

    def save(self, key: str, metrics: dict, arrays: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        final = self._run_dir(key)
        tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        for name, values in (arrays or {}).items():
            np.savez(tmp / f"{name}.npz", **{k.replace("/", "|"): v for k, v in values.items()})
        _write_json_atomic(tmp / _METRICS, metrics)
        if final.exists():  # an earlier incomplete attempt (no metrics.json), or a rerun
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            if not self.has(key):
                raise
            shutil.rmtree(tmp)  # another worker stored the same (deterministic) run first

    def metrics(self, key: str) -> dict:
        with open(self._run_dir(key) / _METRICS) as f:
            return json.load(f)

    def arrays(self, key: str, name: str) -> dict[str, np.ndarray]:
        with np.load(self._run_dir(key) / f"{name}.npz") as data:
            return {k.replace("|", "/"): data[k] for k in data.files}


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
