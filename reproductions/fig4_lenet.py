"""Figure 4 (and Figure 12's train accuracy): Lenet-300-100 on MNIST, iterative vs one-shot
pruning, winning tickets vs random reinitialization.

    python reproductions/fig4_lenet.py --preset smoke --data-dir ../shared/data   # a minute
    python reproductions/fig4_lenet.py --preset fast --data-dir ../shared/data    # about 50 min on 2 cores
    python reproductions/fig4_lenet.py                                            # the paper's protocol
"""
import sys

from tf_lottery.figures.lenet import FIG4
from tf_lottery.figures.runner import run_figure


def main(argv=None) -> int:
    return run_figure(FIG4, argv)


if __name__ == "__main__":
    sys.exit(main())
