"""Tickets that leave the package: exported from a store or a results ledger, loaded back
as Keras models ready to train (their zeros kept) and as trained, and as plain arrays."""
import numpy as np
import pytest
import tf_keras

from conftest import tiny_config
from tf_lottery.execution.store import RunStore
from tf_lottery.lottery.experiment import LotteryExperiment, RunSpec, plan
from tf_lottery.tickets import TicketError, export_ticket, load_ticket, main, ticket_from


@pytest.fixture(scope="module")
def trained(small_mnist, tmp_path_factory):
    root = tmp_path_factory.mktemp("tickets")
    cfg = tiny_config()
    experiment = LotteryExperiment(cfg, small_mnist, RunStore(root / "runs", "lenet300_100", cfg), log=lambda *_: None)
    experiment.run(plan(cfg))
    return experiment, root


def test_a_ticket_exported_from_a_store_loads_ready_to_train_and_as_trained(trained, small_mnist, tmp_path):
    experiment, root = trained
    spec = RunSpec(0, "iterative", 2)
    export_ticket(ticket_from(root / "runs", spec.key), tmp_path)
    back = load_ticket(tmp_path)
    mask, theta0 = experiment.store.arrays(spec.key, "mask"), experiment.theta0(0)
    assert set(back.mask) == set(mask) and all(np.array_equal(back.mask[n], mask[n]) for n in mask)
    assert all(np.array_equal(back.initial[n], theta0[n]) for n in theta0)
    ready = tf_keras.models.load_model(tmp_path / "initial.keras")
    kernel = {layer.name: layer for layer in ready.layers}["fc1"].kernel.numpy()
    np.testing.assert_array_equal(kernel, theta0["fc1/kernel"] * mask["fc1/kernel"])
    done = tf_keras.models.load_model(tmp_path / "trained.keras")
    accuracy = np.mean(np.argmax(done.predict(small_mnist.test.x, verbose=0), 1) == small_mnist.test.y)
    assert accuracy == pytest.approx(experiment.store.metrics(spec.key)["test_acc_end"], abs=1e-6)


def test_a_reinit_exports_its_tickets_mask_and_its_own_start(trained, tmp_path):
    experiment, root = trained
    spec = RunSpec(0, "iterative", 2, "reinit", 0)
    ticket = ticket_from(root / "runs", spec.key)
    assert np.array_equal(ticket.mask["fc1/kernel"], experiment.store.arrays(RunSpec(0, "iterative", 2).key,
                                                                             "mask")["fc1/kernel"])
    assert not np.array_equal(ticket.initial["fc1/kernel"], experiment.theta0(0)["fc1/kernel"])


def test_what_cannot_be_exported_is_one_line(trained, tmp_path, capsys):
    _, root = trained
    assert main(["export", str(root / "runs"), "--round", "9", "--out", str(tmp_path)]) == 2
    assert "holds no run trial0/iterative/round09/ticket" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    with pytest.raises(TicketError, match="neither a results folder"):
        ticket_from(tmp_path / "nothing", "trial0/iterative/round00/ticket")
