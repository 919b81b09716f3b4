"""The results ledger: exact round trips, the arrays it keeps, merging, and a study that
continues from its results folder alone."""
import gzip
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import IN_THIS_PROCESS, ROOT, load_script
from tf_lottery.ledger.records import Ledger, LedgerRun, decode_arrays, encode_arrays, kept_arrays

STORE, KEY = "lenet300_100-abc", "trial0/iterative/round01/ticket"
IDENTITY = {"schema": 1, "experiment": "lenet300_100"}


def arrays_of(values: dict):
    return lambda: values


def run(**metrics) -> LedgerRun:
    return LedgerRun({"key": KEY, "test_acc_end": 0.1 + 0.2, "early_stop_iter": 300, "seed": 2**40,
                      "curves": {"iteration": [100, 200, 300], "val_loss": [0.5, math.nan, 1 / 3],
                                 "val_acc": [0.9, 0.91, 0.92]}, **metrics},
                     {"test_curve": {"test_loss": [0.4, 0.3, 0.2], "test_acc": [0.8, math.nan, 0.9]}})


def test_masks_and_sparse_weights_round_trip_bit_exactly_and_deterministically():
    rng = np.random.default_rng(0)
    mask = {"fc1/kernel": (rng.random((300, 70)) > 0.8).astype(np.float32), "fc2/kernel": np.ones((70, 3), np.float32)}
    weights = {name: rng.standard_normal(m.shape).astype(np.float32) * m for name, m in mask.items()}
    weights["fc1/bias"] = rng.standard_normal(70).astype(np.float32)
    packed_mask, packed_weights = encode_arrays(mask, "mask"), encode_arrays(weights, "final", mask)
    assert packed_mask == encode_arrays(mask, "mask")  # same bytes each time: git stores one copy
    for original, back in ((mask, decode_arrays(packed_mask)),
                           (weights, decode_arrays(packed_weights, lambda: decode_arrays(packed_mask)))):
        assert original.keys() == back.keys()
        for name in original:
            assert back[name].dtype == original[name].dtype and np.array_equal(back[name], original[name])
    assert len(packed_weights) < len(encode_arrays(weights, "final"))  # only the values the mask keeps


def test_a_ledger_written_and_read_gives_back_every_value_and_rewrites_identically(tmp_path):
    ledger = Ledger()
    ledger.add(STORE, KEY, run(), IDENTITY, {"fingerprint": "f"})
    ledger.write(tmp_path)
    back = Ledger.read(tmp_path)
    view = back.view(STORE)
    metrics = view.metrics(KEY)
    assert metrics["test_acc_end"] == 0.1 + 0.2 and metrics["seed"] == 2**40 and metrics["early_stop_iter"] == 300
    assert metrics["curves"]["iteration"] == [100, 200, 300] and all(isinstance(i, int) for i in
                                                                      metrics["curves"]["iteration"])
    assert metrics["curves"]["val_loss"][2] == 1 / 3 and math.isnan(metrics["curves"]["val_loss"][1])
    assert view.part(KEY, "test_curve")["test_acc"][2] == 0.9 and view.data_record() == {"fingerprint": "f"}
    first = {p.name: p.read_bytes() for p in (tmp_path / "ledger").iterdir() if p.is_file()}
    back.write(tmp_path)
    assert {p.name: p.read_bytes() for p in (tmp_path / "ledger").iterdir() if p.is_file()} == first


def test_merging_keeps_the_first_copy_and_records_how_another_differs():
    ledger = Ledger()
    ledger.add(STORE, KEY, run(trained_on="CPU A"), IDENTITY, None)
    assert not ledger.add(STORE, KEY, run(test_acc_end=0.5, trained_on="CPU B"), IDENTITY, None)
    held = ledger.runs[(STORE, KEY)]
    assert held.metrics["test_acc_end"] == 0.1 + 0.2
    assert held.differs_from == [{"trained_on": "CPU B", "code_version": None, "changed": ["test_acc_end"]}]


def test_weights_are_kept_only_where_later_runs_start_from_them():
    weights = arrays_of({"w": np.zeros(4, np.float32)})
    ledger = Ledger()
    for rnd in range(4):
        key = f"trial0/iterative/round{rnd:02d}/ticket"
        ledger.add(STORE, key, LedgerRun({"key": key}, {}, {"mask": weights, "final": weights}), IDENTITY, None)
    ledger.add(STORE, "trial0/iterative/round02/reinit0", LedgerRun({}), IDENTITY, None)
    kept = kept_arrays(ledger)
    assert kept[(STORE, "trial0/iterative/round00/ticket")] == {"mask", "final"}  # one-shot prunes it
    assert kept[(STORE, "trial0/iterative/round01/ticket")] == {"mask"}
    assert kept[(STORE, "trial0/iterative/round03/ticket")] == {"mask", "final"}  # the next round prunes it
    assert (STORE, "trial0/iterative/round02/reinit0") not in kept


