"""Every train.py and the generate command, run as a user runs them, on tiny settings."""
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.helpers import REPO, VARIANTS, own_stderr_lines, run_python

TINY = ["--dataset=mnist_5k", "--batch_size=8", "--sample_every=2", "--checkpoint_every=2", "--log_every=1"]
COMMON_TAGS = {"loss/discriminator", "loss/generator", "discriminator/real", "discriminator/fake", "perf/steps_per_sec"}
EXTRA_TAGS = {"dcgan": set(), "wgan": {"wasserstein_estimate"}, "wgan_gp": {"wasserstein_estimate", "gradient_penalty", "gradient_norm"}}
N_CRITIC = {"dcgan": 1, "wgan": 5, "wgan_gp": 5}
ITERATIONS = "/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each variant trained for 4 generator iterations with `python VARIANT/train.py`."""
    root = tmp_path_factory.mktemp("runs")
    results = {}
    for variant in VARIANTS:
        logdir = root / variant
        result = run_python([f"{variant}/train.py", *TINY, "--train_steps=4", f"--logdir={logdir}"])
        assert result.returncode == 0, result.stderr[-3000:]
        results[variant] = (logdir, result)
    return results


def optimizer_iterations(checkpoint_path, name):
    return int(tf.train.load_checkpoint(str(checkpoint_path)).get_tensor(f"{name}/_iterations{ITERATIONS}"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_run_leaves_config_logs_samples_and_checkpoints(trained, variant):
    logdir, result = trained[variant]
    config = json.loads((logdir / "config.json").read_text())
    assert config["variant"] == variant and config["batch_size"] == 8 and config["train_steps"] == 4
    assert config["image_shape"] == [28, 28, 1] and config["data_source"].startswith("mnist_5k")
    assert "generator: 1,551,681 parameters" in result.stdout

    with open(logdir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {"step", "wall_time"} | COMMON_TAGS | EXTRA_TAGS[variant]
    assert all(np.isfinite(float(value)) for row in rows for value in row.values())
    assert list(logdir.glob("events.out.tfevents.*"))

    for step in (2, 4):
        grid = np.asarray(Image.open(logdir / "samples" / f"step_{step:07d}.png"))
        assert grid.shape == (8 * 30 + 2, 8 * 30 + 2)  # 8 x 8 digits of 28 px, 2 px apart
        assert grid.std() > 0
    latest = tf.train.latest_checkpoint(str(logdir / "checkpoints"))
    assert latest.endswith("ckpt-4")
    assert optimizer_iterations(latest, "generator_optimizer") == 4
    assert optimizer_iterations(latest, "discriminator_optimizer") == 4 * N_CRITIC[variant]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_resumed_run_continues_with_its_optimizer_state(trained, variant, tmp_path):
    logdir = tmp_path / variant
    shutil.copytree(trained[variant][0], logdir)
    saved = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(logdir / "checkpoints")))
    result = run_python([f"{variant}/train.py", *TINY, "--train_steps=6", f"--logdir={logdir}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming at generator iteration 4" in result.stdout

    latest = tf.train.latest_checkpoint(str(logdir / "checkpoints"))
    assert latest.endswith("ckpt-6")
    # A fresh optimizer would have counted 2 generator iterations, not 6.
    assert optimizer_iterations(latest, "generator_optimizer") == 6
    assert optimizer_iterations(latest, "discriminator_optimizer") == 6 * N_CRITIC[variant]
    resumed = tf.train.load_checkpoint(latest)
    slot = next(
        name for name in saved.get_variable_to_shape_map()
        if name.startswith("discriminator_optimizer/_variables/") and len(saved.get_variable_to_shape_map()[name]) == 4
    )
    assert not np.array_equal(saved.get_tensor(slot), resumed.get_tensor(slot))  # the state moved on from there
    with open(logdir / "metrics.csv") as f:
        assert [int(row["step"]) for row in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]


def test_a_finished_run_says_so_and_changes_nothing(trained, tmp_path):
    logdir = tmp_path / "run"
    shutil.copytree(trained["dcgan"][0], logdir)
    before = snapshot(logdir)
    result = run_python(["dcgan/train.py", *TINY, "--train_steps=4", f"--logdir={logdir}"])
    assert result.returncode == 0 and "already trained for 4 generator iterations" in result.stdout
    assert snapshot(logdir) == before


def test_module_form_runs(tmp_path):
    result = run_python(["-m", "wgan_gp.train", *TINY, "--train_steps=1", f"--logdir={tmp_path / 'run'}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "ckpt-1.index").is_file()


@pytest.mark.parametrize("variant", VARIANTS)
def test_generate_writes_uint8_samples_and_a_grid(trained, variant, tmp_path):
    output = tmp_path / "out" / "samples.npz"
    result = run_python(
        ["-m", "common.generate", f"--logdir={trained[variant][0]}", "--num_samples=11", f"--output={output}"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(output) as archive:
        samples = archive["images"]
    assert samples.shape == (11, 28, 28, 1) and samples.dtype == np.uint8 and samples.std() > 0
    assert np.asarray(Image.open(output.with_suffix(".png"))).shape == (3 * 30 + 2, 4 * 30 + 2)  # 11 in 3 rows of 4


def snapshot(folder):
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


BAD_INPUTS = [
    ("wgan_gp", ["--dataset=imagenet"], "unknown dataset 'imagenet'"),
    ("wgan_gp", ["--dataset=folder:/no/such/folder"], "is not a directory"),
    ("dcgan", ["--dataset=folder:{empty}"], "no .jpg/.jpeg/.png files"),
    ("wgan", ["--dataset=folder:{broken}"], "cannot read image"),
    ("wgan_gp", ["--train_steps=0"], "train_steps"),
    ("dcgan", ["--batch_size=-3"], "batch_size"),
    ("wgan_gp", ["--batch_size=6000"], "larger than the dataset"),
    ("wgan_gp", ["--gp_lambda=-1"], "gp_lambda"),
    ("wgan", ["--clip_value=-0.01"], "clip_value"),
    ("wgan", ["--clip_value=0"], "clip_value must be positive"),
    ("wgan_gp", ["--n_critic=0"], "n_critic"),
    ("dcgan", ["mnist"], "unexpected arguments"),
    ("dcgan", ["--image_size=32"], "--image_size applies to folder: datasets"),
    ("dcgan", ["--image_size=48"], "--image_size must be 28, 32 or 64"),
    ("wgan_gp", ["--strategy=multi_worker"], "needs TF_CONFIG"),
    ("wgan_gp", ["--critic_norm=layer"], "other settings (critic_norm: 'none' -> 'layer')"),
    ("wgan_gp", ["--batch_size=16"], "other settings (batch_size: 8 -> 16)"),
    ("wgan_gp", ["--conditional"], "other settings (conditional: False -> True, num_classes: None -> 10)"),
    ("dcgan", ["--conditional", "--dataset=folder:{images}"], "--conditional needs class labels"),
]


@pytest.mark.parametrize("variant, flags, message", BAD_INPUTS, ids=[" ".join(case[1]) for case in BAD_INPUTS])
def test_bad_input_is_one_line_and_damages_nothing(trained, variant, flags, message, tmp_path):
    # Every case points at an existing wgan_gp run, which must come through untouched.
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan_gp"][0], logdir)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"\x89PNG but not really")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
    flags = [flag.format(empty=tmp_path / "empty", broken=tmp_path / "broken", images=tmp_path / "images") for flag in flags]
    before = snapshot(logdir)
    base = ["--dataset=mnist_5k", "--batch_size=8", "--train_steps=6"]
    result = run_python([f"{variant}/train.py", *base, *flags, f"--logdir={logdir}"])
    assert result.returncode != 0
    lines = own_stderr_lines(result.stderr)
    assert "Traceback" not in result.stderr and 1 <= len(lines) <= 2, result.stderr[-3000:]
    assert message in lines[0]
    assert snapshot(logdir) == before


def run_snippet(variant, code):
    """Runs `code` in a fresh Python that imported VARIANT.train (train modules define flags)."""
    script = f"import json\nfrom {variant} import train, networks\n" + textwrap.dedent(code)
    result = run_python(["-c", script])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


FRESH_BATCHES = """
calls = []
batches = iter((index, -index) for index in range(100))  # (images, labels)
def discriminator_step(images, labels):
    calls.append(images)
    return {"loss/discriminator": 0.0}
def generator_step():
    calls.append("G")
    return {"loss/generator": 0.0}
for _ in range(2):
    metrics = train.train_iteration(batches, discriminator_step, generator_step, 3)
print(json.dumps({"calls": calls, "keys": sorted(metrics)}))
"""


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_discriminator_update_draws_a_fresh_real_batch(variant):
    result = run_snippet(variant, FRESH_BATCHES)
    assert result["calls"] == [0, 1, 2, "G", 3, 4, 5, "G"]
    assert result["keys"] == ["loss/discriminator", "loss/generator"]


def test_wgan_clips_every_critic_weight_after_each_update():
    result = run_snippet("wgan", """
    import keras, numpy as np, tensorflow as tf
    config = {"batch_size": 4, "clip_value": 0.01, "jit_compile": False, "conditional": False}
    generator = networks.make_generator((28, 28, 1))
    discriminator = networks.make_discriminator((28, 28, 1))
    before = max(float(np.abs(w.numpy()).max()) for w in discriminator.trainable_variables)
    # A huge step size: without clipping the weights would leave [-c, c] by far.
    d_step, g_step = train.make_steps(generator, discriminator, keras.optimizers.RMSprop(0.5),
                                      keras.optimizers.RMSprop(0.5), config, tf.distribute.get_strategy())
    d_step(tf.random.uniform([4, 28, 28, 1], -1, 1), tf.zeros([4], tf.int32))
    weights = np.concatenate([w.numpy().ravel() for w in discriminator.trainable_variables])
    print(json.dumps({"before": before, "max": float(np.abs(weights).max()),
                      "at_bound": int(np.sum(np.isclose(np.abs(weights), 0.01))),
                      "count": int(weights.size)}))
    """)
    assert result["before"] > 0.01, "the initial weights should start outside [-c, c]"
    assert result["max"] <= 0.01 + 1e-7
    assert result["at_bound"] > result["count"] // 10  # the step pushed many weights to +-c


def test_wgan_official_critic_schedule():
    result = run_snippet("wgan", """
    plain = {"official_critic_schedule": False, "n_critic": 5}
    official = {"official_critic_schedule": True, "n_critic": 5}
    steps = [1, 25, 26, 27, 500, 501, 502, 1001]
    print(json.dumps([[train.critic_updates(s, plain) for s in steps], [train.critic_updates(s, official) for s in steps]]))
    """)
    assert result[0] == [5] * 8
    # The official code counts finished generator iterations: 100 for the first 25, then every 500th.
    assert result[1] == [100, 100, 5, 5, 5, 100, 5, 100]


def test_wgan_gp_step_adds_lambda_times_the_penalty():
    result = run_snippet("wgan_gp", """
    import keras, numpy as np, tensorflow as tf
    config = {"batch_size": 4, "gp_lambda": 10.0, "jit_compile": False, "conditional": False,
              "penalty": "one_centred", "loss": "wasserstein"}
    generator = networks.make_generator((28, 28, 1))
    discriminator = networks.make_discriminator((28, 28, 1))
    d_step, g_step = train.make_steps(generator, discriminator, keras.optimizers.Adam(1e-4),
                                      keras.optimizers.Adam(1e-4), config, tf.distribute.get_strategy())
    metrics = {k: float(v) for k, v in d_step(tf.random.uniform([4, 28, 28, 1], -1, 1), tf.zeros([4], tf.int32)).items()}
    metrics.update({k: float(v) for k, v in g_step().items()})
    print(json.dumps(metrics))
    """)
    expected = -result["wasserstein_estimate"] + 10.0 * result["gradient_penalty"]
    assert result["loss/discriminator"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert result["gradient_norm"] > 0 and np.isfinite(result["loss/generator"])


def test_wgan_gp_optimizer_flag_picks_adam_or_rmsprop_with_the_given_moments():
    result = run_snippet("wgan_gp", """
    settings = {"learning_rate": 5e-5, "beta1": 0.25, "beta2": 0.8}
    described = {}
    for name in ("adam", "rmsprop"):
        optimizers = train.make_optimizers({**settings, "optimizer": name})
        described[name] = [[type(o).__name__, o.get_config()] for o in optimizers]
    described["without_the_key"] = type(train.make_optimizers(settings)[0]).__name__
    print(json.dumps(described, default=float))
    """)
    for name, config in result["adam"]:
        assert name == "Adam" and config["beta_1"] == 0.25 and config["beta_2"] == pytest.approx(0.8)
    for name, config in result["rmsprop"]:
        assert name == "RMSprop" and config["momentum"] == 0.25 and config["rho"] == pytest.approx(0.8)
        assert config["learning_rate"] == pytest.approx(5e-5)
    assert result["without_the_key"] == "Adam"  # Algorithm 1's optimizer


ZERO_CENTRED_STEP = """
import keras, numpy as np, tensorflow as tf
config = {"batch_size": 4, "gp_lambda": 1.0, "jit_compile": False, "conditional": False,
          "penalty": "zero_centred", "loss": "wasserstein"}
# G(z) = 0 for every z, and D(x) = ||x||^2 / 2, so grad D(x) = x: the gradient is zero at the
# fakes, eps * x_real at interpolates between them, and x_real at the real samples.
noise = keras.Input((128,))
zeros = keras.layers.Dense(4, kernel_initializer="zeros", use_bias=False)(noise)
generator = keras.Model(noise, keras.layers.Reshape((2, 2, 1))(zeros))
images = keras.Input((2, 2, 1))
squares = keras.layers.Lambda(lambda x: tf.reshape(x * x, [-1, 4]))(images)
discriminator = keras.Model(images, keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.5),
                                                       use_bias=False)(squares))
d_step, _ = train.make_steps(generator, discriminator, keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0),
                             config, tf.distribute.get_strategy())
real = np.random.default_rng(0).uniform(-1, 1, (4, 2, 2, 1)).astype(np.float32)
norms = np.sqrt((real.reshape(4, -1) ** 2).sum(axis=1))
metrics = {k: float(v) for k, v in d_step(real, np.zeros(4, np.int32)).items()}
print(json.dumps({**metrics, "real_norm": float(norms.mean()), "real_squared_norm": float((norms**2).mean())}))
"""


def test_zero_centred_penalty_step_measures_the_gradient_at_real_samples_only():
    result = run_snippet("wgan_gp", ZERO_CENTRED_STEP)
    assert result["gradient_norm"] == pytest.approx(result["real_norm"], rel=1e-5)
    assert result["gradient_penalty"] == pytest.approx(result["real_squared_norm"], rel=1e-5)
    assert result["loss/discriminator"] == pytest.approx(-result["wasserstein_estimate"] + result["gradient_penalty"], rel=1e-5)


@pytest.fixture(scope="module")
def conditional_runs(tmp_path_factory):
    """Each variant trained for 2 generator iterations with --conditional."""
    root = tmp_path_factory.mktemp("conditional")
    for variant in VARIANTS:
        result = run_python([f"{variant}/train.py", *TINY, "--conditional", "--train_steps=2", f"--logdir={root / variant}"])
        assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.parametrize("variant", VARIANTS)
def test_conditional_run_records_the_classes_and_draws_one_row_per_class(conditional_runs, variant):
    logdir = conditional_runs / variant
    config = json.loads((logdir / "config.json").read_text())
    assert config["conditional"] is True and config["num_classes"] == 10
    grid = np.asarray(Image.open(logdir / "samples" / "step_0000002.png"))
    assert grid.shape == (10 * 30 + 2, 8 * 30 + 2)  # 10 classes x 8 noise vectors


def test_generate_with_a_label_writes_that_class_only(conditional_runs, tmp_path):
    output = tmp_path / "sevens.npz"
    result = run_python(["-m", "common.generate", f"--logdir={conditional_runs / 'wgan_gp'}", "--num_samples=12",
                         "--label=7", f"--output={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(output) as archive:
        assert archive["images"].shape == (12, 28, 28, 1) and archive["labels"].tolist() == [7] * 12


def test_generate_without_a_label_covers_every_class_one_row_each(conditional_runs, tmp_path):
    output = tmp_path / "all.npz"
    result = run_python(["-m", "common.generate", f"--logdir={conditional_runs / 'dcgan'}", "--num_samples=100",
                         f"--output={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(output) as archive:
        assert np.bincount(archive["labels"]).tolist() == [10] * 10
    assert np.asarray(Image.open(output.with_suffix(".png"))).shape == (10 * 30 + 2, 10 * 30 + 2)


@pytest.mark.parametrize("which, label, message", [
    ("conditional", 10, "--label=10 is not a class of this run (0 to 9)"),
    ("unconditional", 3, "--label needs a run trained with --conditional"),
])
def test_generate_refuses_a_label_it_cannot_honour(conditional_runs, trained, tmp_path, which, label, message):
    logdir = conditional_runs / "wgan" if which == "conditional" else trained["wgan"][0]
    result = run_python(["-m", "common.generate", f"--logdir={logdir}", f"--label={label}",
                         f"--output={tmp_path / 'x.npz'}"])
    assert result.returncode == 2 and message in own_stderr_lines(result.stderr)[0]
    assert not (tmp_path / "x.npz").exists()


def test_a_run_made_before_a_flag_existed_resumes(trained, tmp_path):
    # config.json of an older run lacks the newer flags; they count as their defaults.
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan_gp"][0], logdir)
    config = json.loads((logdir / "config.json").read_text())
    for key in ("conditional", "penalty", "loss", "spectral_norm"):
        del config[key]
    (logdir / "config.json").write_text(json.dumps(config))
    result = run_python(["wgan_gp/train.py", *TINY, "--train_steps=5", f"--logdir={logdir}"])
    assert result.returncode == 0 and "resuming at generator iteration 4" in result.stdout, result.stderr[-2000:]
    result = run_python(["wgan_gp/train.py", *TINY, "--train_steps=6", "--loss=hinge", f"--logdir={logdir}"])
    assert result.returncode == 2 and "loss: 'wasserstein' -> 'hinge'" in result.stderr


def signal_a_long_run(logdir, when, signal_number):
    """Starts a long wgan_gp run, sends `signal_number` once a stdout line starts with `when`.

    Returns (exit status, the rest of stdout, stderr).
    """
    command = [sys.executable, "wgan_gp/train.py", *TINY, "--train_steps=100000", f"--logdir={logdir}"]
    stderr_path = logdir.parent / "stderr.txt"
    with open(stderr_path, "w") as stderr:  # a file, not a pipe: nothing reads it until the end
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in process.stdout:
            if line.startswith(when):
                process.send_signal(signal_number)
                break
        rest = process.stdout.read()
        status = process.wait(timeout=120)
    return status, rest, stderr_path.read_text()


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupted_run_saves_a_checkpoint_and_resumes_there(tmp_path, signal_name):
    logdir = tmp_path / "run"
    status, rest, _ = signal_a_long_run(logdir, "step 3/", getattr(signal, signal_name))
    assert status == 130
    assert "interrupted: saved a checkpoint at generator iteration" in rest
    saved = int(rest.split("generator iteration ")[1].split(";")[0])
    assert saved >= 3
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith(f"ckpt-{saved}")

    result = run_python(["wgan_gp/train.py", *TINY, f"--train_steps={saved + 1}", f"--logdir={logdir}"])
    assert result.returncode == 0 and f"resuming at generator iteration {saved}" in result.stdout


def test_a_signal_during_start_up_still_stops_the_run(tmp_path):
    # Sent while the run loads and TensorFlow traces the first steps, where a raised
    # KeyboardInterrupt can be swallowed; the run must stop all the same.
    status, rest, errors = signal_a_long_run(tmp_path / "run", "run directory:", signal.SIGTERM)
    assert status == 130, errors[-2000:]
    assert "interrupted" in rest + errors and "Traceback" not in errors


def test_the_same_seed_gives_the_same_run_on_cpu(trained, tmp_path):
    logdir = tmp_path / "again"
    result = run_python(["dcgan/train.py", *TINY, "--train_steps=4", f"--logdir={logdir}"])
    assert result.returncode == 0, result.stderr[-3000:]

    def losses(folder):
        with open(folder / "metrics.csv") as f:
            return [(row["loss/discriminator"], row["loss/generator"], row["discriminator/real"]) for row in csv.DictReader(f)]

    assert losses(logdir) == losses(trained["dcgan"][0])


def test_benchmark_reports_throughput_and_flops(tmp_path):
    output = tmp_path / "bench.json"
    result = run_python(["benchmarks/benchmark.py", "--variants", "wgan_gp", "--seconds", "0", f"--json={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(output.read_text())
    assert (row["variant"], row["size"], row["batch_size"], row["n_critic"]) == ("wgan_gp", 28, 64, 5)
    assert row["images_per_sec"] == pytest.approx(row["iterations_per_sec"] * 5 * 64)
    assert row["input_images_per_sec"] > row["images_per_sec"]
    # One critic forward pass of the 28x28 nets is 47 MFLOP per image (three 5x5 convolutions);
    # an iteration makes 5 x 3 batches of such passes plus their gradients, so tens of GFLOP at least.
    assert 5 * 3 * 64 * 0.047 < row["gflop_per_iteration"] < 1000
    assert "wgan_gp" in result.stdout and "% peak" in result.stdout


MIRRORED_EQUALS_ONE_DEVICE = """
import importlib
import numpy as np, tensorflow as tf, keras
from absl import flags

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def by_example_index(shape, *args, **kwargs):
    # Replaces tf.random.normal/uniform with values fixed by each example's index in
    # the global batch, so that one device and two replicas draw the same numbers.
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    count, size = shape[0], int(np.prod(shape[1:]))
    rows = tf.cast(tf.range(replica * count, (replica + 1) * count), tf.float32)[:, None]
    columns = tf.range(size, dtype=tf.float32)[None, :]
    return tf.reshape(0.5 + 0.45 * tf.sin(rows * 1.7 + columns * 0.3), shape)


class TensorFlowWithFixedRandom:  # what the variant's modules see as `tf`
    random = type("random", (), {"normal": staticmethod(by_example_index), "uniform": staticmethod(by_example_index)})

    def __getattr__(self, name):
        return getattr(tf, name)


losses = importlib.import_module(train.__name__.replace(".train", ".losses"))
train.tf = losses.tf = TensorFlowWithFixedRandom()
config = {flag.name: flag.default for flag in flags.FLAGS.get_key_flags_for_module(train)}
config.update(image_shape=[28, 28, 1], batch_size=8, jit_compile=False, n_critic=2)
real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)


def one_iteration(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        models = train.make_models(config)
    d_step, g_step = train.make_steps(*models, config, strategy)
    pairs = tf.data.Dataset.from_tensors((real, np.zeros(8, np.int32))).repeat()
    batches = iter(strategy.experimental_distribute_dataset(pairs))
    metrics = train.train_iteration(batches, d_step, g_step, config["n_critic"])
    return [w.numpy() for w in models[0].weights + models[1].weights], {k: float(v) for k, v in metrics.items()}


one, one_metrics = one_iteration(tf.distribute.get_strategy())
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
two, two_metrics = one_iteration(mirrored)
start = [w.numpy() for w in train.make_models(config)[0].weights]
print(json.dumps({
    "replicas": mirrored.num_replicas_in_sync,
    "max_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(one, two)),
    "max_change": max(float(np.max(np.abs(a - b))) for a, b in zip(one, start)),
    "metrics": [one_metrics, two_metrics],
}))
"""


@pytest.mark.parametrize("variant", VARIANTS)
def test_two_replicas_make_the_same_update_as_one_device(variant):
    result = run_snippet(variant, MIRRORED_EQUALS_ONE_DEVICE)
    assert result["replicas"] == 2
    assert result["max_change"] > 1e-4, "the iteration must change the weights"
    assert result["max_difference"] < 1e-5
    one, two = result["metrics"]
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_two_workers_on_localhost_train_and_write_one_run(tmp_path):
    cluster = {"worker": [f"localhost:{free_port()}", f"localhost:{free_port()}"]}
    logdir = tmp_path / "run"
    command = [sys.executable, "wgan_gp/train.py", "--strategy=multi_worker", *TINY, "--train_steps=4",
               f"--logdir={logdir}"]
    workers = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
            **os.environ, "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp_path),
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        })
        for index in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert "2 replica(s)" in outputs[0][0] and outputs[1][0] == ""  # only worker 0 reports and writes
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-4")
    with open(logdir / "metrics.csv") as f:
        assert [int(row["step"]) for row in csv.DictReader(f)] == [1, 2, 3, 4]
    assert [path.name for path in tmp_path.iterdir()] == ["run"]  # the other worker's scratch folder is gone


@pytest.mark.parametrize(
    "variant, switches",
    [
        ("wgan_gp", "--mixed_precision=float16"), ("dcgan", "--mixed_precision=bfloat16"), ("wgan", "--jit_compile"),
        ("wgan_gp", "--loss=hinge --penalty=none --spectral_norm"), ("wgan_gp", "--penalty=zero_centred --gp_lambda=5"),
        ("wgan_gp", "--conditional --mixed_precision=float16"),
    ],
)
def test_switches_train_with_finite_losses(variant, switches, tmp_path):
    logdir = tmp_path / "run"
    result = run_python([f"{variant}/train.py", *TINY, "--train_steps=3", *switches.split(), f"--logdir={logdir}"])
    assert result.returncode == 0, result.stderr[-3000:]
    with open(logdir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(np.isfinite(float(value)) for row in rows for value in row.values())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(logdir / "checkpoints")))
    kernels = [name for name in reader.get_variable_to_dtype_map() if name.startswith("generator/")]
    assert kernels and all(reader.get_variable_to_dtype_map()[name] == tf.float32 for name in kernels)
