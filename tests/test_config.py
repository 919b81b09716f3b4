"""Configuration, flags, presets, every script's --help, and run identity."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load_script
from tf_lottery.presets import changed_text
from tf_lottery.config import RUN_SCHEMA, ExperimentConfig, StudyConfig, TrainingConfig, identity_hash
from tf_lottery.figures.merging import split_hashes
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import parse_figure, run_hash_text
from tf_lottery.figures.spec import Figure
from tf_lottery.lottery.xor_study import XorConfig

ROOT = Path(__file__).resolve().parents[1]


def parse(argv):
    options, (cfg,) = parse_figure(FIG4, argv)
    return options, cfg


def test_hashes_are_pinned():
    # A change here means stored runs are no longer found: bump RUN_SCHEMA if their meaning changed.
    assert RUN_SCHEMA == 2
    assert ExperimentConfig().run_hash() == "e1ffad4b1fb4"


def _other_value(f, value):
    """A valid value different from `value` for a config field."""
    if f.metadata.get("choices"):
        return next(c for c in f.metadata["choices"] if c != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):
        return (1000,) if f.metadata.get("type") == "int_list" else ("fc",)
    if isinstance(value, str):
        return value + "-other"
    return value + 1 if isinstance(value, int) else value / 2 + 0.01


@pytest.mark.parametrize("section", ["data", "training", "pruning"])
def test_every_result_defining_field_changes_the_run_identity(section):
    base = ExperimentConfig()
    for f in dataclasses.fields(getattr(base, section)):
        changed = dataclasses.replace(getattr(base, section), **{f.name: _other_value(f, getattr(getattr(base, section), f.name))})
        other = dataclasses.replace(base, **{section: changed})
        if f.metadata.get("identity", True):
            assert other.run_hash() != base.run_hash(), f.name
        else:
            assert other.run_hash() == base.run_hash(), f.name
    assert dataclasses.replace(base, seed=1).run_hash() != base.run_hash()


def test_identity_covers_defaults_model_and_data_not_the_study_plan():
    base = ExperimentConfig()
    identity = base.run_defining()
    assert identity["training"]["model"] == "lenet300_100" and identity["data"]["dataset"] == "mnist"
    assert identity["training"]["iterations"] == 50_000 and "study" not in identity
    assert base.run_hash() != identity_hash({})  # the default configuration is not "nothing changed"
    assert ExperimentConfig(study=StudyConfig(trials=2, reinits=1)).run_hash() == base.run_hash()
    assert ExperimentConfig(training=TrainingConfig(steps_per_call=50)).run_hash() == base.run_hash()
    assert XorConfig().run_hash() != XorConfig(iterations=300).run_hash()
    assert XorConfig().run_hash() == XorConfig(prune_to=(2,)).run_hash()


def test_presets_flags_and_the_model_protocol():
    _, cfg = parse(["--preset", "fast"])
    assert cfg.study.trials == 3 and cfg.training.iterations == 50_000 and cfg.study.reinits == 1
    _, cfg = parse(["--preset", "fast", "--trials", "3", "--control-rounds", "3,7", "--no-oneshot",
                    "--learning-rate", "0.002", "--lr-drops", "100,200"])
    assert cfg.study.trials == 3 and cfg.study.levels() == [3, 7] and not cfg.study.oneshot
    assert cfg.training.learning_rate == 0.002 and cfg.training.lr_drops == (100, 200)
    _, cfg = parse([])
    assert cfg.run_hash() == ExperimentConfig().run_hash() and cfg.study.random_sparse == 2  # Figure 1's 10 per level
    # The protocol comes from the model's registry entry, under the preset and the flags.
    _, cfg = parse(["--preset", "smoke"])
    assert cfg.training.iterations == 300 and cfg.training.learning_rate == 1.2e-3


def test_fewer_rounds_than_the_preset_keep_its_controls_that_fit():
    # A probe of the unpruned network (--rounds 0) or a shorter ladder, without restating
    # the preset's control rounds; explicit control rounds beyond --rounds stay an error.
    from tf_lottery.figures import conv
    levels = lambda argv: parse(["--preset", "fast", *argv])[1].study.levels()
    assert levels(["--rounds", "10"]) == [3, 7, 9] and levels(["--rounds", "2"]) == [2] and levels(["--rounds", "0"]) == []
    assert levels(["--rounds", "10", "--control-rounds", "10"]) == [10]
    (conv6,) = parse_figure(conv.FIG5, ["--preset", "fast", "--model", "conv6", "--rounds", "0"])[1]
    assert conv6.study.rounds == 0 and conv6.study.levels() == []
    with pytest.raises(SystemExit):
        parse(["--rounds", "2", "--control-rounds", "3"])


def test_execution_flags_default_to_one_worker_per_core_and_stay_out_of_the_hash():
    options, cfg = parse([])
    assert options.workers == os.cpu_count() and options.threads_per_worker == 1 and options.strategy == "default"
    options, other = parse(["--workers", "3", "--threads-per-worker", "2", "--xla", "off"])
    assert other.run_hash() == cfg.run_hash() and options.xla == "off"
    assert parse(["--strategy", "mirrored"])[0].workers == 1
    assert parse(["--strategy", "tpu", "--tpu", "local"])[0].tpu == "local"


@pytest.mark.parametrize("argv", [["--iterations", "250"], ["--fc-rate", "1.5"], ["--control-rounds", "25"],
                                  ["--trials", "0"], ["--optimizer", "rmsprop"], ["--preset", "huge"],
                                  ["--workers", "0"], ["--strategy", "mirrored", "--workers", "2"],
                                  ["--tpu", "local"], ["--strategy", "horovod"], ["--threads-per-worker", "-1"],
                                  ["--ray-address", "auto", "--workers", "1"], ["--gpus-per-worker", "-1"],
                                  ["--gpus-per-worker", "1", "--workers", "1"], ["--model", "alexnet"],
                                  ["--lr-drops", "60000"], ["--global-groups", "attention"], ["--xla", "maybe"],
                                  ["--rewind-iteration", "100"], ["--reset", "rewind", "--rewind-iteration", "150"],
                                  ["--learning-rate", "nan"], ["--weight-decay", "inf"], ["--lr-drop-factor", "0"],
                                  ["--random-sparse", "-1"], ["--gpus-per-worker", "nan", "--workers", "2"],
                                  ["--max-examples", "-3"], ["--split-seed", "-3"], ["--seed", "-1"],
                                  ["--iterations", "20xp"], ["--lr-drops", "1ep,two"], ["--iterations", "infep"],
                                  ["--iterations", "20ep"], ["--dataset", "svhn", "--iterations", "2ep"]])
def test_bad_flags_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        parse(argv)
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [(["--dropout", "2"], "must be in [0, 1): {'dropout': 2.0}"),
                                           (["--momentum", "1", "--conv-dropout", "-0.1"],
                                            "must be in [0, 1): {'momentum': 1.0, 'conv_dropout': -0.1}"),
                                           (["--weight-decay=-1e-4"], "weight_decay must be >= 0, got -0.0001"),
                                           (["--rounds", "-1", "--reinits", "-2"],
                                            "must be >= 0: {'rounds': -1, 'reinits': -2}")])
def test_a_refused_setting_is_named_with_its_value(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(argv)
    assert message in capsys.readouterr().err


def test_training_lengths_in_epochs_are_the_papers_iterations(capsys):
    # VGG-19: 160 epochs of 703 steps (45,000 // 64), drops after epochs 80 and 120, evaluated every 2.
    from tf_lottery.figures.deep import FIG7
    in_epochs = parse_figure(FIG7, ["--iterations", "160ep", "--lr-drops", "80ep,120ep", "--eval-every", "2ep"])[1]
    assert in_epochs == parse_figure(FIG7, [])[1]
    cfg = parse(["--iterations", "2ep", "--eval-every", "1ep", "--steps-per-call", "10", "--max-examples", "600",
                 "--warmup-iterations", "0.5ep", "--lr-drops", "1ep", "--rounds", "1", "--control-rounds", "1"])[1]
    assert (cfg.training.iterations, cfg.training.eval_every, cfg.training.warmup_iterations,
            cfg.training.lr_drops) == (20, 10, 5, (10,))  # 600 training examples // batch 60
    assert parse(["--iterations", "5000it"])[1].training.iterations == 5000
    with pytest.raises(SystemExit):  # 20 x 916 (55,000 // 60) is not a multiple of 100
        parse(["--iterations", "20ep"])
    assert "--iterations 20ep is 18,320 iterations (55,000 training examples // batch 60 = 916 per epoch)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("config", [TrainingConfig(learning_rate=float("nan")), TrainingConfig(weight_decay=float("inf")),
                                    XorConfig(learning_rate=float("inf"))], ids=["nan_lr", "inf_decay", "xor_inf_lr"])
def test_settings_that_are_not_finite_are_refused_from_python_too(config):
    with pytest.raises(ValueError, match="finite"):  # nan passes every range check by comparing False
        config.validate()


HELP_OF_EVERY_SCRIPT = """
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    text, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code
    out[path] = [code, text.getvalue(), err.getvalue()]
