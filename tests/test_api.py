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
