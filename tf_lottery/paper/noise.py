"""Each network's noise floor for one trial, from the evidence `python -m
tf_lottery.analysis.noise` prints (docs/design.md, "Noise"): the larger of its rerun noise
(one run hash trained twice: other CPU kinds, thread counts) and its trial-to-trial spread,
in accuracy points and in the log of an early-stop ratio. A verdict's mean within
floor / sqrt(trials) of its criterion's bound is "within noise".
"""
from __future__ import annotations

# Lenet: trial-to-trial spread of Figure 4's fast preset (3 trials); reruns on other CPUs
# gave identical numbers. Conv nets: the largest rerun differences (Conv-4: 0.67 points,
# log ratio 0.25; Conv-6: 0.17, 0.15), as a lower bound (one trial each: no spread
# measured). VGG-19 and ResNet-20: nothing measured; taken as the conv nets'.
CONV = {"points": 0.7, "ratio": 0.25}
FLOORS = {"lenet300_100": {"points": 0.19, "ratio": 0.27}, "conv2": CONV, "conv4": CONV, "conv6": CONV,
          "resnet20": CONV, "vgg19": CONV}


def noise(network: str, unit: str) -> float:
    """One trial's noise in `unit` (points, or the log of a ratio); 0 for Pm levels."""
    return FLOORS.get(network, {}).get(unit, 0.0)
