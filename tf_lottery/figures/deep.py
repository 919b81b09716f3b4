"""VGG-19 and ResNet-20 on CIFAR-10 (section 4's deepest networks): Figures 7 and 8, the
appendix's global against layer-wise pruning (Figures 38-41), learning-rate sweeps (42, 43)
and warmup sweeps (44, 45), their presets, and the paper's claims for them.

These networks are not early-stopped: the paper reads accuracy at fixed iterations
(`CHECKPOINTS`, in the protocol's units; a shortened preset reads them at the same
fractions of training). Every figure is a sweep over the learning-rate settings (or
scopes) of one or both networks, sharing stored runs: Figure 8's warmup runs are Figure
45's longest warmup and Figure 40's global pruning.
"""
from __future__ import annotations

import dataclasses
import functools

import pandas as pd

from tf_lottery.analysis import plots, tables
from tf_lottery.analysis.claims import Claim, diff, over_rounds, per_trial, points
from tf_lottery.figures.conv import compounded, per_model_presets
from tf_lottery.figures.report import LABEL, label, models_in, networks, run_order, study_record, write_comparison
from tf_lottery.figures.merging import ordered
from tf_lottery.figures.kinds import SweepKind
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.lottery.experiment import plan
from tf_lottery.lottery.sweep import sweep
from tf_lottery.models.registry import display_name, model_spec

DEEP_MODELS = ("vgg19", "resnet20")
# Where the paper reads test accuracy (Figures 7 and 8), in protocol iterations.
CHECKPOINTS = {"resnet20": (("10K", 10_000), ("20K", 20_000), ("30K", 30_000)),
               "vgg19": (("30K", 30_000), ("60K", 60_000), ("112K", 112_480))}
END = {m: points[-1][0] for m, points in CHECKPOINTS.items()}
# Figures 7 and 8's learning-rate settings, in the paper's units.
SETTINGS = {"resnet20": ({"learning_rate": 0.1}, {"learning_rate": 0.01},
                         {"learning_rate": 0.03, "warmup_iterations": 20_000}),
            "vgg19": ({"learning_rate": 0.1}, {"learning_rate": 0.01},
                      {"learning_rate": 0.1, "warmup_iterations": 10_000})}
WARMUP = {m: settings[-1] for m, settings in SETTINGS.items()}
# The appendix sweeps (the paper plots more values than it names; these bracket its settings).
LR_SWEEP = (0.01, 0.02, 0.03, 0.05, 0.1)
WARMUP_SWEEP = (0, 5_000, 10_000, 20_000)

# Tiny, for tests: 20 iterations at batch 16 (VGG-19: 8) on 100 examples per split, 1 round.
_SMOKE = {"trials": 1, "eval_every": 10, "steps_per_call": 10, "batch_size": 16, "max_examples": 100, "rounds": 1,
          "control_rounds": (1,), "reinits": 1, "oneshot": False}
