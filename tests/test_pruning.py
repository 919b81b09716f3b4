"""Pruning rules and the schedule: pure functions, no training."""
import re

import numpy as np
import pytest
import tf_keras
import tensorflow_model_optimization as tfmot

from tf_lottery.pruning import masks

from tf_lottery.pruning import rules as pruning

LENET_SHAPES = {"fc1/kernel": (784, 300), "fc2/kernel": (300, 100), "output/kernel": (100, 10)}
LENET_RATES = {"fc1/kernel": 0.2, "fc2/kernel": 0.2, "output/kernel": 0.1}


def lenet_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.normal(size=s).astype(np.float32) for n, s in LENET_SHAPES.items()}


def test_layerwise_removes_exact_count_of_smallest_survivors():
    w = {"a": np.array([[0.5, -0.1], [0.3, -0.9], [0.2, 0.05]], np.float32)}
    new = pruning.layerwise_magnitude(w, {"a": np.ones((3, 2), np.float32)}, {"a": 0.5})
    np.testing.assert_array_equal(new["a"], [[1, 0], [1, 1], [0, 0]])


def test_ties_keep_the_lower_flat_index():
    w = {"a": np.full((2, 3), 0.7, np.float32)}
    new = pruning.layerwise_magnitude(w, {"a": np.ones((2, 3), np.float32)}, {"a": 0.5})
    np.testing.assert_array_equal(new["a"], [[1, 1, 1], [0, 0, 0]])


def test_top_k_takes_what_a_stable_sort_takes_for_every_k():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 40).astype(np.float32)  # many ties
    scores[[3, 17]] = np.nan  # lowest, like the stable sort of -scores puts them last
    for k in range(scores.size + 1):
        expected = np.zeros(scores.size, bool)
        expected[np.argsort(-scores, kind="stable")[:k]] = True
        np.testing.assert_array_equal(pruning.top_k(scores, k), expected, err_msg=f"k={k}")


def test_only_surviving_weights_compete():
    w = {"a": np.array([9.0, 8.0, 1.0, 2.0], np.float32)}
    new = pruning.layerwise_magnitude(w, {"a": np.array([0, 0, 1, 1], np.float32)}, {"a": 0.5})
    np.testing.assert_array_equal(new["a"], [0, 0, 0, 1])


def test_masks_are_nested_and_densities_follow_the_schedule_exactly():
    w = lenet_weights()
    mask = masks.full_mask(w, LENET_SHAPES)
    for k in range(1, 21):
        w = lenet_weights(k)  # retrained weights differ every round
        new = pruning.layerwise_magnitude(w, mask, LENET_RATES)
        assert masks.is_nested(new, mask)
        for name, rate in LENET_RATES.items():
            n = int(np.prod(LENET_SHAPES[name]))
            assert masks.counts(new)[name] == pruning.LotterySchedule(rate).surviving(n, k)
            assert abs(new[name].mean() - (1 - rate) ** k) <= 0.5 * k / n  # rounding, at most half a weight a round
        mask = new


def test_output_layer_pruned_at_half_rate():
    w = lenet_weights()
    new = pruning.layerwise_magnitude(w, masks.full_mask(w, LENET_SHAPES), LENET_RATES)
    assert new["output/kernel"].mean() == pytest.approx(0.9)
    assert new["fc1/kernel"].mean() == pytest.approx(0.8)


@pytest.mark.parametrize("k, pm", [(3, 51.3), (7, 21.1), (9, 13.5), (12, 7.0), (15, 3.6), (18, 1.9)])
def test_schedule_gives_the_paper_lenet_ladder(k, pm):
    total = sum(int(np.prod(s)) for s in LENET_SHAPES.values())
    kept = sum(pruning.LotterySchedule(LENET_RATES[n]).surviving(int(np.prod(s)), k) for n, s in LENET_SHAPES.items())
    assert 100 * kept / total == pytest.approx(pm, abs=0.05)


def test_schedule_is_a_tfmot_schedule_that_drives_prune_low_magnitude():
    schedule = pruning.LotterySchedule(0.2, steps_per_round=10)
    should_prune, sparsity = schedule(30)
    assert bool(should_prune) and float(sparsity) == pytest.approx(1 - 0.8**3)
    assert not bool(schedule(31)[0])
    model = tf_keras.Sequential([tf_keras.layers.Dense(4, input_shape=(3,))])
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    assert type(wrapped.layers[0]).__name__ == "PruneLowMagnitude"
    assert wrapped.layers[0].pruning_schedule is schedule
    assert pruning.LotterySchedule.from_config(schedule.get_config()["config"]).rate == 0.2


def test_oneshot_counts_match_iterative_counts():
    w = lenet_weights()
    full = masks.full_mask(w, LENET_SHAPES)
    keep = {n: pruning.LotterySchedule(r).surviving(full[n].size, 7) for n, r in LENET_RATES.items()}
    oneshot = pruning.magnitude_to_counts(w, full, keep)
    assert masks.counts(oneshot) == keep
    assert oneshot["fc1/kernel"][np.abs(w["fc1/kernel"]) > np.sort(np.abs(w["fc1/kernel"]).ravel())[-keep["fc1/kernel"]]].all()


