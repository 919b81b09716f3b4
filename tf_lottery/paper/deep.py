"""The paper's numbers and claims about VGG-19 and ResNet-20 on CIFAR-10 (section 4,
Figures 7 and 8; the appendix's Figures 38-45): where it reads accuracy, which learning-rate
settings and sweeps it trains, and what it reports of them."""
from __future__ import annotations

import functools

import pandas as pd

from tf_lottery.analysis.claims import (Claim, Criterion, NotTested, about, above, at_most, diff, over_rounds,
                                        per_trial, points, reaches)
from tf_lottery.models.registry import display_name

DEEP_MODELS = ("vgg19", "resnet20")
# Where the paper reads test accuracy (Figures 7 and 8), in protocol iterations.
CHECKPOINTS = {"resnet20": (("10K", 10_000), ("20K", 20_000), ("30K", 30_000)),
               "vgg19": (("30K", 30_000), ("60K", 60_000), ("112K", 112_480))}
END = {m: marks[-1][0] for m, marks in CHECKPOINTS.items()}
# Figures 7 and 8's learning-rate settings, in the paper's units.
SETTINGS = {"resnet20": ({"learning_rate": 0.1}, {"learning_rate": 0.01},
                         {"learning_rate": 0.03, "warmup_iterations": 20_000}),
            "vgg19": ({"learning_rate": 0.1}, {"learning_rate": 0.01},
                      {"learning_rate": 0.1, "warmup_iterations": 10_000})}
WARMUP = {m: settings[-1] for m, settings in SETTINGS.items()}
# The appendix sweeps (the paper plots more values than it names; these bracket its settings).
LR_SWEEP = (0.01, 0.02, 0.03, 0.05, 0.1)
WARMUP_SWEEP = (0, 5_000, 10_000, 20_000)


def _setting(df, model: str, lr: float, warmup: bool = False, scope: str = "global") -> pd.DataFrame:
    sel = df[(df["model"] == model) & (df["learning_rate"] == lr) & (df["scope"] == scope)]
    return sel[(sel["warmup_iterations"] > 0) == warmup]


def _end(model: str, metric: str = "test") -> str:
    return f"{metric}_acc_{END[model]}"


def unpruned(df, column):
    return per_trial(df, "iterative", "ticket", 0, column)


# The Pm below which the paper sees what a claim about small tickets speaks of: VGG-19's
# layer-wise tickets stop winning at 6.9%, ResNet-20's (global, with warmup) at 11.8%.
SMALL_PM = {"vgg19": 6.9, "resnet20": 11.8}
ROUND = 0.8  # one round of the paper's 20%: the tolerance of a claimed smallest Pm


def ticket_minus_reinit(df, column):
    """Ticket - reinit (points) per trial at the smallest Pm with reinits."""
    rounds = df[(df["control"] == "reinit") & (df["round"] > 0)]["round"]
    if rounds.empty:
        return NotTested("no random reinits trained")
    rnd = int(rounds.max())
    return points(diff(per_trial(df, "iterative", "ticket", rnd, column), per_trial(df, "iterative", "reinit", rnd,
                                                                                    column)))


def magnitude(values):
    """|values|, passing on a value that is missing or not tested."""
    return values if values is None or isinstance(values, NotTested) else values.abs()


def best_ticket_minus(df, reference, column, keep_pm=lambda pm: True):
    """Per trial, the best pruned ticket's accuracy minus `reference` (points)."""
    return over_rounds(df, "iterative", keep_pm, lambda r: points(diff(per_trial(df, "iterative", "ticket", r, column),
                                                                       reference)), "max")


def smallest_winning_pm(df, column, paper_pm: float):
    """Per trial, the smallest Pm whose ticket is at least as accurate as the unpruned
    network of the same setting (a winning ticket); judged only where the study goes a
    round below the paper's `paper_pm`, so that tickets could stop winning there."""
    tickets = df[(df["control"] == "ticket") & (df["strategy"] == "iterative")]
    base = tickets[tickets["round"] == 0].set_index("trial")[column]
    winning = tickets[tickets[column].values >= base.reindex(tickets["trial"]).values]
    return reaches(df, paper_pm * ROUND) or winning.groupby("trial")["pm"].min()


