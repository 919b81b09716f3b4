"""The benchmark scripts stay runnable: each imports against today's package, and the
accelerator check's tiny version runs on a CPU."""
import importlib
import sys

import pytest

from conftest import ROOT

BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py"))


@pytest.fixture(autouse=True)
def benchmarks_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run: python benchmarks/<name>.py


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_imports_against_todays_package(name):
    module = importlib.import_module(name)
    assert callable(getattr(module, "main", None)) or name == "measure", name


@pytest.mark.slow
def test_the_accelerator_checks_tiny_version_runs_on_a_cpu(data_dir, capsys):
    check = importlib.import_module("accelerator_check")
    assert check.main(["--tiny", "--data-dir", str(data_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("devices: ") and lines[-1] == "accelerator_check=ok"
    assert sum("training steps/s" in line for line in lines) == 3
    sys.modules.pop("accelerator_check", None)
