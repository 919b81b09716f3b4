"""Lenet-300-100 on MNIST: Figures 4 (with Figure 12's train accuracy) and 3 (with
Figure 11's validation loss), their presets, and the paper's Lenet claims (section 3)."""
from __future__ import annotations

import functools

from tf_lottery.analysis import claims as engine
from tf_lottery.analysis import plots, tables
from tf_lottery.analysis.claims import (Claim, at_pm, diff, nearest_round, over_rounds, points, ratio, round_at_pm,
                                        ticket)
from tf_lottery.figures.kinds import LotteryKind
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.lottery.experiment import RunSpec, plan
from tf_lottery.models.registry import prunable_sizes
from tf_lottery.pruning.strategies import PruningPlan

# Presets override the model's protocol; explicit flags override presets. Largest first.
PRESETS: dict[str, dict] = {
    "paper": {"random_sparse": 2},  # 10 random sparse networks per level over 5 trials (Figure 1)
    # Same protocol (50K iterations, full data, same rates); fewer trials, Pm levels and
    # reinits: 105 runs, about an hour on a 2-core CPU.
    "fast": {"trials": 3, "rounds": 16, "control_rounds": (3, 7, 9, 12, 15, 16), "reinits": 1, "random_sparse": 1},
    # Tiny, for tests and a first look: 300 iterations, 1 trial, 2 rounds.
    "smoke": {"iterations": 300, "trials": 1, "rounds": 2, "control_rounds": (2,), "reinits": 1, "random_sparse": 1},
}
PRESET_COST = {
    "paper": "5 trials x (21 trunk + 20 one-shot + 120 reinit) = 805 runs of 50K iterations; about 7-8 h on 2 cores",
    "fast": "3 trials x (17 trunk + 6 one-shot + 12 reinit) = 105 runs of 50K iterations; about 1 h on 2 cores",
    "smoke": "6 runs of 300 iterations; under a minute",
}