def smallest_pm_criterion(paper_pm: float) -> Criterion:
    lo, hi = paper_pm * ROUND, paper_pm / ROUND
    return Criterion(lo, hi, f"{lo:.3g} <= mean <= {hi:.3g} (the paper's Pm, one round either side)")


def fig7_fig8_claims(model: str) -> list[Claim]:
    name, end = display_name(model), _end(model)
    claim = functools.partial(Claim, network=model)
    high = functools.partial(_setting, model=model, lr=0.1)
    low = functools.partial(_setting, model=model, lr=0.01)
    warm = functools.partial(_setting, model=model, lr=WARMUP[model]["learning_rate"], warmup=True)
    no_tickets = claim(f"{model}-rate0.1-no-tickets", f"{name} at learning rate 0.1: no winning tickets (iterative "
                       "pruning does no better than random reinitialization).", "about 0 points",
                       f"test accuracy at {END[model]}, ticket - reinit, smallest Pm with reinits (points)",
                       lambda df: ticket_minus_reinit(high(df), end), about(0.0, 1.0))
    warm_reinit = claim(f"{model}-warmup-beats-reinit", f"{name} with warmup: winning tickets beat random "
                        "reinitialization.", "> 0 points",
                        f"test accuracy at {END[model]}, ticket - reinit, smallest Pm with reinits (points)",
                        lambda df: ticket_minus_reinit(warm(df), end), above(0.0))
    if model == "resnet20":
        return [
            claim("resnet20-unpruned", "ResNet-20 unpruned at learning rate 0.1 reaches 90.5% test accuracy.",
                  "90.5%", "test accuracy at 30K, Pm 100%, rate 0.1 (%)",
                  lambda df: points(unpruned(high(df), end)), about(90.5, 3.0)),
            no_tickets,
            claim("resnet20-rate0.01-tickets", "ResNet-20 at learning rate 0.01: winning tickets (beat random "
                  "reinitialization).", "> 0 points", "test accuracy at 30K, ticket - reinit, smallest Pm with "
                  "reinits (points)", lambda df: ticket_minus_reinit(low(df), end), above(0.0)),
            claim("resnet20-rate0.01-best", "ResNet-20 at 0.01: the best tickets reach 89.5% (41.7% >= Pm >= 21.9%), "
                  "1 point below the original at 0.1.", "-1.0 points", "best ticket at 0.01 over Pm >= 21.9% - "
                  "unpruned at 0.1, test accuracy at 30K (points)",
                  lambda df: reaches(low(df), 21.9) or best_ticket_minus(low(df), unpruned(high(df), end), end,
                                                                         lambda pm: pm >= 21.9 / 1.02),
                  about(-1.0, 1.0)),
            claim("resnet20-warmup-best", "ResNet-20 at 0.03 with warmup: tickets reach the original's 90.5% "
                  "(Pm 27.1%).", "0 points", "best ticket with warmup - unpruned at 0.1, test accuracy at 30K (points)",
                  lambda df: reaches(warm(df), 27.1) or best_ticket_minus(warm(df), unpruned(high(df), end), end),
                  about(0.0, 1.0)),
            claim("resnet20-warmup-smallest", "ResNet-20 with warmup: winning tickets down to Pm 11.8%.", "11.8%",
                  "smallest Pm whose ticket matches the unpruned network with warmup (test accuracy at 30K, %)",
                  lambda df: smallest_winning_pm(warm(df), end, 11.8), smallest_pm_criterion(11.8), unit="percent"),
            warm_reinit,
        ]
    return [
        no_tickets,
        claim("vgg19-rate0.01-within-1", "VGG-19 at learning rate 0.01: tickets within 1 point of the original while "
              "Pm >= 3.5%.", "within 1 point", "largest |ticket - unpruned| over Pm >= 3.5% at 0.01, test accuracy "
              "at 112K (points)",
              lambda df: reaches(low(df), 3.5) or over_rounds(
                  low(df), "iterative", lambda pm: pm >= 3.5 / 1.02,
                  lambda r, d=low(df): magnitude(points(diff(per_trial(d, "iterative", "ticket", r, end),
                                                             unpruned(d, end)))),
                  "max"),
              at_most(1.0, "both directions")),
        claim("vgg19-warmup-unpruned", "VGG-19: warmup raises the unpruned accuracy at 0.1 by about 1 point.",
              "+1 point", "unpruned test accuracy at 112K, warmup - none, rate 0.1 (points)",
              lambda df: points(diff(unpruned(warm(df), end), unpruned(high(df), end))), about(1.0, 0.5)),
        claim("vgg19-warmup-smallest", "VGG-19 with warmup: winning tickets down to Pm 1.5% (global pruning).", "1.5%",
              "smallest Pm whose ticket matches the unpruned network with warmup (test accuracy at 112K, %)",
              lambda df: smallest_winning_pm(warm(df), end, 1.5), smallest_pm_criterion(1.5), unit="percent"),
        warm_reinit,
    ]


