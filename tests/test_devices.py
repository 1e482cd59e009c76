"""Several devices and machines: replicas make the update one device makes; workers share one run.

The replica tests run in this process on the two logical CPUs that conftest.py sets up.
"""
import csv
import itertools
import json
import os
import socket
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import variants
from common import cli, devices
from tests.helpers import REPO, TINY, VARIANTS



def by_example_index(shape, *args, **kwargs):
    """Values fixed by each example's index in the global batch, so that one device and two
    replicas draw the same numbers."""
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    count, size = shape[0], int(np.prod(shape[1:]))
    rows = tf.cast(tf.range(replica * count, (replica + 1) * count), tf.float32)[:, None]
    columns = tf.range(size, dtype=tf.float32)[None, :]
    return tf.reshape(0.5 + 0.45 * tf.sin(rows * 1.7 + columns * 0.3), shape)


class ExampleIndexedRandom:
    """Stands in for the run's tf.random.Generator: z and eps from by_example_index."""

    normal = uniform = staticmethod(by_example_index)


def one_iteration(variant, strategy, optimizer):
    """Weights, optimizer state and metrics after one generator iteration (2 critic updates) on a fixed batch.

    optimizer: "sgd", a plain gradient step, whose update is proportional to the gradient
    (it shows a wrong gradient scale in the weights); or "paper", the variant's own
    optimizer at learning rate 0, whose state (Adam's moments, RMSProp's mean square)
    then holds functions of gradients all taken at the same weights.
    """
    train = variants.module(variant, "train")
    paper = dict(learning_rate=0.0) if optimizer == "paper" else {}
    config = cli.default_config(train, batch_size=8, jit_compile=False, n_critic=2, conditional=False, **paper)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        generator, discriminator, generator_optimizer, discriminator_optimizer = train.make_models(config, (28, 28, 1))
        if optimizer == "sgd":
            generator_optimizer, discriminator_optimizer = keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05)
            generator_optimizer.build(generator.trainable_variables)
            discriminator_optimizer.build(discriminator.trainable_variables)
    start = [w.numpy() for w in generator.weights + discriminator.weights]
    steps = train.make_steps(generator, discriminator, generator_optimizer, discriminator_optimizer,
                             ExampleIndexedRandom(), config, strategy)
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    labels = np.zeros(8, np.int32)

    def replica_share(context):  # replica r: examples 4r to 4r + 3 of the global batch, as tf.data splits it
        size = len(real) // context.num_replicas_in_sync
        first = context.replica_id_in_sync_group * size
        return tf.constant(real[first:first + size]), tf.constant(labels[first:first + size])

    # The same batch for every update, without a tf.data iterator: freeing a distributed one
    # waited 1 to 11 s here, idle, for its threads.
    batches = itertools.repeat(strategy.experimental_distribute_values_from_function(replica_share))
    metrics = train.train_iteration(batches, *steps, config["n_critic"])
    weights = [w.numpy() for w in generator.weights + discriminator.weights]
    state = [v.numpy() for v in generator_optimizer.variables + discriminator_optimizer.variables]
    return start, weights, state, {key: float(value) for key, value in metrics.items()}


