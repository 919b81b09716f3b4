"""The Python entry point: a configuration as the scripts build it, and the README's
notebook example, run as written."""
import re

import numpy as np
import pytest

from conftest import ROOT
from tf_lottery import api
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import parse_figure
from tf_lottery.models import keras_masks


def test_a_configuration_from_python_is_the_scripts():
    assert api.configure("conv2", "fast") == parse_figure(FIG4, ["--model", "conv2", "--preset", "fast"])[1][0]
    cfg = api.configure("conv2", iterations=2000, trials=1)
    assert (cfg.training.learning_rate, cfg.training.iterations, cfg.study.trials) == (2e-4, 2000, 1)
    with pytest.raises(ValueError, match="Unknown settings"):
        api.configure("conv2", learning_rat=0.1)
    with pytest.raises(ValueError, match="Unknown preset"):
        api.configure("conv2", "quick")


@pytest.mark.slow
def test_the_readme_python_example_runs(data_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    block = re.search(r"## From Python\n\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    study, model, ticket = scope["study"], scope["model"], scope["ticket"]
    assert len(study.summary) == len(set(study.summary.key)) + 1  # round 0 listed under one-shot too
    mask = keras_masks.get_masks(model)
    assert all(np.array_equal(mask[name], ticket.mask[name]) for name in ticket.mask)
    kernel = keras_masks.get_weights(model)["fc1/kernel"]
    assert not np.any(kernel[ticket.mask["fc1/kernel"] == 0])


def test_a_network_of_ones_own_is_pruned_as_the_papers_are(data_dir, tmp_path):
    import tf_keras

    def mine():
        return tf_keras.Sequential([tf_keras.layers.Flatten(input_shape=(28, 28, 1), name="flat"),
                                    tf_keras.layers.Dense(64, activation="relu", name="hidden"),
                                    tf_keras.layers.Dense(10, name="logits")], name="mine")

    study = api.find_ticket(mine, str(data_dir), rounds=2, iterations=200, trials=1, reinits=0, random_sparse=0,
                            oneshot=False, fc_rate=0.5, output_rate=0.5, max_examples=2000, store=tmp_path,
                            log=lambda line: None)
    assert list(study.summary.sort_values("round")["pm"].round(1)) == [100.0, 50.0, 25.0]
    ticket = study.ticket(round=2)
    assert set(ticket.mask) == {"hidden/kernel", "logits/kernel"} and ticket.mask["hidden/kernel"].mean() == 0.25
    trained = ticket.model("trained")
    assert not np.any(keras_masks.get_weights(trained)["hidden/kernel"][ticket.mask["hidden/kernel"] == 0])
    assert study.config.training.model.startswith("mine-")
