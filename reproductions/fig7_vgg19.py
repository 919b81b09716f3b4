"""Figure 7: VGG-19 on CIFAR-10, iterative global pruning at three learning-rate settings, with reinits.

See `python reproductions/fig7_vgg19.py --help` for the presets and the paper-scale commands.
"""
import sys

from tf_lottery.figures.deep import FIG7
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG7, argv)


if __name__ == "__main__":
    sys.exit(main())
