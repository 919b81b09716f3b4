"""Where one run trains: a `tf.distribute` strategy (a worker's thread count is a machine
fact: `tf_lottery.machine`)."""
from __future__ import annotations

import tensorflow as tf

from tf_lottery.config import SettingsError

STRATEGIES = ("default", "mirrored", "tpu", "multiworker")


def visible_gpus() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def grow_gpu_memory() -> None:
    """Allocate GPU memory as needed instead of all of it at start, so that processes can
    share a GPU; like `limit_threads`, only before TensorFlow runs its first op."""
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy every model, mask, optimizer and training loop is created under.

    default: one device, the whole 100-step loop XLA-compiled. mirrored: every local GPU
    (or the CPU devices). multiworker: MultiWorkerMirroredStrategy, configured by the
    TF_CONFIG environment variable of each worker. tpu: TPUStrategy on the TPU named by
    `tpu` (a name, grpc:// address, or "local" on a TPU VM).
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")
    if tpu is not None and name != "tpu":
        raise ValueError("--tpu is only used with --strategy tpu.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (tf.errors.OpError, OSError, ValueError) as e:  # no TPU there: the user's to fix, not a crash
        reason = (getattr(e, "message", None) or str(e)).strip().splitlines()[0].split(". ")[0]
        raise SettingsError(f"--strategy tpu --tpu {tpu}: no TPU reached ({reason}). On a TPU VM use --tpu local; "
                            f"elsewhere the TPU's name or grpc:// address.") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes results and store entries: one process of a cluster. The
    chief task, else worker 0: of MultiWorkerMirroredStrategy's workers (TF_CONFIG), and of
    a multi-host TPU's hosts, each of which runs the same program (TPUClusterResolver names
    them worker 0, 1, ...). A single process, or one TPU host, is its own chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    try:
        cluster = resolver.cluster_spec().as_dict()
    except (ValueError, RuntimeError, tf.errors.OpError):  # a resolver that knows no cluster
        return True
    if not cluster or resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and (resolver.task_id or 0) == 0 and "chief" not in cluster
