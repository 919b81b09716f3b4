"""Version 1's XOR experiment (v1 Figures 1 and 2): success of random networks by width,
and of 2- and 4-unit tickets unit-pruned from trained 10-unit networks.

    python reproductions/v1_xor.py --preset smoke  # seconds
    python reproductions/v1_xor.py                 # full scale: 1,000 networks per configuration
"""
import sys

from tf_lottery.figures.xor import XOR
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(XOR, argv)


if __name__ == "__main__":
    sys.exit(main())
