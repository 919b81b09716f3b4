"""The evidence for each network's noise floor, from committed results:

    python -m tf_lottery.analysis.noise [results]

- rerun noise: one run hash trained more than once (on other CPU kinds or thread counts,
  for other figures), as the results ledgers hold it: how far test accuracy at the early
  stop (points) and the early-stop iteration (log ratio) moved;
- trial-to-trial spread: per round, the standard deviation over trials of a ticket's
  test-accuracy gain over its trial's unpruned network (points) and of its early-stop
  iteration's log ratio to it, median over rounds (studies with several trials).
The floors the verdicts use (`paper/noise.py`) are the larger of the two where both exist.
"""
from __future__ import annotations

import collections
import json
import math
import sys
from pathlib import Path

import pandas as pd


def rerun_differences(results: Path) -> pd.DataFrame:
    """One row per run hash and key held with differing values by several results ledgers: the
    largest difference between its copies."""
    copies = collections.defaultdict(dict)
    for runs in sorted(Path(results).glob("*/ledger/runs.jsonl")):
        for line in runs.read_text().splitlines():
            entry = json.loads(line)
            m = entry["metrics"]
            if m.get("early_stop_iter") and m.get("test_acc_early_stop") is not None:
                value = (m["early_stop_iter"], m["test_acc_early_stop"])
                copies[(entry["store"], entry["key"])][value] = m.get("trained_on", "not recorded")
    rows = []
    for (store, key), values in copies.items():
        if len(values) > 1:
            stops, accuracies = [es for es, _ in values], [acc for _, acc in values]
            rows.append({"network": store.rsplit("-", 1)[0], "key": key, "copies": len(values),
                         "accuracy_points": (max(accuracies) - min(accuracies)) * 100,
                         "early_stop_log_ratio": math.log(max(stops) / min(stops)),
                         "trained_on": " | ".join(sorted(set(values.values())))})
    return pd.DataFrame(rows)


def trial_spread(summary: pd.DataFrame) -> dict[str, float] | None:
    """Median over rounds of the across-trial sd of iterative tickets' gains and log ratios."""
    tickets = summary[(summary["control"] == "ticket") & (summary["strategy"] == "iterative")]
    if tickets["trial"].nunique() < 2:
        return None
    base = tickets[tickets["round"] == 0].set_index("trial")
    spread = []
    for _, level in tickets[tickets["round"] > 0].groupby("round"):
        level = level.set_index("trial")
        gain = 100 * (level["test_acc_early_stop"] - base["test_acc_early_stop"])
        log_ratio = (level["early_stop_iter"] / base["early_stop_iter"]).astype(float).map(math.log)
        spread.append((gain.std(), log_ratio.std()))
    frame = pd.DataFrame(spread, columns=["accuracy_points", "early_stop_log_ratio"])
    return frame.median().to_dict()


def main(argv: list[str]) -> int:
    results = Path(argv[0] if argv else "results")
    reruns = rerun_differences(results)
    print("Rerun noise: one run hash trained more than once\n")
    print(reruns.to_string(index=False) if len(reruns) else "(none)")
    print("\nTrial-to-trial spread (median over rounds of the sd over trials)\n")
    for summary in sorted(results.glob("*/summary.csv")):
        table = pd.read_csv(summary)
        for model, part in table.groupby("model") if "model" in table else [("lenet300_100", table)]:
            spread = trial_spread(part)
            if spread:
                print(f"{summary.parent.name} {model}: {spread['accuracy_points']:.2f} points, "
                      f"log ratio {spread['early_stop_log_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