def test_global_pruning_uses_one_threshold_and_leaves_excluded_layers():
    w = {"a": np.array([1.0, 2.0, 3.0, 4.0], np.float32), "b": np.array([10.0, 20.0], np.float32),
         "out": np.array([0.1, 0.2], np.float32)}
    mask = masks.full_mask(w, w)
    new = pruning.global_magnitude(w, mask, 0.5, layers=["a", "b"])
    np.testing.assert_array_equal(new["a"], [0, 0, 0, 1])
    np.testing.assert_array_equal(new["b"], [1, 1])
    np.testing.assert_array_equal(new["out"], [1, 1])


def test_random_pruning_has_magnitude_counts_and_is_seeded():
    w = lenet_weights()
    full = masks.full_mask(w, LENET_SHAPES)
    a = pruning.random_pruning(full, LENET_RATES, seed=3)
    b = pruning.random_pruning(full, LENET_RATES, seed=3)
    c = pruning.random_pruning(full, LENET_RATES, seed=4)
    assert masks.counts(a) == masks.counts(pruning.layerwise_magnitude(w, full, LENET_RATES))
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert not np.array_equal(a["fc1/kernel"], c["fc1/kernel"])
    sparse = pruning.random_like(a, seed=5)
    assert masks.counts(sparse) == masks.counts(a) and not masks.is_nested(sparse, a)


@pytest.mark.parametrize("rates, message", [({"a": 1.5}, "rates must be in"), ({"zzz": 0.1}, "unknown layers")])
def test_bad_rates_are_rejected(rates, message):
    w = {"a": np.ones(4, np.float32)}
    with pytest.raises(ValueError, match=message):
        pruning.layerwise_magnitude(w, masks.full_mask(w, w), rates)


def test_mask_validation_names_the_problem():
    w = {"a": np.ones((2, 2), np.float32)}
    with pytest.raises(ValueError, match="shape"):
        masks.validate({"a": np.ones(3)}, w)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        masks.validate({"a": np.full((2, 2), 0.5)}, w)


# -- pruning plans: groups, pools, ignore list, strategies -------------------------------------
from tf_lottery.config import PruningConfig  # noqa: E402
from tf_lottery.pruning.strategies import PruningPlan  # noqa: E402

GROUPS = {"c1/kernel": "conv", "b/shortcut/kernel": "conv", "c2/kernel": "conv", "fc/kernel": "fc",
          "output/kernel": "output"}
SIZES = {"c1/kernel": (3, 3, 3, 8), "b/shortcut/kernel": (1, 1, 8, 8), "c2/kernel": (3, 3, 8, 8),
         "fc/kernel": (32, 16), "output/kernel": (16, 10)}


def weights_of(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.normal(size=s).astype(np.float32) for n, s in SIZES.items()}


def test_global_plan_pools_chosen_groups_and_skips_ignored_weights():
    cfg = PruningConfig(conv_rate=0.2, fc_rate=0.0, output_rate=0.0, scope="global", global_groups=("conv",),
                        ignore=("*shortcut*",))
    plan = PruningPlan.from_config(cfg, GROUPS)
    assert plan.pools == (("c1/kernel", "c2/kernel"),) and plan.rates["b/shortcut/kernel"] == 0.0
    w = weights_of()
    mask = plan.prune(w, masks.full_mask(w, GROUPS))
    counts = masks.counts(mask)
    assert counts["c1/kernel"] + counts["c2/kernel"] == round(0.8 * (216 + 576))
    assert counts["b/shortcut/kernel"] == 64 and counts["fc/kernel"] == 512 and counts["output/kernel"] == 160
    assert plan.surviving({n: int(np.prod(s)) for n, s in SIZES.items()}, 1)["c1/kernel"] == 634


def test_pooled_groups_must_share_a_rate():
    with pytest.raises(ValueError, match="different rates"):
        PruningPlan.from_config(PruningConfig(conv_rate=0.1, fc_rate=0.2, scope="global"), GROUPS)


def test_random_method_keeps_magnitude_counts_at_other_positions():
    w = weights_of(1)
    full = masks.full_mask(w, GROUPS)
    by_magnitude = PruningPlan.from_config(PruningConfig(conv_rate=0.1), GROUPS).prune(w, full)
    at_random = PruningPlan.from_config(PruningConfig(conv_rate=0.1, method="random"), GROUPS).prune(w, full, seed=3)
    assert masks.counts(by_magnitude) == masks.counts(at_random)
    assert not np.array_equal(by_magnitude["c2/kernel"], at_random["c2/kernel"])


def test_expected_pm_follows_the_lenet_ladder():
    plan = PruningPlan.from_config(PruningConfig(), {"fc1/kernel": "fc", "fc2/kernel": "fc", "output/kernel": "output"})
    sizes = {"fc1/kernel": 784 * 300, "fc2/kernel": 300 * 100, "output/kernel": 1000}
    assert [round(plan.expected_pm(sizes, k), 1) for k in (3, 7, 15)] == [51.3, 21.1, 3.6]


@pytest.mark.parametrize("ignore, problem", [(("*shortcut*", "*shortcuts*"), "*shortcuts* matches none"),
                                             (("*",), "matches all of them")])
def test_ignore_patterns_that_match_nothing_or_everything_are_refused(ignore, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        PruningPlan.from_config(PruningConfig(conv_rate=0.2, ignore=ignore), GROUPS)
