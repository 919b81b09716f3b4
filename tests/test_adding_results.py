"""--add-to-results: the rows of settings the flags do not select are kept from summary.csv,
each earlier command stays on record, and what cannot be added to is refused clearly."""
import json

import pandas as pd
import pytest

from tf_lottery.figures import earlier
from tf_lottery.figures.conv import FIG1, FIG6
from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import parse_figure


def write_results(out, record, rows):
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(record))
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)


def rows(*hashes_and_models):
    return [{"run_hash": h, "model": m, "key": f"trial0/iterative/round0{i}/ticket", "trained_on": "CPU A"}
            for h, m in hashes_and_models for i in range(2)]


RECORD = {"figure": "fig1_sizes", "preset": "fast", "run_hash": "a, b", "config": [{"cfg": "a"}, {"cfg": "b"}],
          "command": "python fig1_sizes.py --model lenet300_100,conv2", "code_version": {"commit": "c1"},
          "data": {"lenet300_100": {"lossy": False}, "conv2": {"lossy": True}}, "seeds": {"base_seeds": [0]}}


def test_rows_of_the_settings_not_selected_are_kept_and_their_command_recorded(tmp_path):
    write_results(tmp_path, RECORD, rows(("a", "lenet300_100"), ("b", "conv2")))
    kept = earlier.load(tmp_path, "fig1_sizes", "fast", ["b", "c"])  # b is retrained, c is new
    assert kept.run_hashes == ["a"] and set(kept.rows["model"]) == {"lenet300_100"}
    assert earlier.earlier_field(kept, "data") == {"lenet300_100": {"lossy": False}}
    assert earlier.count_cpus(kept) == {"CPU A": 2}
    merged = earlier.merged_record(kept, [{"cfg": "b"}, {"cfg": "c"}], ["b", "c"])
    assert merged["run_hash"] == "a, b, c" and merged["config"] == [{"cfg": "a"}, {"cfg": "b"}, {"cfg": "c"}]
    assert merged["earlier_results"] == [{"run_hash": ["a"], "command": RECORD["command"], "preset": "fast",
                                          "code_version": {"commit": "c1"}}]
    # Nothing to keep: the folder holds only settings these flags select.
    assert earlier.load(tmp_path, "fig1_sizes", "fast", ["a", "b"]) is None
    assert earlier.load(tmp_path / "empty", "fig1_sizes", "fast", ["a"]) is None
    assert earlier.merged_record(None, {"cfg": "x"}, ["x"]) == {"config": {"cfg": "x"}, "run_hash": "x"}


def test_a_chain_of_additions_keeps_each_command_with_the_rows_it_still_gives(tmp_path):
    # a came from a first command, b from a second that added to it; now b is retrained.
    record = {**RECORD, "command": "second", "earlier_results": [{"run_hash": ["a"], "command": "first"}]}
    write_results(tmp_path, record, rows(("a", "lenet300_100"), ("b", "conv2")))
    merged = earlier.merged_record(earlier.load(tmp_path, "fig1_sizes", "fast", ["b"]), [{"cfg": "b"}], ["b"])
    assert [(p["run_hash"], p["command"]) for p in merged["earlier_results"]] == [(["a"], "first")]
    # Now a is retrained: the first command drops out, the second stays for b.
    merged = earlier.merged_record(earlier.load(tmp_path, "fig1_sizes", "fast", ["a"]), [{"cfg": "a"}], ["a"])
    assert [(p["run_hash"], p["command"]) for p in merged["earlier_results"]] == [(["b"], "second")]


def test_kept_seeds_stay_integers_where_some_runs_have_none(tmp_path):
    # A ticket has no reinit seed: read back alone, the column would turn to floats ("1879975170.0").
    with_seeds = [{**row, "reinit_seed": seed, "early_stop_iter": 100} for row, seed in
                  zip(rows(("a", "conv2"), ("b", "conv4")), (None, 1879975170, None, 7))]
    write_results(tmp_path, RECORD, with_seeds)
    kept = earlier.load(tmp_path, "fig1_sizes", "fast", ["b"]).rows
    new = pd.DataFrame({"model": ["conv4"], "reinit_seed": pd.array([None], dtype="Int64")})
    both = earlier.with_earlier(new, earlier.EarlierResults(kept, RECORD), ["conv2", "conv4"])
    both.to_csv(tmp_path / "merged.csv", index=False)
    assert (tmp_path / "merged.csv").read_text().splitlines()[2].split(",")[-2:] == ["1879975170", "100"]


def test_rows_are_ordered_by_network_earlier_rows_first_within_one():
    new = pd.DataFrame({"model": ["conv2", "lenet300_100"], "new": [True, True]})
    kept = earlier.EarlierResults(pd.DataFrame({"model": ["conv4", "conv2"], "new": [False, False]}), {})
    both = earlier.with_earlier(new, kept, ["lenet300_100", "conv2", "conv4"])
    assert list(zip(both["model"], both["new"])) == [("lenet300_100", True), ("conv2", False), ("conv2", True),
                                                     ("conv4", False)]
    assert earlier.with_earlier(new, None, []) is new


