"""Every train.py and the generate command: as a user types them, and their behaviour in-process.

Commands run in a subprocess once each (a few iterations on tiny settings); everything
else calls the same functions in this process: a train.py's train(config) is what its
command runs after parsing the flags.
"""
import csv
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from common import cli, generate, quality, rundir, training_run
from tests.helpers import REPO, own_stderr_lines, run_python

VARIANTS = ("dcgan", "wgan", "wgan_gp", "sngan", "wgan_r1")
TINY = ["--dataset=mnist_5k", "--batch_size=8", "--sample_every=2", "--checkpoint_every=2", "--log_every=1"]
COMMON_TAGS = {"loss/discriminator", "loss/generator", "discriminator/real", "discriminator/fake", "perf/steps_per_sec"}
PENALTY_TAGS = {"wasserstein_estimate", "gradient_penalty", "gradient_norm"}
EXTRA_TAGS = {"dcgan": set(), "wgan": {"wasserstein_estimate"}, "sngan": {"wasserstein_estimate"},
              "wgan_gp": PENALTY_TAGS, "wgan_r1": PENALTY_TAGS}
N_CRITIC = {"dcgan": 1, "wgan": 5, "wgan_gp": 5, "sngan": 5, "wgan_r1": 5}
# How a user starts each variant: the script form, and for wgan_gp the module form.
COMMANDS = {variant: [f"{variant}/train.py"] for variant in VARIANTS} | {"wgan_gp": ["-m", "wgan_gp.train"]}
ITERATIONS = "/.ATTRIBUTES/VARIABLE_VALUE"


def train_module(variant):
    return importlib.import_module(f"{variant}.train")


def parse(variant, argv):
    """The config that `python VARIANT/train.py ARGV` would train, parsed in this process."""
    flag_values = flags.FlagValues()
    train_module(variant).define_flags(flag_values)
    leftover = flag_values(["train.py", *argv])
    assert leftover == ["train.py"]
    return cli.config_from_flags(flag_values, train_module(variant))


