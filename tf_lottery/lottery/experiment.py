"""The lottery-ticket experiment: one iterative trunk per trial and control branches.

Trunk: theta_0 -> train -> prune (`PruningPlan`: layer-wise or global, by magnitude or at
random) -> restart the survivors (`RESETS`: from theta_0, the paper's Strategy 1; from the
trained weights, Strategy 2; or from round 0's weights at an early iteration, later
rewinding) -> train ... Each trunk round stores its mask and trained
weights. Branches read them:
- the controls of `controls.py` (random reinitialization, random sparse networks,
  Strategy 2's reset ticket), each at a ticket's level;
- oneshot: prune the trained round-0 network straight to round k's per-layer counts,
  reset to theta_0 (and its own controls).
Every run is stored on completion and skipped when already stored, so a study resumes
where it stopped, and any subset of runs can be requested (dependencies run first). A
diverged run is stored as such, and so are the runs built on it (without training).
Round 0 does not depend on the pruning settings: it is copied from a store that differs
only in them when one has it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from tf_lottery.config import ExperimentConfig
from tf_lottery.data.datasets import Dataset
from tf_lottery import stopping
from tf_lottery.execution import scheduling, timing
from tf_lottery.execution.store import RunStore
from tf_lottery.execution.xla import use_xla
from tf_lottery.lottery.controls import CONTROLS
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.pruning import masks
from tf_lottery.pruning.strategies import RESETS, PruningPlan, RestartPoints
from tf_lottery.seeds import derive_seed
from tf_lottery.training.checkpoint import Checkpoint
from tf_lottery.training.summaries import run_writer
from tf_lottery.training.trainer import Trainer

STRATEGIES = ("iterative", "oneshot")
RUN_KINDS = ("ticket", *CONTROLS)  # a run is a ticket or one of its controls


@dataclass(frozen=True, order=True)
class RunSpec:
    trial: int
    strategy: str  # iterative | oneshot
    round: int
    control: str = "ticket"  # ticket, or a control of controls.py (reinit | random | reset)
    reinit: int = 0  # index of the reinitialization or random network (0 for tickets)
    # Whether a figure needs this run's test accuracy at every evaluation (not part of
    # the run's identity: a stored run without it gets its curve added when needed).
    test_curve: bool = field(default=False, compare=False)
    # Whether a run still to train reads this run's stored arrays (its mask and trained
    # weights), which a run restored from a results ledger may lack (not part of its identity).
    weights: bool = field(default=False, compare=False)

    def __post_init__(self):
        if self.strategy not in STRATEGIES or self.control not in RUN_KINDS:
            raise ValueError(f"Bad run {self}: strategy in {STRATEGIES}, control in {RUN_KINDS}.")
        if self.strategy == "oneshot" and self.round == 0:
            raise ValueError("One-shot round 0 is the trunk's round 0; ask for iterative round 0.")

    @property
    def key(self) -> str:
        leaf = "ticket" if self.control == "ticket" else f"{self.control}{self.reinit}"
        return f"trial{self.trial}/{self.strategy}/round{self.round:02d}/{leaf}"

    @classmethod
    def unpruned(cls, trial: int) -> "RunSpec":
        """Round 0: the dense network trained from theta_0, where every other run of the trial starts."""
        return cls(trial, "iterative", 0)

    @property
    def is_unpruned(self) -> bool:
        return self == RunSpec.unpruned(self.trial)

    @property
    def ticket(self) -> "RunSpec":
        """The winning ticket a control is compared with (itself for a ticket)."""
        return RunSpec(self.trial, self.strategy, self.round)

    def dependencies(self) -> list["RunSpec"]:
        if self.control != "ticket":
            return [RunSpec(self.trial, self.strategy, self.round)]
        if self.strategy == "oneshot":
            return [RunSpec.unpruned(self.trial)]
        return [RunSpec(self.trial, "iterative", self.round - 1)] if self.round > 0 else []


def plan(cfg: ExperimentConfig) -> list[RunSpec]:
    """Every run of the study, each after its dependencies, trial by trial."""
    study, specs = cfg.study, []
    levels = study.levels()

    def with_reinits(spec):
        if spec.strategy not in study.reinit_strategies:
            return [spec]
        return ([spec] + [RunSpec(spec.trial, spec.strategy, spec.round, "reinit", i) for i in range(study.reinits)]
                + [RunSpec(spec.trial, spec.strategy, spec.round, "random", i) for i in range(study.random_sparse)])

    for trial in range(study.trials):
        specs.append(RunSpec.unpruned(trial))
        if study.oneshot:
            for k in levels:
                specs += with_reinits(RunSpec(trial, "oneshot", k))
        for k in range(1, study.rounds + 1):
            trunk = RunSpec(trial, "iterative", k)
            specs += with_reinits(trunk) if k in levels else [trunk]
            if k in levels and cfg.pruning.reset != "init":  # the ticket of a trunk that did not restart from theta_0
                specs.append(RunSpec(trial, "iterative", k, "reset"))
    return specs


def reads(cfg: ExperimentConfig, spec: RunSpec) -> list[RunSpec]:
    """The runs whose stored arrays training `spec` reads: the trunk run it is pruned
    (and, by the reset strategy, restarted) from, the ticket whose mask a control copies,
    round 0's trained weights for one-shot pruning and its snapshot for rewinding."""
    if spec.control != "ticket":
        ticket = spec.ticket
        if ticket.strategy == "oneshot":
            return [RunSpec.unpruned(spec.trial)]
        return [ticket] if ticket.round > 0 else []
    if spec.strategy == "oneshot":
        return [RunSpec.unpruned(spec.trial)]
    if spec.round == 0:
        return []
    parent = RunSpec(spec.trial, "iterative", spec.round - 1)
    rewinds = records_rewind_point(cfg) and not parent.is_unpruned
    return [parent] + ([RunSpec.unpruned(spec.trial)] if rewinds else [])


