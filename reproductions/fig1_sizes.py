"""Figure 1 (and Figure 14): Lenet and Conv-2/4/6, winning tickets against randomly sampled
sparse networks; Figure 14: test accuracy at the end with reinits and random sparse networks.

    python reproductions/fig1_sizes.py --preset smoke --model conv2 --data-dir ../shared/data
    python reproductions/fig1_sizes.py --preset fast --data-dir ../shared/data   # REDUCED
"""
import sys

from tf_lottery.figures.conv import FIG1
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG1, argv)


if __name__ == "__main__":
    sys.exit(main())
