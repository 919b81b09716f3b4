"""VGG-19 and ResNet-20 on CIFAR-10 (section 4's deepest networks): Figures 7 and 8, the
appendix's global against layer-wise pruning (Figures 38-41), learning-rate sweeps (42, 43)
and warmup sweeps (44, 45). Presets: each network's own (models/); the paper's settings,
checkpoints and claims: paper/deep.py.

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
from tf_lottery.figures.report import LABEL, label, models_in, networks, run_order, study_record, write_comparison
from tf_lottery.figures.merging import ordered
from tf_lottery.figures.kinds import SweepKind
from tf_lottery.figures.spec import Figure, FigureContext
from tf_lottery.lottery.experiment import plan
from tf_lottery.lottery.sweep import sweep
from tf_lottery.models.registry import display_name, model_spec
from tf_lottery.paper.deep import (CHECKPOINTS, DEEP_MODELS, LR_SWEEP, SETTINGS, WARMUP, WARMUP_SWEEP,
                                   fig7_fig8_claims, scope_claims, sweep_claims)

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


def checkpoints_long(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary's checkpoint columns in long format: one row per run and checkpoint, with
    the paper's iterations (`paper_iteration`) beside those trained (`iteration`)."""
    ids = ["model", "network", "setting", "learning_rate", "warmup_iterations", "scope", "run_hash",
           *tables.RUN_COLUMNS, "key"]
    frames = []
    for model, part in summary.groupby("model", sort=False):
        for name, paper_iteration in CHECKPOINTS[model]:
            frames.append(part[ids].assign(checkpoint=name, paper_iteration=paper_iteration,
                                           iteration=part[f"iteration_{name}"], val_acc=part[f"val_acc_{name}"],
                                           test_acc=part[f"test_acc_{name}"]))
    return pd.concat(frames, ignore_index=True)


def all_with_curves(controls):
    """`select`: the iterative runs with these controls, each with its test curve (the
    figures read test accuracy at fixed iterations)."""
    return lambda configs: sweep(configs, lambda cfg: [dataclasses.replace(r, test_curve=True) for r in plan(cfg)
                                                       if r.strategy == "iterative" and r.control in controls])


# -- reports -------------------------------------------------------------------------------------
def _panels(summary, model: str, metric: str, label_text: str):
    """One panel per checkpoint, titled with the iterations trained where they are not the paper's."""
    panels = []
    for name, paper_iteration in CHECKPOINTS[model]:
        read = sorted(set(summary[f"iteration_{name}"].dropna().astype(int)))
        at = f"{name} iterations" if read == [paper_iteration] else \
            f"{', '.join(f'{i:,}' for i in read)} iterations (paper: {name})"
        panels.append((f"{metric}_acc_{name}", f"{label_text} at {at}"))
    return panels


def report(ctx: FigureContext, title: str, claims, metrics=(("test", "Test accuracy"),)) -> dict:
    """Tables, one figure per network (and metric) in the paper's layout: accuracy at each
    checkpoint against Pm, a line per setting, dashed for random reinitialization."""
    summary = deep_summary(ctx)
    summary.to_csv(ctx.out / "summary.csv", index=False)
    checkpoints_long(summary).to_csv(ctx.out / "checkpoints.csv", index=False)
    models = models_in(summary)
    for model in models:
        sel = summary[summary["model"] == model]
        for metric, text in metrics:
            plots.metric_vs_pm(sel, _panels(sel, model, metric, text), ctx.out / f"{ctx.figure.name}_{model}_{metric}.png",
                               f"{display_name(model)} on CIFAR-10, {title} ({label(ctx)})", hue="setting", style="run",
                               hue_order=setting_order(sel), style_order=run_order(sel))
    return {**study_record(ctx, summary), "checkpoints": {m: CHECKPOINTS[m] for m in models},
            **write_comparison(ctx, summary, [c for m in models for c in claims(m)],
                               f"{title}: paper vs reproduction ({networks(summary)})", ctx.figure.name + ".py")}


def setting_order(summary) -> list[str]:
    """Settings in one order in every figure, so that a setting's role keeps its colour
    across Figures 7 and 8: without warmup by falling learning rate, then with warmup."""
    settings = summary.drop_duplicates("setting")
    return list(settings.sort_values(["warmup_iterations", "learning_rate", "scope"],
                                     key=lambda s: (s > 0) if s.name == "warmup_iterations" else
                                     (-s if s.name == "learning_rate" else s))["setting"])


def _figure(name: str, description: str, variants, title: str, claims, controls=("ticket", "reinit"),
            metrics=(("test", "Test accuracy"),)) -> Figure:
    return Figure(name=name, description=description, kind=SweepKind, select=all_with_curves(controls),
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
