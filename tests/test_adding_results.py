"""--add-to-results: a figure reported over the runs of several commands, the earlier ones'
settings parsed again from run.json and their runs read from the results ledger; each
earlier command stays on record, the label says what the runs shown are, and what cannot be
added to is refused clearly."""
import json

import pandas as pd
import pytest

from tf_lottery.figures import holdings, merging
from tf_lottery.figures.conv import FIG1, FIG6
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import load_earlier, parse_figure

FIRST = "python reproductions/fig1_sizes.py --preset fast --model lenet300_100,conv2"


def configs(command: str, figure=FIG1) -> list:
    return parse_figure(figure, command.split()[2:])[1]


def hashes(command: str, figure=FIG1) -> list[str]:
    return [c.run_hash() for c in configs(command, figure)]


def write_record(out, command=FIRST, figure="fig1_sizes", **fields):
    out.mkdir(parents=True, exist_ok=True)
    record = {"figure": figure, "preset": "fast", "command": command, "code_version": {"commit": "c1"},
              "run_hash": ", ".join(hashes(command, FIG6 if figure == "fig6_conv_dropout" else FIG1)), **fields}
    (out / "run.json").write_text(json.dumps(record))
    return record


def test_settings_not_selected_are_kept_with_their_command(tmp_path):
    write_record(tmp_path)
    lenet, conv2 = hashes(FIRST)
    conv4 = configs("python x --preset fast --model conv2,conv4")  # conv2 is retrained, conv4 is new
    kept = load_earlier(FIG1, tmp_path, "fast", conv4)
    assert kept.run_hashes == [lenet] and [c.training.model for c in kept.configs] == ["lenet300_100"]
    merged = merging.merged_record(kept, [{"cfg": "b"}, {"cfg": "c"}], ["b", "c"])
    assert merged["run_hash"] == f"{lenet}, b, c" and merged["config"][1:] == [{"cfg": "b"}, {"cfg": "c"}]
    assert merged["config"][0]["training"]["model"] == "lenet300_100"
    assert merged["earlier_results"] == [{"run_hash": [lenet], "command": FIRST, "preset": "fast",
                                          "code_version": {"commit": "c1"}}]
    # Nothing to keep: the folder holds only settings these flags select.
    assert load_earlier(FIG1, tmp_path, "fast", configs(FIRST)) is None
    assert load_earlier(FIG1, tmp_path / "empty", "fast", conv4) is None
    assert merging.merged_record(None, {"cfg": "x"}, ["x"]) == {"config": {"cfg": "x"}, "run_hash": "x"}


def test_a_chain_of_additions_keeps_each_command_with_the_settings_it_still_gives(tmp_path):
    second = "python reproductions/fig1_sizes.py --preset fast --model conv4"
    lenet, conv2 = hashes(FIRST)
    write_record(tmp_path, second, run_hash=", ".join([lenet, conv2] + hashes(second)),
                 earlier_results=[{"run_hash": [lenet, conv2], "command": FIRST}])
    kept = load_earlier(FIG1, tmp_path, "fast", configs(second))  # conv4 retrained: the first command stays
    assert [(c.record["run_hash"], c.record["command"]) for c in kept.commands] == [([lenet, conv2], FIRST)]
    kept = load_earlier(FIG1, tmp_path, "fast", configs(FIRST))  # both of the first command's: the second stays
    assert [(c.record["run_hash"], c.record["command"]) for c in kept.commands] == [(hashes(second), second)]


def test_rows_are_ordered_by_network_earlier_commands_first_within_one():
    earlier = merging.EarlierResults({}, [])
    summary = pd.DataFrame({"model": ["conv4", "conv2", "conv2", "lenet300_100"], "new": [False, False, True, True]})
    both = merging.ordered(summary, earlier, ["lenet300_100", "conv2", "conv4"])
    assert list(zip(both["model"], both["new"])) == [("lenet300_100", True), ("conv2", False), ("conv2", True),
                                                     ("conv4", False)]
    assert merging.ordered(summary, None, []) is summary