def train_in_process(variant, logdir, *argv):
    """Runs what `python VARIANT/train.py TINY ARGV --logdir=LOGDIR` runs, in this process."""
    config = parse(variant, [*TINY, *argv, f"--logdir={logdir}"])
    train_module(variant).train(config)
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each variant trained for 4 generator iterations, started as a user starts it."""
    root = tmp_path_factory.mktemp("runs")
    results = {}
    for variant in VARIANTS:
        logdir = root / variant
        result = run_python([*COMMANDS[variant], *TINY, "--train_steps=4", f"--logdir={logdir}"])
        assert result.returncode == 0, result.stderr[-3000:]
        results[variant] = (logdir, result)
    return results


def optimizer_iterations(checkpoint_path, name):
    return int(tf.train.load_checkpoint(str(checkpoint_path)).get_tensor(f"{name}/_iterations{ITERATIONS}"))


def metrics_rows(logdir):
    with open(logdir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_run_leaves_config_logs_samples_and_checkpoints(trained, variant):
    logdir, result = trained[variant]
    config = json.loads((logdir / "config.json").read_text())
    assert config["variant"] == variant and config["batch_size"] == 8 and config["train_steps"] == 4
    assert config["image_shape"] == [28, 28, 1] and config["data_source"].startswith("mnist_5k")
    assert "generator: 1,551,681 parameters" in result.stdout

    rows = metrics_rows(logdir)
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


@pytest.mark.parametrize("variant", ("dcgan", "wgan", "wgan_gp"))
def test_a_resumed_run_continues_with_its_optimizer_state(trained, variant, tmp_path, capsys):
    logdir = tmp_path / variant
    shutil.copytree(trained[variant][0], logdir)
    saved = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(logdir / "checkpoints")))
    train_in_process(variant, logdir, "--train_steps=6")
    assert "resuming at generator iteration 4" in capsys.readouterr().out

    latest = tf.train.latest_checkpoint(str(logdir / "checkpoints"))
    assert latest.endswith("ckpt-6")
    # A fresh optimizer would have counted 2 generator iterations, not 6.
    assert optimizer_iterations(latest, "generator_optimizer") == 6
    assert optimizer_iterations(latest, "discriminator_optimizer") == 6 * N_CRITIC[variant]
    resumed = tf.train.load_checkpoint(latest)
    shapes = saved.get_variable_to_shape_map()
    slot = next(name for name in shapes
                if name.startswith("discriminator_optimizer/_variables/") and len(shapes[name]) == 4)
    assert not np.array_equal(saved.get_tensor(slot), resumed.get_tensor(slot))  # the state moved on
    assert [int(row["step"]) for row in metrics_rows(logdir)] == [1, 2, 3, 4, 5, 6]


def snapshot(folder):
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def test_a_finished_run_says_so_and_changes_nothing(trained, tmp_path, capsys):
    logdir = tmp_path / "run"
    shutil.copytree(trained["dcgan"][0], logdir)
    before = snapshot(logdir)
    train_in_process("dcgan", logdir, "--train_steps=4")
    assert "already trained for 4 generator iterations" in capsys.readouterr().out
    assert snapshot(logdir) == before


def test_the_same_seed_gives_the_same_run_on_cpu(trained, tmp_path):
    # In this process, against the run the command made: the same seed, the same numbers.
    logdir = tmp_path / "again"
    train_in_process("dcgan", logdir, "--train_steps=4")

    def losses(folder):
        return [(row["loss/discriminator"], row["loss/generator"], row["discriminator/real"])
                for row in metrics_rows(folder)]

    assert losses(logdir) == losses(trained["dcgan"][0])


def test_generate_command_writes_uint8_samples_and_a_grid(trained, tmp_path):
    output = tmp_path / "out" / "samples.npz"
    result = run_python(["-m", "common.generate", f"--logdir={trained['wgan'][0]}", "--num_samples=11",
                         f"--output={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(output) as archive:
        samples = archive["images"]
    assert samples.shape == (11, 28, 28, 1) and samples.dtype == np.uint8 and samples.std() > 0
    assert np.asarray(Image.open(output.with_suffix(".png"))).shape == (3 * 30 + 2, 4 * 30 + 2)  # 3 rows of 4


@pytest.mark.parametrize("variant", ("dcgan", "wgan_gp", "sngan", "wgan_r1"))
def test_generate_reads_every_variants_run(trained, variant, tmp_path):
    samples, labels = generate.write_samples(trained[variant][0], 5, tmp_path / "s.npz")
    assert samples.shape == (5, 28, 28, 1) and samples.std() > 0 and labels is None


# ---- bad input: one line, a non-zero exit, nothing touched ------------------------------------

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
    ("wgan_gp", ["--beta1=1.5"], "beta1"),
    ("dcgan", ["--image_size=32"], "--image_size applies to folder: datasets"),
    ("dcgan", ["--image_size=48"], "--image_size must be 28, 32 or 64"),
    ("wgan_gp", ["--strategy=multi_worker"], "needs TF_CONFIG"),
    ("wgan_gp", ["--critic_norm=layer"], "other settings (critic_norm: 'none' -> 'layer')"),
    ("wgan_gp", ["--batch_size=16"], "other settings (batch_size: 8 -> 16)"),
    ("wgan_gp", ["--conditional"], "other settings (conditional: False -> True, num_classes: None -> 10)"),
    ("dcgan", ["--conditional", "--dataset=folder:{images}"], "--conditional needs class labels"),
    ("sngan", [], "holds a wgan_gp run; resume it with wgan_gp/train.py"),
]


@pytest.fixture
def bad_input_setting(trained, tmp_path):
    """An existing wgan_gp run, which must come through untouched, and some broken folders."""
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan_gp"][0], logdir)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"\x89PNG but not really")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
    return logdir, {"empty": tmp_path / "empty", "broken": tmp_path / "broken", "images": tmp_path / "images"}


@pytest.mark.parametrize("variant, argv, message", BAD_INPUTS, ids=[" ".join(case[1]) for case in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_written(bad_input_setting, variant, argv, message, monkeypatch):
    logdir, folders = bad_input_setting
    monkeypatch.delenv("TF_CONFIG", raising=False)
    before = snapshot(logdir)
    argv = [arg.format(**folders) for arg in argv]
    with pytest.raises((cli.UserError, flags.Error)) as error:
        config = parse(variant, ["--dataset=mnist_5k", "--batch_size=8", "--train_steps=6", *argv,
                                 f"--logdir={logdir}"])
        train_module(variant).train(config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)  # one line
    assert snapshot(logdir) == before


@pytest.mark.parametrize("argv, message", [
    (["mnist"], "error: unexpected arguments ['mnist']; flags take the form --name=value"),  # a UserError
    (["--train_steps=0"], "train_steps"),  # absl's own check of a flag's bounds
])
def test_bad_input_on_the_command_line_is_one_line_and_a_non_zero_exit(argv, message, bad_input_setting):
    logdir, _ = bad_input_setting
    before = snapshot(logdir)
    result = run_python(["wgan_gp/train.py", "--dataset=mnist_5k", "--batch_size=8", *argv, f"--logdir={logdir}"])
    assert result.returncode != 0
    lines = own_stderr_lines(result.stderr)
    assert "Traceback" not in result.stderr and 1 <= len(lines) <= 2, result.stderr[-3000:]
    assert message in lines[0]
    assert snapshot(logdir) == before


# ---- --conditional ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conditional_runs(tmp_path_factory):
    """Each paper's variant trained for 2 generator iterations with --conditional."""
    root = tmp_path_factory.mktemp("conditional")
    for variant in ("dcgan", "wgan", "wgan_gp"):
        train_in_process(variant, root / variant, "--conditional", "--train_steps=2")
    return root


