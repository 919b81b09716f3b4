"""Figure 10 (Appendix B): Conv-2/4/6, iterative pruning with resetting vs continued training.

    python reproductions/fig10_conv_strategies.py --preset smoke --model conv2 --data-dir ../shared/data
    python reproductions/fig10_conv_strategies.py --preset fast --model conv2 --data-dir ../shared/data  # REDUCED
"""
import sys

from tf_lottery.figures.strategies import FIG10
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG10, argv)


if __name__ == "__main__":
    sys.exit(main())
