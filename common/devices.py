"""Devices, replicas and number formats: tf.distribute, mixed precision, seeding.

The variants' steps are plain per-replica functions; `distribute` turns each into one
tf.function that runs it on every replica, so the algorithm reads the same with one
device or many.
"""
import os

from common.cli import UserError


def make_strategy(name):
    """The tf.distribute strategy for --strategy; create it before any other TensorFlow work."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--strategy=multi_worker needs TF_CONFIG (the cluster and this worker's index)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True for the one process that writes logs, samples and checkpoints (worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def replica_batch_size(config, strategy):
    """--batch_size is global: split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if config["batch_size"] % replicas:
        raise UserError(f"--batch_size={config['batch_size']} does not split over {replicas} replicas")
    return config["batch_size"] // replicas


def distribute(strategy, step, jit_compile=False):
    """A tf.function that runs `step` on every replica and averages the metrics it returns.

    `step` returns a dict of scalars. With one device this is just tf.function(step).
    """
    import tensorflow as tf

    replica_step = tf.function(step, jit_compile=True) if jit_compile else step

    @tf.function
    def distributed_step(*args):
        metrics = strategy.run(replica_step, args=args)
        return {key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for key, value in metrics.items()}

    return distributed_step


def set_precision(config):
    """Keras' global dtype policy for --mixed_precision; call it before building the models."""
    import keras

    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[config["mixed_precision"]]
    keras.mixed_precision.set_global_policy(policy)


def for_precision(optimizer, config):
    """The optimizer, with a dynamic loss scale under float16 (whose small gradients would underflow).

    The steps differentiate optimizer.scale_loss(loss); apply_gradients divides the
    scale out again and skips a step whose gradients overflowed.
    """
    import keras

    if config["mixed_precision"] == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def seed_everything(seed):
    import keras

    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
