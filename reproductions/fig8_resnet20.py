"""Figure 8: ResNet-20 (the paper's "Resnet-18") on CIFAR-10, iterative global pruning at three learning-rate settings, with reinits.

See `python reproductions/fig8_resnet20.py --help` for the presets and the paper-scale commands.
"""
import sys

from tf_lottery.figures.deep import FIG8
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG8, argv)


if __name__ == "__main__":
    sys.exit(main())
