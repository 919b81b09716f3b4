import importlib.util
import os
from pathlib import Path

import pytest
import tensorflow as tf

import tf_lottery  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tf_lottery.config import DataConfig, ExperimentConfig, StudyConfig, TrainingConfig
from tf_lottery.data.datasets import Dataset, Split, load_dataset

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]
# Script flags that train in the test process, whose TensorFlow is already running (so its
# threads are set).
IN_THIS_PROCESS = ("--workers", "1", "--threads-per-worker", "0")

# Two logical CPU devices, so MirroredStrategy has two replicas without a GPU; must be set
# before TensorFlow initializes. The default strategy keeps using the first one.
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(scope="session")
def mirrored() -> tf.distribute.MirroredStrategy:
    """Two replicas on the two logical CPUs; one instance for the whole session, since
    strategies created anew reuse collective-op keys that eager collectives then mismatch."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def without_data(what: str) -> None:
    """Skip a test whose data is not here; in CI (CI=true), where it must be, fail instead."""
    reason = f"{what} not found at {SHARED_DATA}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI runs with ../shared/data beside the project (see its README).")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "mnist").is_dir():
        without_data("real MNIST")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist(data_dir) -> Dataset:
    return load_dataset("mnist", data_dir)


@pytest.fixture(scope="session")
def small_mnist(mnist) -> Dataset:
    """Real MNIST, cut down so a few hundred steps and evaluations take a second."""
    def head(split, n):
        return Split(split.x[:n], split.y[:n])

    return Dataset("mnist", head(mnist.train, 3000), head(mnist.validation, 500), head(mnist.test, 500), 10,
                   mnist.source)


def tiny_config(**study) -> ExperimentConfig:
    return ExperimentConfig(
        data=DataConfig(),
        training=TrainingConfig(iterations=200, eval_every=100, steps_per_call=50),
        study=StudyConfig(**{"trials": 1, "rounds": 2, "control_rounds": (2,), "reinits": 1, **study}),
    )


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch):
    monkeypatch.delenv("TF_LOTTERY_DATA_DIR", raising=False)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def load_script(name):
    """A script of reproductions/ as a module, to call its main() in the test process."""
    path = ROOT / "reproductions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