def test_a_sweep_added_up_rate_by_rate_is_listed_in_order_of_rate():
    kept = earlier.EarlierResults(pd.DataFrame({"model": ["vgg19"] * 2, "learning_rate": [0.01, 0.1]}), {})
    new = pd.DataFrame({"model": ["resnet20", "vgg19", "vgg19"], "learning_rate": [0.01, 0.02, 0.02]})
    both = earlier.with_earlier(new, kept, ["vgg19", "resnet20"], ("learning_rate",))
    assert list(zip(both["model"], both["learning_rate"])) == [("vgg19", 0.01), ("vgg19", 0.02), ("vgg19", 0.02),
                                                               ("vgg19", 0.1), ("resnet20", 0.01)]


@pytest.mark.parametrize("change, refusal", [
    ({"record": {**RECORD, "preset": "paper"}}, "holds results of the 'paper' preset, not 'fast'"),
    ({"record": {**RECORD, "figure": "fig5_conv"}}, "holds results of 'fig5_conv', not of fig1_sizes"),
    ({"summary": None}, "no readable summary.csv"),
    ({"summary": [{"model": "conv2"}]}, "no run_hash column"),
    ({"record": "{not json"}, "is not valid JSON")])
def test_what_cannot_be_added_to_is_refused_with_the_way_out(tmp_path, change, refusal):
    tmp_path.mkdir(exist_ok=True)
    record = change.get("record", RECORD)
    (tmp_path / "run.json").write_text(record if isinstance(record, str) else json.dumps(record))
    summary = change.get("summary", rows(("a", "lenet300_100")))
    if summary is not None:
        pd.DataFrame(summary).to_csv(tmp_path / "summary.csv", index=False)
    with pytest.raises(earlier.CannotAdd, match=refusal) as e:
        earlier.load(tmp_path, "fig1_sizes", "fast", ["c"])
    assert "--results DIR" in str(e.value)


def test_adding_is_offered_where_settings_are_compared_and_never_with_overwrite(capsys):
    with pytest.raises(SystemExit):
        parse_figure(FIG1, ["--add-to-results", "--overwrite"])
    assert "choose one" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # Figure 4 studies one setting: nothing to add
        parse_figure(FIG4, ["--add-to-results"])
    assert parse_figure(FIG1, ["--add-to-results", "--model", "conv4"])[0].add_to_results


def test_the_label_names_the_flags_that_changed_the_preset_with_their_networks(tmp_path):
    from tf_lottery.figures.spec import FigureContext

    def label(argv, kept=None):
        options, cfg = parse_figure(FIG1, argv)
        return FigureContext(FIG1, cfg, options, None, [], tmp_path, kept).label

    assert label(["--preset", "fast", "--model", "conv4"]) == "REDUCED: 'fast' preset"
    assert label(["--preset", "fast", "--model", "conv4", "--rounds", "1"]) == \
        "REDUCED: 'fast' preset with --rounds 1"
    assert label(["--model", "conv4", "--iterations", "1000", "--oneshot"]) == \
        "CHANGED: paper protocol with --iterations 1000 --oneshot"
    # Added to results of an earlier command that changed the preset too: each with its networks.
    record = {**RECORD, "run_hash": "a, b", "changed_flags": {"--trials": 1}}
    write_results(tmp_path, record, rows(("a", "lenet300_100"), ("b", "conv2")))
    kept = earlier.load(tmp_path, "fig1_sizes", "fast", ["c"])
    assert label(["--preset", "fast", "--model", "conv4", "--rounds", "1"], kept) == \
        "REDUCED: 'fast' preset with lenet300_100, conv2: --trials 1; conv4: --rounds 1"
    assert label(["--preset", "fast", "--model", "conv4"], kept) == \
        "REDUCED: 'fast' preset with lenet300_100, conv2: --trials 1"
    assert earlier.merged_record(kept, [], [])["earlier_results"][0]["changed_flags"] == {"--trials": 1}
    # A network named once, however many of its settings (with and without dropout) the command ran.
    options, cfg = parse_figure(FIG6, ["--preset", "fast", "--model", "conv4", "--rounds", "1"])
    write_results(tmp_path, {**record, "figure": "fig6_conv_dropout"}, rows(("b", "conv2")))
    kept = earlier.load(tmp_path, "fig6_conv_dropout", "fast", ["c"])
    assert FigureContext(FIG6, cfg, options, None, [], tmp_path, kept).label == \
        "REDUCED: 'fast' preset with conv2: --trials 1; conv4: --rounds 1"
    # A command that gave part of a network's settings names them, so two commands on one network differ.
    both = [{**r, "dropout": d} for d, h in ((0.0, "d0"), (0.5, "d5")) for r in rows((h, "conv6"))]
    write_results(tmp_path, {**record, "figure": "fig6_conv_dropout", "run_hash": "d0, d5",
                             "changed_flags": {"--rounds": 0}}, both)
    options, cfg = parse_figure(FIG6, ["--preset", "fast", "--model", "conv6", "--dropout", "0.5", "--rounds", "1"])
    kept = earlier.load(tmp_path, "fig6_conv_dropout", "fast", [cfg[0].run_hash()])
    assert FigureContext(FIG6, cfg, options, None, [], tmp_path, kept).label == \
        "REDUCED: 'fast' preset with conv6: --rounds 0; conv6 (dropout 0.5): --rounds 1"
