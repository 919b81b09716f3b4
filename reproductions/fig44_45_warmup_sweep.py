"""Figures 44-45 (appendix): VGG-19 and ResNet-20 winning tickets over a warmup sweep.

See `python reproductions/fig44_45_warmup_sweep.py --help` for the presets and the paper-scale commands.
"""
import sys

from tf_lottery.figures.deep import FIG44_45
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG44_45, argv)


if __name__ == "__main__":
    sys.exit(main())
