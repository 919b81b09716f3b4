"""The controls a winning ticket is compared with, one small class each (as open_lth's
`lottery/branch/` does).

A control is a run at a ticket's pruning level: it takes the ticket's mask or one drawn like
it, and starts from the trial's theta_0 or from a fresh draw of the same initializers. A
control that draws anything has its own seed (`own_draw`), recorded with the run as
`<name>_seed`. To add a control: a class here, a line in `CONTROLS`, and a count in
`StudyConfig` so that a study plans it (`experiment.plan`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from tf_lottery.pruning import rules
from tf_lottery.pruning.masks import Mask

Weights = dict[str, np.ndarray]


class Control:
    name: str
    own_draw: bool = False  # draws from its own seed

    def mask(self, ticket_mask: Callable[[], Mask], seed: int) -> Mask:
        """The control's mask: by default the ticket's."""
        return ticket_mask()

    def start(self, theta0: Callable[[], Weights], fresh: Callable[[], Weights]) -> Weights:
        """The weights the control starts from (before masking): by default a fresh draw."""
        return fresh()


class RandomReinit(Control):
    """The ticket's mask from a fresh initialization (the paper's random reinitialization)."""
    name, own_draw = "reinit", True


class RandomSparse(Control):
    """A random mask with the ticket's per-layer counts and a fresh initialization
    (Figures 1 and 14's randomly sampled sparse networks)."""
    name, own_draw = "random", True

    def mask(self, ticket_mask: Callable[[], Mask], seed: int) -> Mask:
        return rules.random_like(ticket_mask(), seed)


class ResetToInit(Control):
    """The ticket's mask from the trial's theta_0: Strategy 2's winning ticket, whose trunk
    kept training instead of resetting (Appendix B; under Strategy 1 it is the ticket itself)."""
    name = "reset"

    def start(self, theta0: Callable[[], Weights], fresh: Callable[[], Weights]) -> Weights:
        return theta0()


CONTROLS: dict[str, Control] = {c.name: c for c in (RandomReinit(), RandomSparse(), ResetToInit())}