def trunk_arrays(cfg: ExperimentConfig, spec: RunSpec) -> tuple[str, ...]:
    """The arrays a run stores for the runs that read it (none for controls)."""
    if spec.strategy != "iterative" or spec.control != "ticket":
        return ()
    return ("mask", "final") + (("rewind",) if records_rewind_point(cfg) and spec.is_unpruned else ())


def records_rewind_point(cfg: ExperimentConfig) -> bool:
    """Whether round 0 must record the weights later rounds rewind to."""
    return cfg.pruning.reset == "rewind" and cfg.pruning.rewind_iteration > 0


def with_dependencies(specs: list[RunSpec]) -> list[RunSpec]:
    """`specs` plus everything they need, each run after its dependencies."""
    ordered, seen, asked = [], set(), {spec: spec for spec in specs}

    def visit(spec):
        if spec in seen:
            return
        for dep in spec.dependencies():
            visit(asked.get(dep, dep))
        seen.add(spec)
        ordered.append(spec)

    for spec in specs:
        visit(spec)
    return ordered


class LotteryExperiment:
    """Builds the model and trainer once (under `strategy`) and executes runs into `store`."""

    checkpoint_every = 600.0  # seconds between a training run's checkpoints

    def __init__(self, cfg: ExperimentConfig, dataset: Dataset, store: RunStore, strategy=None, log=None,
                 xla: str = "auto", tensorboard=None):
        cfg.validate()
        self.cfg, self.store = cfg, store
        self.tensorboard = tensorboard  # a folder for each trained run's TensorBoard scalars (training/summaries.py)
        self.log = log or (lambda message: print(message, flush=True))
        self.strategy = strategy or tf.distribute.get_strategy()
        store.check_data(dataset)
        self.data_source = dataset.source
        input_shape = dataset.train.x.shape[1:]
        with self.strategy.scope():
            sync = cfg.training.batch_norm == "global" and self.strategy.num_replicas_in_sync > 1
            self.model, self.groups = build_model(cfg.training.model, input_shape, dataset.num_classes,
                                                  cfg.training.dropout, cfg.training.conv_dropout, sync)
        self.trainer = Trainer(self.model, dataset, cfg.training, self.strategy, jit=use_xla(xla, self.groups))
        self.plan = PruningPlan.from_config(cfg.pruning, self.groups)
        self.reset_to = RESETS[cfg.pruning.reset]

    # -- seeds ---------------------------------------------------------------------
    def init_seed(self, trial: int) -> int:
        return derive_seed(self.cfg.seed, "init", trial)

    def order_seed(self, trial: int) -> int:
        return derive_seed(self.cfg.seed, "data-order", trial)

    def noise_seed(self, trial: int) -> int:
        """Dropout and augmentation: shared by a trial's runs, like the data order."""
        return derive_seed(self.cfg.seed, "noise", trial)

    def prune_seed(self, trial: int, strategy: str, rnd: int) -> int:
        return derive_seed(self.cfg.seed, "prune", trial, strategy, rnd)

    def control_seed(self, spec: RunSpec) -> int:
        """A control's own draw: the fresh initialization (and, for random, the mask)."""
        return derive_seed(self.cfg.seed, spec.control, spec.trial, spec.strategy, spec.round, spec.reinit)

    def seeds(self, spec: RunSpec) -> dict[str, int]:
        """Every seed a run uses, as recorded with it."""
        seeds = {"init_seed": self.init_seed(spec.trial), "order_seed": self.order_seed(spec.trial),
                 "noise_seed": self.noise_seed(spec.trial)}
        if spec.control in CONTROLS and CONTROLS[spec.control].own_draw:
            seeds[f"{spec.control}_seed"] = self.control_seed(spec)
        return seeds

    # -- state the runs need -------------------------------------------------------------
    def theta0(self, trial: int) -> dict[str, np.ndarray]:
        key = f"trial{trial}/init"
        if not self.store.has(key):
            seed = self.init_seed(trial)
            self.store.save(key, {"trial": trial, "init_seed": seed}, {"weights": initial_weights(self.model, seed)})
        return self.store.arrays(key, "weights")

    def mask_for(self, spec: RunSpec) -> masks.Mask:
        """The mask of a run; trunk masks are read from the store once computed."""
        if spec.control != "ticket":
            return CONTROLS[spec.control].mask(lambda: self.mask_for(spec.ticket), self.control_seed(spec))
        if spec.strategy == "iterative":
            if spec.round == 0:
                return masks.full_mask(self.theta0(spec.trial), self.groups)
            if self.store.has(spec.key) and self.store.has_arrays(spec.key, ("mask",)):
                return self.store.arrays(spec.key, "mask")
            previous = RunSpec(spec.trial, "iterative", spec.round - 1)
            return self.plan.prune(self.store.arrays(previous.key, "final"), self.mask_for(previous),
                                   self.prune_seed(spec.trial, "iterative", spec.round))
        trained = self.store.arrays(RunSpec.unpruned(spec.trial).key, "final")
        return self.prune_oneshot(trained, spec.round, self.prune_seed(spec.trial, "oneshot", spec.round))

    def prune_oneshot(self, weights, rounds: int, seed: int = 0) -> masks.Mask:
        """Prune a dense trained network straight to the sparsity of `rounds` iterative rounds."""
        full = masks.full_mask(weights, self.groups)
        if not self.plan.pools:  # layer-wise: exactly the trunk's per-layer counts
            return self.plan.prune_to_counts(weights, full, self.plan.surviving(masks.counts(full), rounds), seed)
        mask = full
        for _ in range(rounds):  # the same pool counts as the trunk, without retraining between
            mask = self.plan.prune(weights, mask, seed)
        return mask

    def start_weights(self, spec: RunSpec) -> dict[str, np.ndarray]:
        """What a run starts from (before masking): its control's choice, else theta_0 or, by
        the reset strategy, the trained weights it was pruned from."""
        if spec.control != "ticket":
            return CONTROLS[spec.control].start(lambda: self.theta0(spec.trial),
                                                       lambda: initial_weights(self.model, self.control_seed(spec)))
        parent = self.trained_parent(spec)
        if parent is None:
            return self.theta0(spec.trial)
        round0 = RunSpec.unpruned(spec.trial).key
        return self.reset_to(RestartPoints(
            theta0=lambda: self.theta0(spec.trial),
            trained=lambda: self.store.arrays(parent.key, "final"),
            rewound=lambda: (self.store.arrays(round0, "rewind") if self.cfg.pruning.rewind_iteration
                             else self.theta0(spec.trial))))

    def trained_parent(self, spec: RunSpec) -> RunSpec | None:
        """The trunk run whose trained weights this run's mask (and, by the reset strategy,
        its start) is computed from; a control's is its ticket's (a diverged ticket's mask is
        still valid, so its controls train)."""
        if spec.control != "ticket":
            return self.trained_parent(spec.ticket)
        if spec.strategy == "oneshot":
            return RunSpec.unpruned(spec.trial)
        return RunSpec(spec.trial, "iterative", spec.round - 1) if spec.round > 0 else None

    # -- execution ----------------------------------------------------------------------
    def execute(self, spec: RunSpec) -> dict:
        """Train one run (its dependencies must be stored) and store it."""
        if not self.store.has(spec.key) and spec.is_unpruned:
            self._adopt_unpruned(spec)
        if is_stored(self.store, spec):  # stored meanwhile by another process
            return self.store.metrics(spec.key)
        with self.store.lease(spec.key):  # or TrainedElsewhere: the scheduler retries it later
            if is_stored(self.store, spec):  # by the lease's previous holder
                return self.store.metrics(spec.key)
            return self._complete(spec) if self.store.has(spec.key) else self._train(spec)

    def _train(self, spec: RunSpec) -> dict:
        parent = self.trained_parent(spec)
        if parent is not None and self.store.metrics(parent.key).get("diverged"):
            return self._store(spec, self._inherited_divergence(spec, parent), None)
        seeds = self.seeds(spec)
        mask, start = self.mask_for(spec), self.start_weights(spec)
        rewind = self.cfg.pruning.rewind_iteration if self._keeps_rewind_point(spec) else None
        heartbeat = timing.Heartbeat(spec.key, self.log)
        # Not across machines: each would decide by its own clock when to save, and resume
        # from a different step than the others.
        multiworker = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        checkpoint = None if multiworker else Checkpoint(
            functools.partial(self.store.checkpoint, spec.key), functools.partial(self.store.save_checkpoint, spec.key),
            self.checkpoint_every, heartbeat.resumed, stopping.requested)
        summaries = self.tensorboard and run_writer(self.tensorboard, self.store.dir.name, spec.key, mask)
        result = self.trainer.train(masks.apply(start, mask), mask, seeds["order_seed"], seeds["noise_seed"],
                                    test_curve=spec.test_curve, snapshot_at=rewind, progress=heartbeat,
                                    checkpoint=checkpoint, on_evaluation=summaries or None)
        if summaries:
            summaries(self.cfg.training.iterations, {"end/test_accuracy": result.test_acc_end,
                                                     "end/train_accuracy": result.train_acc_end,
                                                     "early_stop/iteration": result.early_stop_iter,
                                                     "early_stop/test_accuracy": result.test_acc_early_stop})
        metrics = {
            **self._identity(spec),
            "pm": 100.0 * masks.density(mask),
            "pm_prunable": 100.0 * masks.density({n: m for n, m in mask.items() if self.plan.rates[n] > 0} or mask),
            "layer_counts": masks.counts(mask),
            **seeds,
            "diverged": result.diverged,
            "early_stop_iter": result.early_stop_iter,
            "test_acc_early_stop": result.test_acc_early_stop,
            "train_acc_early_stop": result.train_acc_early_stop,
            "test_acc_end": result.test_acc_end,
            "train_acc_end": result.train_acc_end,
            "seconds": result.seconds,
            "steady_seconds": result.steady_seconds,
            "cpu_seconds": result.cpu_seconds,
            "resumed_at": result.resumed_at,
            "trained_on": result.trained_on,
            "xla": self.trainer.jit,
            "curves": {"iteration": result.iterations.tolist(), "val_loss": result.val_loss.tolist(),
                       "val_acc": result.val_acc.tolist()},
        }
        # Only trunk runs feed later runs; controls keep their metrics alone.
        trunk = spec.strategy == "iterative" and spec.control == "ticket"
        arrays = {"mask": mask, "final": result.final_weights} if trunk else None
        if rewind is not None:
            arrays["rewind"] = result.snapshot
        return self._store(spec, metrics, arrays, _test_curve(result) if spec.test_curve else None)

    def _adopt_unpruned(self, spec: RunSpec) -> None:
        """Copy round 0 from a store that has it (`unpruned_source`) rather than train it again."""
        source = unpruned_source(self.store, self.cfg, spec)
        if source is not None:
            self.store.adopt(spec.key, source)
            self.log(f"  {spec.key}: copied from {source.dir.name}, the same unpruned network under other "
                     "pruning settings")

    def _keeps_rewind_point(self, spec: RunSpec) -> bool:
        return records_rewind_point(self.cfg) and spec.is_unpruned

    def _store(self, spec: RunSpec, metrics: dict, arrays, test_curve=None) -> dict:
        self.store.save(spec.key, metrics, arrays)
        if test_curve is not None:
            self.store.save_part(spec.key, "test_curve", test_curve)
        return self.store.metrics(spec.key)  # the stored copy: another writer may have won

    @staticmethod
    def _identity(spec: RunSpec) -> dict:
        return {"key": spec.key, "trial": spec.trial, "strategy": spec.strategy, "round": spec.round,
                "control": spec.control, "reinit": spec.reinit}

    def _inherited_divergence(self, spec: RunSpec, parent: RunSpec) -> dict:
        nan = float("nan")
        return {**self._identity(spec), "pm": nan, "pm_prunable": nan, "layer_counts": {}, "diverged": True,
                "diverged_because": f"builds on {parent.key}, which diverged", "early_stop_iter": None,
                "test_acc_early_stop": nan, "train_acc_early_stop": nan, "test_acc_end": nan, "train_acc_end": nan,
                "seconds": 0.0, "curves": {"iteration": [], "val_loss": [], "val_acc": []}, **self.seeds(spec)}

    def _complete(self, spec: RunSpec) -> dict:
        """Retrain a stored run (same seeds) for what it lacks: its test curve, or the arrays
        later runs read (a run restored from a ledger that did not keep them)."""
        stored, mask = self.store.metrics(spec.key), self.mask_for(spec)
        missing = [] if has_trunk_arrays(self.store, self.cfg, spec) else list(trunk_arrays(self.cfg, spec))
        wants_curve = spec.test_curve and not self.store.has_part(spec.key, "test_curve")
        why = " and ".join(filter(None, ["test curve" if wants_curve else "", "weights" if missing else ""]))
        result = self.trainer.train(masks.apply(self.start_weights(spec), mask), mask, stored["order_seed"],
                                    stored["noise_seed"], test_curve=wants_curve,
                                    snapshot_at=self.cfg.pruning.rewind_iteration if "rewind" in missing else None,
                                    progress=timing.Heartbeat(f"{spec.key} ({why})", self.log))
        if not _same_curve(stored["curves"], result):
            # Bit-identical on the CPUs tested here; other CPU kinds and GPUs need not be.
            self.log(f"Warning: retraining {spec.key} for its {why} did not reproduce its stored validation curve "
                     f"exactly (trained on {stored.get('trained_on', 'another machine')}); its {why} come(s) from "
                     "the retrained copy.")
        if missing:
            produced = {"mask": mask, "final": result.final_weights, "rewind": result.snapshot}
            self.store.add_arrays(spec.key, {name: produced[name] for name in missing})
        if wants_curve:
            self.store.save_part(spec.key, "test_curve", _test_curve(result))
        return stored

    def run(self, specs: list[RunSpec]) -> dict:
        """Train, in this process, every run in `specs` (plus dependencies) not stored yet."""
        return scheduling.run_graph(with_dependencies(specs), self.is_stored, scheduling.InProcess(self),
                                    describe_run, self.log, timing.store_timing(self.store, lambda spec: self.cfg))

    def is_stored(self, spec: RunSpec) -> bool:
        return is_stored(self.store, spec)

