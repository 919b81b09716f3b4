"""Seaborn figures in the paper's layout, drawn from the tidy tables (never during training).

Pm axes are logarithmic and decrease to the right; lines show the mean over trials (and
reinits) with min/max error bars; titles say over how many trials. Runs are coloured as the
paper colours them (blue winning tickets, orange random reinitialization, green random
sparse networks; controls dashed); legends sit below the panels, outside the data.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

LINE_ORDER = ["Winning ticket (iterative)", "Random reinit (iterative)",
              "Winning ticket (oneshot)", "Random reinit (oneshot)"]
_LABEL = {"ticket": "Winning ticket", "reinit": "Random reinit"}
# The paper's colours, by kind of run (summary column `run`, or Figure 4's lines).
RUN_COLORS = {"winning ticket": "tab:blue", "random reinit": "tab:orange", "random sparse": "tab:green",
              "Strategy 2 ticket": "tab:red", "Winning ticket (iterative)": "tab:blue",
              "Random reinit (iterative)": "tab:orange", "Winning ticket (oneshot)": "tab:purple",
              "Random reinit (oneshot)": "tab:brown"}
FIG4_PANELS = [
    ("early_stop_iter", "Early-stop iteration (val.)"),
    ("test_acc_early_stop", "Test accuracy at early stop"),
    ("train_acc_early_stop", "Train accuracy at early stop"),
    ("test_acc_end", "Test accuracy at end of training"),
]


def _line_labels(df: pd.DataFrame) -> pd.Series:
    return df["control"].map(_LABEL) + " (" + df["strategy"] + ")"


# Neighbouring Pm labels closer than this ratio overlap on a 4-inch log axis (7-point text).
MIN_LABEL_RATIO = 1.12


def labelled_ticks(ticks, min_ratio: float = MIN_LABEL_RATIO) -> list[str]:
    """Labels for Pm ticks in decreasing order: a tick closer than `min_ratio` to the last
    labelled one gets no label (several networks' levels on one axis, e.g. Conv-2's 41.2
    beside Conv-4's 43.6), so labels never overlap; every tick keeps its mark."""
    labels, last = [], None
    for t in ticks:
        keep = last is None or last / t >= min_ratio
        labels.append(f"{t:g}" if keep else "")
        last = t if keep else last
    return labels


def _pm_axis(ax, pms) -> None:
    ax.set_xscale("log")
    ticks = sorted(set(round(p, 1) for p in pms), reverse=True)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labelled_ticks(ticks), rotation=90, fontsize=7)
    ax.minorticks_off()
    ax.set_xlim(max(ticks) * 1.15, min(ticks) / 1.15)  # decreasing to the right
    ax.set_xlabel("Percent of weights remaining (Pm)")


def figure4(summary: pd.DataFrame, path: Path, title: str) -> None:
    """The four panels of the paper's Figure 4 (and Figure 12's train accuracy)."""
    df = summary.assign(line=_line_labels(summary))
    metric_vs_pm(df, FIG4_PANELS, path, title, hue_order=[l for l in LINE_ORDER if l in set(df["line"])])


def _suptitle(fig, title: str, df: pd.DataFrame | None = None) -> None:
    """The figure's title, with the number of trials it averages, wrapped to its width."""
    if df is not None and "trial" in df:
        trials = df["trial"].nunique()
        title = f"{title}; {trials} trial{'s' if trials != 1 else ''}"
    fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 12), break_on_hyphens=False), fontsize=10)


