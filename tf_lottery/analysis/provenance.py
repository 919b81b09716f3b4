"""What produced a results folder: command, configuration, seeds, versions, machine, time."""
from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("tensorflow", "tf_keras", "tensorflow-model-optimization", "tensorflow-datasets", "numpy", "pandas",
            "seaborn", "matplotlib", "ray")


PROJECT_ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def code_version() -> dict:
    """The git commit of this checkout and whether its code differs from it (uncommitted
    changes or new files in the package, scripts or benchmarks), as when this process
    first asked: the store asks on import, so a long run records the code it loaded, not
    a checkout changed while it ran."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "tf_lottery", "reproductions", "benchmarks", "pyproject.toml"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown (not a git checkout)", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def relative_to_project(path) -> str:
    """A path as recorded in results: relative to the project when it is near it, so that
    run.json does not carry one machine's absolute paths."""
    path = Path(path).resolve()
    rel = os.path.relpath(path, PROJECT_ROOT)
    return rel if not rel.startswith("../../") else f"<outside the project>/{path.name}"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict:
    """The machine, with what tells one CPU generation from another (its speed differs from
    day to day here: a CPU family/model and AVX-512 or not)."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"platform": platform.platform(), "cpu": info.get("model name", platform.processor()),
            "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
            "avx512": "avx512f" in info.get("flags", "").split(), "cores": os.cpu_count(), "memory_gib": memory,
            "hostname": platform.node()}


def cpu_kind() -> str:
    """The CPU a run trained on, recorded with each stored run: float results of the same run
    differ between CPU generations (oneDNN picks other kernels), so a store filled on
    different days can mix them."""
    m = machine()
    return f"{m['cpu']} {m['cpu_family_model']}, {'AVX-512' if m['avx512'] else 'no AVX-512'}"


def write_run_json(path: Path, **fields) -> dict:
    record = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "code_version": code_version(),
        "packages": package_versions(),
        "machine": machine(),
    }
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return record
