"""The claims engine: paper claims checked against a summary table (one row per run).

Each claim reduces the summary to one number per trial (differences against the same
trial's unpruned network, so trials pair up), reports mean/min/max over trials, and judges
the mean by an explicit `Criterion`: an interval where the paper gives a value ("about x",
"within 1 point", "back to the original": both directions), a bound where it states a
direction (then at least half the paper's effect, or the stated sign). A claim is judged
only where the runs test it; otherwise its verdict is "not tested at this preset", with the
reason:
- accuracy read at fixed iterations (`*_end`, the deep figures' `*_acc_<checkpoint>`)
  needs runs of the protocol's length;
- an early stop at or next to a run's last evaluation is censored by its budget, not
  measured, and so are the accuracies read there;
- the Pm levels a claim names must have been trained (a level is the round whose measured
  Pm lies within 2% of it, relative, or 0.05 points);
- a claim's own check may say why not (`NotTested`).
A mean whose distance from the criterion's bound is within the noise of a mean over that
many trials (the network's noise floor, `paper/noise.py`, over the square root of the
trials) is "within noise", neither holds nor fails. Verdicts from fewer than 3 trials say
so (`n=1`).

The claims themselves are the paper's (`tf_lottery/paper/`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd

# A measured Pm matches a paper's level within 2% of it (relative), or within the 0.05
# points of a level printed to one decimal: its levels are a pruning round (10-20%) apart.
PM_TOLERANCE, PM_PRINT_ROUNDING = 0.02, 0.05


def pm_distance(pm, level: float):
    """Distance of a measured Pm from a paper level, in units of the tolerance (<= 1 matches)."""
    return abs(pm - level) / max(PM_TOLERANCE * level, PM_PRINT_ROUNDING)

# What every comparison's note says of how it judges.
RULES = ("Each claim reduces the summary to one number per trial (differences against the same trial's unpruned "
         "network), reports mean/min/max over trials, and judges the mean by the criterion shown: an interval where "
         "the paper gives a value (\"about x\", \"within 1 point\", \"back to the original\"), a bound where it "
         "states a direction (at least half the paper's effect, or the stated sign). A claim is judged only where the "
         "runs test it, else it is \"not tested at this preset\" with the reason: accuracy at fixed iterations needs "
         "runs of the protocol's length; an early stop at or next to the last evaluation is censored by the budget; "
         "the Pm levels a claim names must be trained; rounds that each apply several of the paper's rounds are not "
         "iterative pruning as the paper's. A mean closer to the criterion's bound than the network's noise floor "
         "(docs/design.md, \"Noise\") over the square root of the trials is \"within noise\"; n=1 or n=2 marks "
         "verdicts from fewer than 3 trials.")
HOLDS, FAILS, WITHIN_NOISE, NOT_TESTED = "holds", "does not hold", "within noise", "not tested at this preset"
VERDICTS = (HOLDS, FAILS, WITHIN_NOISE, NOT_TESTED)
FEW_TRIALS = 3  # verdicts from fewer trials say how many



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


def at_pm(df: pd.DataFrame, strategy: str, control: str, pm: float | str, column: str):
    """Per-trial value of `column` at the round measured at Pm `pm` (NotTested if not trained)."""
    rnd = round_at_pm(df, strategy, float(pm))
    if rnd is None:
        return NotTested(f"Pm {pm}% not trained ({strategy})")
    return per_trial(df, strategy, control, rnd, column)


def ticket(df, pm_or_round: int | str, column, strategy="iterative"):
    """A ticket's per-trial value at a round number (int) or a paper Pm label (str)."""
    if isinstance(pm_or_round, str):
        return at_pm(df, strategy, "ticket", pm_or_round, column)
    return per_trial(df, strategy, "ticket", pm_or_round, column)


def reaches(df: pd.DataFrame, pm: float, strategy: str = "iterative") -> "NotTested | None":
    """NotTested unless the study's tickets reach Pm `pm` (within tolerance)."""
    pms = df[(df["strategy"] == strategy) & (df["control"] == "ticket")]["pm"].dropna()
    if pms.empty or pm_distance(pms.min(), pm) > 1 and pms.min() > pm:
        return NotTested(f"Pm {pm:g}% not reached (smallest trained {pms.min():.3g}%)" if len(pms) else
                         "no tickets trained")
    return None


