"""What a newcomer meets: user errors exit with one clear message and no traceback, larger
presets' results are not replaced by smaller ones, run.json is portable."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from test_lottery import IN_THIS_PROCESS, load_script
from tf_lottery.analysis.provenance import relative_to_project


def run_script(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "reproductions" / "fig4_lenet.py"), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_data_error_is_one_message_without_traceback(tmp_path, workers):
    (tmp_path / "data" / "mnist").mkdir(parents=True)  # the folder exists, the files do not
    done = run_script("--preset", "smoke", "--workers", workers, "--data-dir", str(tmp_path / "data"),
                      "--store", str(tmp_path / "runs"), "--results", str(tmp_path / "results"))
    assert done.returncode == 2, done.stderr[-3000:]
    assert "error: Missing file" in done.stderr and "Provide the four MNIST" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "results").exists()


def test_settings_that_do_not_fit_the_model_are_refused_before_training(tmp_path, capsys):
    code = load_script("fig4_lenet").main(["--preset", "smoke", "--scope", "global", "--global-groups", "fc,output",
                                           *IN_THIS_PROCESS, "--store", str(tmp_path / "runs"),
                                           "--results", str(tmp_path / "results")])
    assert code == 2 and "different rates" in capsys.readouterr().err


def test_a_smaller_preset_does_not_replace_a_larger_ones_results(data_dir, tmp_path, capsys):
    out = tmp_path / "results" / "fig4_lenet"
    out.mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"preset": "fast"}))
    argv = ["--preset", "smoke", "--iterations", "100", "--rounds", "1", "--control-rounds", "1", "--no-oneshot",
            *IN_THIS_PROCESS, "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
            "--results", str(tmp_path / "results")]
    fig4 = load_script("fig4_lenet")
    assert fig4.main(argv) == 2
    assert "larger 'fast' preset" in capsys.readouterr().err and json.loads((out / "run.json").read_text()) == {
        "preset": "fast"}
    assert fig4.main(argv + ["--overwrite"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["preset"] == "smoke" and set(record["code_version"]) == {"commit", "dirty"}
    # Portable: the data folder relative to the project (../shared/data/mnist in a checkout), no absolute paths.
    assert record["data_source"] == f"local folder {relative_to_project(data_dir / 'mnist')}"
    assert not record["data_source"].startswith("local folder /") and not record["store"].startswith("/")


def test_the_smoke_preset_writes_beside_the_committed_results(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--preset", "smoke", "--iterations", "100", "--rounds", "1", "--control-rounds", "1", "--no-oneshot",
            *IN_THIS_PROCESS, "--data-dir", str(data_dir)]
    assert load_script("fig4_lenet").main(argv) == 0
    assert (tmp_path / "results" / "smoke" / "fig4_lenet" / "run.json").is_file()
    assert not (tmp_path / "results" / "fig4_lenet").exists()


def test_plan_lists_the_runs_and_trains_nothing(data_dir, tmp_path, capsys):
    code = load_script("fig4_lenet").main(["--preset", "smoke", "--plan", *IN_THIS_PROCESS, "--data-dir",
                                           str(data_dir), "--store", str(tmp_path / "runs"),
                                           "--results", str(tmp_path / "results")])
    out = capsys.readouterr().out
    assert code == 0 and "  to train  trial0/iterative/round00/ticket" in out and "  stored" not in out
    assert "6 runs in this study: 0 already stored, 6 to train" in out
    assert not (tmp_path / "results").exists()
    assert [p.name for p in (tmp_path / "runs").glob("*/*")] == ["config.json"]  # the store's identity only
