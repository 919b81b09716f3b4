"""Figure 3 (and Figure 11's validation loss): Lenet test accuracy over training at several
Pm, iterative pruning, with random reinitialization. Reuses the runs Figure 4 stored (same
flags, same store) and trains only the ones missing.

    python reproductions/fig3_lenet.py --preset fast --data-dir ../shared/data
"""
import sys

from tf_lottery.figures.lenet import FIG3
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG3, argv)


if __name__ == "__main__":
    sys.exit(main())