def unpruned_source(store: RunStore, cfg: ExperimentConfig, spec: RunSpec) -> RunStore | None:
    """A store holding `spec`'s round 0 under other pruning settings (another strategy,
    scope or rate) with the same training, data and seed, if `spec` is round 0: it trains
    the dense network from theta_0, which the pruning settings, part of the store's
    identity, do not change. None when `cfg` keeps a rewind point, which round 0 must record."""
    if not spec.is_unpruned or records_rewind_point(cfg):
        return None
    return next((other for other in store.differing_only_in(("pruning",))
                 if other.has(spec.key) and has_trunk_arrays(other, cfg, spec)), None)


def copy_source_name(store: RunStore, cfg: ExperimentConfig, spec: RunSpec) -> str | None:
    """The store a run not stored yet will be copied from rather than trained, if any."""
    source = None if store.has(spec.key) else unpruned_source(store, cfg, spec)
    return source and source.dir.name


def is_stored(store: RunStore, spec: RunSpec) -> bool:
    """Stored, with a test curve if the run asks for one and its arrays if later runs read
    them (`spec.weights`); diverged runs need neither."""
    if not store.has(spec.key):
        return False
    if store.metrics(spec.key).get("diverged"):
        return True
    curve = not spec.test_curve or store.has_part(spec.key, "test_curve")
    return curve and (not spec.weights or store.has_arrays(spec.key, ("mask", "final")))