def fig4(data_dir, store, results, *extra):
    argv = ["--preset", "smoke", "--data-dir", str(data_dir), "--store", str(store), "--results", str(results),
            *IN_THIS_PROCESS, *extra]
    assert load_script("fig4_lenet").main(argv) == 0
    out = results / "fig4_lenet"
    return pd.read_csv(out / "summary.csv").drop(columns="seconds"), json.loads((out / "run.json").read_text())


@pytest.mark.slow
def test_a_study_continues_from_its_results_folder_alone(data_dir, tmp_path, capsys):
    first, _ = fig4(data_dir, tmp_path / "store", tmp_path / "results")
    shutil.rmtree(tmp_path / "store")  # the machine is gone; the results folder is committed

    # A plan says which runs the ledger gives, and scales its estimate by the times it recorded.
    capsys.readouterr()
    assert load_script("fig4_lenet").main(["--preset", "smoke", "--data-dir", str(data_dir), "--store",
                                           str(tmp_path / "store"), "--results", str(tmp_path / "results"),
                                           *IN_THIS_PROCESS, "--rounds", "3", "--plan"]) == 0
    plan = capsys.readouterr().out
    assert plan.count("  ledger ") == 6 and plan.count("  to train ") == 1
    assert "scaled by the CPU times of 6 stored run(s)" in plan

    # More rounds and trials, from the results folder alone: only the new runs train.
    more, record = fig4(data_dir, tmp_path / "store", tmp_path / "results", "--rounds", "3", "--trials", "2")
    assert record["runs"] == {"runs": 14, "trained": 8, "reused": 6, "from_ledgers": 6}
    shared = more.merge(first, on=["strategy", "key"], suffixes=("", "_first"))
    assert len(shared) == len(first)
    for column in first.columns.drop(["strategy", "key"]):
        pd.testing.assert_series_equal(shared[column], shared[f"{column}_first"], check_names=False)

    # The same study from scratch gives the same numbers for every run, new ones included.
    scratch, _ = fig4(data_dir, tmp_path / "scratch", tmp_path / "scratch_results", "--rounds", "3", "--trials", "2")
    pd.testing.assert_frame_equal(more.drop(columns="trained_on"), scratch.drop(columns="trained_on"))

    # A ledger without weights (as one converted from tables): --from another folder, and
    # the chain the new round starts from is retrained for its weights, its results kept.
    lean = tmp_path / "lean" / "fig4_lenet"
    shutil.copytree(tmp_path / "scratch_results" / "fig4_lenet", lean)
    lines = [json.loads(line) for line in (lean / "ledger" / "runs.jsonl").read_text().splitlines()]
    (lean / "ledger" / "runs.jsonl").write_text("".join(json.dumps({k: v for k, v in line.items() if k != "arrays"})
                                                        + "\n" for line in lines))
    shutil.rmtree(lean / "ledger" / "arrays")
    longer, record = fig4(data_dir, tmp_path / "store3", tmp_path / "results3", "--rounds", "4", "--trials", "2",
                          "--from", str(lean))
    assert record["runs"]["from_ledgers"] == 14 and record["runs"]["trained"] == 2 + 8  # 2 new, 8 for weights
    assert longer.merge(scratch, on=["strategy", "key"]).shape[0] == len(scratch)
    complete, _ = fig4(data_dir, tmp_path / "scratch", tmp_path / "scratch_results", "--rounds", "4", "--trials",
                       "2")
    pd.testing.assert_frame_equal(longer.drop(columns="trained_on"), complete.drop(columns="trained_on"))


def test_a_missing_ledger_or_results_folder_is_one_clear_line(data_dir, tmp_path, capsys):
    main = load_script("fig4_lenet").main
    assert main(["--preset", "smoke", "--results", str(tmp_path), "--from", str(tmp_path / "nowhere"),
                 "--data-dir", str(data_dir), "--store", str(tmp_path / "s"), *IN_THIS_PROCESS]) == 2
    assert "--from" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--results", str(tmp_path), "--report-only"]) == 2
    assert "no results" in capsys.readouterr().err


REPORT_EVERY_FOLDER = """
import json, sys
from pathlib import Path
import tf_lottery
from tf_lottery.figures.catalog import FIGURES
from tf_lottery.figures.runner import run_figure
root = Path(sys.argv[1])
print(json.dumps({f.name: run_figure(FIGURES[f.name], ["--report-only", "--results", str(root)])
                  for f in sorted(root.iterdir())}))
"""


@pytest.mark.slow
def test_every_committed_results_folder_is_rebuilt_identically_from_its_ledger(tmp_path):
    committed = sorted(p for p in (ROOT / "results").iterdir() if (p / "run.json").is_file())
    for folder in committed:
        shutil.copytree(folder, tmp_path / folder.name)
    done = subprocess.run([sys.executable, "-c", REPORT_EVERY_FOLDER, str(tmp_path)], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    codes = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == {folder.name: 0 for folder in committed}, done.stderr[-3000:]
    for folder in committed:
        for table in [*folder.glob("*.csv"), *folder.glob("*.csv.gz"), *folder.glob("*.md")]:
            read = gzip.decompress if table.suffix == ".gz" else bytes  # gzip's header holds the time written
            assert read((tmp_path / folder.name / table.name).read_bytes()) == read(table.read_bytes()), table
