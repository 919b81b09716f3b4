"""What produced a results folder: command, configuration, seeds, versions, machine, time."""
from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("tensorflow", "tf_keras", "tensorflow-model-optimization", "tensorflow-datasets", "numpy", "pandas",
            "seaborn", "matplotlib", "ray")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
            "hostname": platform.node()}


def write_run_json(path: Path, **fields) -> dict:
    record = {
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "packages": package_versions(),
        "machine": machine(),
    }
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return record