def scope_claims(model: str) -> list[Claim]:
    """Figures 38-41: global pruning finds smaller winning tickets than layer-wise, judged
    below the Pm where the paper sees the difference (`SMALL_PM`)."""
    name, end = display_name(model), _end(model, "val")
    lr = WARMUP[model]["learning_rate"]

    def global_minus_layerwise(df):
        g, lw = _setting(df, model, lr, True, "global"), _setting(df, model, lr, True, "layerwise")
        common = [r for r in set(g[g["round"] > 0]["round"]) & set(lw[lw["round"] > 0]["round"])
                  if g[g["round"] == r]["pm"].mean() <= SMALL_PM[model] * 1.02]
        if not common:
            return NotTested(f"no Pm level at or below {SMALL_PM[model]}% trained by both scopes")
        rnd = max(common)
        return points(diff(per_trial(g, "iterative", "ticket", rnd, end), per_trial(lw, "iterative", "ticket", rnd,
                                                                                    end)))

    paper = "1.5% against 6.9%" if model == "vgg19" else "smaller Pm"
    return [Claim(f"{model}-global-beats-layerwise", f"{name} with warmup: global pruning finds winning tickets at "
                  f"smaller sizes than layer-wise pruning ({paper}).", "> 0 points",
                  f"validation accuracy at {END[model]}, global - layer-wise ticket, smallest common Pm <= "
                  f"{SMALL_PM[model]}% (points)", global_minus_layerwise, above(0.0), network=model)]


def _pruning_cost_at_smallest_pm(df, end, model):
    """Per trial, ticket - unpruned (points) at the smallest Pm trained, which must be small."""
    pruned = df[(df["control"] == "ticket") & (df["round"] > 0)]
    if pruned.empty:
        return NotTested("no pruned tickets trained")
    rnd = int(pruned["round"].max())
    return reaches(df, SMALL_PM[model]) or points(diff(per_trial(df, "iterative", "ticket", rnd, end),
                                                       unpruned(df, end)))


def sweep_claims(model: str, field: str) -> list[Claim]:
    """Figures 42-45: lower rates (or longer warmup) keep tickets accurate at smaller sizes."""
    name, end = display_name(model), _end(model, "val")

    def contrast(df):
        sel = df[(df["model"] == model) & (df["scope"] == "global")]
        values = sorted(sel[field].unique())
        if len(values) < 2:
            return NotTested(f"fewer than two values of {field} trained")
        cost = {v: _pruning_cost_at_smallest_pm(sel[sel[field] == v], end, model) for v in (values[0], values[-1])}
        better, worse = (values[0], values[-1]) if field == "learning_rate" else (values[-1], values[0])
        return diff(cost[better], cost[worse])

    what = ("the lowest learning rate's tickets lose less accuracy than the highest's" if field == "learning_rate"
            else "the longest warmup's tickets lose less accuracy than those without warmup")
    return [Claim(f"{model}-{'lr' if field == 'learning_rate' else 'warmup'}-sweep", f"{name}: {what} (section 4).",
                  "> 0 points", f"(ticket - unpruned) at the smallest Pm (<= {SMALL_PM[model]}%), validation accuracy "
                  f"at {END[model]}: {'lowest - highest rate' if field == 'learning_rate' else 'longest warmup - none'}"
                  " (points)", contrast, above(0.0), network=model)]
