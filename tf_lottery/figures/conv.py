"""Conv-2/4/6 on CIFAR-10 (and Lenet beside them): Figures 5 (+13), 6, 1 (+14). Presets:
each network's own (models/); claims: paper/conv.py.

Every figure here is a sweep over networks (and dropout, for Figure 6) that reads and
writes the same per-configuration stores as a single-network study: a ticket trained
for Figure 5 is reused by Figures 1, 10, 13 and 14 (same flags, same store).
"""
from __future__ import annotations

import functools

import pandas as pd

from tf_lottery.analysis import plots, tables
from tf_lottery.figures.merging import ordered
from tf_lottery.figures.report import LABEL, label, models_in, networks, run_order, study_record, write_comparison
from tf_lottery.figures.kinds import SweepKind
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.lottery.experiment import plan
from tf_lottery.lottery.sweep import sweep
from tf_lottery.models.registry import display_name
from tf_lottery.paper.conv import ACC, ES, conv_claims, dropout_claims, random_claims

CONV_MODELS = ("conv2", "conv4", "conv6")
NETWORKS = ("lenet300_100", "conv2", "conv4", "conv6")  # the paper's order in figures and tables


def runs_with(controls):
    """`select` of a sweep figure: the iterative runs of each configuration with these controls."""
    return lambda configs: sweep(configs, lambda cfg: [r for r in plan(cfg)
                                                       if r.strategy == "iterative" and r.control in controls])


def network_columns(cfg) -> dict:
    return {"model": cfg.training.model, "network": display_name(cfg.training.model),
            "dropout": cfg.training.dropout, "reset": cfg.pruning.reset}


def summary_of(ctx: FigureContext) -> pd.DataFrame:
    """The sweep's summary (with the earlier commands' runs with --add-to-results), with each run's
    network and kind of run (`run`: winning ticket, random reinit, ...) as plot labels."""
    summary = ordered(tables.sweep_summary(ctx.store, ctx.runs, network_columns), ctx.earlier, list(NETWORKS))
    return summary.assign(run=summary["control"].map(LABEL))


# -- Figure 5 (+ 13) ------------------------------------------------------------------------
FIG5_PANELS = [(ES, "Early-stop iteration (val.)"), (ACC, "Test accuracy at early stop"),
               ("train_acc_early_stop", "Train accuracy at early stop"), ("test_acc_end", "Test accuracy at end")]


def report_fig5(ctx: FigureContext) -> dict:
    summary = summary_of(ctx)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    plots.metric_vs_pm(summary, FIG5_PANELS, ctx.out / "fig5_conv.png",
                       f"{networks(summary)} on CIFAR-10, winning tickets vs random reinit ({label(ctx)})",
                       hue="network", style="run", style_order=run_order(summary))
    plots.metric_vs_pm(summary, [("train_acc_end", "Train accuracy at end of training")],
                       ctx.out / "fig13_conv_train_acc.png", f"Figure 13 ({label(ctx)})", hue="network", style="run",
                       style_order=run_order(summary))
    return {**study_record(ctx, summary),
            **write_comparison(ctx, summary, conv_claims(models_in(summary)),
                               "Figure 5 (Conv-2/4/6): paper vs reproduction",
                               "fig5_conv.py")}


FIG5_HELP = """Figure 5 (and Figure 13's train accuracy): Conv-2, Conv-4 and Conv-6 on CIFAR-10, iterative
pruning (Strategy 1) against random reinitialization. --model conv2 restricts it to one network.

    python reproductions/fig5_conv.py --preset smoke --model conv2 --data-dir ../shared/data
    python reproductions/fig5_conv.py --preset fast --model conv2 --data-dir ../shared/data  # REDUCED, about 80 min
    python reproductions/fig5_conv.py                                                      # the paper: GPUs
"""

_conv_figure = functools.partial(Figure, kind=SweepKind,
                                 variants=tuple({"model": m} for m in CONV_MODELS))
FIG5 = _conv_figure(name="fig5_conv", description=FIG5_HELP, select=runs_with(("ticket", "reinit")),
                    report=report_fig5)


# -- Figure 6: dropout --------------------------------------------------------------------------
def report_fig6(ctx: FigureContext) -> dict:
    summary = summary_of(ctx)
    summary["training"] = summary["dropout"].map(lambda d: f"dropout {d:g}" if d else "no dropout")
    summary.to_csv(ctx.out / "summary.csv", index=False)
    plots.metric_vs_pm(summary, FIG5_PANELS[:2], ctx.out / "fig6_conv_dropout.png",
                       f"{networks(summary)}: winning tickets with and without dropout ({label(ctx)})", hue="network",
                       style="training", style_order=sorted(set(summary["training"]), key=lambda s: s != "no dropout"))
    return {**study_record(ctx, summary),
            **write_comparison(ctx, summary, dropout_claims(models_in(summary)),
                               "Figure 6 (dropout): paper vs reproduction",
                               "fig6_conv_dropout.py")}


FIG6_HELP = """Figure 6: Conv-2/4/6 winning tickets trained with dropout (p = 0.5 after each hidden fc layer;
the paper does not say where: --conv-dropout adds it after each pooling layer) against
without. Dropout runs use the paper's dropout protocol (3x the iterations, own learning
rates). Reuses Figure 5's runs without dropout.

    python reproductions/fig6_conv_dropout.py --preset fast --model conv2 --data-dir ../shared/data
"""

FIG6 = _conv_figure(name="fig6_conv_dropout", description=FIG6_HELP, select=runs_with(("ticket",)),
                    report=report_fig6,
                    variants=tuple({"model": m, "dropout": d} for m in CONV_MODELS for d in (0.0, 0.5)))


# -- Figure 1 (+ 14): winning tickets against random sparse networks -------------------------------
def report_fig1(ctx: FigureContext) -> dict:
    summary = summary_of(ctx)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    lines = summary[summary["control"].isin(["ticket", "random"])]
    plots.metric_vs_pm(lines, FIG5_PANELS[:2], ctx.out / "fig1_sizes.png",
                       f"{networks(summary)}: winning tickets vs random sparse networks ({label(ctx)})", hue="network",
                       style="run", style_order=run_order(lines))
    plots.per_network(summary, "test_acc_end", "Test accuracy at end of training", ctx.out / "fig14_end_accuracy.png",
                      f"Figure 14: tickets, random reinit, random sparse ({label(ctx)})")
    return {**study_record(ctx, summary),
            **write_comparison(ctx, summary, random_claims(models_in(summary)),
                               "Figure 1: paper vs reproduction",
                               "fig1_sizes.py")}


FIG1_HELP = """Figure 1 (and Figure 14): Lenet on MNIST and Conv-2/4/6 on CIFAR-10, winning tickets against
randomly sampled sparse networks (a random mask with the ticket's per-layer counts and a
fresh initialization), and Figure 14's test accuracy at the end for tickets, random
reinitializations and random sparse networks. Reuses the runs of Figures 4 and 5.

    python reproductions/fig1_sizes.py --preset fast --model conv2 --data-dir ../shared/data
"""

FIG1 = Figure(name="fig1_sizes", description=FIG1_HELP, kind=SweepKind, select=runs_with(("ticket", "reinit", "random")), report=report_fig1,
              variants=tuple({"model": m} for m in ("lenet300_100", *CONV_MODELS)))