# Per network; largest first.
DEEP_PRESETS = {
    "resnet20": {
        # The paper: 5 trials, 3 reinits per ticket, 20 rounds of 20% (Pm down to 2.3% of all weights).
        "paper": {"trials": 5, "rounds": 20, "reinits": 3, "oneshot": False},
        # REDUCED: one trial; 1/25 of the schedule (1,200 iterations; drops at 800, 1,000;
        # warmup 800), evaluated every 400 (the paper's 10K/20K/30K); per round the rate of
        # three paper rounds (48.8%: Pm 100, 51.8, 27.1%); one reinit at the smallest Pm.
        "fast": {"trials": 1, "scale_iterations": 1 / 25, "eval_every": 400, "rounds": 2, "control_rounds": (2,),
                 "reinits": 1, "oneshot": False, "conv_rate": compounded(0.2, 3)},
        "smoke": {**_SMOKE, "scale_iterations": 20 / 30_000},
    },
    "vgg19": {
        "paper": {"trials": 5, "rounds": 20, "reinits": 3, "oneshot": False},
        # REDUCED: one trial; 1/100 of the schedule (1,125 iterations; drops at 562, 844;
        # warmup 100), evaluated every 375 (the paper's 30K/60K/112K); per round the rate
        # of five paper rounds (67.2%: Pm 100, 32.8, 10.8%); one reinit at the smallest Pm.
        "fast": {"trials": 1, "scale_iterations": 0.01, "eval_every": 375, "steps_per_call": 125, "rounds": 2,
                 "control_rounds": (2,), "reinits": 1, "oneshot": False, "conv_rate": compounded(0.2, 5)},
        "smoke": {**_SMOKE, "scale_iterations": 20 / 112_480, "batch_size": 8},  # VGG-19's step costs 5x ResNet's
    },
}
DEEP_PRESETS_BY_NAME = per_model_presets(DEEP_PRESETS)
DEEP_COST = {
    "paper": "per network and setting 5 trials x (21 tickets + 60 reinits) runs: ResNet-20 30K iterations (about "
             "1 h each on 2 CPU cores, minutes on a GPU), VGG-19 112K (about 13 h on 2 CPU cores); for GPUs and TPUs, "
             "see docs/distributed.md",
    "fast": "REDUCED: per setting 1 trial x (rounds 0-2 + 1 reinit) runs: ResNet-20 1,200 iterations (12 runs, about "
            "1 h on 2 cores), VGG-19 1,125 iterations (12 runs, about 2 h on a fast day, 3.5 h on a slow one, 8 h "
            "on a CPU without AVX-512)",
    "smoke": "tiny runs of 20 iterations at batch 16 (VGG-19 8) on 100 examples, 4-10 runs per network (10 for "
             "the sweeps); on a CPU without AVX-512 about 4 s a ResNet-20 run and 14 s a VGG-19 run on both cores "
             "(8 s and 23 s on each of two workers): Figure 8 about 1.5 min, Figure 7 about 3.5 min",
}


def setting_name(cfg) -> str:
    """A line's label: the learning rate, warmup (in this preset's iterations) and scope."""
    t = cfg.training
    warmup = f", warmup {t.warmup_iterations:,}" if t.warmup_iterations else ""
    return f"rate {t.learning_rate:g}{warmup}" + (", layer-wise" if cfg.pruning.scope == "layerwise" else "")


def deep_columns(cfg) -> dict:
    return {"model": cfg.training.model, "network": display_name(cfg.training.model),
            "learning_rate": cfg.training.learning_rate, "warmup_iterations": cfg.training.warmup_iterations,
            "scope": cfg.pruning.scope, "setting": setting_name(cfg)}


def checkpoint_iterations(cfg) -> dict[str, int]:
    """The evaluation nearest each of the paper's checkpoints, at the preset's scale."""
    full = model_spec(cfg.training.model).protocol["iterations"]
    scale, every = cfg.training.iterations / full, cfg.training.eval_every
    return {name: max(every, round(it * scale / every) * every) for name, it in CHECKPOINTS[cfg.training.model]}


def deep_summary(ctx: FigureContext) -> pd.DataFrame:
    """One row per run: the sweep's summary plus validation and test accuracy at each of
    the paper's checkpoints (`val_acc_30K`, `test_acc_30K`, ...; NaN where a run has no test
    curve), and the iteration each checkpoint read (`iteration_30K`); with the rows kept by
    --add-to-results."""
    ids = tables.RUN_COLUMNS[:-1]  # a run within its configuration (pm aside)
    frames = []
    for cfg in dict.fromkeys(r.cfg for r in ctx.runs):
        curves = tables.curves_table(ctx.store.store_of(cfg), [r.run for r in ctx.runs if r.cfg == cfg])
        frame = curves[ids].drop_duplicates()
        for name, it in checkpoint_iterations(cfg).items():
            at = curves[curves["iteration"] == it][[*ids, "val_acc", "test_acc"]]
            frame = frame.merge(at.rename(columns={"val_acc": f"val_acc_{name}", "test_acc": f"test_acc_{name}"}),
                                on=ids, how="left").assign(**{f"iteration_{name}": it})
        frames.append(frame.assign(run_hash=cfg.run_hash()))
    summary = tables.sweep_summary(ctx.store, ctx.runs, deep_columns)
    summary = summary.merge(pd.concat(frames, ignore_index=True), on=["run_hash", *ids], how="left")
    summary = ordered(summary, ctx.earlier, list(DEEP_MODELS), ("learning_rate", "warmup_iterations", "scope"))
    return summary.assign(run=summary["control"].map(LABEL))


