"""v1's qualitative XOR claims, checked on the success-rate table.

A network succeeds when it learned the decision boundary and reached zero loss. Rates are
over all trials; "about as often" means within 5 points, "much less / far more often"
means by at least 20 points.
"""
from __future__ import annotations

import pandas as pd

from tf_lottery.analysis.claims import FAILS, HOLDS, NOT_TESTED


def _rate(rates: pd.DataFrame, strategy, units, heuristic="-", control="random", column="success_rate"):
    sel = rates[(rates.strategy == strategy) & (rates.units == units) & (rates.heuristic == heuristic)
                & (rates.control == control)]
    return None if sel.empty else float(sel[column].iloc[0])


def xor_claims(rates: pd.DataFrame, max_hidden: int, prune_to, heuristics) -> pd.DataFrame:
    rows = []

    def claim(text, metric, value, holds, criterion, trials):
        verdict = NOT_TESTED if value is None else (HOLDS if holds(value) else FAILS)
        rows.append({"claim": text, "paper": text, "paper_value": "qualitative", "metric": metric, "mean": value,
                     "min": None, "max": None, "trials": trials, "criterion": criterion, "verdict": verdict,
                     "why": "" if value is not None else "the study trained none of the networks it reads"})

    def diff(a, b):
        return None if a is None or b is None else a - b

    n = int(rates["trials"].max())
    small = min(prune_to)
    parent, random_small = _rate(rates, "random", max_hidden), _rate(rates, "random", small)
    claim(f"{small}-unit networks succeed much less often than {max_hidden}-unit networks.",
          f"success rate, {max_hidden} units - {small} units", diff(parent, random_small), lambda v: v >= 0.2,
          ">= 0.20", n)
    best = "product" if "product" in heuristics else heuristics[0]
    for strategy in ("oneshot", "iterative"):
        for k in sorted(prune_to, reverse=True):
            ticket = _rate(rates, strategy, k, best, "ticket")
            if k == 4:  # v1 says so of its 4-unit tickets only
                claim(f"4-unit tickets ({strategy}, {best}) succeed about as often as their {max_hidden}-unit parents.",
                      "success rate, ticket - parent", diff(ticket, parent), lambda v: abs(v) <= 0.05, "|d| <= 0.05",
                      n)
            claim(f"{k}-unit tickets ({strategy}, {best}) succeed more often than their random reinitializations.",
                  "success rate, ticket - reinit", diff(ticket, _rate(rates, strategy, k, best, "reinit")),
                  lambda v: v > 0, "> 0", n)
        claim(f"{small}-unit tickets ({strategy}, {best}) succeed far more often than random {small}-unit networks.",
              f"success rate, ticket - random {small}-unit", diff(_rate(rates, strategy, small, best, "ticket"),
                                                                   random_small),
              lambda v: v >= 0.2, ">= 0.20", n)
    for h in heuristics:
        claim(f"Iterative pruning beats one-shot ({h}, {small} units).", "success rate, iterative - oneshot",
              diff(_rate(rates, "iterative", small, h, "ticket"), _rate(rates, "oneshot", small, h, "ticket")),
              lambda v: v > 0, "> 0", n)
    others = [h for h in heuristics if h != "product"]
    if "product" in heuristics and others:
        for strategy in ("oneshot", "iterative"):
            product = _rate(rates, strategy, small, "product", "ticket")
            best_other = max((_rate(rates, strategy, small, h, "ticket") for h in others), default=None)
            claim(f"The product heuristic beats {' and '.join(others)} ({strategy}, {small} units).",
                  "success rate, product - best other", diff(product, best_other), lambda v: v > 0, "> 0", n)
    return pd.DataFrame(rows)
