"""Figures 38-41 (appendix): VGG-19 and ResNet-20, global against layer-wise pruning.

See `python reproductions/fig38_41_global_vs_layerwise.py --help` for the presets and the paper-scale commands.
"""
import sys

from tf_lottery.figures.deep import FIG38_41
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG38_41, argv)


if __name__ == "__main__":
    sys.exit(main())
