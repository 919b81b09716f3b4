"""What produced a results folder: command, configuration, seeds, versions, machine, time."""
from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from tf_lottery.machine import PROJECT_ROOT, code_version, machine

PACKAGES = ("tensorflow", "tf_keras", "tensorflow-model-optimization", "tensorflow-datasets", "numpy", "pandas",
            "seaborn", "matplotlib", "ray")


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


def write_run_json(path: Path, command: str | None = None, **fields) -> dict:
    """run.json: `command` (default: this process's command line), `fields`, then versions and machine."""
    record = {
        "command": command or " ".join([Path(sys.executable).name] + sys.argv),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "code_version": code_version(),
        "packages": package_versions(),
        "machine": machine(),
    }
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return record