def _failed(*values):
    """The first value that is None or NotTested, if any."""
    return next((v for v in values if v is None or isinstance(v, NotTested)), False)


def points(series):
    return series if _failed(series) is not False else 100.0 * series


def diff(a, b):
    failed = _failed(a, b)
    return failed if failed is not False else a - b


def ratio(a, b):
    failed = _failed(a, b)
    return failed if failed is not False else a / b


def over_rounds(df, strategy: str, keep_pm: Callable[[float], bool], f, agg: str):
    """Per trial, `agg` ('min' or 'max') of `f(round)` over the pruned rounds whose Pm passes `keep_pm`."""
    sel = df[(df["strategy"] == strategy) & (df["control"] == "ticket") & (df["round"] > 0)]
    rounds = sorted(r for r, pm in sel.groupby("round")["pm"].first().items() if keep_pm(pm))
    values = [v for v in (f(r) for r in rounds) if _failed(v) is False]
    return pd.concat(values, axis=1).agg(agg, axis=1) if values else None


@dataclass(frozen=True)
class NotTested:
    """What a claim's computation returns where the runs cannot test it, and why."""
    reason: str


@dataclass(frozen=True)
class Criterion:
    """The interval [lo, hi] (either end open when None) the reproduced mean must fall in,
    and how the comparison says it."""
    lo: float | None
    hi: float | None
    text: str

    def holds(self, value: float) -> bool:
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)

    def margin(self, value: float, log: bool = False) -> float:
        """Distance from `value` to the nearest bound (in log units for ratios)."""
        scale = (lambda v: math.log(max(v, 1e-12))) if log else (lambda v: v)
        return min(abs(scale(value) - scale(bound)) for bound in (self.lo, self.hi) if bound is not None)


def at_least(bound: float, why: str = "") -> Criterion:
    return Criterion(bound, None, f"mean >= {bound:g}" + (f" ({why})" if why else ""))


def at_most(bound: float, why: str = "") -> Criterion:
    return Criterion(None, bound, f"mean <= {bound:g}" + (f" ({why})" if why else ""))


def above(bound: float = 0.0) -> Criterion:
    """The stated sign or direction (a qualitative claim)."""
    return Criterion(bound, None, f"mean > {bound:g}")


def below(bound: float = 0.0) -> Criterion:
    return Criterion(None, bound, f"mean < {bound:g}")


def about(value: float, tolerance: float, unit: str = "") -> Criterion:
    """The paper's value, in both directions."""
    return Criterion(value - tolerance, value + tolerance,
                     f"{value - tolerance:g} <= mean <= {value + tolerance:g} ({value:g} +- {tolerance:g}{unit})")


def half_the_effect(paper: float, base: float = 0.0) -> Criterion:
    """A directional gain: at least half the paper's effect over `base`, in its direction."""
    bound = base + (paper - base) / 2
    return at_least(bound, "half the paper's effect") if paper >= base else at_most(bound, "half the paper's effect")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # the paper's statement
    paper_value: str
    metric: str  # what the reproduced number is
    compute: Callable[[pd.DataFrame], "pd.Series | NotTested | None"]
    criterion: Criterion
    network: str = ""  # whose noise floor applies
    unit: str = "points"  # of the metric: points (accuracy), ratio, or percent (Pm: no noise floor)


FIXED_ITERATION_COLUMNS = re.compile(r"(_end|_acc_\d+K)$")
EARLY_STOP_COLUMNS = ("early_stop_iter", "val_loss_early_stop", "val_acc_early_stop", "test_acc_early_stop",
                      "train_acc_early_stop")


def _blank(summary: pd.DataFrame, rows: pd.Series, columns) -> pd.DataFrame:
    out = summary.copy()
    out.loc[rows.fillna(False).astype(bool).values, [c for c in summary if c in columns]] = float("nan")
    return out