@pytest.fixture(scope="module")
def mirrored():
    """One MirroredStrategy over both logical CPUs for the whole module: strategies created
    one after another in a process can hand out clashing collective keys."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


# How far one device's and two replicas' updates may differ, as a fraction of the largest
# entry. A float32 sum of K terms taken in another order moves by up to about K * 2^-24 of its
# terms' size: 2.4e-4 for the longest sums here (K = 4096, the critic's Dense input), and an
# update goes through a few. A wrong replica scale is off by 50% or more.
ROUND_OFF = 2e-3
CASES = [(variant, "paper") for variant in VARIANTS] + [("dcgan", "sgd"), ("wgan_gp", "sgd")]


class SmoothReLU(keras.layers.Layer):
    def call(self, x):
        return tf.nn.softplus(x)


def smooth_activations(monkeypatch, variant):
    """Softplus curves in place of the networks' ReLU and LeakyReLU(0.2) kinks.

    At a kink the gradient jumps, so float32 round-off that puts one pre-activation on the
    other side of 0 changes that unit's slope: an O(1) change in its share of the update,
    not a round-off one. The gradient penalty divides by ||grad D|| (about 0.04 at the
    networks' start), so in WGAN-GP one such flip moved the critic's update by up to 10%
    (3 of 8 fixed batches tried, one device against itself with the images scaled by
    1 + 2^-23). With smooth curves the same test moves the update by 1e-7 of its size.
    What the replica tests check (the scale of each gradient, BatchNorm over the global
    batch, the penalty per example) does not depend on the curve.
    """
    networks = variants.module(variant, "networks")
    monkeypatch.setattr(networks, "leaky_relu", lambda x: 0.2 * x + 0.8 * tf.nn.softplus(x))
    monkeypatch.setattr(keras.layers, "ReLU", SmoothReLU)


@pytest.mark.parametrize("variant, optimizer", CASES, ids=[f"{v}-{o}" for v, o in CASES])
def test_two_replicas_make_the_same_update_as_one_device(variant, optimizer, mirrored, monkeypatch):
    # Why not compare Adam's weights after a real step: its first step is about
    # learning_rate * sign(gradient), so a gradient element near 0 whose sign round-off
    # flips between one device and two replicas moves by 2 * learning_rate, and the
    # comparison passes or fails with the summation order. SGD's step and Adam's and
    # RMSProp's state are smooth in the gradient, and the gradient in the weights with
    # smooth activations: round-off moves them by round-off.
    smooth_activations(monkeypatch, variant)
    start, one, one_state, one_metrics = one_iteration(variant, tf.distribute.get_strategy(), optimizer)
    _, two, two_state, two_metrics = one_iteration(variant, mirrored, optimizer)
    assert mirrored.num_replicas_in_sync == 2
    if optimizer == "sgd":
        assert max(float(np.max(np.abs(a - b))) for a, b in zip(one, start)) > 1e-4, "the weights must change"
    else:
        assert max(float(np.max(np.abs(a))) for a in one_state) > 0, "the optimizer state must change"
    # Each weight's change (BatchNorm's statistics, WGAN's clipping, SNGAN's power iteration
    # too) and each state variable to ROUND_OFF of its largest entry (exactly, where that is 0).
    # A weight's change is also rounded to the weight's own float32 spacing, once per update.
    for a, b, before in zip(one, two, start):
        spacing = float(np.spacing(np.max(np.abs(a)).astype(np.float32)))
        atol = ROUND_OFF * float(np.max(np.abs(a - before))) + 4 * spacing
        np.testing.assert_allclose(b - before, a - before, rtol=0, atol=atol)
    for a, b in zip(one_state, two_state):
        np.testing.assert_allclose(b, a, rtol=0, atol=ROUND_OFF * float(np.max(np.abs(a))))
    for key in one_metrics:
        assert two_metrics[key] == pytest.approx(one_metrics[key], rel=1e-4, abs=1e-5), key


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("roles", [("chief", "worker"), ("worker", "worker")], ids=["chief+worker", "workers"])
def test_two_processes_on_localhost_train_and_write_one_run(tmp_path, tmp_path_factory, roles):
    # With a `chief` task, the chief writes and worker 0 must not (TensorFlow's rule).
    cluster = {}
    for role in roles:
        cluster.setdefault(role, []).append(f"localhost:{free_port()}")
    tasks = [{"type": role, "index": roles[:index].count(role)} for index, role in enumerate(roles)]
    logdir = tmp_path / "run"
    # One critic update per iteration: what is checked here is who writes, not the schedule
    # (the replica tests above check the updates); each update is a round of collectives.
    command = ["wgan_gp/train.py", "--strategy=multi_worker", *TINY, "--train_steps=4", "--n_critic=1",
               f"--logdir={logdir}"]
    # The chief and its worker run the command as a user types it. The two workers first read
    # a folder through their input pipelines, in the same processes, then train stand-in
    # networks (tests/worker_shares.py).
    shares = tmp_path_factory.mktemp("shares")
    starts = [[sys.executable, *command]] * 2
    if roles == ("worker", "worker"):
        folder = shares / "images"
        folder.mkdir()
        for index in range(12):
            Image.fromarray(np.full((8, 8, 3), 20 * index, np.uint8)).save(folder / f"{index:02d}.png")
        starts = [[sys.executable, "tests/worker_shares.py", str(folder), "6", str(shares / f"{index}.json"),
                   *command] for index in range(2)]
    processes = [
        subprocess.Popen(start, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
            **os.environ, "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp_path),
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": task}),
        })
        for start, task in zip(starts, tasks)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert "2 replica(s)" in outputs[0][0] and outputs[1][0] == ""  # only the first task reports and writes
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-4")
    with open(logdir / "metrics.csv") as f:
        assert [int(row["step"]) for row in csv.DictReader(f)] == [1, 2, 3, 4]
    assert len(list((logdir / "samples").iterdir())) == 4  # steps 1, 2 and 4 and latest.png, written once each
    assert [path.name for path in tmp_path.iterdir()] == ["run"]  # the other's scratch folder is gone
    if roles == ("worker", "worker"):
        assert_disjoint_shares_that_cover_the_folder([json.loads((shares / f"{index}.json").read_text())
                                                      for index in range(2)])


def assert_disjoint_shares_that_cover_the_folder(reports):
    """Two workers' reports (tests/worker_shares.py) on a folder of 12 images, 6 global batches of 2."""
    assert [report["replicas"] for report in reports] == [2, 2]
    shares = [report["seen"] for report in reports]
    # Six global batches of two: one image per worker each time, an epoch of each worker's share.
    assert [len(share) for share in shares] == [6, 6] and all(len(set(share)) == 6 for share in shares)
    assert not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == list(range(12))


class FakeResolver:
    """What a strategy's cluster_resolver tells about the cluster and this task."""

    def __init__(self, cluster, task_type, task_id):
        self.cluster, self.task_type, self.task_id = cluster, task_type, task_id

    def cluster_spec(self):
        return tf.train.ClusterSpec(self.cluster)


def task(cluster, task_type, task_id):
    return types.SimpleNamespace(cluster_resolver=FakeResolver(cluster, task_type, task_id))


WITH_CHIEF = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
WORKERS = {"worker": ["a:1", "b:1"]}


def test_the_chief_writes_and_worker_0_only_when_there_is_no_chief():
    assert devices.is_chief(tf.distribute.get_strategy())
    assert [devices.is_chief(task(WITH_CHIEF, *t)) for t in [("chief", 0), ("worker", 0), ("worker", 1)]] == [
        True, False, False]
    assert [devices.is_chief(task(WORKERS, "worker", index)) for index in (0, 1)] == [True, False]


def test_each_worker_draws_its_own_random_numbers_and_one_device_keeps_the_seed():
    def noise_after_seeding(strategy):
        devices.seed_everything(7, strategy)
        return tf.function(lambda: tf.random.normal([4]))().numpy()  # traced anew: the seed applies

    one_device = noise_after_seeding(None)
    assert np.array_equal(noise_after_seeding(tf.distribute.get_strategy()), one_device)
    indices = [devices.worker_index(task(WITH_CHIEF, *t)) for t in [("chief", 0), ("worker", 0), ("worker", 1)]]
    assert indices == [0, 1, 2]
    draws = [noise_after_seeding(task(WITH_CHIEF, *t)) for t in [("chief", 0), ("worker", 0), ("worker", 1)]]
    assert np.array_equal(draws[0], one_device)  # the chief draws what one device draws
    assert not np.allclose(draws[0], draws[1]) and not np.allclose(draws[1], draws[2])


def test_no_two_seed_and_worker_pairs_share_a_stream():
    # seed + worker would give seed 0's worker 1 the stream of seed 1's chief.
    pairs = [(seed, worker) for seed in range(200) for worker in range(16)]
    seeds = {devices.worker_seed(seed, worker) for seed, worker in pairs}
    assert len(seeds) == len(pairs)
    assert devices.worker_seed(0, 1) != devices.worker_seed(1, 0)
    assert devices.worker_seed(5, 3) == devices.worker_seed(5, 3)  # a pair always gets its own seed
    assert all(0 <= seed < 2**32 for seed in seeds)  # what NumPy's global seed accepts


def test_bfloat16_on_a_cpu_without_bfloat16_instructions_warns_once(monkeypatch, capsys):
    def precision_warnings(flags, precision):
        monkeypatch.setattr(devices, "cpu_flags", lambda: flags)
        devices.set_precision(precision)
        keras.mixed_precision.set_global_policy("float32")
        return [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]

    (warning,) = precision_warnings({"avx2", "avx512f"}, "bfloat16")
    assert "without AVX-512 BF16 or AMX" in warning and "slower than float32" in warning
    assert precision_warnings({"avx512f", "avx512_bf16"}, "bfloat16") == []
    assert precision_warnings({"amx_bf16"}, "bfloat16") == []
    assert precision_warnings({"avx2"}, "off") == []
    assert precision_warnings(None, "bfloat16") == []  # no /proc/cpuinfo: no guess
    assert devices.cpu_flags() is None or "fpu" in devices.cpu_flags()  # the real file is read


def test_a_gpu_that_tensorflow_does_not_see_gets_one_line_with_the_install_command():
    listed = ["GPU 0: Tesla T4 (UUID: GPU-0123)"]
    warning = devices.missing_gpu_warning([], listed)
    assert warning.startswith("warning: nvidia-smi lists GPU 0: Tesla T4, but TensorFlow sees no GPU")
    assert warning.endswith('pip install "tensorflow[and-cuda]==2.21.0"') and "\n" not in warning
    assert devices.missing_gpu_warning(["a GPU"], listed) is None  # seen: nothing to say
    assert devices.missing_gpu_warning([], []) is None  # no NVIDIA GPU
    assert devices.missing_gpu_warning([], listed, cuda_visible_devices="") is None  # hidden on purpose
    # The same TensorFlow as requirements.txt pins (`pip install --dry-run` of both resolved together).
    pinned = next(line.split()[0] for line in (REPO / "requirements.txt").read_text().splitlines()
                  if line.startswith("tensorflow=="))
    assert devices.GPU_INSTALL == f'pip install "{pinned.replace("tensorflow", "tensorflow[and-cuda]")}"'
