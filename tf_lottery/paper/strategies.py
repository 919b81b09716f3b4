"""The paper's claims about Strategy 1 (resetting) against Strategy 2 (continued training),
Appendix B's Figures 9 and 10."""
from __future__ import annotations

from tf_lottery.analysis.claims import Claim, NotTested, above, diff, per_trial, points, ratio
from tf_lottery.models.registry import display_name
from tf_lottery.paper.conv import ACC, ES


def _at_smallest_common(df, model: str, column: str, how):
    s1 = df[(df["model"] == model) & (df["reset"] == "init")]
    s2 = df[(df["model"] == model) & (df["reset"] == "continue")]
    common = set(s1[s1["round"] > 0]["round"]) & set(s2[s2["round"] > 0]["round"])
    if not common:
        return NotTested("no Pm level trained by both strategies")
    rnd = max(common)
    return how(per_trial(s1, "iterative", "ticket", rnd, column), per_trial(s2, "iterative", "ticket", rnd, column))


def strategy_claims(models) -> list[Claim]:
    out = []
    for m in models:
        name = display_name(m)
        out += [
            Claim(f"{m}-strategy1-more-accurate", f"{name}: resetting (Strategy 1) keeps higher test accuracy at "
                  "smaller sizes than continued training (Strategy 2).", "> 0 points",
                  "test-accuracy gain at early stop, Strategy 1 - 2, smallest common Pm (points)",
                  lambda df, m=m: _at_smallest_common(df, m, ACC, lambda a, b: points(diff(a, b))), above(0.0),
                  network=m),
            Claim(f"{m}-strategy1-earlier", f"{name}: ... and stops early sooner.", "> 1",
                  "early-stop iteration Strategy 2 / Strategy 1, smallest common Pm",
                  lambda df, m=m: _at_smallest_common(df, m, ES, lambda a, b: ratio(b, a)), above(1.0),
                  network=m, unit="ratio"),
        ]
    return out