@pytest.mark.parametrize("variant", ("dcgan", "wgan", "wgan_gp"))
def test_conditional_run_records_the_classes_and_draws_one_row_per_class(conditional_runs, variant):
    logdir = conditional_runs / variant
    config = json.loads((logdir / "config.json").read_text())
    assert config["conditional"] is True and config["num_classes"] == 10
    grid = np.asarray(Image.open(logdir / "samples" / "step_0000002.png"))
    assert grid.shape == (10 * 30 + 2, 8 * 30 + 2)  # 10 classes x 8 noise vectors


def test_generate_with_a_label_writes_that_class_only(conditional_runs, tmp_path):
    samples, labels = generate.write_samples(conditional_runs / "wgan_gp", 12, tmp_path / "sevens.npz", label=7)
    assert samples.shape == (12, 28, 28, 1) and labels.tolist() == [7] * 12
    with np.load(tmp_path / "sevens.npz") as archive:
        assert archive["labels"].tolist() == [7] * 12


def test_generate_without_a_label_covers_every_class_one_row_each(conditional_runs, tmp_path):
    output = tmp_path / "all.npz"
    _, labels = generate.write_samples(conditional_runs / "dcgan", 100, output)
    assert np.bincount(labels).tolist() == [10] * 10
    assert np.asarray(Image.open(output.with_suffix(".png"))).shape == (10 * 30 + 2, 10 * 30 + 2)


@pytest.mark.parametrize("num_samples, per_row", [(64, 6), (100, 10), (25, 2)])
def test_a_conditional_preview_has_one_row_per_class_for_any_sample_count(conditional_runs, tmp_path,
                                                                          num_samples, per_row):
    # 64 samples of 10 classes are 6 or 7 per class: rows of 6, one class each.
    output = tmp_path / "s.npz"
    _, labels = generate.write_samples(conditional_runs / "wgan", num_samples, output)
    assert np.bincount(labels).min() == per_row or per_row == 10
    assert np.asarray(Image.open(output.with_suffix(".png"))).shape == (10 * 30 + 2, per_row * 30 + 2)


