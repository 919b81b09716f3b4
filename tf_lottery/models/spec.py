"""What a network declares beside its builder: its data set, the paper's protocol for it,
its display name and its presets. The registry (`registry.py`) lists the specs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the registry name: --model, and every store folder of its runs
    # (input_shape, num_classes, dropout, conv_dropout, sync_batch_norm) -> uncompiled tf_keras model;
    # sync_batch_norm: batch-norm statistics over the global batch of a multi-replica strategy.
    build: Callable
    dataset: str
    display_name: str  # as the paper names it in figures ("Conv-2")
    protocol: dict = field(default_factory=dict)  # config field -> value, from the paper's Figure 2
    description: str = ""
    dropout_protocol: dict = field(default_factory=dict)  # what changes when trained with dropout
    # Every figure's presets for this network, largest first ("paper", then reduced ones):
    # config field -> value over the protocol, plus "scale_iterations" (a fraction of the
    # protocol's iterations) and "scale_dropout_iterations" (that of the dropout protocol's).
    presets: dict[str, dict] = field(default_factory=dict)
    preset_cost: dict[str, str] = field(default_factory=dict)  # preset -> what one figure's runs cost
    # Training steps/s (validation every 100 included) of one single-threaded worker on
    # the 2-core development CPU (a Zen 3 day): only the first time estimate of a study.
    cpu_steps_per_second: float = 1000.0
    # Why the network takes no dropout after its fc layers (--dropout) or its conv blocks
    # (--conv-dropout); None where it has those layers.
    no_dropout: str | None = None
    no_conv_dropout: str | None = None

    def check_dropout(self, dropout: float, conv_dropout: float) -> None:
        """Refuse dropout the network has no layers for (a setting, checked before any run)."""
        for flag, rate, why in (("--dropout", dropout, self.no_dropout),
                                ("--conv-dropout", conv_dropout, self.no_conv_dropout)):
            if rate and why:
                raise ValueError(f"{self.name} {why}: {flag} must be 0.")


def compounded(rate: float, rounds: int) -> float:
    """The per-round rate that removes what `rounds` rounds at `rate` remove (a reduced
    preset's rounds take several of the paper's at once)."""
    return round(1.0 - (1.0 - rate) ** rounds, 4)


def deep_protocol(iterations: int, batch_size: int, lr_drops: tuple, eval_every: int, steps_per_call: int,
                  ignore: tuple = ()) -> dict:
    """VGG-19 and ResNet-20 (the paper's Figure 2 and section 4): SGD with momentum 0.9 and
    weight decay 1e-4, learning rate 0.1 divided by 10 at the drops, flips and pad-and-crop,
    global pruning of 20% of the conv weights per round, output not pruned, no early
    stopping (accuracy at fixed iterations, evaluated every `eval_every`)."""
    return {"dataset": "cifar10", "iterations": iterations, "batch_size": batch_size, "optimizer": "momentum",
            "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "lr_drops": lr_drops, "augment": True,
            "eval_every": eval_every, "steps_per_call": steps_per_call, "eval_batch_size": 1000,
            "conv_rate": 0.2, "fc_rate": 0.0, "output_rate": 0.0, "scope": "global", "global_groups": ("conv",),
            "ignore": ignore}


# VGG-19 and ResNet-20's presets share these. The paper: 5 trials, 3 reinits per ticket, 20
# rounds of 20% (Pm down to 2.3% of ResNet-20's weights).
DEEP_PAPER = {"trials": 5, "rounds": 20, "reinits": 3, "oneshot": False}
# Tiny, for tests: 20 iterations at batch 16
# on 100 examples per split, 1 round.
DEEP_SMOKE = {"trials": 1, "eval_every": 10, "steps_per_call": 10, "batch_size": 16, "max_examples": 100,
              "rounds": 1, "control_rounds": (1,), "reinits": 1, "oneshot": False}
DEEP_COST = {
    "paper": "per network and setting 5 trials x (21 tickets + 60 reinits) runs: ResNet-20 30K iterations (about "
             "1 h each on 2 CPU cores, minutes on a GPU), VGG-19 112K (about 13 h on 2 CPU cores); for GPUs and TPUs, "
             "see docs/distributed.md",
    "fast": "REDUCED: per setting 1 trial x (rounds 0-2 + 1 reinit) runs: ResNet-20 1,200 iterations (12 runs, about "
            "1 h on 2 cores), VGG-19 1,125 iterations (12 runs, about 2 h on a fast day, 3.5 h on a slow one, 8 h "
            "on a CPU without AVX-512)",
    "smoke": "tiny runs of 20 iterations at batch 16 (VGG-19 8) on 100 examples, 4-10 runs per network (10 for "
             "the sweeps); on a CPU without AVX-512 about 4 s a ResNet-20 run and 14 s a VGG-19 run on both cores "
             "(8 s and 23 s on each of two workers): Figure 8 about 1.5 min, Figure 7 about 3.5 min",
}
NO_DROPOUT_LAYERS = "has no dropout layers (the paper trains it without)"
