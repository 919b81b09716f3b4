"""The paper's claims about Conv-2/4/6 on CIFAR-10 (section 4): Figure 5's tickets against
random reinitialization, Figure 6's dropout, Figure 1's random sparse networks."""
from __future__ import annotations

import functools

import pandas as pd

from tf_lottery.analysis.claims import (Claim, NotTested, about, above, at_least, diff, half_the_effect, over_rounds,
                                        per_trial, points, ratio, reaches, ticket)
from tf_lottery.models.registry import display_name

ES, ACC = "early_stop_iter", "test_acc_early_stop"
# Section 4's numbers per network: (best early-stop speed-up, its Pm), (best test-accuracy
# gain, its Pm), dropout's gain unpruned, pruning's further gain with dropout, appendix
# validation accuracy unpruned.
PAPER_CONV = {
    "conv2": {"speedup": (3.5, 8.8), "gain": (3.4, 4.6), "dropout": 2.1, "dropout_pruned": 2.3, "val_acc": 67.6},
    "conv4": {"speedup": (3.5, 9.2), "gain": (3.5, 11.1), "dropout": 3.0, "dropout_pruned": 4.6, "val_acc": 74.9},
    "conv6": {"speedup": (2.5, 15.1), "gain": (3.3, 26.4), "dropout": 2.4, "dropout_pruned": 4.7, "val_acc": 79.1},
}


def _of(df: pd.DataFrame, model: str, dropout: float | None = 0.0, reset: str = "init") -> pd.DataFrame:
    sel = df[(df["model"] == model) & (df["reset"] == reset)]
    return sel if dropout is None else sel[sel["dropout"] == dropout]


def best_speedup(df):
    """Per trial, the largest early-stop speed-up (unpruned / ticket) over the pruned levels."""
    return over_rounds(df, "iterative", lambda pm: True, lambda r: ratio(ticket(df, 0, ES), ticket(df, r, ES)), "max")


def best_gain(df, column=ACC):
    return over_rounds(df, "iterative", lambda pm: True,
                       lambda r: points(diff(ticket(df, r, column), ticket(df, 0, column))), "max")


def smallest_control_round(df, control: str) -> int | None:
    rounds = df[(df["control"] == control) & (df["round"] > 0)]["round"]
    return None if rounds.empty else int(rounds.max())


def ticket_vs_control(df, control: str, column: str, how):
    """`how(ticket, control)` per trial at the smallest Pm that has the control."""
    rnd = smallest_control_round(df, control)
    if rnd is None:
        return NotTested(f"no {control} runs trained")
    return how(per_trial(df, "iterative", "ticket", rnd, column), per_trial(df, "iterative", control, rnd, column))


def best_at(df, pm: float, f):
    """An "up to x (Pm p%)" claim: the best over the trained levels, judged only where they
    reach the paper's Pm of that best."""
    return reaches(df, pm) or f(df)


