"""Appendix B: iterative pruning with resetting (Strategy 1, the paper's method) against
continued training (Strategy 2): Figure 9 (Lenet) and Figure 10 (Conv-2/4/6).

Strategy 2 finds each mask by pruning the trained network and training on without a reset;
its winning ticket at a level is that mask trained from the trial's theta_0 (the `reset`
control of a `--reset continue` study). Strategy 1's tickets are Figures 4 and 5's runs.
"""
from __future__ import annotations

import functools

import pandas as pd

from tf_lottery.analysis import plots
from tf_lottery.figures.conv import CONV_MODELS, FIG5_PANELS, runs_with, summary_of
from tf_lottery.figures.report import label, models_in, networks, study_record, write_comparison
from tf_lottery.figures.kinds import SweepKind
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.paper.strategies import strategy_claims

STRATEGY = {"init": "Strategy 1 (reset to theta_0)", "continue": "Strategy 2 (continued training)"}


def strategy_tickets(summary: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's winning tickets: Strategy 1's trunk; Strategy 2's `reset` runs (and
    its unpruned round 0). Strategy 2's continued trunk is left out."""
    s1 = summary[(summary["reset"] == "init") & (summary["control"] == "ticket")]
    s2 = summary[(summary["reset"] == "continue") & ((summary["control"] == "reset") |
                                                     ((summary["control"] == "ticket") & (summary["round"] == 0)))]
    tickets = pd.concat([s1, s2.assign(control="ticket")], ignore_index=True)
    return tickets.assign(strategy_name=tickets["reset"].map(STRATEGY))


def report(ctx: FigureContext, figure_number: int, script: str) -> dict:
    summary = summary_of(ctx)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    tickets = strategy_tickets(summary)
    tickets.to_csv(ctx.out / "tickets.csv", index=False)
    plots.metric_vs_pm(tickets, FIG5_PANELS[:2], ctx.out / f"{ctx.figure.name}.png",
                       f"{networks(tickets)}: resetting vs continued training ({label(ctx)})", hue="network",
                       style="strategy_name", style_order=list(STRATEGY.values()))
    models = models_in(summary)
    return {**study_record(ctx, summary),
            **write_comparison(ctx, tickets, strategy_claims(models),
                               f"Figure {figure_number} (Strategy 1 vs 2): paper vs reproduction", script)}


FIG9_HELP = """Figure 9 (Appendix B): Lenet on MNIST, iterative pruning with resetting (Strategy 1) against
continued training (Strategy 2). Reuses Figure 4's Strategy 1 runs.

    python reproductions/fig9_lenet_strategies.py --preset fast --data-dir ../shared/data
"""

FIG10_HELP = """Figure 10 (Appendix B): Conv-2/4/6 on CIFAR-10, iterative pruning with resetting (Strategy 1)
against continued training (Strategy 2). Reuses Figure 5's Strategy 1 runs.

    python reproductions/fig10_conv_strategies.py --preset fast --model conv2 --data-dir ../shared/data
"""

_LENET_STRATEGY_COST = {
    "paper": "Strategy 2: 5 trials x (20 trunk + 20 reset) runs of 50K iterations (Strategy 1's come from Figure 4); "
             "about 5 h on 2 cores",
    "fast": "Strategy 2: 3 trials x (16 trunk + 6 reset) = 66 runs of 50K iterations (Strategy 1's come from "
            "Figure 4's fast preset); about 45 min on 2 cores",
    "smoke": "a few runs of 300 iterations; under a minute",
}

FIG9 = Figure(name="fig9_lenet_strategies", description=FIG9_HELP, kind=SweepKind, preset_cost=_LENET_STRATEGY_COST, select=runs_with(("ticket", "reset")),
              report=functools.partial(report, figure_number=9, script="fig9_lenet_strategies.py"),
              variants=({"reset": "init"}, {"reset": "continue"}))

FIG10 = Figure(name="fig10_conv_strategies", description=FIG10_HELP, kind=SweepKind, select=runs_with(("ticket", "reset")),
               report=functools.partial(report, figure_number=10, script="fig10_conv_strategies.py"),
               variants=tuple({"model": m, "reset": r} for m in CONV_MODELS for r in ("init", "continue")))