def untestable(summary: pd.DataFrame) -> list[tuple[pd.DataFrame, str]]:
    """The summary with each kind of measurement the runs do not provide blanked, and why:
    fixed-iteration accuracies of runs shorter than their protocol; censored early stops;
    pruned runs whose rounds each prune several of the paper's rounds at once."""
    columns = set(summary)
    fixed = {c for c in columns if FIXED_ITERATION_COLUMNS.search(c)}
    out = []
    if {"iterations", "protocol_iterations"} <= columns:
        short = summary["iterations"] < summary["protocol_iterations"]
        if short.any():
            trained, protocol = summary["iterations"][short].min(), summary["protocol_iterations"][short].max()
            out.append((_blank(summary, short, fixed),
                        f"trained {trained:,.0f} of the protocol's {protocol:,.0f} iterations"))
    if "early_stop_censored" in columns:
        out.append((_blank(summary, summary["early_stop_censored"], EARLY_STOP_COLUMNS),
                    "the early stop it reads is censored: at or next to the last evaluation of the budget"))
    if "rounds_per_round" in columns:
        compounded = (summary["rounds_per_round"] > 1.01) & (summary["round"] > 0)
        if compounded.any():
            out.append((_blank(summary, compounded, fixed | set(EARLY_STOP_COLUMNS)),
                        f"each pruning round applies {summary['rounds_per_round'].max():.0f} of the paper's rounds "
                        "at once, which moves iterative pruning towards one-shot"))
    return out


def _values(result) -> pd.Series | None:
    return None if result is None or isinstance(result, NotTested) or not len(result.dropna()) else result.dropna()


def judge(claim: Claim, summary: pd.DataFrame, noise: Callable[[str, str], float]) -> dict:
    """One claim's row of the comparison: its per-trial values over the runs that test it,
    and its verdict. `noise(network, unit)` is the noise floor of one trial."""
    masks = untestable(summary)
    testable = summary
    for blanked, _ in masks:
        testable = testable.where(blanked.notna() | summary.isna(), float("nan"))
    result = claim.compute(testable)
    values, reason = _values(result), result.reason if isinstance(result, NotTested) else ""
    if values is None and not reason and _values(claim.compute(summary)) is not None:
        reasons = [why for blanked, why in masks if _values(claim.compute(blanked)) is None]
        reason = "; ".join(reasons or [why for _, why in masks])
    row = {"claim": claim.id, "paper": claim.text, "paper_value": claim.paper_value, "metric": claim.metric,
           "mean": None, "min": None, "max": None, "trials": 0, "criterion": claim.criterion.text}
    if values is None:
        return {**row, "verdict": NOT_TESTED, "why": reason or "the study trained none of the runs it reads"}
    mean, n = float(values.mean()), len(values)
    floor = noise(claim.network, claim.unit) / math.sqrt(n)
    in_noise = floor > 0 and claim.criterion.margin(mean, log=claim.unit == "ratio") < floor
    verdict = WITHIN_NOISE if in_noise else HOLDS if claim.criterion.holds(mean) else FAILS
    why = [f"within {floor:.2g}{' (log)' if claim.unit == 'ratio' else ''} of the bound: the noise of a mean of {n}"
           ] if in_noise else []
    return {**row, "mean": mean, "min": float(values.min()), "max": float(values.max()), "trials": n,
            "verdict": verdict, "why": "; ".join(why + ([f"n={n}"] if n < FEW_TRIALS else []))}


def compare(summary: pd.DataFrame, claims: list[Claim], noise: Callable[[str, str], float] = lambda n, u: 0.0) \
        -> pd.DataFrame:
    return pd.DataFrame([judge(c, summary, noise) for c in claims])


def comparison_markdown(table: pd.DataFrame, title: str, note: str) -> str:
    def fmt(v):
        return "-" if v is None or pd.isna(v) else f"{v:.3g}"

    lines = [f"# {title}", "", note, "",
             "| claim (paper) | paper | reproduced: metric | mean | min | max | trials | criterion | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        why = f" ({r.why})" if isinstance(r.why, str) and r.why else ""
        lines.append(f"| {r.paper} | {r.paper_value} | {r.metric} | {fmt(r.mean)} | {fmt(r.min)} | {fmt(r.max)} | "
                     f"{r.trials} | {r.criterion} | **{r.verdict}**{why} |")
    counts = table["verdict"].value_counts()
    lines += ["", ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS) + "."]
    return "\n".join(lines) + "\n"


def write_comparison(out, summary: pd.DataFrame, claims: list[Claim], title: str, note: str,
                     noise: Callable[[str, str], float] = lambda n, u: 0.0) -> dict:
    """comparison.csv and comparison.md in `out`, the verdicts printed; returns run.json's
    count of verdicts."""
    table = compare(summary, claims, noise)
    table.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(comparison_markdown(table, title, note))
    print(table[["claim", "paper_value", "mean", "verdict"]].to_string(index=False))
    return {"claims": {v: int(n) for v, n in table["verdict"].value_counts().items()}}
