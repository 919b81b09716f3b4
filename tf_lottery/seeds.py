"""Deterministic seed derivation: every random draw in a study has a named, recorded seed."""
import hashlib


def derive_seed(base: int, *parts) -> int:
    """A 31-bit seed that depends only on `base` and the labels in `parts`.

    Hashing (rather than e.g. `base * 1000 + trial`) keeps seeds of different purposes
    (init, data order, reinit) independent and stable when new purposes are added.
    """
    text = "/".join(str(p) for p in (base, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF
