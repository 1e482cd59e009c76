"""Devices, replicas and number formats: tf.distribute, mixed precision, seeding.

The variants' steps are plain per-replica functions; `distribute` turns each into one
tf.function that runs it on every replica, so the algorithm reads the same with one
device or many. What the replicas and float16 ask of a step is in two helpers, which
every step calls on a line marked `# PLUMBING`: `minimize` (the update) and
`loss_scaled` (a critic differentiated in its inputs, for a gradient penalty).
"""
import contextlib
import os
import sys

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


GPU_INSTALL = 'pip install "tensorflow[and-cuda]==2.21.0"'  # CUDA and cuDNN from pip, to match requirements.txt


def describe_devices(strategy):
    """Where the steps run, for the start-up banner: "on the CPU", "on GPU:0 (NVIDIA ...)", "on 4 GPUs"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "on the CPU"
    if strategy.num_replicas_in_sync > 1:
        return f"on {strategy.num_replicas_in_sync} devices"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    return f"on GPU:0 ({name})" if name else "on GPU:0"


def missing_gpu_warning(tensorflow_gpus, nvidia_smi_gpus, cuda_visible_devices=None):
    """One line when nvidia-smi lists a GPU that TensorFlow does not see, else None.

    tensorflow_gpus: tf.config.list_physical_devices("GPU"); nvidia_smi_gpus: the lines of
    `nvidia-smi -L` (empty where it is missing or fails); cuda_visible_devices: the variable,
    which, set to "" or -1, hides the GPUs on purpose (no warning then).
    """
    if tensorflow_gpus or not nvidia_smi_gpus or cuda_visible_devices in ("", "-1"):
        return None
    return (f"warning: nvidia-smi lists {nvidia_smi_gpus[0].split(' (UUID')[0]}, but TensorFlow sees no GPU and "
            f"trains on the CPU; install TensorFlow with CUDA: {GPU_INSTALL}")


def nvidia_smi_gpus():
    """The GPU lines of `nvidia-smi -L` ("GPU 0: Tesla T4 (UUID: ...)"); [] without a driver."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in listed.stdout.splitlines() if line.startswith("GPU ")] if listed.returncode == 0 else []


def warn_if_gpu_unused():
    """Prints missing_gpu_warning's line on stderr, if there is one."""
    import tensorflow as tf

    warning = missing_gpu_warning(tf.config.list_physical_devices("GPU"), nvidia_smi_gpus(),
                                  os.environ.get("CUDA_VISIBLE_DEVICES"))
    if warning:
        print(warning, file=sys.stderr)


def worker_index(strategy):
    """This process's place in the cluster: 0 for the chief (or worker 0 without one), then 1, 2, ..."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type in (None, "chief"):
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_id + int(has_chief)


def is_chief(strategy):
    """True for the one process that writes logs, samples and checkpoints.

    TensorFlow's rule: the `chief` task if the cluster has one, else worker 0.
    """
    return worker_index(strategy) == 0


def replica_batch_size(batch_size, strategy):
    """Each replica's share of --batch_size, which is global: split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(f"--batch_size={batch_size} does not split over {replicas} replicas")
    return batch_size // replicas


def distribute(strategy, step, jit_compile=False):
    """A tf.function that runs `step` on every replica and averages the metrics it returns.

    `step` returns a dict of scalars. With one device this is just tf.function(step).
    Traced without AutoGraph: the steps branch and loop only on Python values (flags,
    lists of variables), so the graph is the same, and tracing skips AutoGraph's rewrite of
    the step's source (about a third of a tiny run's CPU time).
    """
    import tensorflow as tf

    replica_step = tf.function(step, jit_compile=True, autograph=False) if jit_compile else step

    @tf.function(autograph=False)
    def distributed_step(*args):
        metrics = strategy.run(replica_step, args=args)
        return {key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for key, value in metrics.items()}

    return distributed_step


