"""Whether a run's training loop is XLA-compiled, chosen per model and device.

XLA is right for dense models on a CPU (Lenet's compiled 100-step loop: 7.6x Keras fit)
and for everything on GPUs and TPUs. On a CPU, XLA's convolution backward pass is
pathologically slow (Conv-2, batch 60, 2 cores: 0.1 steps/s under XLA against 18 steps/s
as a plain `tf.function` using oneDNN), so `auto` leaves conv nets on a CPU uncompiled.
"""
from __future__ import annotations

XLA_CHOICES = ("auto", "on", "off")


def use_xla(choice: str, groups: dict[str, str]) -> bool:
    """`choice` (auto|on|off) for a model with these pruning groups, on this process's devices."""
    if choice not in XLA_CHOICES:
        raise ValueError(f"Unknown XLA choice {choice!r}; use {', '.join(XLA_CHOICES)}.")
    if choice != "auto":
        return choice == "on"
    import tensorflow as tf

    accelerated = bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return accelerated or "conv" not in groups.values()
