"""Figure 3: Lenet test accuracy over training at several Pm, iterative pruning, with random
reinitialization. Reuses the runs Figure 4 stored (same flags, same store) and trains only
the ones missing.

    python reproductions/fig3_lenet.py --preset fast --data-dir ../shared/data
"""
import sys

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tf_lottery.analysis import plots
from tf_lottery.lottery.experiment import RunSpec
from tf_lottery.analysis.claims import LENET_ROUND
from tf_lottery.figures.runner import run_study

# The paper's three panels as (control, Pm label) lines.
PANELS = [
    [("ticket", "100"), ("ticket", "51.3"), ("ticket", "21.1")],
    [("ticket", "100"), ("ticket", "21.1"), ("ticket", "7.0"), ("ticket", "3.6"), ("ticket", "1.9")],
    [("ticket", "100"), ("ticket", "51.3"), ("ticket", "21.1"), ("reinit", "51.3"), ("reinit", "21.1")],
]


def fig3_runs(cfg):
    """Iterative tickets at the figure's Pm levels within the study's rounds; reinits where it has them."""
    study, specs = cfg.study, []
    levels = set(study.levels()) if "iterative" in study.reinit_strategies else set()
    for trial in range(study.trials):
        for control, label in {line for panel in PANELS for line in panel}:
            rnd = LENET_ROUND[label]
            if rnd > study.rounds or (control == "reinit" and rnd not in levels):
                continue
            if control == "ticket":
                specs.append(RunSpec(trial, "iterative", rnd))
            else:
                specs += [RunSpec(trial, "iterative", rnd, "reinit", i) for i in range(study.reinits)]
    return sorted(specs)


def main(argv=None):
    study = run_study(argv, "fig3_lenet", __doc__, select=fig3_runs)
    study.curves.to_csv(study.out / "curves.csv", index=False)
    panels = [[(c, LENET_ROUND[label]) for c, label in panel] for panel in PANELS]
    plots.figure3(study.curves, panels, study.out / "fig3_lenet.png",
                  f"Lenet test accuracy during training, iterative pruning ({study.label})")
    plots.figure3(study.curves, panels, study.out / "fig11_lenet_val_loss.png",
                  f"Lenet validation loss during training ({study.label})", metric="val_loss",
                  ylabel="Validation loss")
    study.write_run_json()
    print(f"Results in {study.out}")


if __name__ == "__main__":
    sys.exit(main())
