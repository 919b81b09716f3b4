"""Figure 6: Conv-2/4/6 winning tickets with dropout against without.

    python reproductions/fig6_conv_dropout.py --preset smoke --model conv2 --data-dir ../shared/data
    python reproductions/fig6_conv_dropout.py --preset fast --data-dir ../shared/data   # REDUCED
"""
import sys

from tf_lottery.figures.conv import FIG6
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG6, argv)


if __name__ == "__main__":
    sys.exit(main())