def all_with_curves(controls):
    """`select`: the iterative runs with these controls, each with its test curve (the
    figures read test accuracy at fixed iterations)."""
    return lambda configs: sweep(configs, lambda cfg: [dataclasses.replace(r, test_curve=True) for r in plan(cfg)
                                                       if r.strategy == "iterative" and r.control in controls])


# -- claims ------------------------------------------------------------------------------------
def _setting(df, model: str, lr: float, warmup: bool = False, scope: str = "global") -> pd.DataFrame:
    sel = df[(df["model"] == model) & (df["learning_rate"] == lr) & (df["scope"] == scope)]
    return sel[(sel["warmup_iterations"] > 0) == warmup]


def _end(model: str, metric: str = "test") -> str:
    return f"{metric}_acc_{END[model]}"


def unpruned(df, column):
    return per_trial(df, "iterative", "ticket", 0, column)


def ticket_minus_reinit(df, column):
    """Ticket - reinit (points) per trial at the smallest Pm with reinits."""
    rounds = df[(df["control"] == "reinit") & (df["round"] > 0)]["round"]
    if rounds.empty:
        return None
    rnd = int(rounds.max())
    return points(diff(per_trial(df, "iterative", "ticket", rnd, column), per_trial(df, "iterative", "reinit", rnd,
                                                                                    column)))


def best_ticket_minus(df, reference, column, keep_pm=lambda pm: True):
    """Per trial, the best pruned ticket's accuracy minus `reference` (points)."""
    return over_rounds(df, "iterative", keep_pm, lambda r: points(diff(per_trial(df, "iterative", "ticket", r, column),
                                                                       reference)), "max")


def smallest_winning_pm(df, column, paper_pm: float):
    """Per trial, the smallest Pm whose ticket is at least as accurate as the unpruned
    network of the same setting (a winning ticket); None if the study's levels stop
    above the paper's `paper_pm` (not measured at this preset)."""
    tickets = df[(df["control"] == "ticket") & (df["strategy"] == "iterative")]
    if tickets.empty or tickets["pm"].min() > paper_pm * 1.02:
        return None
    base = tickets[tickets["round"] == 0].set_index("trial")[column]
    winning = tickets[tickets[column].values >= base.reindex(tickets["trial"]).values]
    return winning.groupby("trial")["pm"].min()