def has_trunk_arrays(store: RunStore, cfg: ExperimentConfig, spec: RunSpec) -> bool:
    return store.has_arrays(spec.key, trunk_arrays(cfg, spec))


def _same_curve(stored: dict, result) -> bool:
    """Whether a retrained run's validation losses equal the stored ones at the stored
    evaluations (a ledger converted from tables keeps only some of them)."""
    at = {int(i): v for i, v in zip(result.iterations.tolist(), result.val_loss.tolist())}
    pairs = [(at.get(int(i)), v) for i, v in zip(stored["iteration"], stored["val_loss"]) if v is not None]
    return all(a is not None and np.array_equal(a, b, equal_nan=True) for a, b in pairs)


def _test_curve(result) -> dict:
    return {"test_loss": result.test_loss.tolist(), "test_acc": result.test_acc.tolist()}


def describe_run(spec: RunSpec, m: dict) -> str:
    """One progress line for a finished run."""
    if m.get("diverged"):
        return f"{spec.key}: DIVERGED ({m.get('diverged_because', 'non-finite validation loss')})"
    return (f"{spec.key}: Pm {m['pm']:.1f}%, early stop {m['early_stop_iter']}, test acc "
            f"{m['test_acc_early_stop']:.4f} there, {m['test_acc_end']:.4f} at end")
