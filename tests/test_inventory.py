"""The store inventory: what each store folder holds, read without writing."""
import json

import numpy as np

from tf_lottery.config import ExperimentConfig, TrainingConfig
from tf_lottery.execution import inventory
from tf_lottery.execution.store import RunStore


def lottery_run(trial, round_, control="ticket", strategy="iterative"):
    key = f"trial{trial}/{strategy}/round{round_:02d}/{control}"
    return key, {"trial": trial, "strategy": strategy, "round": round_, "control": control.rstrip("0123456789")}


def test_ranges_compress_consecutive_rounds():
    assert inventory.ranges([5, 0, 1, 2, 2]) == "0-2, 5" and inventory.ranges([3]) == "3"


def test_each_folder_says_its_settings_runs_progress_and_age(tmp_path, capsys):
    cfg = ExperimentConfig(training=TrainingConfig(iterations=300))
    store = RunStore(tmp_path, "lenet300_100", cfg)
    for key, metrics in (lottery_run(0, 0), lottery_run(0, 1), lottery_run(0, 2), lottery_run(0, 2, "reinit0"),
                         lottery_run(0, 2, "reinit1")):
        store.save(key, metrics)
    store.save("trial0/init", {}, {"weights": {"fc1/kernel": np.zeros((2, 2), np.float32)}})
    store.save_checkpoint("trial0/iterative/round03/ticket", {}, {"step": 200})
    old = tmp_path / "lenet300_100-0123456789ab"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"training": {}}))  # schema 1 had no schema field
    (tmp_path / "notes").mkdir()
    before = sorted(tmp_path.rglob("*"))

    assert inventory.main(["--store", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{tmp_path}: 3 store folder(s)"
    assert lines[1].startswith("lenet300_100-0123456789ab (") and "older, incompatible version (run schema 1" in lines[1]
    assert lines[2].startswith(f"{store.dir.name} (")
    assert lines[3] == ("  lenet300_100 on mnist, seed 0: 300 iterations, adam lr 0.0012, batch 60; layerwise "
                        "magnitude pruning per round (fc 0.2, output 0.1), reset init")
    assert lines[4:] == ["  stored: trial0 iterative ticket: rounds 0-2",
                         "  stored: trial0 iterative reinits: round 2 (2 runs)",
                         "  stored: initial weights (theta_0) of trial0",
                         "  in training: trial0/iterative/round03/ticket at iteration 200 of 300",
                         "notes: unreadable config.json (not a store folder, or damaged)"]
    assert sorted(tmp_path.rglob("*")) == before  # it only reads


def test_the_settings_line_tells_apart_what_the_deep_figures_vary():
    identity = {"seed": 0, "data": {"dataset": "cifar10"},
                "training": {"model": "vgg19", "iterations": 1000, "optimizer": "momentum", "learning_rate": 0.1,
                             "batch_size": 64, "weight_decay": 1e-4, "warmup_iterations": 100, "lr_drops": [500, 750],
                             "lr_drop_factor": 0.1, "augment": True},
                "pruning": {"conv_rate": 0.2, "fc_rate": 0.0, "output_rate": 0.0, "scope": "global", "reset": "init"}}
    assert inventory.settings(identity) == (
        "vgg19 on cifar10, seed 0: 1,000 iterations, momentum lr 0.1, batch 64, weight decay 0.0001, warmup 100, "
        "lr x0.1 at 500, 750, augmented; global magnitude pruning per round (conv 0.2), reset init")


def test_a_store_of_another_experiment_shows_its_identity_as_it_is():
    assert inventory.settings({"experiment": "xor", "schema": 2, "seed": 0, "max_hidden": 4}) == "xor: max_hidden 4, seed 0"


def test_a_missing_store_is_one_line(tmp_path, capsys):
    assert inventory.main(["--store", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --store {tmp_path / 'nowhere'} is not a folder")