def fig7_fig8_claims(model: str) -> list[Claim]:
    name, end = display_name(model), _end(model)
    high = functools.partial(_setting, model=model, lr=0.1)
    low = functools.partial(_setting, model=model, lr=0.01)
    warm = functools.partial(_setting, model=model, lr=WARMUP[model]["learning_rate"], warmup=True)
    no_tickets = Claim(f"{model}-rate0.1-no-tickets", f"{name} at learning rate 0.1: no winning tickets (iterative "
                       "pruning does no better than random reinitialization).", "about 0 points",
                       f"test accuracy at {END[model]}, ticket - reinit, smallest Pm with reinits (points)",
                       lambda df: ticket_minus_reinit(high(df), end), lambda v: v < 1.0, "mean < 1")
    warm_reinit = Claim(f"{model}-warmup-beats-reinit", f"{name} with warmup: winning tickets beat random "
                        "reinitialization.", "> 0 points",
                        f"test accuracy at {END[model]}, ticket - reinit, smallest Pm with reinits (points)",
                        lambda df: ticket_minus_reinit(warm(df), end), lambda v: v > 0, "mean > 0")
    if model == "resnet20":
        return [
            Claim("resnet20-unpruned", "ResNet-20 unpruned at learning rate 0.1 reaches 90.5% test accuracy.",
                  "90.5%", "test accuracy at 30K, Pm 100%, rate 0.1 (%)",
                  lambda df: points(unpruned(high(df), end)), lambda v: abs(v - 90.5) <= 3.0, "within 3 points"),
            no_tickets,
            Claim("resnet20-rate0.01-tickets", "ResNet-20 at learning rate 0.01: winning tickets (beat random "
                  "reinitialization).", "> 0 points", "test accuracy at 30K, ticket - reinit, smallest Pm with "
                  "reinits (points)", lambda df: ticket_minus_reinit(low(df), end), lambda v: v > 0, "mean > 0"),
            Claim("resnet20-rate0.01-best", "ResNet-20 at 0.01: the best tickets reach 89.5% (41.7% >= Pm >= 21.9%), "
                  "1 point below the original at 0.1.", "-1.0 points", "best ticket at 0.01 over Pm >= 21.9% - "
                  "unpruned at 0.1, test accuracy at 30K (points)",
                  lambda df: best_ticket_minus(low(df), unpruned(high(df), end), end, lambda pm: pm >= 21.9 / 1.02),
                  lambda v: v >= -2.0, "mean >= -2"),
            Claim("resnet20-warmup-best", "ResNet-20 at 0.03 with warmup: tickets reach the original's 90.5% "
                  "(Pm 27.1%).", "0 points", "best ticket with warmup - unpruned at 0.1, test accuracy at 30K (points)",
                  lambda df: best_ticket_minus(warm(df), unpruned(high(df), end), end), lambda v: v >= -1.0,
                  "mean >= -1"),
            Claim("resnet20-warmup-smallest", "ResNet-20 with warmup: winning tickets down to Pm 11.8%.", "11.8%",
                  "smallest Pm whose ticket matches the unpruned network with warmup (test accuracy at 30K, %)",
                  lambda df: smallest_winning_pm(warm(df), end, 11.8), lambda v: v <= 2 * 11.8, "mean <= 23.6"),
            warm_reinit,
        ]
    return [
        no_tickets,
        Claim("vgg19-rate0.01-within-1", "VGG-19 at learning rate 0.01: tickets within 1 point of the original while "
              "Pm >= 3.5%.", ">= -1 point", "smallest (ticket - unpruned) over Pm >= 3.5% at 0.01, test accuracy at "
              "112K (points)",
              lambda df: over_rounds(low(df), "iterative", lambda pm: pm >= 3.5 / 1.02,
                                     lambda r, d=low(df): points(diff(per_trial(d, "iterative", "ticket", r, end),
                                                                      unpruned(d, end))), "min"),
              lambda v: v >= -1.0, "mean >= -1"),
        Claim("vgg19-warmup-unpruned", "VGG-19: warmup raises the unpruned accuracy at 0.1 by about 1 point.",
              "+1 point", "unpruned test accuracy at 112K, warmup - none, rate 0.1 (points)",
              lambda df: points(diff(unpruned(warm(df), end), unpruned(high(df), end))), lambda v: v >= 0.5,
              "mean >= 0.5"),
        Claim("vgg19-warmup-smallest", "VGG-19 with warmup: winning tickets down to Pm 1.5% (global pruning).", "1.5%",
              "smallest Pm whose ticket matches the unpruned network with warmup (test accuracy at 112K, %)",
              lambda df: smallest_winning_pm(warm(df), end, 1.5), lambda v: v <= 2 * 1.5, "mean <= 3"),
        warm_reinit,
    ]


def scope_claims(model: str) -> list[Claim]:
    """Figures 38-41: global pruning finds smaller winning tickets than layer-wise."""
    name, end = display_name(model), _end(model, "val")
    lr = WARMUP[model]["learning_rate"]

    def global_minus_layerwise(df):
        g, lw = _setting(df, model, lr, True, "global"), _setting(df, model, lr, True, "layerwise")
        common = set(g[g["round"] > 0]["round"]) & set(lw[lw["round"] > 0]["round"])
        if not common:
            return None
        rnd = max(common)
        return points(diff(per_trial(g, "iterative", "ticket", rnd, end), per_trial(lw, "iterative", "ticket", rnd,
                                                                                    end)))

    paper = "1.5% against 6.9%" if model == "vgg19" else "smaller Pm"
    return [Claim(f"{model}-global-beats-layerwise", f"{name} with warmup: global pruning finds winning tickets at "
                  f"smaller sizes than layer-wise pruning ({paper}).", "> 0 points",
                  f"validation accuracy at {END[model]}, global - layer-wise ticket, smallest common Pm (points)",
                  global_minus_layerwise, lambda v: v > 0, "mean > 0")]


