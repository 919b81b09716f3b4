"""The paper's claims about Lenet-300-100 on MNIST (section 3, Figures 1, 3, 4; the appendix's
Lenet sweeps, which Figure 4's runs do not test)."""
from __future__ import annotations

import functools

from tf_lottery.analysis.claims import (Claim, Criterion, NotTested, about, above, at_least, at_pm, below, diff, half_the_effect,
                                        over_rounds, points, ratio, reaches, ticket)

LENET = "lenet300_100"


def _lenet_claims() -> list[Claim]:
    es, acc = "early_stop_iter", "test_acc_early_stop"
    claim = functools.partial(Claim, network=LENET)

    def es_ratio(rnd, ref="100", strategy="iterative"):
        return lambda df: ratio(ticket(df, rnd, es, strategy), ticket(df, ref, es))

    def acc_gain(rnd, column=acc, strategy="iterative"):
        return lambda df: points(diff(ticket(df, rnd, column, strategy), ticket(df, "100", column)))

    def reinit(df, pm, column):
        return at_pm(df, "iterative", "reinit", pm, column)

    def down_to(level, f, strategy="iterative"):
        """`f`, judged only where the study's tickets reach the claim's smallest Pm `level`."""
        return lambda df: reaches(df, level, strategy) or f(df)

    def oneshot_range(lo, hi, f, agg):
        return down_to(lo, lambda df: over_rounds(df, "oneshot", lambda pm: lo <= pm <= hi, lambda r: f(df, r), agg),
                       "oneshot")

    def best_end_gain(df):
        return over_rounds(df, "iterative", lambda pm: True, lambda r: acc_gain(r, "test_acc_end")(df), "max")

    def min_train_acc(df):
        return over_rounds(df, "iterative", lambda pm: pm >= 2.0, lambda r: points(ticket(df, r, "train_acc_end")), "min")

    def tickets_above_original(df):
        return over_rounds(df, "iterative", lambda pm: pm > 2.95, lambda r: acc_gain(r)(df), "min")

    def iterative_vs_oneshot(df):
        both = df[(df["control"] == "ticket") & (df["round"] > 0)]
        common = set(both[both.strategy == "iterative"]["round"]) & set(both[both.strategy == "oneshot"]["round"])
        if not common:
            return NotTested("no Pm level trained by both strategies")
        r = max(common)
        return points(diff(ticket(df, r, acc), ticket(df, r, acc, "oneshot")))

    return [
        claim("unpruned-accuracy", "Unpruned Lenet test accuracy (not printed; read off the plot).", "about 98%",
              "test accuracy at early stop, Pm 100% (%)", lambda df: points(ticket(df, "100", acc)), about(98.0, 0.5)),
        claim("ticket-51-faster", "A winning ticket with 51.3% of the weights learns faster than the original.",
              "< 1", "early-stop iteration ratio, Pm 51.3% / 100%", es_ratio("51.3"), below(1.0), unit="ratio"),
        claim("ticket-51-more-accurate", "... and reaches higher test accuracy than the original.",
              "> 0 points", "test-accuracy gain at early stop, Pm 51.3% vs 100% (points)", acc_gain("51.3"), above(0)),
        claim("ticket-51-slower-than-21", "... but slower than when Pm = 21.1%.", "> 1",
              "early-stop iteration ratio, Pm 51.3% / 21.1%", es_ratio("51.3", "21.1"), above(1.0), unit="ratio"),
        claim("iterative-earlier-21", "Iterative: early stopping 38% earlier than the original at Pm = 21%.",
              "0.62 (38% earlier)", "early-stop iteration ratio, Pm 21.1% / 100%", es_ratio("21.1"),
              half_the_effect(0.62, 1.0), unit="ratio"),
        claim("learning-slows-below-21", "When Pm < 21.1%, learning slows.", "> 1",
              "early-stop iteration ratio, Pm 7.0% / 21.1%", es_ratio("7.0", "21.1"), above(1.0), unit="ratio"),
        claim("iterative-es-back-3.6", "Iterative: back to the original early-stop iteration at Pm = 3.6%.", "about 1",
              "early-stop iteration ratio, Pm 3.6% / 100%", es_ratio("3.6"), about(1.0, 0.2), unit="ratio"),
        claim("iterative-acc-13.5", "Test accuracy more than 0.3 points higher than the original at Pm = 13.5%.",
              "> 0.3 points", "test-accuracy gain at early stop, Pm 13.5% (points)", acc_gain("13.5"),
              half_the_effect(0.3)),
        claim("iterative-acc-back-3.6", "At Pm = 3.6% a winning ticket regresses to the original's accuracy.",
              "about 0 points", "test-accuracy gain at early stop, Pm 3.6% (points)", acc_gain("3.6"), about(0.0, 0.2)),
        claim("tickets-above-original-to-2.9", "Winning tickets fall below the original's accuracy only from Pm = 2.9%.",
              ">= 0 points for Pm > 2.9%", "smallest test-accuracy gain at early stop over Pm > 2.9% (points)",
              down_to(3.6, tickets_above_original), at_least(0.0)),
        claim("end-accuracy-gain", "At 50K iterations, up to 0.35 points higher test accuracy than the original.",
              "0.35 points", "largest test-accuracy gain at 50K over Pm levels (points)", best_end_gain,
              half_the_effect(0.35)),
        claim("train-acc-100", "Training accuracy about 100% at 50K iterations for Pm >= 2%.", "about 100%",
              "lowest training accuracy at 50K over Pm >= 2% (%)", down_to(2.3, min_train_acc),
              at_least(99.5, "about 100%: within 0.5 of it")),
        claim("reinit-below-original-21", "Random reinit: test accuracy below the original from Pm = 21.1%.",
              "< 0 points", "reinit test-accuracy gain at early stop, Pm 21.1% (points)",
              lambda df: points(diff(reinit(df, "21.1", acc), ticket(df, "100", acc))), below(0.0)),
        claim("ticket-vs-reinit-speed-21", "At Pm = 21%, winning tickets reach minimum validation loss 2.51x faster "
              "than reinitialized ones.", "2.51x", "early-stop iteration ratio reinit / ticket, Pm 21.1%",
              lambda df: ratio(reinit(df, "21.1", es), ticket(df, "21.1", es)), half_the_effect(2.51, 1.0),
              unit="ratio"),
        claim("ticket-vs-reinit-acc-21", "At Pm = 21%, winning tickets are 0.5 points more accurate than "
              "reinitialized ones.", "0.5 points", "test-accuracy gain ticket - reinit at early stop, Pm 21.1% (points)",
              lambda df: points(diff(ticket(df, "21.1", acc), reinit(df, "21.1", acc))), half_the_effect(0.5)),
        claim("oneshot-earlier", "One-shot: earlier early stopping than the original for 67.5% >= Pm >= 17.6%.",
              "< 1", "largest one-shot early-stop ratio vs 100% over 17.6% <= Pm <= 67.5%",
              oneshot_range(17.6, 67.5, lambda df, r: es_ratio(r, strategy="oneshot")(df), "max"), below(1.0),
              unit="ratio"),
        claim("oneshot-more-accurate", "One-shot: higher test accuracy than the original for 95.0% >= Pm >= 5.17%.",
              "> 0 points", "smallest one-shot test-accuracy gain at early stop over 5.17% <= Pm <= 95% (points)",
              oneshot_range(5.17, 95.0, lambda df, r: acc_gain(r, strategy="oneshot")(df), "min"), above(0.0)),
        claim("iterative-beats-oneshot", "Iterative pruning is better than one-shot at smaller Pm.", "> 0 points",
              "test-accuracy gain iterative - one-shot at early stop, smallest common Pm (points)",
              iterative_vs_oneshot, above(0.0)),
    ] + [
        # Appendix claims about Lenet that need other experiments than Figure 4's runs.
        claim(f"appendix-{figures}", text, value, f"needs the sweep of Figures {figures}",
              lambda df, figures=figures: NotTested(f"needs the sweep of Figures {figures}, not run by this script"),
              Criterion(None, None, "-"))
        for figures, text, value in [
            ("26-28", "Adam learning rates 0.0012 and 0.002 find tickets fastest; SGD at 0.4/0.8 keeps working "
                      "below 1% Pm.", "-"),
            ("29", "Pruning rates 0.1-0.2 are clearly better than 0.4 and above.", "-"),
            ("30", "Initialization std 0.1 is about as good as Glorot.", "-"),
            ("31", "Tickets of Lenets of various widths return to the original accuracy at about 9,000-15,000 "
                   "weights.", "9K-15K weights"),
            ("25", "Gaussian noise of 0.5 sigma on the ticket's init barely matters; even at 3 sigma tickets beat "
                   "random reinit.", "-"),
        ]
    ]


LENET_CLAIMS = _lenet_claims()
