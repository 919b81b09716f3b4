"""Figure 9 (Appendix B): Lenet, iterative pruning with resetting vs continued training.

    python reproductions/fig9_lenet_strategies.py --preset smoke --data-dir ../shared/data
    python reproductions/fig9_lenet_strategies.py --preset fast --data-dir ../shared/data
"""
import sys

from tf_lottery.figures.strategies import FIG9
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG9, argv)


if __name__ == "__main__":
    sys.exit(main())