@pytest.mark.parametrize("which, label, message", [
    ("conditional", 10, "--label=10 is not a class of this run (0 to 9)"),
    ("unconditional", 3, "--label needs a run trained with --conditional"),
])
def test_generate_refuses_a_label_it_cannot_honour(conditional_runs, trained, tmp_path, which, label, message):
    logdir = conditional_runs / "wgan" if which == "conditional" else trained["wgan"][0]
    with pytest.raises(cli.UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate.write_samples(logdir, 4, tmp_path / "x.npz", label=label)
    assert not (tmp_path / "x.npz").exists()


def test_a_run_made_before_a_flag_existed_resumes(trained, tmp_path, capsys):
    # config.json of an older run lacks the newer flags; they count as their defaults.
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan_gp"][0], logdir)
    config = json.loads((logdir / "config.json").read_text())
    for key in ("conditional", "optimizer"):
        del config[key]
    (logdir / "config.json").write_text(json.dumps(config))
    train_in_process("wgan_gp", logdir, "--train_steps=5")
    assert "resuming at generator iteration 4" in capsys.readouterr().out
    with pytest.raises(cli.UserError, match="optimizer: 'adam' -> 'rmsprop'"):
        train_in_process("wgan_gp", logdir, "--train_steps=6", "--optimizer=rmsprop")


# ---- signals -----------------------------------------------------------------------------------


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
def test_an_interrupted_run_saves_a_checkpoint_and_resumes_there(tmp_path, signal_name, capsys):
    logdir = tmp_path / "run"
    status, rest, _ = signal_a_long_run(logdir, "step 3/", getattr(signal, signal_name))
    assert status == 130
    assert "interrupted: saved a checkpoint at generator iteration" in rest
    saved = int(rest.split("generator iteration ")[1].split(";")[0])
    assert saved >= 3
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith(f"ckpt-{saved}")

    train_in_process("wgan_gp", logdir, f"--train_steps={saved + 1}")
    assert f"resuming at generator iteration {saved}" in capsys.readouterr().out


def test_a_signal_during_start_up_still_stops_the_run(tmp_path):
    # Sent while the run loads and TensorFlow traces the first steps, where a raised
    # KeyboardInterrupt can be swallowed; the run must stop all the same.
    status, rest, errors = signal_a_long_run(tmp_path / "run", "run directory:", signal.SIGTERM)
    assert status == 130, errors[-2000:]
    assert "interrupted" in rest + errors and "Traceback" not in errors


# ---- the switches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant, switches",
    [("wgan_gp", "--mixed_precision=float16"), ("dcgan", "--mixed_precision=bfloat16"), ("wgan", "--jit_compile"),
     ("wgan_gp", "--conditional --mixed_precision=float16"), ("wgan_gp", "--critic_norm=layer"),
     ("wgan_gp", "--optimizer=rmsprop"), ("sngan", "--conditional --mixed_precision=float16"),
     ("wgan_r1", "--mixed_precision=bfloat16"), ("dcgan", "--mixed_precision=float16")],
)
def test_switches_train_with_finite_losses(variant, switches, tmp_path):
    logdir = tmp_path / "run"
    train_in_process(variant, logdir, "--train_steps=3", *switches.split())
    rows = metrics_rows(logdir)
    assert len(rows) == 3 and all(np.isfinite(float(value)) for row in rows for value in row.values())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(logdir / "checkpoints")))
    kernels = [name for name in reader.get_variable_to_dtype_map() if name.startswith("generator/")]
    assert kernels and all(reader.get_variable_to_dtype_map()[name] == tf.float32 for name in kernels)
    if "--mixed_precision=float16" in switches:
        assert_float16_updates_were_applied(variant, logdir)


def assert_float16_updates_were_applied(variant, logdir):
    """Finite losses are not enough: a loss scale that overflows skips every update and halves."""
    before, after = (tf.train.load_checkpoint(str(logdir / "checkpoints" / f"ckpt-{step}")) for step in (2, 3))
    updates = {"generator_optimizer": 3, "discriminator_optimizer": 3 * N_CRITIC[variant]}
    for name, count in updates.items():
        applied = after.get_tensor(f"{name}/inner_optimizer/_iterations{ITERATIONS}")
        scale = after.get_tensor(f"{name}/dynamic_scale{ITERATIONS}")
        assert applied >= count // 2, f"{name}: {applied} of {count} updates applied"
        assert 2.0**10 <= scale <= 2.0**15, f"{name}: loss scale {scale}"  # starts at 2^15, halves per skip
    shapes = after.get_variable_to_shape_map()  # the critic's kernels, as its optimizer holds them
    critic = [key for key in shapes if key.startswith("discriminator_optimizer/_trainable_variables/")
              and len(shapes[key]) == 4]
    assert critic and any(not np.array_equal(before.get_tensor(key), after.get_tensor(key)) for key in critic)


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