def _pruning_cost_at_smallest_pm(df, end):
    """Per trial, ticket - unpruned (points) at the smallest Pm trained."""
    pruned = df[(df["control"] == "ticket") & (df["round"] > 0)]
    if pruned.empty:
        return None
    rnd = int(pruned["round"].max())
    return points(diff(per_trial(df, "iterative", "ticket", rnd, end), unpruned(df, end)))


def sweep_claims(model: str, field: str) -> list[Claim]:
    """Figures 42-45: lower rates (or longer warmup) keep tickets accurate at smaller sizes."""
    name, end = display_name(model), _end(model, "val")

    def contrast(df):
        sel = df[(df["model"] == model) & (df["scope"] == "global")]
        values = sorted(sel[field].unique())
        if len(values) < 2:
            return None
        cost = {v: _pruning_cost_at_smallest_pm(sel[sel[field] == v], end) for v in (values[0], values[-1])}
        better, worse = (values[0], values[-1]) if field == "learning_rate" else (values[-1], values[0])
        return diff(cost[better], cost[worse])

    what = ("the lowest learning rate's tickets lose less accuracy than the highest's" if field == "learning_rate"
            else "the longest warmup's tickets lose less accuracy than those without warmup")
    return [Claim(f"{model}-{'lr' if field == 'learning_rate' else 'warmup'}-sweep", f"{name}: {what} (section 4).",
                  "> 0 points", f"(ticket - unpruned) at the smallest Pm, validation accuracy at {END[model]}: "
                  f"{'lowest - highest rate' if field == 'learning_rate' else 'longest warmup - none'} (points)",
                  contrast, lambda v: v > 0, "mean > 0")]


# -- reports -------------------------------------------------------------------------------------
def _panels(model: str, metric: str, label_text: str):
    return [(f"{metric}_acc_{name}", f"{label_text} at {name} iterations") for name, _ in CHECKPOINTS[model]]


def report(ctx: FigureContext, title: str, claims, metrics=(("test", "Test accuracy"),)) -> dict:
    """Tables, one figure per network (and metric) in the paper's layout: accuracy at each
    checkpoint against Pm, a line per setting, dashed for random reinitialization."""
    summary = deep_summary(ctx)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    models = models_in(summary)
    for model in models:
        sel = summary[summary["model"] == model]
        for metric, text in metrics:
            plots.metric_vs_pm(sel, _panels(model, metric, text), ctx.out / f"{ctx.figure.name}_{model}_{metric}.png",
                               f"{display_name(model)} on CIFAR-10, {title} ({label(ctx)})", hue="setting", style="run",
                               style_order=run_order(sel))
    return {**study_record(ctx, summary), "checkpoints": {m: CHECKPOINTS[m] for m in models},
            **write_comparison(ctx, summary, [c for m in models for c in claims(m)],
                               f"{title}: paper vs reproduction ({networks(summary)})", ctx.figure.name + ".py")}


def _figure(name: str, description: str, variants, title: str, claims, controls=("ticket", "reinit"),
            metrics=(("test", "Test accuracy"),)) -> Figure:
    return Figure(name=name, description=description, kind=SweepKind, presets=DEEP_PRESETS_BY_NAME,
                  preset_cost=DEEP_COST, select=all_with_curves(controls),
                  report=functools.partial(report, title=title, claims=claims, metrics=metrics), variants=variants)


def _fig7_8_variants(model):
    return tuple({"model": model, **s} for s in SETTINGS[model])


