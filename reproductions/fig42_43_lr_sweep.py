"""Figures 42-43 (appendix): VGG-19 and ResNet-20 winning tickets over a learning-rate sweep.

See `python reproductions/fig42_43_lr_sweep.py --help` for the presets and the paper-scale commands.
"""
import sys

from tf_lottery.figures.deep import FIG42_43
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG42_43, argv)


if __name__ == "__main__":
    sys.exit(main())
