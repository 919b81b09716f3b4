"""What a newcomer meets: user errors exit with one clear message and no traceback, before
training; results of a larger preset or of other settings are not replaced; run.json is
portable."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import IN_THIS_PROCESS, ROOT, load_script
from tf_lottery.analysis.provenance import relative_to_project
from tf_lottery.cli import RunOptions
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import ResultsInTheWay, check_results_folder


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


@pytest.mark.parametrize("script, flags, refusal", [
    ("fig4_lenet", ("--scope", "global", "--global-groups", "fc,output"), "different rates"),
    ("fig4_lenet", ("--conv-dropout", "0.2"), "lenet300_100 has no conv layers: --conv-dropout must be 0."),
    ("fig8_resnet20", ("--dropout", "0.5"), "resnet20 has no dropout layers (the paper trains it without)"),
])
def test_settings_that_do_not_fit_the_model_are_refused_before_training(data_dir, tmp_path, capsys, script, flags,
                                                                        refusal):
    code = load_script(script).main(["--preset", "smoke", *flags, *IN_THIS_PROCESS, "--data-dir", str(data_dir),
                                     "--store", str(tmp_path / "runs"), "--results", str(tmp_path / "results")])
    assert code == 2 and refusal in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("folder", ["store", "results"])
@pytest.mark.parametrize("where", ["under_a_file", "/proc/tf_lottery_test"])
def test_a_folder_that_cannot_be_written_is_refused_before_training(data_dir, tmp_path, capsys, folder, where):
    (tmp_path / "a_file").write_text("")
    paths = {"store": tmp_path / "runs", "results": tmp_path / "results"}
    paths[folder] = tmp_path / "a_file" / folder if where == "under_a_file" else Path(where)
    code = load_script("fig4_lenet").main(["--preset", "smoke", *IN_THIS_PROCESS, "--data-dir", str(data_dir),
                                           "--store", str(paths["store"]), "--results", str(paths["results"])])
    err = capsys.readouterr().err
    assert code == 2 and f"--{folder} {paths[folder]}" in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()  # nothing trained, no store opened


# Two workers: the driver checks, before Ray starts workers that would each fail.
@pytest.mark.parametrize("workers", [IN_THIS_PROCESS, ("--workers", "2")], ids=["in_process", "two_workers"])
def test_a_batch_larger_than_the_training_set_is_refused_before_training(data_dir, tmp_path, capsys, workers):
    code = load_script("fig4_lenet").main(["--preset", "smoke", *workers, "--max-examples", "50",
                                           "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
                                           "--results", str(tmp_path / "results")])
    assert code == 2 and "The batch of 60 exceeds the 50 training examples" in capsys.readouterr().err
    assert not list((tmp_path / "runs").rglob("metrics.json"))


def test_no_tpu_is_one_message_without_traceback(tmp_path):
    done = run_script("--preset", "smoke", "--strategy", "tpu", "--tpu", "local", "--store", str(tmp_path / "runs"),
                      "--results", str(tmp_path / "results"))
    assert done.returncode == 2 and "error: --strategy tpu --tpu local: no TPU reached" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_ray_address_nothing_answers_at_is_refused_at_once(data_dir, tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = load_script("fig4_lenet").main(["--preset", "smoke", "--workers", "2", "--ray-address", f"127.0.0.1:{port}",
                                           "--data-dir", str(data_dir), "--store", str(tmp_path / "runs"),
                                           "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code == 2 and f"--ray-address 127.0.0.1:{port}: nothing answers" in err and "Traceback" not in err, err


def test_a_data_folder_that_is_a_file_says_so(tmp_path, capsys):
    (tmp_path / "data").write_text("")
    code = load_script("fig4_lenet").main(["--preset", "smoke", *IN_THIS_PROCESS, "--data-dir", str(tmp_path / "data"),
                                           "--store", str(tmp_path / "runs"), "--results", str(tmp_path / "results")])
    assert code == 2 and "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("preset, held, selected, refusal", [
    ("fast", "a, b, c", "a", "holds results of 3 settings, of which these flags select 1"),  # --model conv2
    ("fast", "a", "b", "holds results of other settings (run hash a)"),  # another network, a changed flag
    ("fast", "a", "a, b", None), ("fast", "a, b", "b, a", None),  # more settings, or the same
    ("smoke", "a", "b", None)])  # results/smoke is scratch
def test_results_of_settings_these_flags_do_not_select_are_not_replaced(tmp_path, preset, held, selected, refusal):
    (tmp_path / "run.json").write_text(json.dumps({"preset": preset, "run_hash": held}))
    cfg = [SimpleNamespace(run_hash=lambda h=h: h) for h in selected.split(", ")]
    options = RunOptions(preset=preset)
    if refusal is None:
        check_results_folder(tmp_path, FIG4.presets, options, cfg)
    else:
        with pytest.raises(ResultsInTheWay, match=re.escape(refusal)):
            check_results_folder(tmp_path, FIG4.presets, options, cfg)
        check_results_folder(tmp_path, FIG4.presets, RunOptions(preset=preset, overwrite=True), cfg)


@pytest.mark.parametrize("held, asked, refusal", [
    ({}, {"--rounds": 1}, "holds results of the 'fast' preset as published, these flags ask for it with --rounds 1"),
    ({"--rounds": 1}, {}, "preset with --rounds 1, these flags ask for it as published"),
    ({"--lr-drops": [1, 2]}, {"--lr-drops": (1, 2)}, None),  # as JSON keeps it, and as the flags give it
    (None, {"--rounds": 1}, None)])  # written before changed flags were recorded
def test_results_of_the_preset_changed_by_other_flags_are_not_replaced(tmp_path, held, asked, refusal):
    record = {"preset": "fast", "run_hash": "a", **({} if held is None else {"changed_flags": held})}
    (tmp_path / "run.json").write_text(json.dumps(record))
    options = RunOptions(preset="fast", changed=asked)
    cfg = [SimpleNamespace(run_hash=lambda: "a")]
    if refusal is None:
        check_results_folder(tmp_path, FIG4.presets, options, cfg)
    else:
        with pytest.raises(ResultsInTheWay, match=re.escape(refusal)):
            check_results_folder(tmp_path, FIG4.presets, options, cfg)


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
    assert fig4.main(argv + ["--plan"]) == 0  # a plan writes no results: it only warns
    assert "Note: without --plan this would stop here" in capsys.readouterr().out
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
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()  # it writes nothing
    # So it can read a store it cannot write (a colleague's, a read-only mount): a note, not an error.
    code = load_script("fig4_lenet").main(["--preset", "smoke", "--plan", *IN_THIS_PROCESS, "--data-dir",
                                           str(data_dir), "--store", "/proc/tf_lottery_test",
                                           "--results", str(tmp_path / "results")])
    out = capsys.readouterr().out
    assert code == 0 and "Note: without --plan this would stop here: --store /proc/tf_lottery_test cannot" in out
    # Flags that change the preset are named up front, as the results' label will name them.
    load_script("fig4_lenet").main(["--preset", "smoke", "--rounds", "1", "--plan", *IN_THIS_PROCESS, "--data-dir",
                                    str(data_dir), "--store", str(tmp_path / "runs")])
    assert "fig4_lenet: preset 'smoke' with --rounds 1, run hash" in capsys.readouterr().out
