"""The compiled training loop.

Speed on a CPU comes from the loop around the model, not the model: the data live in
memory as tensors, each call of one XLA-compiled `tf.function` runs `steps_per_call` steps
gathering its batches in-graph from precomputed indices, and evaluation is a raw forward
pass in another compiled function. One `Trainer` serves every run of a study: a new run
assigns weights, masks and a zeroed optimizer state to the same variables, so nothing is
retraced or recompiled between runs.

Under a multi-replica strategy (mirrored, multi-worker, TPU) the same loop runs each step
with `strategy.run`: every replica takes its contiguous slice of the global batch, the
optimizer sums the replicas' gradients (the loss is scaled by the global batch size, so
the update equals the single-device one up to float rounding; augmentation draws for the
global batch and batch norm, by default, normalizes over it too), and evaluation splits each
data set across replicas and sums their losses and hits. There the loop is a plain
`tf.function` (XLA-compiled per replica on TPU by the strategy itself), since one XLA
cluster cannot span replicas. On one device, `jit` chooses XLA (right for dense models on
a CPU and for everything on GPUs; on a CPU, XLA's convolution backward pass is
pathologically slow, so conv nets train as plain `tf.function`s using oneDNN there).

Every random draw of a run comes from the run's seeds: batch order from `order_seed`,
dropout (run-seeded generators) and augmentation (stateless, keyed by the step) from
`noise_seed`. The training step may not draw from TensorFlow's process-wide random state,
whose draws would depend on the runs a worker trained before; the trainer refuses such a
model (re-seeding that state per run would clear TensorFlow's kernel cache, which costs a
conv net seconds of re-instantiation every run). A diverged run (non-finite validation
loss) stops and is returned marked as such, since in learning-rate sweeps divergence is a
result. Given a `Checkpoint`, a run saves its progress as it trains and resumes from it
(see `checkpoint.py`).
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf

from tf_lottery.config import SettingsError, TrainingConfig
from tf_lottery.data.datasets import Dataset
from tf_lottery.machine import cpu_kind, intra_op_threads
from tf_lottery.models import keras_masks
from tf_lottery.models.layers import RunSeededDropout, reset_random_state
from tf_lottery.pruning import masks
from tf_lottery.training.augment import pad_crop_flip
from tf_lottery.stopping import StopRequested
from tf_lottery.training.checkpoint import Checkpoint, run_digest
from tf_lottery.training.schedules import optimizer_for

# Random ops that draw from the process-wide state (held by their kernels, seeded by
# tf.random.set_seed). Run-seeded generators (RngReadAndSkip + stateless ops) are not among them.
GLOBAL_RANDOM_OPS = frozenset({"RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
                               "ParameterizedTruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
                               "RandomPoisson", "RandomPoissonV2"})


@dataclass
class RunResult:
    iterations: np.ndarray  # evaluation points
    val_loss: np.ndarray
    val_acc: np.ndarray
    test_loss: np.ndarray | None  # None unless the run was asked for test curves
    test_acc: np.ndarray | None
    early_stop_iter: int | None  # iteration of minimum validation loss (first one on ties); None if diverged
    test_acc_early_stop: float  # of the weights at the early-stop iteration
    train_acc_early_stop: float
    test_acc_end: float
    train_acc_end: float
    final_weights: dict
    seconds: float
    diverged: bool = False
    snapshot: dict | None = None  # the weights at `snapshot_at`, if asked for
    resumed_at: int = 0  # the iteration a checkpoint resumed it from (0: trained in one go)
    trained_on: str = ""  # the CPU(s), with the iterations each trained if it resumed on another
    steady_seconds: float = 0.0  # `seconds` without stalls (see steady_seconds)
    # CPU time of the process(es) that trained it, all threads: the work the run took, whatever
    # the worker layout (what time estimates use); None if resumed from a checkpoint without it.
    cpu_seconds: float | None = None


@dataclass
class _Progress:
    """Where a run stands besides its variables; a checkpoint saves both."""
    curves: np.ndarray  # per evaluation point: validation loss and accuracy, test loss and accuracy
    snapshot: dict | None = None  # the weights at `snapshot_at`, once reached
    step: int = 0
    best: float = np.inf  # the lowest validation loss so far, at curve row `best_row`
    best_row: int = 0
    seconds_before: float = 0.0  # trained before this process resumed the run
    cpu_seconds_before: float | None = 0.0  # the CPU time of that (None: not recorded by older code)
    segments: list = field(default_factory=list)  # [CPU, first iteration] of each process that trained it
    intervals: list = field(default_factory=list)  # wall seconds of each evaluation interval


def _plus(before: float | None, here: float) -> float | None:
    """A total that is unknown once any part of it is."""
    return None if before is None else round(before + here, 1)


def trained_by() -> str:
    """The CPU kind and TensorFlow's intra-op thread count of this process: a run's floats
    differ with either (oneDNN picks other kernels and splits; Conv-2 on 1 and 2 threads did)."""
    threads = intra_op_threads()
    return f"{cpu_kind()}, {threads} thread{'' if threads == 1 else 's'}"


def where_trained(segments: list, iterations: int) -> str:
    """[`trained_by()`, first iteration] of each process that trained a run -> that text, or
    each with its iterations when a checkpoint was resumed on another kind of machine or
    thread count."""
    merged = [s for i, s in enumerate(segments) if i == 0 or s[0] != segments[i - 1][0]]
    if len(merged) == 1:
        return merged[0][0]
    ends = [start for _, start in merged[1:]] + [iterations]
    return "; ".join(f"{cpu} (iterations {start:,}-{end:,})" for (cpu, start), end in zip(merged, ends))


STALLED = 1.5  # an evaluation interval this many times the median one was stalled


def steady_seconds(seconds: float, intervals: list) -> float:
    """`seconds` without the stalls wall time counts (a paused process, cores shared with
    other work for a while), which would inflate later runs' time estimates: a stalled
    evaluation interval counts as the median one. Never more than `seconds`."""
    median = float(np.median(intervals)) if intervals else 0.0
    return seconds - sum(t - median for t in intervals if t > STALLED * median)


def require_batch_fits(batch_size: int, n: int) -> None:
    if batch_size > n:
        raise SettingsError(f"The batch of {batch_size} exceeds the {n} training examples (what --max-examples "
                            f"and --validation-size leave); choose a smaller --batch-size.")


def batch_indices(n: int, batch_size: int, seed: int, start_step: int, steps: int) -> np.ndarray:
    """Example indices for steps [start_step, start_step + steps), shape [steps, batch_size].

    Each epoch is a fresh permutation of the n examples (seeded by (seed, epoch)), cut into
    n // batch_size batches; the remainder of each permutation is dropped. Depends only on
    the global step, so any chunking of a run sees the same batches.
    """
    require_batch_fits(batch_size, n)
    per_epoch = n // batch_size
    out = np.empty((steps, batch_size), np.int32)
    step = start_step
    while step < start_step + steps:
        epoch, pos = divmod(step, per_epoch)
        take = min(per_epoch - pos, start_step + steps - step)
        rows = _epoch_batches(n, batch_size, seed, epoch)[pos : pos + take]
        out[step - start_step : step - start_step + take] = rows
        step += take
    return out


@functools.lru_cache(maxsize=2)  # one epoch spans many chunks: shuffle it once
def _epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    per_epoch = n // batch_size
    batches = np.random.default_rng([seed, epoch]).permutation(n)[: per_epoch * batch_size]
    batches = batches.reshape(per_epoch, batch_size)
    batches.flags.writeable = False
    return batches


def global_random_ops(function: tf.types.experimental.ConcreteFunction) -> set[str]:
    """The process-wide random ops in `function`'s graph, loop bodies included."""
    graph = function.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    ops.update(node.op for f in graph.library.function for node in f.node_def)
    return ops & GLOBAL_RANDOM_OPS