# ---- evaluation during training, and the data a run trains on ----------------------------------


def small_evaluator(monkeypatch, built=None):
    """In-training evaluation with 200 samples instead of 5,000; `built` collects each evaluator."""

    class SmallEvaluator(quality.Evaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, num_samples=200, **kwargs)
            if built is not None:
                built.append(self)

    monkeypatch.setattr(training_run.quality, "Evaluator", SmallEvaluator)


def test_evaluation_during_training_changes_no_training_number(tmp_path, monkeypatch):
    # Building the evaluator seeds TensorFlow (the classifier trains seeded); the run's
    # own seed must still decide every training number.
    small_evaluator(monkeypatch)

    def losses(name, *argv):
        train_in_process("dcgan", tmp_path / name, "--train_steps=2", *argv)
        return [(row["loss/discriminator"], row["loss/generator"]) for row in metrics_rows(tmp_path / name)]

    plain = losses("plain", "--seed=1")
    assert losses("evaluated", "--seed=1", "--eval_every=1") == plain
    assert losses("other_seed", "--seed=2", "--eval_every=1") != plain


def test_in_training_evaluation_is_float32_under_mixed_precision(tmp_path, monkeypatch):
    built = []
    small_evaluator(monkeypatch, built)
    train_in_process("dcgan", tmp_path / "run", "--train_steps=1", "--eval_every=1", "--mixed_precision=float16")
    layers = [layer for layer in built[0].extractor.model.layers if layer.weights]
    assert layers and {layer.compute_dtype for layer in layers} == {"float32"}


def test_the_clock_starts_after_the_evaluator_is_built(tmp_path, monkeypatch):
    # The first perf/steps_per_sec must not count the evaluator's start-up (on a cache miss,
    # ~20 s of classifier training).
    class Evaluator:
        num_samples = 10

        def __init__(self, *args, **kwargs):
            self.built_at = time.perf_counter()
            built.append(self)

        def describe(self):
            return "a stand-in"

        def score(self, images, labels=None):
            return {"classifier_fd": 1.0}

    class RecordedRun(training_run.TrainingRun):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clock_starts.append(self._tick[0])

    built, clock_starts = [], []
    monkeypatch.setattr(training_run.quality, "Evaluator", Evaluator)
    monkeypatch.setattr(training_run, "TrainingRun", RecordedRun)
    train_in_process("dcgan", tmp_path / "run", "--train_steps=1", "--eval_every=1")
    assert clock_starts[0] >= built[0].built_at


def test_offline_evaluation_of_colour_images_stops_before_anything_is_written(tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    folder = tmp_path / "colour"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    with pytest.raises(cli.UserError, match="--inception_weights=PATH") as error:
        train_in_process("dcgan", tmp_path / "run", f"--dataset=folder:{folder}", "--image_size=32",
                         "--train_steps=1", "--eval_every=1")
    assert "\n" not in str(error.value) and not (tmp_path / "run").exists()
    assert parse("dcgan", ["--inception_weights=/weights.h5"])["inception_weights"] == "/weights.h5"


def fake_mnist(folder, count=64):
    """A stand-in for keras' mnist.npz: random 28x28 digits, 10 classes."""
    rng = np.random.default_rng(0)
    arrays = {f"x_{split}": rng.integers(0, 256, (count, 28, 28), dtype=np.uint8) for split in ("train", "test")}
    arrays.update({f"y_{split}": np.arange(count) % 10 for split in ("train", "test")})
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "mnist.npz", **arrays)
    return arrays


def test_a_run_resumes_from_a_moved_copy_of_its_data(tmp_path, capsys):
    fake_mnist(tmp_path / "here")
    logdir = tmp_path / "run"
    train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'here'}", "--train_steps=2")
    (tmp_path / "here").rename(tmp_path / "there")
    train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'there'}", "--train_steps=3")
    assert "resuming at generator iteration 2" in capsys.readouterr().out
    assert "there" in json.loads((logdir / "config.json").read_text())["data_source"]


