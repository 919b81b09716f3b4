"""Configuration, flags, presets and the run hash."""
import os

import pytest

from tf_lottery import cli
from tf_lottery.config import ExperimentConfig, PruningConfig, StudyConfig, TrainingConfig


def test_hashes_are_pinned():
    # Changing these breaks every existing store: only ever add fields whose default changes nothing.
    assert ExperimentConfig().run_hash() == "44136fa355"
    assert ExperimentConfig(training=TrainingConfig(iterations=300)).run_hash() == "a15fde8886"


def test_study_plan_and_call_size_do_not_change_the_hash():
    base = ExperimentConfig()
    assert ExperimentConfig(study=StudyConfig(trials=2, reinits=1)).run_hash() == base.run_hash()
    assert ExperimentConfig(training=TrainingConfig(steps_per_call=50)).run_hash() == base.run_hash()
    assert ExperimentConfig(pruning=PruningConfig(fc_rate=0.3)).run_hash() != base.run_hash()
    assert ExperimentConfig(seed=1).run_hash() != base.run_hash()


def test_presets_and_flags():
    _, cfg = cli.parse(["--preset", "fast"], "")
    assert cfg.study.trials == 3 and cfg.training.iterations == 50_000 and cfg.study.reinits == 1
    _, cfg = cli.parse(["--preset", "fast", "--trials", "3", "--control-rounds", "3,7", "--no-oneshot",
                        "--learning-rate", "0.002"], "")
    assert cfg.study.trials == 3 and cfg.study.levels() == [3, 7] and not cfg.study.oneshot
    assert cfg.training.learning_rate == 0.002
    _, cfg = cli.parse([], "")
    assert cfg == ExperimentConfig()


def test_execution_flags_default_to_one_worker_per_core_and_stay_out_of_the_hash():
    options, cfg = cli.parse([], "")
    assert options.workers == os.cpu_count() and options.threads_per_worker == 1 and options.strategy == "default"
    options, other = cli.parse(["--workers", "3", "--threads-per-worker", "2"], "")
    assert other.run_hash() == cfg.run_hash()
    assert cli.parse(["--strategy", "mirrored"], "")[0].workers == 1
    assert cli.parse(["--strategy", "tpu", "--tpu", "local"], "")[0].tpu == "local"


@pytest.mark.parametrize("argv", [["--iterations", "250"], ["--fc-rate", "1.5"], ["--control-rounds", "25"],
                                  ["--trials", "0"], ["--optimizer", "rmsprop"], ["--preset", "huge"],
                                  ["--workers", "0"], ["--strategy", "mirrored", "--workers", "2"],
                                  ["--tpu", "local"], ["--strategy", "horovod"], ["--threads-per-worker", "-1"],
                                  ["--ray-address", "auto", "--workers", "1"], ["--gpus-per-worker", "-1"],
                                  ["--gpus-per-worker", "1", "--workers", "1"]])
def test_bad_flags_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        cli.parse(argv, "")
    assert "error" in capsys.readouterr().err