print(json.dumps(out))
"""


def test_every_script_prints_its_help():
    # Every flag's help is formatted (a bare % in help text used to crash argparse). One
    # process runs them all, as each would run alone, to load TensorFlow once.
    scripts = sorted(str(p) for p in (ROOT / "reproductions").glob("*.py"))
    done = subprocess.run([sys.executable, "-c", HELP_OF_EVERY_SCRIPT, *scripts], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == len(scripts) >= 13
    for script, (code, out, err) in results.items():
        assert code == 0, (script, err[-2000:])
        assert "--preset" in out and "--store" in out and "Traceback" not in err, script


@pytest.mark.parametrize("record", sorted((ROOT / "results").glob("*/run.json")), ids=lambda p: p.parent.name)
def test_each_committed_results_command_still_means_its_recorded_runs(record):
    """The command in run.json, parsed by today's code, gives the run hash it recorded: else
    rerunning it would silently train other runs (as v1_xor's default did, at Lenet's 50K
    iterations instead of its own 10K, once its flags were scaled by Lenet's protocol)."""
    recorded = json.loads(record.read_text())
    earlier = recorded.get("earlier_results", [])  # results added to (--add-to-results): each command's part
    kept = [h for part in earlier for h in part["run_hash"]]
    assert split_hashes(recorded["run_hash"]) == kept + hashes_of(recorded["command"])
    for part in earlier:  # an earlier command's other settings may have been replaced since
        assert set(part["run_hash"]) <= set(hashes_of(part["command"])), part["command"]


def hashes_of(command: str) -> list[str]:
    script, *argv = command.split()[1:]
    figure = next(v for v in vars(load_script(Path(script).stem)).values() if isinstance(v, Figure))
    return split_hashes(run_hash_text(parse_figure(figure, argv)[1]))


def test_a_bad_worker_layout_is_named_with_its_value(capsys):
    with pytest.raises(SystemExit):
        parse(["--workers", "0", "--threads-per-worker", "-1"])
    assert "got --workers 0, --threads-per-worker -1." in capsys.readouterr().err


def test_flags_that_change_the_preset_are_named_and_seeds_are_not_changes():
    from tf_lottery.figures import conv
    changed = lambda argv: parse_figure(conv.FIG6, ["--preset", "fast", "--model", "conv4", *argv])[0].changed
    assert changed([]) == {}  # --model selects networks the figure compares: no change
    assert changed(["--rounds", "1", "--seed", "3", "--split-seed", "2", "--eval-batch-size", "500"]) == \
        {"--rounds": 1}  # seeds draw the same protocol again; evaluation batches never change results
    assert changed(["--rounds", "3", "--control-rounds", "2,3"]) == {}  # the preset's own values
    assert parse(["--iterations", "1000", "--lr-drops", "10,20"])[0].changed == \
        {"--iterations": 1000, "--lr-drops": (10, 20)}
    assert changed_text({"--lr-drops": (10, 20), "--augment": False, "--oneshot": True}) == \
        "--lr-drops 10,20 --no-augment --oneshot"
