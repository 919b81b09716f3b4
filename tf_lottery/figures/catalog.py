"""Every figure the package reproduces, by its results folder's name (the scripts in
`reproductions/` each run one)."""
from __future__ import annotations

from tf_lottery.figures import conv, deep, lenet, strategies, xor

FIGURES = {f.name: f for f in (lenet.FIG3, lenet.FIG4, conv.FIG1, conv.FIG5, conv.FIG6, strategies.FIG9,
                               strategies.FIG10, deep.FIG7, deep.FIG8, deep.FIG38_41, deep.FIG42_43, deep.FIG44_45,
                               xor.XOR)}
