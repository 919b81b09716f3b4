"""Facts about this machine and this checkout, which every layer may record: the code
version, the CPU (whose kind changes a conv net's floats), TensorFlow's thread count."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

import tensorflow as tf

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def limit_threads(threads: int) -> None:
    """Cap TensorFlow's intra-op threads (0: no cap, TensorFlow's default of all cores);
    only possible before TensorFlow runs its first op."""
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}.")
    if threads == 0 or tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as e:
        raise RuntimeError("limit_threads() must be called before TensorFlow executes anything.") from e


def intra_op_threads() -> int:
    """The intra-op threads this process trains with (TensorFlow's 0 means every core)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1