def minimize(model, optimizer, tape, loss):
    """One update of the model's trainable weights down the gradient of `loss`, as `tape`
    recorded it; the step calls it inside the tape's block, after the loss. PLUMBING: two
    scalings the papers' Algorithms do not have.

    Replicas: tf.distribute sums the replicas' gradients, so each replica's loss counts
    1/replicas (the mean over the global batch). float16: the optimizer (for_precision)
    multiplies the loss by its dynamic loss scale, so that small gradients do not underflow,
    divides the gradients by it again, and skips an update whose gradients overflowed.
    With one replica and no float16, both are multiplications by 1.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    scaled_loss = optimizer.scale_loss(loss / replicas)
    gradients = tape.gradient(scaled_loss, model.trainable_variables)  # the tape records no more
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))


def loss_scaled(critic, optimizer):
    """`critic` (samples [N, ...] -> values [N, 1]), differentiated in its samples under the
    optimizer's float16 loss scale; for a gradient penalty. PLUMBING.

    The values are the critic's. A gradient that reaches the values is multiplied by the
    loss scale on its way in, and divided by it on its way out at the samples, so that the
    small gradients inside the critic do not underflow in float16; the scale is a power of
    two, so the gradient at the samples is exactly the unscaled one. Without a loss scale
    (float32, bfloat16) the critic itself.
    """
    import keras
    import tensorflow as tf

    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return critic
    scale = optimizer.scale_loss(1.0)

    def scaled(samples):  # the values in float32, where the scale multiplies the gradient
        values = tf.cast(critic(gradient_times(samples, 1.0 / scale)), tf.float32)
        return gradient_times(values, scale)

    return scaled


def gradient_times(values, factor):
    """The values unchanged; the gradient that flows back through them is multiplied by `factor`."""
    import tensorflow as tf

    @tf.custom_gradient
    def identity(x):
        return tf.identity(x), lambda upstream: upstream * tf.cast(factor, upstream.dtype)

    return identity(values)


BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 instructions that compute in bfloat16


def cpu_flags():
    """An x86 CPU's feature flags from /proc/cpuinfo (Linux); None elsewhere (no guessing)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = {flag for line in f if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:
        return None
    return flags or None


def set_precision(mixed_precision):
    """Keras' global dtype policy for --mixed_precision (off, float16 or bfloat16); call it
    before building the models.

    bfloat16 on a CPU (no GPU visible) without bfloat16 instructions gets a warning: there
    TensorFlow emulates it, which is slower than float32 (README, Speed).
    """
    import keras
    import tensorflow as tf

    flags = cpu_flags()
    if (mixed_precision == "bfloat16" and flags is not None and not tf.config.list_physical_devices("GPU")
            and not flags.intersection(BFLOAT16_CPU_FLAGS)):
        print("WARNING: --mixed_precision=bfloat16 on a CPU without AVX-512 BF16 or AMX: emulated, so slower "
              "than float32 (2.2x measured on AVX-512 without BF16; oneDNN aborts on AVX2-only CPUs)",
              file=sys.stderr)
    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[mixed_precision]
    keras.mixed_precision.set_global_policy(policy)


@contextlib.contextmanager
def float32_policy():
    """Keras' global dtype policy set to float32 inside the block, whatever it was before."""
    import keras

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def for_precision(optimizer, mixed_precision):
    """The optimizer, with a dynamic loss scale under float16 (whose small gradients would underflow).

    The steps differentiate optimizer.scale_loss(loss); apply_gradients divides the
    scale out again and skips a step whose gradients overflowed.
    """
    import keras

    if mixed_precision == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def make_rng(seed):
    """The run's one source of the steps' random numbers (z, eps, generated labels).

    A tf.random.Generator: its state advances with every draw, so no two updates of a
    run see the same numbers. (tf.random.normal under a global seed does not give that:
    TensorFlow gives the first random op of each separately traced tf.function the same
    op seed, so the critic step and the generator step drew the same z on every call.)
    Create it inside strategy.scope(): each replica then draws its own stream, keyed by
    its replica id across all workers. Its state is a variable, saved in the checkpoint,
    so a resumed run draws the numbers the uninterrupted run would have drawn.
    """
    import tensorflow as tf

    return tf.random.Generator.from_seed(seed)


def seed_everything(seed, strategy=None):
    """Seeds Python, NumPy and TensorFlow from `seed` and the worker's index under multi_worker.

    Every worker traces the same steps, so with one seed every worker would draw the same
    numbers; each worker gets its own stream instead, seeded from the pair (seed, worker
    index) by NumPy's SeedSequence, so that different pairs get unrelated streams (with
    `seed + worker`, seed 0's worker 1 drew what seed 1's chief drew). The chief, and a
    single machine (one device or several), use worker index 0. The variables are
    unaffected: MultiWorkerMirroredStrategy gives every worker the chief's initial values.
    """
    import keras

    keras.utils.set_random_seed(worker_seed(seed, worker_index(strategy) if strategy is not None else 0))


def worker_seed(seed, worker):
    """A seed in [0, 2**32) for (seed, worker) (derived_seed; NumPy's global seed is 32-bit)."""
    return derived_seed(seed, worker)


def derived_seed(*numbers):
    """A seed in [0, 2**32) for a tuple of non-negative integers: numpy.random.SeedSequence
    hashes them, so two tuples share a seed with probability 2**-32."""
    import numpy as np

    return int(np.random.SeedSequence(list(numbers)).generate_state(1, np.uint32)[0])
