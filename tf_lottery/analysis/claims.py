"""The claims engine: paper claims checked against a summary table (one row per run).

Each claim reduces the summary to one number per trial (differences against the same
trial's unpruned network, so trials pair up), reports mean/min/max over trials, and gives
a verdict by an explicit criterion. Quantitative claims hold when the reproduced mean
shows at least half of the paper's effect in the paper's direction; qualitative ones when
the mean has the stated sign. Claims name Pm levels as the paper prints them; a level is
the round whose measured Pm lies within 2% of it (relative, or 0.05 points), and a claim whose
levels the study did not train is "not measured at this preset".

The claims themselves live with their figures (`tf_lottery/figures/`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

# A measured Pm matches a paper's level within 2% of it (relative), or within the 0.05
# points of a level printed to one decimal: its levels are a pruning round (10-20%) apart.
PM_TOLERANCE, PM_PRINT_ROUNDING = 0.02, 0.05


def pm_distance(pm, level: float):
    """Distance of a measured Pm from a paper level, in units of the tolerance (<= 1 matches)."""
    return abs(pm - level) / max(PM_TOLERANCE * level, PM_PRINT_ROUNDING)

HOLDS, FAILS, NOT_MEASURED = "holds", "does not hold", "not measured at this preset"


def per_trial(df: pd.DataFrame, strategy: str, control: str, rnd: int, column: str) -> pd.Series | None:
    """Per-trial value of `column` at one round (reinit controls averaged per trial)."""
    sel = df[(df["strategy"] == strategy) & (df["control"] == control) & (df["round"] == rnd)]
    return None if sel.empty else sel.groupby("trial")[column].mean()


def nearest_round(pm_by_round, pm: float) -> int | None:
    """The round (a key of `pm_by_round`) whose Pm is closest to `pm`, if within tolerance
    of it (`pm_distance`); None if no round is that close."""
    if not len(pm_by_round):
        return None
    best = min(pm_by_round.keys(), key=lambda r: pm_distance(pm_by_round[r], pm))
    return int(best) if pm_distance(pm_by_round[best], pm) <= 1 else None


def round_at_pm(df: pd.DataFrame, strategy: str, pm: float) -> int | None:
    """The trained round of `strategy`'s tickets whose mean measured Pm matches `pm`."""
    sel = df[(df["strategy"] == strategy) & (df["control"] == "ticket")]
    return nearest_round(sel.groupby("round")["pm"].mean().dropna(), pm)


def at_pm(df: pd.DataFrame, strategy: str, control: str, pm: float | str, column: str) -> pd.Series | None:
    """Per-trial value of `column` at the round measured at Pm `pm` (None if not trained)."""
    rnd = round_at_pm(df, strategy, float(pm))
    return None if rnd is None else per_trial(df, strategy, control, rnd, column)


def ticket(df, pm_or_round: int | str, column, strategy="iterative"):
    """A ticket's per-trial value at a round number (int) or a paper Pm label (str)."""
    if isinstance(pm_or_round, str):
        return at_pm(df, strategy, "ticket", pm_or_round, column)
    return per_trial(df, strategy, "ticket", pm_or_round, column)


def points(series):
    return None if series is None else 100.0 * series


def diff(a, b):
    return None if a is None or b is None else a - b


def ratio(a, b):
    return None if a is None or b is None else a / b


def over_rounds(df, strategy: str, keep_pm: Callable[[float], bool], f, agg: str) -> pd.Series | None:
    """Per trial, `agg` ('min' or 'max') of `f(round)` over the pruned rounds whose Pm passes `keep_pm`."""
    sel = df[(df["strategy"] == strategy) & (df["control"] == "ticket") & (df["round"] > 0)]
    rounds = sorted(r for r, pm in sel.groupby("round")["pm"].first().items() if keep_pm(pm))
    values = [v for v in (f(r) for r in rounds) if v is not None]
    return pd.concat(values, axis=1).agg(agg, axis=1) if values else None


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # the paper's statement
    paper_value: str
    metric: str  # what the reproduced number is
    compute: Callable[[pd.DataFrame], pd.Series | None]
    holds: Callable[[float], bool]
    criterion: str


def compare(summary: pd.DataFrame, claims: list[Claim]) -> pd.DataFrame:
    rows = []
    for c in claims:
        values = c.compute(summary)
        values = None if values is None else values.dropna()
        measured = values is not None and len(values) > 0
        rows.append({
            "claim": c.id,
            "paper": c.text,
            "paper_value": c.paper_value,
            "metric": c.metric,
            "mean": values.mean() if measured else None,
            "min": values.min() if measured else None,
            "max": values.max() if measured else None,
            "trials": len(values) if measured else 0,
            "criterion": c.criterion,
            "verdict": (HOLDS if c.holds(values.mean()) else FAILS) if measured else NOT_MEASURED,
        })
    return pd.DataFrame(rows)


def comparison_markdown(table: pd.DataFrame, title: str, note: str) -> str:
    def fmt(v):
        return "-" if v is None or pd.isna(v) else f"{v:.3g}"

    lines = [f"# {title}", "", note, "",
             "| claim (paper) | paper | reproduced: metric | mean | min | max | trials | criterion | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.paper} | {r.paper_value} | {r.metric} | {fmt(r.mean)} | {fmt(r.min)} | {fmt(r.max)} | "
                     f"{r.trials} | {r.criterion} | **{r.verdict}** |")
    counts = table["verdict"].value_counts()
    lines += ["", ", ".join(f"{counts.get(v, 0)} {v}" for v in (HOLDS, FAILS, NOT_MEASURED)) + "."]
    return "\n".join(lines) + "\n"


def write_comparison(out, summary: pd.DataFrame, claims: list[Claim], title: str, note: str) -> dict:
    """comparison.csv and comparison.md in `out`, the verdicts printed; returns run.json's
    count of verdicts."""
    table = compare(summary, claims)
    table.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(comparison_markdown(table, title, note))
    print(table[["claim", "paper_value", "mean", "verdict"]].to_string(index=False))
    return {"claims": {v: int(n) for v, n in table["verdict"].value_counts().items()}}