def test_a_sweep_added_up_rate_by_rate_is_listed_in_order_of_rate():
    summary = pd.DataFrame({"model": ["vgg19", "vgg19", "resnet20", "vgg19"], "learning_rate": [0.01, 0.1, 0.01, 0.02]})
    both = merging.ordered(summary, merging.EarlierResults({}, []), ["vgg19", "resnet20"], ("learning_rate",))
    assert list(zip(both["model"], both["learning_rate"])) == [("vgg19", 0.01), ("vgg19", 0.02), ("vgg19", 0.1),
                                                               ("resnet20", 0.01)]


@pytest.mark.parametrize("change, refusal", [
    ({"preset": "paper"}, "holds results of the 'paper' preset, not 'fast'"),
    ({"figure": "fig5_conv"}, "holds results of 'fig5_conv', not of fig1_sizes"),
    ({"command": "python reproductions/fig1_sizes.py --no-such-flag"}, "cannot parse"),
    ("{not json", "is not valid JSON")])
def test_what_cannot_be_added_to_is_refused_with_the_way_out(tmp_path, change, refusal, capsys):
    tmp_path.mkdir(exist_ok=True)
    record = change if isinstance(change, str) else json.dumps({
        "figure": "fig1_sizes", "preset": "fast", "command": FIRST, "run_hash": ", ".join(hashes(FIRST)), **change})
    (tmp_path / "run.json").write_text(record)
    with pytest.raises(merging.CannotAdd, match=refusal) as e:
        load_earlier(FIG1, tmp_path, "fast", configs("python x --preset fast --model conv4"))
    assert "--results DIR" in str(e.value)


def test_adding_is_offered_where_settings_are_compared_and_never_with_overwrite(capsys):
    with pytest.raises(SystemExit):
        parse_figure(FIG1, ["--add-to-results", "--overwrite"])
    assert "choose one" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # Figure 4 studies one setting: nothing to add
        parse_figure(FIG4, ["--add-to-results"])
    assert parse_figure(FIG1, ["--add-to-results", "--model", "conv4"])[0].add_to_results


def test_the_label_says_how_the_shown_settings_and_runs_differ_from_the_preset():
    def setting(argv, shown=None, figure=FIG1):
        """The first configuration of these flags, with `shown` of its runs, against the fast preset."""
        cfg = parse_figure(figure, argv)[1][0]
        preset = parse_figure(figure, ["--preset", "fast", "--model", cfg.training.model])[1][0]
        planned = [r.run for r in figure.select([preset])]
        runs = [r.run for r in figure.select([cfg])]
        return holdings.setting(cfg, preset, holdings.compared_fields(figure.variants), runs if shown is None else shown(runs), planned, {})

    as_published = setting(["--preset", "fast", "--model", "conv4"])
    assert as_published.differences() == "" and holdings.label("fast", [as_published]) == "REDUCED: 'fast' preset"
    fewer_rounds = setting(["--preset", "fast", "--model", "conv4", "--rounds", "1"])
    assert holdings.label("fast", [fewer_rounds]) == "REDUCED: 'fast' preset with rounds 0-1 of 0-3"
    other_rate = setting(["--preset", "fast", "--model", "conv2", "--learning-rate", "0.001"])
    assert holdings.label("fast", [other_rate]) == "REDUCED: 'fast' preset with --learning-rate 0.001"
    assert holdings.label("paper", [other_rate]).startswith("CHANGED: paper protocol with")
    # Several settings: each named where they differ unalike; computed from the runs, so a
    # lost run shows whatever command trained the rest.
    no_reinit = setting(["--preset", "fast", "--model", "conv2"], lambda runs: [r for r in runs if r.control != "reinit"])
    assert no_reinit.shortfall == ("random reinits 0 of 2",)
    assert holdings.label("fast", [as_published, fewer_rounds, no_reinit]) == \
        "REDUCED: 'fast' preset with Conv-4: rounds 0-1 of 0-3; Conv-2: random reinits 0 of 2"
    dropout = setting(["--preset", "fast", "--model", "conv6", "--dropout", "0.5", "--rounds", "1"], figure=FIG6)
    assert dropout.name == "Conv-6 (dropout 0.5)" and dropout.record()["short_of_preset"] == ["rounds 0-1 of 0-3"]
    more_trials = setting(["--preset", "fast", "--model", "conv2", "--trials", "2"])
    assert more_trials.shortfall == ("trials 2 (preset 1)",)
