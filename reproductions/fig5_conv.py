"""Figure 5 (and Figure 13): Conv-2/4/6 on CIFAR-10, winning tickets vs random reinitialization.

    python reproductions/fig5_conv.py --preset smoke --model conv2 --data-dir ../shared/data  # a minute
    python reproductions/fig5_conv.py --preset fast --model conv2 --data-dir ../shared/data   # REDUCED, about 80 min
    python reproductions/fig5_conv.py                                                       # the paper (GPUs)
"""
import sys

from tf_lottery.figures.conv import FIG5
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG5, argv)


if __name__ == "__main__":
    sys.exit(main())