def conv_claims(models) -> list[Claim]:
    """Figure 5's claims for each network studied."""
    out = []
    for m in models:
        name, p = display_name(m), PAPER_CONV[m]
        of = functools.partial(_of, model=m)
        claim = functools.partial(Claim, network=m)
        (speedup, speedup_pm), (gain, gain_pm) = p["speedup"], p["gain"]
        out += [
            claim(f"{m}-unpruned-val-acc", f"{name} unpruned validation accuracy at early stop (appendix, 3 trials).",
                  f"about {p['val_acc']}%", "validation accuracy at early stop, Pm 100% (%)",
                  lambda df, of=of: points(per_trial(of(df), "iterative", "ticket", 0, "val_acc_early_stop")),
                  about(p["val_acc"], 3.0)),
            claim(f"{m}-best-speedup", f"{name}: winning tickets reach minimum validation loss up to {speedup}x faster "
                  f"(Pm {speedup_pm}%).", f"{speedup}x", "largest early-stop speed-up, unpruned / ticket, over Pm",
                  lambda df, of=of, pm=speedup_pm: best_at(of(df), pm, best_speedup), half_the_effect(speedup, 1.0),
                  unit="ratio"),
            claim(f"{m}-best-gain", f"{name}: test accuracy up to {gain} points higher than unpruned (Pm {gain_pm}%).",
                  f"+{gain} points", "largest test-accuracy gain at early stop over Pm (points)",
                  lambda df, of=of, pm=gain_pm: best_at(of(df), pm, best_gain), half_the_effect(gain)),
            claim(f"{m}-above-original", f"{name}: winning tickets stay above the unpruned accuracy while Pm > 2%.",
                  ">= 0 points", "smallest test-accuracy gain at early stop over Pm > 2% (points)",
                  lambda df, of=of: reaches(of(df), 2.0) or over_rounds(
                      of(df), "iterative", lambda pm: pm > 2.0,
                      lambda r, d=of(df): points(diff(ticket(d, r, ACC), ticket(d, 0, ACC))), "min"),
                  at_least(0.0)),
            claim(f"{m}-reinit-slower", f"{name}: randomly reinitialized networks learn slower.", "> 1",
                  "early-stop iteration reinit / ticket, smallest Pm with reinits",
                  lambda df, of=of: ticket_vs_control(of(df), "reinit", ES, lambda t, c: ratio(c, t)), above(1.0),
                  unit="ratio"),
            claim(f"{m}-reinit-less-accurate", f"{name}: reinitialized networks lose test accuracy sooner.",
                  "> 0 points", "test-accuracy gain ticket - reinit at early stop, smallest Pm with reinits (points)",
                  lambda df, of=of: ticket_vs_control(of(df), "reinit", ACC, lambda t, c: points(diff(t, c))),
                  above(0.0)),
        ]
    return out


def dropout_claims(models) -> list[Claim]:
    """Figure 6's claims. The paper gives no Pm for dropout's best gain: it is judged only
    where the study reaches the Pm of the network's best gain without dropout."""
    out = []
    for m in models:
        name, p = display_name(m), PAPER_CONV[m]
        claim = functools.partial(Claim, network=m)

        def unpruned_gain(df, m=m):
            with_dropout = _of(df, m, dropout=None)
            with_dropout = with_dropout[with_dropout["dropout"] > 0]
            return points(diff(ticket(with_dropout, 0, ACC), ticket(_of(df, m), 0, ACC)))

        def pruned_gain(df, m=m, pm=p["gain"][1]):
            with_dropout = _of(df, m, dropout=None)
            return best_at(with_dropout[with_dropout["dropout"] > 0], pm, best_gain)

        out += [
            claim(f"{m}-dropout-unpruned", f"{name}: dropout raises the unpruned test accuracy by {p['dropout']} points.",
                  f"+{p['dropout']} points", "test-accuracy gain at early stop, dropout - none, Pm 100% (points)",
                  unpruned_gain, half_the_effect(p["dropout"])),
            claim(f"{m}-dropout-pruned", f"{name}: with dropout, pruning adds up to {p['dropout_pruned']} points more.",
                  f"+{p['dropout_pruned']} points", "largest test-accuracy gain at early stop over Pm, with dropout "
                  "(points)", pruned_gain, half_the_effect(p["dropout_pruned"])),
        ]
    return out


def random_claims(models) -> list[Claim]:
    out = []
    for m in models:
        name = display_name(m)
        of = functools.partial(_of, model=m)
        claim = functools.partial(Claim, network=m)
        out += [
            claim(f"{m}-random-slower", f"{name}: randomly sampled sparse networks learn slower than winning tickets.",
                  "> 1", "early-stop iteration random / ticket, smallest Pm with random networks",
                  lambda df, of=of: ticket_vs_control(of(df), "random", ES, lambda t, c: ratio(c, t)), above(1.0),
                  unit="ratio"),
            claim(f"{m}-random-less-accurate", f"{name}: ... and reach lower test accuracy.", "> 0 points",
                  "test-accuracy gain ticket - random at early stop, smallest Pm with random networks (points)",
                  lambda df, of=of: ticket_vs_control(of(df), "random", ACC, lambda t, c: points(diff(t, c))),
                  above(0.0)),
        ]
    return out