FIG7 = _figure("fig7_vgg19", """Figure 7: VGG-19 on CIFAR-10, iterative global pruning at learning rates 0.1, 0.01 and
0.1 with linear warmup over 10K iterations, each against random reinitialization; test
accuracy at 30K, 60K and 112K iterations. --learning-rate 0.01 (or --warmup-iterations
10000) selects one setting.

    python reproductions/fig7_vgg19.py --preset smoke --data-dir ../shared/data
    python reproductions/fig7_vgg19.py --preset fast --data-dir ../shared/data   # REDUCED
    python reproductions/fig7_vgg19.py --workers 4 --gpus-per-worker 1           # the paper, 4 GPUs
""", _fig7_8_variants("vgg19"), "Figure 7: iterative pruning at three learning-rate settings", fig7_fig8_claims)

FIG8 = _figure("fig8_resnet20", """Figure 8: ResNet-20 (the paper's "Resnet-18") on CIFAR-10, iterative global pruning at
learning rates 0.1, 0.01 and 0.03 with linear warmup over 20K iterations, each against
random reinitialization; test accuracy at 10K, 20K and 30K iterations.

    python reproductions/fig8_resnet20.py --preset smoke --data-dir ../shared/data
    python reproductions/fig8_resnet20.py --preset fast --data-dir ../shared/data   # REDUCED, about 1 h
    python reproductions/fig8_resnet20.py --workers 4 --gpus-per-worker 0.5        # the paper, 2 GPUs
""", _fig7_8_variants("resnet20"), "Figure 8: iterative pruning at three learning-rate settings", fig7_fig8_claims)

FIG38_41 = _figure("fig38_41_global_vs_layerwise", """Figures 38-41 (appendix): VGG-19 and ResNet-20, global against layer-wise iterative
pruning (20% of the conv weights per round, pooled or per layer) at the warmup setting of
Figures 7 and 8; validation (38, 39) and test (40, 41) accuracy at the paper's checkpoints.
Reuses Figures 7 and 8's warmup tickets. --model resnet20 restricts it to one network.

    python reproductions/fig38_41_global_vs_layerwise.py --preset fast --model resnet20 --data-dir ../shared/data
""", tuple({"model": m, **WARMUP[m], "scope": scope} for m in DEEP_MODELS for scope in ("global", "layerwise")),
    "Figures 38-41: global vs layer-wise pruning", scope_claims, controls=("ticket",),
    metrics=(("val", "Validation accuracy"), ("test", "Test accuracy")))

FIG42_43 = _figure("fig42_43_lr_sweep", """Figures 42-43 (appendix): VGG-19 and ResNet-20 winning tickets over a learning-rate sweep
(no warmup); validation accuracy at the paper's checkpoints. Reuses Figures 7 and 8's runs
at 0.1 and 0.01. --model resnet20 restricts it to one network.

    python reproductions/fig42_43_lr_sweep.py --preset fast --model resnet20 --data-dir ../shared/data
""", tuple({"model": m, "learning_rate": lr} for m in DEEP_MODELS for lr in LR_SWEEP),
    "Figures 42-43: learning-rate sweep", functools.partial(sweep_claims, field="learning_rate"), controls=("ticket",),
    metrics=(("val", "Validation accuracy"),))

FIG44_45 = _figure("fig44_45_warmup_sweep", """Figures 44-45 (appendix): VGG-19 (learning rate 0.1) and ResNet-20 (0.03) winning tickets
over a sweep of linear warmup lengths (in the paper's iterations); validation accuracy at
the paper's checkpoints. Reuses Figures 7 and 8's warmup runs. --model resnet20 restricts
it to one network.

    python reproductions/fig44_45_warmup_sweep.py --preset fast --model resnet20 --data-dir ../shared/data
""", tuple({"model": m, "learning_rate": WARMUP[m]["learning_rate"], "warmup_iterations": k}
           for m in DEEP_MODELS for k in WARMUP_SWEEP),
    "Figures 44-45: warmup sweep", functools.partial(sweep_claims, field="warmup_iterations"), controls=("ticket",),
    metrics=(("val", "Validation accuracy"),))