def test_a_run_that_fell_back_to_mnist_5k_keeps_it_when_the_network_is_back(tmp_path, monkeypatch, capsys):
    from common import data

    def offline(name, fix, split):
        raise cli.UserError(f"{name} could not be downloaded (no network); {fix}")

    logdir = tmp_path / "run"
    monkeypatch.setattr(data, "_download", offline)
    train_in_process("dcgan", logdir, "--dataset=mnist", "--train_steps=2")
    recorded = json.loads((logdir / "config.json").read_text())["data_source"]
    assert recorded.startswith("mnist_5k") and "fallback" in recorded

    arrays = fake_mnist(tmp_path / "download")
    monkeypatch.setattr(data, "_download", lambda name, fix, split: (arrays[f"x_{split}"], arrays[f"y_{split}"]))
    train_in_process("dcgan", logdir, "--dataset=mnist", "--train_steps=3")
    assert "resuming at generator iteration 2" in capsys.readouterr().out
    assert json.loads((logdir / "config.json").read_text())["data_source"] == recorded  # still mnist_5k
    assert rundir.data_identity(json.loads((logdir / "config.json").read_text())) == "mnist_5k"  # scored on it


def test_a_real_change_of_data_is_refused(tmp_path, monkeypatch):
    from common import data

    fake_mnist(tmp_path / "here")
    logdir = tmp_path / "run"
    train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'here'}", "--train_steps=2")
    before = snapshot(logdir)
    monkeypatch.setattr(data, "_download", lambda name, fix, split: (_ for _ in ()).throw(cli.UserError("offline")))
    with pytest.raises(cli.UserError, match="trained on mnist, and this one would train on mnist_5k"):
        train_in_process("dcgan", logdir, "--dataset=mnist", "--train_steps=3")  # no --data_dir: the fallback
    assert snapshot(logdir) == before


# ---- a blow-up: NaN or inf stops the run, and no checkpoint holds it -----------------------------


def all_checkpoints_finite(logdir):
    """Every checkpoint left in logdir, read back: are all its floating-point values finite?"""
    indices = sorted((logdir / "checkpoints").glob("ckpt-*.index"))
    for index in indices:
        reader = tf.train.load_checkpoint(str(index)[:-len(".index")])
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating and not np.all(np.isfinite(reader.get_tensor(name))):
                return False
    return bool(indices)


class TooLargeStepRun(training_run.TrainingRun):
    """A run whose optimizers take steps far too large once it has restored its checkpoint."""

    def __init__(self, config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy):
        super().__init__(config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy)
        generator_optimizer.learning_rate = discriminator_optimizer.learning_rate = 1e38


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_blow_up_stops_the_run_and_leaves_only_finite_checkpoints(variant, tmp_path, monkeypatch, capsys):
    logdir = tmp_path / "run"
    train_in_process(variant, logdir, "--train_steps=2")  # ckpt-2, a good one
    monkeypatch.setattr(training_run, "TrainingRun", TooLargeStepRun)
    with pytest.raises(training_run.NonFiniteError) as error:
        train_in_process(variant, logdir, "--train_steps=40", "--checkpoint_every=1")
    message = str(error.value)
    assert re.match(r"stopped at generator iteration \d+: (\S+ is (nan|inf|-inf)|a weight is not finite) "
                    r"\(nothing saved\); the latest checkpoint, ckpt-\d+, holds finite weights", message), message
    assert "\n" not in message
    assert all_checkpoints_finite(logdir)
    assert all(np.isfinite(float(value)) for row in metrics_rows(logdir) for value in row.values())
    # The same command resumes from the last good checkpoint (here, to blow up again).
    latest = int(tf.train.latest_checkpoint(str(logdir / "checkpoints")).rsplit("-", 1)[1])
    capsys.readouterr()
    with pytest.raises(training_run.NonFiniteError):
        train_in_process(variant, logdir, "--train_steps=40", "--checkpoint_every=1")
    assert f"resuming at generator iteration {latest}" in capsys.readouterr().out
    assert all_checkpoints_finite(logdir)
