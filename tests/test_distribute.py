"""Training under tf.distribute: two replicas on two logical CPU devices (see conftest), and
two multi-worker processes talking over loopback."""
import dataclasses
import json
import socket
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tf_lottery.config import TrainingConfig
from tf_lottery.data.datasets import Split
from tf_lottery import machine
from tf_lottery.execution import distribute
from tf_lottery.models import keras_masks
from tf_lottery.models.registry import build_model, initial_weights
from tf_lottery.pruning import masks
from tf_lottery.pruning import rules as pruning
from tf_lottery.training.trainer import Trainer

from test_parallel import ENV, fig4, summary

CFG = TrainingConfig(iterations=300, eval_every=100, steps_per_call=50)


def masked_run(dataset, strategy, cfg=CFG):
    with strategy.scope():
        model, groups = build_model("lenet300_100", (28, 28, 1), 10)
    trainer = Trainer(model, dataset, cfg, strategy)
    theta0 = initial_weights(model, 1)
    mask = pruning.random_pruning(masks.full_mask(theta0, groups), {n: 0.7 for n in groups}, 0)
    return trainer.train(masks.apply(theta0, mask), mask, order_seed=0), model, mask


@pytest.fixture(scope="module")
def runs(small_mnist, mirrored):
    assert mirrored.num_replicas_in_sync == 2
    return masked_run(small_mnist, tf.distribute.get_strategy()), masked_run(small_mnist, mirrored)


def test_mirrored_matches_the_default_strategy(runs):
    (single, _, _), (mirrored, _, _) = runs
    for curve in ("val_loss", "val_acc", "test_loss", "test_acc"):
        np.testing.assert_allclose(getattr(mirrored, curve), getattr(single, curve), rtol=1e-4, atol=1e-4)
    assert mirrored.early_stop_iter == single.early_stop_iter
    for name, w in single.final_weights.items():
        np.testing.assert_allclose(mirrored.final_weights[name], w, atol=1e-4)


def test_pruned_weights_are_exactly_zero_on_every_replica(runs):
    _, (_, model, mask) = runs
    for name, variable in keras_masks.masked_variables(model).items():
        assert len(variable.values) == 2
        for replica in variable.values:
            w = replica.numpy()
            assert np.all(w[mask[name] == 0] == 0.0), (name, replica.device)
            assert np.count_nonzero(w[mask[name] == 1]) > 0.99 * mask[name].sum()
        mask_replicas = variable.constraint.mask.values
        assert all(np.array_equal(m.numpy(), mask[name]) for m in mask_replicas)


def test_evaluation_splits_an_odd_sized_set_across_replicas_exactly(small_mnist, mirrored):
    odd = Split(small_mnist.validation.x[:499], small_mnist.validation.y[:499])
    dataset = dataclasses.replace(small_mnist, validation=odd)
    results = []
    for strategy in (tf.distribute.get_strategy(), mirrored):
        with strategy.scope():
            model, groups = build_model("lenet300_100", (28, 28, 1), 10)
        trainer = Trainer(model, dataset, CFG, strategy)
        theta0 = initial_weights(model, 3)
        trainer.reset(theta0, masks.full_mask(theta0, groups))
        results.append(trainer.evaluate("validation"))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
    hits = results[1][1] * 499
    assert abs(hits - round(hits)) < 1e-3  # whole hits over all 499 examples, none counted twice


def test_a_global_batch_that_does_not_split_evenly_is_refused(small_mnist, mirrored):
    strategy = mirrored
    with strategy.scope():
        model, _ = build_model("lenet300_100", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="cannot be split evenly across 2 replicas"):
        Trainer(model, small_mnist, TrainingConfig(batch_size=61), strategy)


def test_strategy_names_are_checked():
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="Unknown strategy"):
        distribute.make_strategy("horovod")
    with pytest.raises(ValueError, match="--tpu is only used"):
        distribute.make_strategy("mirrored", tpu="local")
    assert distribute.is_chief(tf.distribute.get_strategy())


def test_one_host_of_a_multi_host_tpu_writes():
    def host(task_id, cluster):
        resolver = SimpleNamespace(cluster_spec=lambda: tf.train.ClusterSpec(cluster), task_type="worker",
                                   task_id=task_id)
        return SimpleNamespace(cluster_resolver=resolver)

    pod = {"worker": ["host0:8470", "host1:8470", "host2:8470"]}
    assert [distribute.is_chief(host(i, pod)) for i in range(3)] == [True, False, False]
    assert distribute.is_chief(host(0, {}))  # one TPU VM, no cluster
    assert [distribute.is_chief(host(i, {**pod, "chief": ["c:1"]})) for i in range(3)] == [False, False, False]


def test_thread_limits_are_checked():
    machine.limit_threads(0)  # no cap: always allowed
    with pytest.raises(ValueError, match=">= 0"):
        machine.limit_threads(-1)
    tf.constant(1.0) + 1.0  # TensorFlow has run: too late to change the cap
    cap = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.raises(RuntimeError, match="before TensorFlow executes anything"):
        machine.limit_threads(cap + 1)


@pytest.mark.slow
def test_two_multiworker_processes_match_one_and_only_the_chief_writes(data_dir, tmp_path):
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    workers = [subprocess.Popen(fig4(data_dir, tmp_path / "store", tmp_path / f"results{i}", 1, "--strategy",
                                     "multiworker", iterations=300),
                                env={**ENV, "TMPDIR": str(scratch), "TF_CONFIG": json.dumps(
                                    {"cluster": cluster, "task": {"type": "worker", "index": i}})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    single = subprocess.Popen(fig4(data_dir, tmp_path / "single", tmp_path / "single_results", 1, iterations=300),
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # alongside
    for process in (*workers, single):
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output

    assert not (tmp_path / "results1").exists()  # worker 1 kept its results private
    assert not list(scratch.glob("tf_lottery-*"))  # and removed them
    assert (tmp_path / "store" / ".worker1").is_dir()
    pd.testing.assert_frame_equal(summary(tmp_path / "results0"), summary(tmp_path / "single_results"),
                                  check_exact=False, atol=1e-5)
