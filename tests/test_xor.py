"""v1 XOR: unit-pruning heuristics, unit masks through training, stacked training, the script."""
import json

import numpy as np
import pytest

from tf_lottery.figures.runner import parse_figure
from tf_lottery.figures.xor import XOR
from tf_lottery.pruning import masks
from tf_lottery.models.registry import initial_weights
from tf_lottery.pruning.unit_pruning import prune_units, unit_scores, weight_masks
from tf_lottery.models.xor import unit_mask_to_masks, xor_model
from tf_lottery.training.xor_trainer import XorTrainer

from conftest import IN_THIS_PROCESS, load_script

# Three units: unit 0 has big inputs / small output, unit 1 small inputs / big output,
# unit 2 medium both (largest product).
W_IN = np.array([[4.0, 0.1, 1.0], [-4.0, 0.3, -1.0]])  # [inputs, units]
W_OUT = np.array([[0.1], [-5.0], [2.0]])  # [units, outputs]


@pytest.mark.parametrize("heuristic, scores, best", [
    ("input", [4.0, 0.2, 1.0], 0),
    ("output", [0.1, 5.0, 2.0], 1),
    ("product", [0.4, 1.0, 2.0], 2),
])
def test_heuristics_on_hand_made_weights(heuristic, scores, best):
    np.testing.assert_allclose(unit_scores(W_IN, W_OUT, heuristic), scores)
    kept = prune_units(W_IN, W_OUT, np.ones(3), keep=1, heuristic=heuristic)
    np.testing.assert_array_equal(kept, np.eye(3)[best])


def test_pruned_units_stay_pruned_and_ties_keep_lower_index():
    previous = np.array([0.0, 1.0, 1.0])  # unit 0 already gone despite its big inputs
    np.testing.assert_array_equal(prune_units(W_IN, W_OUT, previous, 1, "input"), [0, 0, 1])
    same = np.ones((2, 4))
    np.testing.assert_array_equal(prune_units(same, same.T, np.ones(4), 2, "product"), [1, 1, 0, 0])
    with pytest.raises(ValueError, match="Cannot keep 3 units"):
        prune_units(W_IN, W_OUT, previous, 3, "input")
    with pytest.raises(ValueError, match="Unknown unit-pruning heuristic"):
        unit_scores(W_IN, W_OUT, "random")


def test_stacked_heuristics_work_per_network():
    w_in = np.stack([W_IN, W_IN[:, ::-1]])
    w_out = np.stack([W_OUT, W_OUT[::-1]])
    kept = prune_units(w_in, w_out, np.ones((2, 3)), 1, "product")
    np.testing.assert_array_equal(kept, [[0, 0, 1], [1, 0, 0]])


def test_unit_masks_cover_incoming_bias_and_outgoing():
    m = weight_masks(np.array([[1.0, 0.0, 1.0]]), n_inputs=2, n_outputs=1)
    assert m["incoming"].shape == (1, 2, 3) and not m["incoming"][0, :, 1].any()
    np.testing.assert_array_equal(m["bias"], [[1, 0, 1]])
    np.testing.assert_array_equal(m["outgoing"][0, :, 0], [1, 0, 1])


def test_unit_masks_zero_whole_units_through_training():
    model = xor_model(trials=4, hidden=5)
    trainer = XorTrainer(model, "adam", 0.05, iterations=200)
    units = np.ones((4, 5), np.float32)
    units[:, [1, 3]] = 0
    units[2, 0] = 0
    m = unit_mask_to_masks(units)
    result = trainer.train(masks.apply(initial_weights(model, 0), m), m)
    w = result.final_weights
    dead = units == 0
    assert not w["hidden/kernel"].transpose(0, 2, 1)[dead].any()
    assert not w["hidden/bias"][dead].any()
    assert not w["output/kernel"][..., 0][dead].any()
    assert w["hidden/bias"][~dead].any()  # live units did train


def test_stacked_training_equals_training_each_network_alone():
    stacked = xor_model(trials=3, hidden=4)
    theta = initial_weights(stacked, 1)
    full = unit_mask_to_masks(np.ones((3, 4), np.float32))
    together = XorTrainer(stacked, "adam", 0.05, 300).train(theta, full)
    alone_model = xor_model(trials=1, hidden=4)
    alone_trainer = XorTrainer(alone_model, "adam", 0.05, 300)
    for t in range(3):
        one = {k: v[t : t + 1] for k, v in theta.items()}
        alone = alone_trainer.train(one, unit_mask_to_masks(np.ones((1, 4), np.float32)))
        np.testing.assert_allclose(alone.loss, together.loss[t : t + 1], rtol=1e-4, atol=1e-6)
        for k in theta:
            np.testing.assert_allclose(alone.final_weights[k], together.final_weights[k][t : t + 1], atol=1e-5)


def test_v1_xor_script_smoke(tmp_path):
    argv = ["--preset", "smoke", "--store", str(tmp_path / "store"), "--results", str(tmp_path / "results"),
            *IN_THIS_PROCESS]
    assert load_script("v1_xor").main(argv) == 0
    out = tmp_path / "results" / "v1_xor"
    for name in ("trials.csv.gz", "success_rates.csv", "success_by_width.png", "pruning_table.png",
                 "comparison.md", "comparison.csv", "run.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "run.json").read_text())
    assert record["preset"] == "smoke" and record["runs"]["trained"] == 19
    assert load_script("v1_xor").main(argv) == 0
    assert json.loads((out / "run.json").read_text())["runs"]["trained"] == 0


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--max-hidden", "1"], ["--prune-to", "12"],
                                  ["--heuristics", "random"], ["--init-std", "0"]])
def test_bad_xor_flags_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        parse_figure(XOR, ["--preset", "smoke", *argv])
    assert "error: " in capsys.readouterr().err