def start_run(model, optimizer, start_weights: dict, mask: dict) -> None:
    """Start a run on reused variables: weights (batch-norm statistics included) and masks
    as given, optimizer state zeroed (its step counter too, which restarts any learning-rate
    schedule), which is exactly the state of a freshly created optimizer."""
    masks.validate(mask, start_weights)
    keras_masks.set_masks(model, mask)
    keras_masks.set_weights(model, start_weights)
    for v in optimizer.variables:
        v.assign(tf.zeros_like(v))


class Trainer:
    """Trains one model (built under `strategy`) on one data set, run after run."""

    def __init__(self, model, dataset: Dataset, cfg: TrainingConfig, strategy: tf.distribute.Strategy,
                 jit: bool = True):
        cfg.validate()  # the step arithmetic below relies on it, whoever built the trainer
        self.model, self.cfg, self.strategy = model, cfg, strategy
        self.n_train = len(dataset.train)
        require_batch_fits(cfg.batch_size, self.n_train)  # before anything is built or trained
        self.replicas = strategy.num_replicas_in_sync
        if cfg.batch_size % self.replicas:
            raise SettingsError(f"The global batch of {cfg.batch_size} cannot be split evenly across "
                             f"{self.replicas} replicas; choose a batch size divisible by {self.replicas}.")
        self.distributed = self.replicas > 1 or isinstance(strategy, tf.distribute.TPUStrategy)
        self.jit = jit and not self.distributed
        with strategy.scope():
            self.optimizer = optimizer_for(cfg)
            self.optimizer.build(model.trainable_variables)
            self._best = [tf.Variable(v, trainable=False) for v in keras_masks.model_weights(model)]
            self._noise_seed = tf.Variable(0, dtype=tf.int64, trainable=False)
            # Variables, so that each replica reads its own on-device copy.
            self._splits = {
                name: (tf.Variable(split.x, trainable=False), tf.Variable(split.y, trainable=False))
                for name, split in (("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test))
            }
        self._train_chunk = tf.function(self._train_chunk_fn, jit_compile=self.jit)
        drawn = global_random_ops(self._train_chunk.get_concrete_function(
            tf.TensorSpec([cfg.steps_per_call, cfg.batch_size], tf.int32)))  # the trace every chunk reuses
        if drawn:
            raise ValueError(f"Model {model.name!r} draws from TensorFlow's process-wide random state in training "
                             f"({', '.join(sorted(drawn))}), so its runs would depend on what ran before them. Use "
                             "tf_lottery.models.layers.RunSeededDropout for dropout, stateless ops for the rest.")
        self._evaluate = tf.function(self._evaluate_distributed_fn if self.distributed else self._evaluate_fn,
                                     jit_compile=self.jit)
        weights = keras_masks.model_weights(model)  # a run's masks do not change while it trains
        self._save_best = tf.function(lambda: [b.assign(v) for b, v in zip(self._best, weights)])
        self._load_best = tf.function(lambda: [v.assign(b) for b, v in zip(self._best, weights)])
        # Everything the rest of a run reads besides the data (a checkpoint's contents).
        generators = [layer.generator.state for layer in model.submodules if isinstance(layer, RunSeededDropout)]
        self._run_state = [*weights, *self.optimizer.variables, *self._best, *generators]

    # -- compiled pieces -------------------------------------------------------------
    def _step_fn(self, batch):
        first = 0
        if self.distributed:
            per_replica = self.cfg.batch_size // self.replicas
            first = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
            batch = tf.slice(batch, [first], [per_replica])
        x_all, y_all = self._splits["train"]
        x, y = tf.gather(x_all, batch), tf.gather(y_all, batch)
        if self.cfg.augment:
            x = pad_crop_flip(x, tf.stack([self._noise_seed, tf.cast(self.optimizer.iterations, tf.int64)]), first,
                              self.cfg.batch_size)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.cfg.batch_size)
        grads = tape.gradient(loss, variables)
        if self.cfg.weight_decay:  # L2 through the gradient, as SGD(weight_decay) in the authors' later code;
            decay = self.cfg.weight_decay / self.replicas  # replicas' gradients are summed
            grads = [g + decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))  # also applies the mask constraints
        return loss

    def _train_chunk_fn(self, indices):
        for i in tf.range(tf.shape(indices)[0]):
            self.strategy.run(self._step_fn, args=(indices[i],))

    def _losses_and_hits(self, x, y):
        logits = self.model(x, training=False)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        return loss, tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32)

    def _evaluate_fn(self, split):
        x, y = self._splits[split]
        n, size = x.shape[0], self.cfg.eval_batch_size
        if n <= size:
            loss, hits = self._losses_and_hits(x, y)
            return tf.reduce_mean(loss), tf.reduce_mean(hits)
        # Fixed-size batches bound the memory; the last one is padded and the padding masked out.
        loss_sum, hit_sum = tf.constant(0.0), tf.constant(0.0)
        for start in tf.range(0, n, size):
            rows = start + tf.range(size)
            valid = tf.cast(rows < n, tf.float32)
            rows = tf.minimum(rows, n - 1)
            loss, hits = self._losses_and_hits(tf.gather(x, rows), tf.gather(y, rows))
            loss_sum += tf.reduce_sum(loss * valid)
            hit_sum += tf.reduce_sum(hits * valid)
        return loss_sum / n, hit_sum / n

    def _evaluate_shard_fn(self, x, y):
        """Summed loss and hits over this replica's equal share (static shape, padded)."""
        ctx = tf.distribute.get_replica_context()
        n = tf.shape(x)[0]
        per_replica = -(-x.shape[0] // self.replicas)
        rows = ctx.replica_id_in_sync_group * per_replica + tf.range(per_replica)
        valid = tf.cast(rows < n, tf.float32)
        rows = tf.minimum(rows, n - 1)
        loss, hits = self._losses_and_hits(tf.gather(x, rows), tf.gather(y, rows))
        return tf.reduce_sum(loss * valid), tf.reduce_sum(hits * valid)

    def _evaluate_distributed_fn(self, split):
        x, y = self._splits[split]
        per_replica = self.strategy.run(self._evaluate_shard_fn, args=(x, y))
        loss, hits = (self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in per_replica)
        n = tf.cast(tf.shape(x)[0], tf.float32)
        return loss / n, hits / n

    def evaluate(self, split: str) -> tuple[float, float]:
        loss, acc = self._evaluate(split)  # one trace per split name, reading that split's variables
        return float(loss), float(acc)

    # -- one run -----------------------------------------------------------------------
    def reset(self, start_weights: dict, mask: dict, noise_seed: int = 0) -> None:
        """Start a run: weights, masks, a fresh optimizer, and every random stream re-seeded."""
        start_run(self.model, self.optimizer, start_weights, mask)
        reset_random_state(self.model, noise_seed)
        self._noise_seed.assign(noise_seed)

    def train(self, start_weights: dict, mask: dict, order_seed: int, noise_seed: int = 0,
              test_curve: bool = True, snapshot_at: int | None = None,
              progress: Callable[[int, int], None] | None = None, checkpoint: Checkpoint | None = None,
              on_evaluation: Callable[[int, dict], None] | None = None) -> RunResult:
        """Train from `start_weights` (already masked) for cfg.iterations steps.

        Validation is evaluated every `eval_every` iterations (early stopping needs it);
        the test set too if `test_curve`, else only at the end and, from the weights saved
        at the minimum validation loss, at the early-stop iteration: the same numbers.
        `snapshot_at` (a multiple of steps_per_call) also returns the weights at that step.
        `progress(step, iterations)` is called after each evaluation, and `on_evaluation(step,
        {tag: value})` with its losses and accuracies (TensorBoard's). With `checkpoint`, the
        run starts from its saved progress if there is any for these inputs, saves its
        progress after an evaluation when `checkpoint.every_seconds` have passed, and after
        any chunk of steps when `checkpoint.stop_requested()`, raising `StopRequested`.
        """
        if snapshot_at is not None and (snapshot_at % self.cfg.steps_per_call or snapshot_at > self.cfg.iterations):
            raise ValueError(f"snapshot_at ({snapshot_at}) must be a multiple of steps_per_call within the run.")
        cfg, t0, cpu0 = self.cfg, time.perf_counter(), time.process_time()
        self.reset(start_weights, mask, noise_seed)
        points = np.arange(cfg.eval_every, cfg.iterations + 1, cfg.eval_every)
        digest = run_digest(start_weights, mask, training=dataclasses.asdict(cfg), order_seed=order_seed,
                            noise_seed=noise_seed, test_curve=test_curve, snapshot_at=snapshot_at) if checkpoint else None
        run = self._resume(checkpoint, digest) or _Progress(
            curves=np.full((len(points), 4), np.nan),
            snapshot=keras_masks.get_weights(self.model) if snapshot_at == 0 else None)
        resumed_at = run.step
        run.segments.append([trained_by(), run.step])
        last_save = interval_start = time.perf_counter()

        def save_progress():
            checkpoint.save(*self._checkpoint_contents(run, digest, time.perf_counter() - t0,
                                                       time.process_time() - cpu0))

        def stop_if_requested():
            if checkpoint and checkpoint.stop_requested():
                save_progress()
                raise StopRequested(run.step)

        for row, point in enumerate(points):
            if point <= run.step:
                continue  # trained before the checkpoint
            while run.step < point:
                self._train_chunk(batch_indices(self.n_train, cfg.batch_size, order_seed, run.step, cfg.steps_per_call))
                run.step += cfg.steps_per_call
                if run.step == snapshot_at:
                    run.snapshot = keras_masks.get_weights(self.model)
                if run.step < point:  # at an evaluation point, stop after the evaluation
                    stop_if_requested()
            if not self._record_evaluation(run, row, test_curve):
                break  # diverged: the rest of the curves stay NaN
            if on_evaluation is not None:
                on_evaluation(run.step, dict(zip(("validation/loss", "validation/accuracy", "test/loss",
                                                  "test/accuracy"), run.curves[row])))
            if progress is not None:
                progress(run.step, cfg.iterations)
            now = time.perf_counter()
            run.intervals.append(round(now - interval_start, 3))
            interval_start = now
            if checkpoint and run.step < cfg.iterations:
                stop_if_requested()
                if time.perf_counter() - last_save >= checkpoint.every_seconds:
                    save_progress()
                    last_save = time.perf_counter()
        return self._result(run, points, test_curve, time.perf_counter() - t0, time.process_time() - cpu0,
                            resumed_at)

    def _record_evaluation(self, run: _Progress, row: int, test_curve: bool) -> bool:
        """Fill curve row `row` and keep the weights of the lowest validation loss so far;
        False if the run diverged."""
        run.curves[row, :2] = self.evaluate("validation")
        if test_curve:
            run.curves[row, 2:] = self.evaluate("test")
        if not np.isfinite(run.curves[row, 0]):
            return False
        if run.curves[row, 0] < run.best:  # strict: the first minimum wins ties
            run.best, run.best_row = run.curves[row, 0], row
            self._save_best()
        return True

    def _result(self, run: _Progress, points: np.ndarray, test_curve: bool, seconds_here: float,
                cpu_seconds_here: float, resumed_at: int) -> RunResult:
        """The finished run's result; evaluates what the curves lack, then loads the best weights."""
        curves, seconds = run.curves, run.seconds_before + seconds_here
        common = dict(iterations=points, val_loss=curves[:, 0], val_acc=curves[:, 1],
                      test_loss=curves[:, 2] if test_curve else None, test_acc=curves[:, 3] if test_curve else None,
                      final_weights=keras_masks.get_weights(self.model), seconds=seconds, snapshot=run.snapshot,
                      resumed_at=resumed_at, trained_on=where_trained(run.segments, self.cfg.iterations),
                      steady_seconds=steady_seconds(seconds, run.intervals),
                      cpu_seconds=_plus(run.cpu_seconds_before, cpu_seconds_here))
        if not np.all(np.isfinite(curves[:, :2])):  # diverged: no early stop, no accuracies
            nan = float("nan")
            return RunResult(**common, early_stop_iter=None, test_acc_early_stop=nan, train_acc_early_stop=nan,
                             test_acc_end=nan, train_acc_end=nan, diverged=True)
        test_end = curves[-1, 3] if test_curve else self.evaluate("test")[1]
        train_acc_end = self.evaluate("train")[1]
        if run.best_row == len(points) - 1:
            # The best weights are the final ones (a network still improving at its end): their accuracies
            # are known, and evaluating the 45,000 training images again costs a VGG-19 run minutes.
            test_es, train_acc_es = test_end, train_acc_end
        else:
            self._load_best()
            test_es = curves[run.best_row, 3] if test_curve else self.evaluate("test")[1]
            train_acc_es = self.evaluate("train")[1]
        return RunResult(**common, early_stop_iter=int(points[run.best_row]), test_acc_early_stop=float(test_es),
                         train_acc_early_stop=train_acc_es, test_acc_end=float(test_end), train_acc_end=train_acc_end)

    def _checkpoint_contents(self, run: _Progress, digest: str, seconds_here: float,
                             cpu_seconds_here: float) -> tuple[dict, dict]:
        arrays = {f"state{i}": v.numpy() for i, v in enumerate(self._run_state)}
        arrays.update({f"snapshot/{k}": v for k, v in (run.snapshot or {}).items()}, curves=run.curves)
        return arrays, dict(digest=digest, step=run.step, best=float(run.best), best_row=run.best_row,
                            seconds=run.seconds_before + seconds_here,
                            cpu_seconds=_plus(run.cpu_seconds_before, cpu_seconds_here), segments=run.segments,
                            interval_seconds=run.intervals, snapshot=run.snapshot is not None)

    def _resume(self, checkpoint: Checkpoint | None, digest: str | None) -> _Progress | None:
        """The saved progress of this very run, its variables restored; None if there is none."""
        saved = checkpoint.load() if checkpoint else None
        if saved is None or saved[1].get("digest") != digest:
            return None
        arrays, meta = saved
        for i, v in enumerate(self._run_state):
            v.assign(arrays[f"state{i}"])
        snapshot = {k.split("/", 1)[1]: a for k, a in arrays.items() if k.startswith("snapshot/")}
        checkpoint.resumed(meta["step"])
        return _Progress(arrays["curves"], snapshot if meta["snapshot"] else None, step=meta["step"],
                         best=meta["best"], best_row=meta["best_row"], seconds_before=meta["seconds"],
                         cpu_seconds_before=meta.get("cpu_seconds"),
                         segments=meta.get("segments", [["not recorded", 0]]),  # checkpoints saved before they were
                         intervals=meta.get("interval_seconds", []))