def _legend_below(fig, ax) -> None:
    """The legend of `ax`, below the panels, where it covers no data."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=7, frameon=False)


def _layout(fig, legend_rows: int = 1) -> None:
    fig.tight_layout(rect=(0, 0.04 + 0.05 * legend_rows, 1, 1))


def _palette(values, hue: str):
    return {v: RUN_COLORS[v] for v in values if v in RUN_COLORS} if hue in ("line", "run") else None


def _mark_censored(ax, df: pd.DataFrame, column: str) -> None:
    """A black x over each run whose early stop (and what is read there) the budget censored."""
    if "early_stop_censored" not in df or not (column.startswith("early_stop") or column.endswith("_early_stop")):
        return
    censored = df[df["early_stop_censored"].fillna(False).astype(bool)]
    if len(censored):
        ax.scatter(censored["pm"], censored[column], marker="x", color="black", s=30, zorder=4,
                   label="censored: early stop at the budget's end")


def metric_vs_pm(df: pd.DataFrame, panels, path: Path, title: str, hue: str = "line", style: str | None = None,
                 hue_order=None, style_order=None) -> None:
    """One panel per (column, label) of `panels`: mean over trials against Pm, one line per
    `hue` value (dashed by `style`), min/max bars."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    axes = axes[0]
    hues = hue_order or list(dict.fromkeys(df[hue]))
    for ax, (column, label) in zip(axes, panels):
        sns.lineplot(data=df, x="pm", y=column, hue=hue, hue_order=hue_order, style=style, style_order=style_order,
                     palette=_palette(hues, hue), marker="o", markersize=4,
                     errorbar=("pi", 100), err_style="bars", estimator="mean", ax=ax, legend=ax is axes[0])
        _mark_censored(ax, df, column)
        _pm_axis(ax, df["pm"])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    _legend_below(fig, axes[0])
    _suptitle(fig, title, df)
    _layout(fig, 1 + len(axes[0].get_legend_handles_labels()[1]) // 5)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def per_network(df: pd.DataFrame, column: str, label: str, path: Path, title: str) -> None:
    """One panel per network: `column` against Pm, one line per control (Figure 14)."""
    networks = list(dict.fromkeys(df["network"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(4.2 * len(networks), 4.2), squeeze=False)
    runs = [r for r in RUN_COLORS if r in set(df["run"])]
    for ax, network in zip(axes[0], networks):
        sel = df[df["network"] == network]
        sns.lineplot(data=sel, x="pm", y=column, hue="run", hue_order=runs, style="run", style_order=runs,
                     palette=_palette(runs, "run"), marker="o", markersize=4, errorbar=("pi", 100), err_style="bars",
                     estimator="mean", ax=ax, legend=ax is axes[0][0])
        _pm_axis(ax, sel["pm"])
        ax.set_title(network, fontsize=9)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    _legend_below(fig, axes[0][0])
    _suptitle(fig, title, df)
    _layout(fig)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure3(curves: pd.DataFrame, panels: list[list[tuple[str, int]]], path: Path, title: str,
            metric: str = "test_acc", ylabel: str = "Test accuracy", early: int = 10_000) -> None:
    """Curves over training iterations; each panel lists (control, round) lines of the
    iterative trunk; a second row shows the first `early` iterations, where they separate."""
    df = curves[curves["strategy"] == "iterative"]
    rounds = sorted({rnd for lines in panels for _, rnd in lines})
    color = dict(zip(rounds, sns.color_palette(n_colors=len(rounds))))  # one color per Pm in every panel
    fig, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 7), sharey="row", squeeze=False)
    for column, lines in enumerate(panels):
        for row, ax in enumerate(axes[:, column]):
            for control, rnd in lines:
                sel = df[(df["control"] == control) & (df["round"] == rnd)]
                if row:
                    sel = sel[sel["iteration"] <= early]
                if sel.empty:
                    continue
                name = f"{sel['pm'].iloc[0]:.1f}" + (" (reinit)" if control == "reinit" else "")
                sns.lineplot(data=sel, x="iteration", y=metric, errorbar=("pi", 100), err_style="band",
                             color=color[rnd], estimator="mean", ax=ax, label=name,
                             linestyle="--" if control == "reinit" else "-", legend=row == 0)
            ax.set_xlabel("Training iterations" + (f" (the first {early:,})" if row else ""))
            ax.set_ylabel(ylabel)
            if metric.endswith("acc"):
                ax.set_ylim(0.94, 0.99)  # the paper's range; early low accuracies fall outside
            elif len(df):  # losses: the range of the minima, where the lines separate
                lowest = df[metric].groupby([df["round"], df["iteration"]]).mean().min()
                ax.set_ylim(lowest * 0.9, lowest * 1.8)
            ax.grid(alpha=0.3)
        if axes[0, column].get_legend() is not None:
            axes[0, column].legend(title="Pm (%)", fontsize=7)
    _suptitle(fig, title, df)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def xor_success_by_width(rates: pd.DataFrame, path: Path, title: str) -> None:
    """v1 Figure 1: success rate of random networks by hidden units, with the pruned tickets as markers."""
    random = rates[rates["strategy"] == "random"].melt(
        id_vars="units", value_vars=["boundary_rate", "zero_loss_rate"], var_name="metric", value_name="rate")
    random["metric"] = random["metric"].map({"boundary_rate": "decision boundary", "zero_loss_rate": "zero loss"})
    fig, ax = plt.subplots(figsize=(6.5, 4))
    sns.lineplot(data=random, x="units", y="rate", hue="metric", style="metric", markers=True, ax=ax)
    tickets = rates[(rates["control"] == "ticket") & (rates["heuristic"] == "product")]
    tickets = tickets[tickets["units"].isin(sorted(set(rates.loc[rates.control == "reinit", "units"])))]
    for strategy, marker in (("oneshot", "s"), ("iterative", "D")):
        sel = tickets[tickets["strategy"] == strategy]
        ax.scatter(sel["units"], sel["success_rate"], marker=marker, s=60, zorder=3, color="black",
                   label=f"ticket, {strategy} (product), success")
    ax.set_xlabel("Hidden units")
    ax.set_ylabel("Fraction of networks")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def xor_pruning_heatmap(rates: pd.DataFrame, path: Path, title: str) -> None:
    """v1 Figure 2's table: success rates of pruned tickets and their reinits, all heuristics."""
    pruned = rates[rates["strategy"] != "random"]
    pruned = pruned[pruned["units"].isin(sorted(set(pruned.loc[pruned.control == "reinit", "units"])))]
    blocks = []
    for column, label in (("success_rate", "all trials"), ("success_rate_parent_succeeded", "parent succeeded")):
        table = pruned.pivot_table(index=["strategy", "heuristic"], columns=["units", "control"], values=column)
        table = table[sorted(table.columns, key=lambda uc: (-uc[0], uc[1] != "ticket"))]
        table.columns = [f"{u} units, {c}\n({label})" for u, c in table.columns]
        blocks.append(table)
    table = pd.concat(blocks, axis=1)
    fig, ax = plt.subplots(figsize=(2.0 + 1.35 * table.shape[1], 1.2 + 0.5 * table.shape[0]))
    sns.heatmap(table, annot=True, fmt=".3f", vmin=0, vmax=1, cmap="viridis", ax=ax, cbar_kws={"label": "success rate"})
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
