"""Lottery tickets from Python (a notebook), as the scripts find them:

    from tf_lottery import api
    study = api.find_ticket("lenet300_100", data_dir="../shared/data", rounds=2, iterations=300)
    study.summary                 # one row per run: Pm, early stop, accuracies, seeds
    ticket = study.ticket(round=2)
    model = ticket.model()        # the winning ticket ready to train, its mask inside

A registered network gets its paper protocol and the preset's values exactly as on the
command line (`configure`); keyword arguments override them by config field name
(`iterations`, `learning_rate`, `fc_rate`, ...) or by the names below. A network of one's
own (a Keras model, or a function building one, of Dense and Conv2D layers with the rest
anything Keras has) is pruned the same way, on MNIST or CIFAR-10 (`dataset`), with the
config's defaults in place of a paper protocol. Runs are kept in a
store (a temporary folder by default): the same call with the same `store` trains nothing
again.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import tf_keras

from tf_lottery.analysis import tables
from tf_lottery.cli import LOTTERY_SECTIONS
from tf_lottery.config import ExperimentConfig, identity_hash
from tf_lottery.data.datasets import load_for
from tf_lottery.execution.store import RunStore
from tf_lottery.figures.spec import model_presets
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, plan
from tf_lottery.models.portable import masked_copy
from tf_lottery.models.registry import model_spec, register
from tf_lottery.models.spec import ModelSpec
from tf_lottery.presets import compose, model_protocol
from tf_lottery.tickets import Ticket, ticket_from



def own_network(model, dataset: str = "mnist") -> str:
    """Register a network of one's own (a Keras model, or a function returning a new one)
    for this process; returns its registry name: its Keras name and a fingerprint of its
    architecture, so that a changed network is never taken for its stored runs."""
    build = model if callable(model) and not isinstance(model, tf_keras.Model) else \
        (lambda: tf_keras.models.clone_model(model))
    probe = build()
    name = f"{probe.name}-{identity_hash({'architecture': probe.to_json(), 'dataset': dataset})}"
    own = "is a network of one's own (its dropout is its own)"
    register(ModelSpec(name, lambda input_shape, num_classes, dropout, conv_dropout, sync_batch_norm:
                       masked_copy(build()), dataset=dataset, display_name=probe.name, protocol={"dataset": dataset},
                       no_dropout=own, no_conv_dropout=own))
    return name


def configure(network: str = "lenet300_100", preset: str = "paper", **settings) -> ExperimentConfig:
    """The configuration the scripts build for `network` at `preset`, with `settings` (config
    field names, e.g. iterations=300, fc_rate=0.3, trials=1) in place of theirs. Raises
    ValueError for a setting that does not fit."""
    presets = model_presets()
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; presets: {', '.join(presets)}.")
    defaults = {f.name: f.default for cls in LOTTERY_SECTIONS.values() for f in dataclasses.fields(cls)}
    unknown = set(settings) - set(defaults) - {"seed"}
    if unknown:
        raise ValueError(f"Unknown settings {sorted(unknown)}; they are config fields (see `tf_lottery.config`).")
    own = not model_spec(network).presets  # a network of one's own: no preset, the config's defaults
    sections, seed = compose(LOTTERY_SECTIONS, {} if own else presets[preset], {}, {"model": network, **settings},
                             defaults, model_protocol)
    cfg = ExperimentConfig(**sections, seed=settings.get("seed", seed))
    cfg.validate()
    return cfg


@dataclass
class Study:
    """What `find_ticket` trained: its configuration, its store and one row per run."""
    config: ExperimentConfig
    store: Path
    summary: pd.DataFrame

    def ticket(self, round: int, trial: int = 0, control: str = "ticket", strategy: str = "iterative",
               reinit: int = 0) -> Ticket:
        """A run of the study as a `tickets.Ticket`: its mask, initial and trained weights."""
        key = RunSpec(trial, strategy, round, control, reinit).key
        return ticket_from(self.store, key, store=RunStore.folder_name(self.config.training.model, self.config))


def find_ticket(network="lenet300_100", data_dir=None, *, dataset: str = "mnist", preset: str = "paper",
                rounds: int | None = None,
                rates: dict[str, float] | None = None, scope: str | None = None, reset: str | None = None,
                controls_at: tuple[int, ...] | None = None, store=None, tensorboard=None, log=print,
                **settings) -> Study:
    """Iterative magnitude pruning of `network` (a registered name, or a Keras model or a
    function building one, trained on `dataset`: `own_network`), `rounds` rounds of
    `rates` per layer group ({"conv": .., "fc": .., "output": ..}; the protocol's by
    default), `scope` "layerwise" or "global", `reset` "init" (the paper), "rewind" or
    "continue"; the controls (random reinits, random sparse networks) at the rounds
    `controls_at`. Any other config field as a keyword (trials, iterations, reinits, ...).
    Data from tensorflow-datasets, or from the local folder `data_dir`; TensorBoard scalars
    of every run into the folder `tensorboard`, if given."""
    if not isinstance(network, str):
        network = own_network(network, dataset)
    named = {"rounds": rounds, "scope": scope, "reset": reset, "control_rounds": controls_at,
             **{f"{group}_rate": rate for group, rate in (rates or {}).items()}}
    cfg = configure(network, preset, **{k: v for k, v in named.items() if v is not None}, **settings)
    root = Path(store) if store is not None else Path(tempfile.mkdtemp(prefix="tf_lottery-"))
    experiment = LotteryExperiment(cfg, load_for(cfg.data, data_dir), RunStore(root, cfg.training.model, cfg), log=log,
                                   tensorboard=tensorboard)
    specs = plan(cfg)
    experiment.run(specs)
    return Study(cfg, root, tables.summary_table(experiment.store, specs, cfg))