def _lenet_claims() -> list[Claim]:
    es, acc = "early_stop_iter", "test_acc_early_stop"

    def es_ratio(rnd, ref="100", strategy="iterative"):
        return lambda df: ratio(ticket(df, rnd, es, strategy), ticket(df, ref, es))

    def acc_gain(rnd, column=acc, strategy="iterative"):
        return lambda df: points(diff(ticket(df, rnd, column, strategy), ticket(df, "100", column)))

    def reinit(df, pm, column):
        return at_pm(df, "iterative", "reinit", pm, column)

    def oneshot_range(lo, hi, f, agg):
        return lambda df: over_rounds(df, "oneshot", lambda pm: lo <= pm <= hi, lambda r: f(df, r), agg)

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
            return None
        r = max(common)
        return points(diff(ticket(df, r, acc), ticket(df, r, acc, "oneshot")))

    return [
        Claim("unpruned-accuracy", "Unpruned Lenet test accuracy (not printed; read off the plot).", "about 98%",
              "test accuracy at early stop, Pm 100% (%)", lambda df: points(ticket(df, "100", acc)),
              lambda v: 97.5 <= v <= 98.5, "97.5 <= mean <= 98.5"),
        Claim("ticket-51-faster", "A winning ticket with 51.3% of the weights learns faster than the original.",
              "< 1", "early-stop iteration ratio, Pm 51.3% / 100%", es_ratio("51.3"), lambda v: v < 1, "mean < 1"),
        Claim("ticket-51-more-accurate", "... and reaches higher test accuracy than the original.",
              "> 0 points", "test-accuracy gain at early stop, Pm 51.3% vs 100% (points)", acc_gain("51.3"),
              lambda v: v > 0, "mean > 0"),
        Claim("ticket-51-slower-than-21", "... but slower than when Pm = 21.1%.", "> 1",
              "early-stop iteration ratio, Pm 51.3% / 21.1%", es_ratio("51.3", "21.1"), lambda v: v > 1, "mean > 1"),
        Claim("iterative-earlier-21", "Iterative: early stopping 38% earlier than the original at Pm = 21%.", "38%",
              "early-stop reduction at Pm 21.1% (%)",
              lambda df: None if (r := es_ratio("21.1")(df)) is None else 100.0 * (1.0 - r),
              lambda v: v >= 19.0, "mean >= 19% (half the paper's 38%)"),
        Claim("learning-slows-below-21", "When Pm < 21.1%, learning slows.", "> 1",
              "early-stop iteration ratio, Pm 7.0% / 21.1%", es_ratio("7.0", "21.1"), lambda v: v > 1, "mean > 1"),
        Claim("iterative-es-back-3.6", "Iterative: back to the original early-stop iteration at Pm = 3.6%.", "about 1",
              "early-stop iteration ratio, Pm 3.6% / 100%", es_ratio("3.6"), lambda v: v >= 0.8, "mean >= 0.8"),
        Claim("iterative-acc-13.5", "Test accuracy more than 0.3 points higher than the original at Pm = 13.5%.",
              "> 0.3 points", "test-accuracy gain at early stop, Pm 13.5% (points)", acc_gain("13.5"),
              lambda v: v >= 0.15, "mean >= 0.15 points"),
        Claim("iterative-acc-back-3.6", "At Pm = 3.6% a winning ticket regresses to the original's accuracy.",
              "about 0 points", "test-accuracy gain at early stop, Pm 3.6% (points)", acc_gain("3.6"),
              lambda v: abs(v) <= 0.2, "|mean| <= 0.2 points"),
        Claim("tickets-above-original-to-2.9", "Winning tickets fall below the original's accuracy only from Pm = 2.9%.",
              ">= 0 points for Pm > 2.9%", "smallest test-accuracy gain at early stop over Pm > 2.9% (points)",
              tickets_above_original, lambda v: v >= -0.1, "mean >= -0.1 points"),
        Claim("end-accuracy-gain", "At 50K iterations, up to 0.35 points higher test accuracy than the original.",
              "0.35 points", "largest test-accuracy gain at 50K over Pm levels (points)", best_end_gain,
              lambda v: v >= 0.175, "mean >= 0.175 points"),
        Claim("train-acc-100", "Training accuracy about 100% at 50K iterations for Pm >= 2%.", "about 100%",
              "lowest training accuracy at 50K over Pm >= 2% (%)", min_train_acc, lambda v: v >= 99.5,
              "mean >= 99.5%"),
        Claim("reinit-below-original-21", "Random reinit: test accuracy below the original from Pm = 21.1%.",
              "< 0 points", "reinit test-accuracy gain at early stop, Pm 21.1% (points)",
              lambda df: points(diff(reinit(df, "21.1", acc), ticket(df, "100", acc))), lambda v: v < 0, "mean < 0"),
        Claim("ticket-vs-reinit-speed-21", "At Pm = 21%, winning tickets reach minimum validation loss 2.51x faster "
              "than reinitialized ones.", "2.51x", "early-stop iteration ratio reinit / ticket, Pm 21.1%",
              lambda df: ratio(reinit(df, "21.1", es), ticket(df, "21.1", es)), lambda v: v >= 1.755,
              "mean >= 1.755 (half the paper's effect)"),
        Claim("ticket-vs-reinit-acc-21", "At Pm = 21%, winning tickets are 0.5 points more accurate than "
              "reinitialized ones.", "0.5 points", "test-accuracy gain ticket - reinit at early stop, Pm 21.1% (points)",
              lambda df: points(diff(ticket(df, "21.1", acc), reinit(df, "21.1", acc))), lambda v: v >= 0.25,
              "mean >= 0.25 points"),
        Claim("oneshot-earlier", "One-shot: earlier early stopping than the original for 67.5% >= Pm >= 17.6%.",
              "< 1", "largest one-shot early-stop ratio vs 100% over 17.6% <= Pm <= 67.5%",
              oneshot_range(17.6, 67.5, lambda df, r: es_ratio(r, strategy="oneshot")(df), "max"),
              lambda v: v < 1, "mean < 1"),
        Claim("oneshot-more-accurate", "One-shot: higher test accuracy than the original for 95.0% >= Pm >= 5.17%.",
              "> 0 points", "smallest one-shot test-accuracy gain at early stop over 5.17% <= Pm <= 95% (points)",
              oneshot_range(5.17, 95.0, lambda df, r: acc_gain(r, strategy="oneshot")(df), "min"),
              lambda v: v > 0, "mean > 0"),
        Claim("iterative-beats-oneshot", "Iterative pruning is better than one-shot at smaller Pm.", "> 0 points",
              "test-accuracy gain iterative - one-shot at early stop, smallest common Pm (points)",
              iterative_vs_oneshot, lambda v: v > 0, "mean > 0"),
    ] + [
        # Appendix claims about Lenet that need other experiments than Figure 4's runs.
        Claim(f"appendix-{figures}", text, value, f"needs the sweep of Figures {figures}; not run by this script",
              lambda df: None, lambda v: False, "-")
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

# Figure 3's panels as (control, Pm label) lines, as the paper prints the levels.
FIG3_PANELS = [
    [("ticket", "100"), ("ticket", "51.3"), ("ticket", "21.1")],
    [("ticket", "100"), ("ticket", "21.1"), ("ticket", "7.0"), ("ticket", "3.6"), ("ticket", "1.9")],
    [("ticket", "100"), ("ticket", "51.3"), ("ticket", "21.1"), ("reinit", "51.3"), ("reinit", "21.1")],
]


def rounds_at_pm(cfg, labels) -> dict[str, int]:
    """The iterative round expected at each Pm label (within the claims' tolerance), for this
    configuration's model and pruning rates; labels no round of the study reaches are left out."""
    groups, sizes = prunable_sizes(cfg.training.model, cfg.data.dataset)
    prune = PruningPlan.from_config(cfg.pruning, groups)
    expected = {r: prune.expected_pm(sizes, r) for r in range(cfg.study.rounds + 1)}
    rounds = {label: nearest_round(expected, float(label)) for label in labels}
    return {label: r for label, r in rounds.items() if r is not None}


def fig3_runs(configs: list) -> list[RunSpec]:
    """Iterative tickets at the figure's Pm levels within the study's rounds; reinits where it has them."""
    (cfg,) = configs
    study, specs = cfg.study, []
    lines = {line for panel in FIG3_PANELS for line in panel}
    rounds = rounds_at_pm(cfg, {label for _, label in lines})
    levels = set(study.levels()) if "iterative" in study.reinit_strategies else set()
    for trial in range(study.trials):
        for control, label in lines:
            rnd = rounds.get(label)
            if rnd is None or (control == "reinit" and rnd not in levels):
                continue
            if control == "ticket":
                specs.append(RunSpec(trial, "iterative", rnd))
            else:
                specs += [RunSpec(trial, "iterative", rnd, "reinit", i) for i in range(study.reinits)]
    return sorted(set(specs))


def lottery_record(ctx: FigureContext, summary) -> dict:
    """run.json fields of a lottery study: its seeds and the training time of its runs."""
    return {
        "seeds": {
            "base_seed": ctx.config.seed,
            "split_seed": ctx.config.data.split_seed,
            **{f"{kind}_by_trial": {int(t): int(v) for t, v in summary.groupby("trial")[kind].first().items()}
               for kind in ("init_seed", "order_seed", "noise_seed")},
            "reinit_seeds": "per run, column reinit_seed of summary.csv",
        },
        "training_seconds_of_all_runs": round(float(summary.drop_duplicates("key")["seconds"].sum()), 1),
    }


def report_fig4(ctx: FigureContext) -> dict:
    summary = tables.summary_table(ctx.store, ctx.runs)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    tables.curves_table(ctx.store, ctx.runs).to_csv(ctx.out / "curves.csv", index=False)
    plots.figure4(summary, ctx.out / "fig4_lenet.png",
                  f"Lenet-300-100 on MNIST, mean and min/max over trials ({ctx.label})")
    note = (f"Generated by reproductions/fig4_lenet.py from {summary.trial.nunique()} trial(s), {ctx.label}. "
            f"Gains are in accuracy points against the same trial's unpruned network. "
            f"{engine.__doc__.split(chr(10) * 2)[1].strip()}")
    return {**lottery_record(ctx, summary),
            **engine.write_comparison(ctx.out, summary, LENET_CLAIMS, "Figure 4 (Lenet): paper vs reproduction", note)}


def report_fig3(ctx: FigureContext) -> dict:
    curves = tables.curves_table(ctx.store, ctx.runs)
    curves.to_csv(ctx.out / "curves.csv", index=False)
    summary = tables.summary_table(ctx.store, ctx.runs)
    rounds = {label: round_at_pm(summary, "iterative", float(label)) for panel in FIG3_PANELS for _, label in panel}
    panels = [[(c, rounds[label]) for c, label in panel if rounds[label] is not None] for panel in FIG3_PANELS]
    plots.figure3(curves, panels, ctx.out / "fig3_lenet.png",
                  f"Lenet test accuracy during training, iterative pruning ({ctx.label})")
    plots.figure3(curves, panels, ctx.out / "fig11_lenet_val_loss.png",
                  f"Lenet validation loss during training ({ctx.label})", metric="val_loss", ylabel="Validation loss")
    return lottery_record(ctx, summary)


FIG4_HELP = """Figure 4 (and Figure 12's train accuracy): Lenet-300-100 on MNIST, iterative vs one-shot
pruning, winning tickets vs random reinitialization.

    python reproductions/fig4_lenet.py --preset smoke --data-dir ../shared/data   # a minute
    python reproductions/fig4_lenet.py --preset fast --data-dir ../shared/data    # about 1 h on 2 cores
    python reproductions/fig4_lenet.py                                            # the paper's protocol
"""

# Both figures plot from one store. Figure 4 plots no curves but records the test curves
# Figure 3 plots, so that running Figure 3 afterwards trains nothing.
_lenet_figure = functools.partial(Figure, kind=LotteryKind, presets=PRESETS, preset_cost=PRESET_COST,
                                  curve_runs=lambda configs: {spec.key for spec in fig3_runs(configs)})
FIG4 = _lenet_figure(name="fig4_lenet", description=FIG4_HELP, report=report_fig4,
                     select=lambda configs: [r for cfg in configs for r in plan(cfg)
                                             if r.control in ("ticket", "reinit")])

FIG3_HELP = """Figure 3 (and Figure 11's validation loss): Lenet test accuracy over training at several
Pm, iterative pruning, with random reinitialization. Reuses the runs Figure 4 stored (same
flags, same store) and trains only the ones missing.

    python reproductions/fig3_lenet.py --preset fast --data-dir ../shared/data
"""

FIG3 = _lenet_figure(name="fig3_lenet", description=FIG3_HELP, select=fig3_runs, report=report_fig3)
