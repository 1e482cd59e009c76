"""Every train.py, the generate command and the benchmark: as a user types them, and in-process.

Each command runs in a subprocess once (a few iterations on tiny settings); the rest runs
in this process: the other train.py commands through run_in_process (tests/helpers.py),
which runs a command's `__main__` here, and the rest calls the same functions, since a
train.py's train(config) is what its command runs after parsing the flags. The run
lifecycle's own tests are in test_training_run.py.
"""
import ast
import json
import logging
import re
import shutil
import signal
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from commands import generate
from common import cli, rundir
from tests.helpers import (ITERATIONS, N_CRITIC, REPO, TINY, VARIANTS, metrics_rows, own_stderr_lines, parse,
                           run_in_process, run_python, run_python_timed, snapshot, train_in_process, train_module,
                           trained_run)

COMMON_TAGS = {"loss/discriminator", "loss/generator", "discriminator/real", "discriminator/fake", "perf/steps_per_sec"}
PENALTY_TAGS = {"wasserstein_estimate", "gradient_penalty", "gradient_norm"}
EXTRA_TAGS = {"dcgan": set(), "wgan": {"wasserstein_estimate"}, "sngan": {"wasserstein_estimate"},
              "wgan_gp": PENALTY_TAGS, "wgan_r1": PENALTY_TAGS}
# How a user starts each variant: the script form, and for wgan_gp the module form.
COMMANDS = {variant: [f"{variant}/train.py"] for variant in VARIANTS} | {"wgan_gp": ["-m", "wgan_gp.train"]}
IN_A_PROCESS = "wgan_gp"  # the README's command, run as a user types it; the others run in this process


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each variant trained for 4 generator iterations by its command: IN_A_PROCESS's in a new
    process, the others' in this one (run_in_process)."""
    root = tmp_path_factory.mktemp("runs")
    results = {}
    for variant in VARIANTS:
        logdir = root / variant
        command = [*COMMANDS[variant], *TINY, "--train_steps=4", f"--logdir={logdir}"]
        if variant != IN_A_PROCESS:
            result = run_in_process(command)
            assert result.returncode == 0, result.stderr[-3000:]
            results[variant] = (logdir, result)
            continue
        scratch = root / "temp"  # its temp folder (TMPDIR)
        scratch.mkdir()
        result, done_to_exit = run_python_timed(command, "done:", env={"TMPDIR": str(scratch)})
        assert result.returncode == 0, result.stderr[-3000:]
        results[variant] = (logdir, result)
        # Nothing left in the temp folder (AutoGraph left a file for each input-pipeline function).
        assert list(scratch.iterdir()) == []
        # The process ends at once after saying it is done (it used to wait 1-22 s for tf.data's threads).
        assert done_to_exit < 1, f"{variant}: {done_to_exit:.1f} s from 'done:' to the exit"
    return results


def imports_common_first(variant):
    """Whether VARIANT/train.py imports common before any module outside Python's standard library:
    common quiets TensorFlow's start-up notes, which only a new process shows."""
    for node in ast.parse((REPO / variant / "train.py").read_text()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            outside = [name.split(".")[0] for name in names if name.split(".")[0] not in sys.stdlib_module_names]
            if outside:
                return outside[0] == "common"
    return False


def optimizer_iterations(checkpoint_path, name):
    return int(tf.train.load_checkpoint(str(checkpoint_path)).get_tensor(f"{name}/_iterations{ITERATIONS}"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_run_leaves_config_logs_samples_and_checkpoints(trained, variant):
    logdir, result = trained[variant]
    config = json.loads((logdir / "config.json").read_text())
    assert config["variant"] == variant and config["batch_size"] == 8 and config["train_steps"] == 4
    assert config["image_shape"] == [28, 28, 1] and config["data_source"].startswith("mnist_5k")
    assert config["image_size"] == 28  # the side it trained at, not --image_size's 64 (for folder: and tfds:)
    assert "generator: 1,551,681 parameters" in result.stdout and "1 replica(s) on the CPU" in result.stdout
    # A quiet start: nothing on stderr when nothing is wrong (no TensorFlow start-up notes, no
    # "remapper failed" from Grappler, no cuInit error on a machine without a GPU). The start-up
    # notes show in IN_A_PROCESS's run; each train.py imports common first, which keeps them out.
    assert result.stderr == "", result.stderr[-3000:]
    assert imports_common_first(variant)

    rows = metrics_rows(logdir)
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {"step", "wall_time"} | COMMON_TAGS | EXTRA_TAGS[variant]
    assert all(np.isfinite(float(value)) for row in rows for value in row.values())
    assert list(logdir.glob("events.out.tfevents.*"))

    # Every --sample_every=2 iterations, and at the first (a picture within a minute on a CPU).
    assert sorted(path.name for path in (logdir / "samples").iterdir()) == [
        "latest.png", "step_0000001.png", "step_0000002.png", "step_0000004.png"]
    for step in (1, 2, 4):
        grid = np.asarray(Image.open(logdir / "samples" / f"step_{step:07d}.png"))
        assert grid.shape == (8 * 30 + 2, 8 * 30 + 2)  # 8 x 8 digits of 28 px, 2 px apart
        assert grid.std() > 0
    assert (logdir / "samples" / "latest.png").read_bytes() == (logdir / "samples" / "step_0000004.png").read_bytes()
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
    # The early grids count from the resume: its first iteration gets one.
    assert {path.name for path in (logdir / "samples").iterdir()} >= {"step_0000005.png", "step_0000006.png"}
    assert (logdir / "samples" / "latest.png").read_bytes() == (logdir / "samples" / "step_0000006.png").read_bytes()


def test_a_finished_run_says_so_and_changes_nothing(trained, tmp_path, capsys):
    logdir = tmp_path / "run"
    shutil.copytree(trained["dcgan"][0], logdir)
    before = snapshot(logdir)
    train_in_process("dcgan", logdir, "--train_steps=4")
    assert "already trained for 4 generator iterations" in capsys.readouterr().out
    assert snapshot(logdir) == before


def test_the_same_seed_gives_the_same_run_on_cpu(trained, tmp_path):
    # Trained in the tests' process (the run other tests share), against the run the command
    # made in a process of its own: the same seed, the same numbers.
    logdir = trained_run(IN_A_PROCESS, tmp_path / "again", "--train_steps=4")

    def losses(folder):
        return [(row["loss/discriminator"], row["loss/generator"], row["discriminator/real"])
                for row in metrics_rows(folder)]

    assert losses(logdir) == losses(trained[IN_A_PROCESS][0])


def test_generate_command_writes_uint8_samples_and_a_grid_into_the_run(trained, tmp_path):
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan"][0], logdir)
    (tmp_path / "elsewhere").mkdir()
    # In this process: the notebook's test runs `python -m commands.generate` as a user types it.
    result = run_in_process(["-m", "commands.generate", f"--logdir={logdir}", "--num_samples=11"],
                            cwd=tmp_path / "elsewhere")
    assert result.returncode == 0, result.stderr[-3000:]
    output = logdir / "samples.npz"  # inside the run directory by default, not in the current folder
    assert list((tmp_path / "elsewhere").iterdir()) == []
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
    ("wgan", ["--dataset=folder:{broken}"], "cannot read any image"),
    ("wgan_gp", ["--train_steps=0"], "train_steps"),
    ("dcgan", ["--batch_size=-3"], "batch_size"),
    ("wgan_gp", ["--batch_size=6000"], "larger than the dataset"),
    ("wgan_gp", ["--gp_lambda=-1"], "gp_lambda"),
    ("wgan", ["--clip_value=-0.01"], "clip_value"),
    ("wgan", ["--clip_value=0"], "clip_value must be positive"),
    ("wgan_gp", ["--n_critic=0"], "n_critic"),
    ("wgan_gp", ["--beta1=1.5"], "beta1"),
    ("dcgan", ["--image_size=32"], "applies to folder: and tfds: datasets; mnist_5k has a fixed size: add --dataset"),
    ("wgan", ["--cache_dir={empty}"], "--cache_dir applies to folder: datasets, not mnist_5k"),
    ("wgan_gp", ["--dataset=tfds:mnist", "--data_dir={empty}"],
     "empty; prepare it once (it downloads) with `python -m commands.prepare --dataset=tfds:mnist"),
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


def test_an_empty_logdir_is_refused_in_training_and_in_the_commands_that_read_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the folder an empty --logdir would have made the run
    with pytest.raises(cli.UserError, match="^--logdir is empty; give the run's folder"):
        train_module("dcgan").train(parse("dcgan", ["--dataset=mnist_5k", "--train_steps=2", "--logdir="]))
    with pytest.raises(cli.UserError, match="^--logdir is empty; give a run directory$"):
        rundir.read_config("")
    assert list(tmp_path.iterdir()) == []


def test_a_cache_folder_inside_the_run_directory_is_refused_before_anything_is_written(tmp_path):
    # It would be built first, and the new run's folder then refused for holding no config.json.
    images = tmp_path / "images"
    images.mkdir()
    for index in range(8):
        Image.new("RGB", (32, 32), (index * 30, 0, 0)).save(images / f"{index}.png")
    logdir = tmp_path / "run"
    with pytest.raises(cli.UserError, match=rf"--cache_dir={re.escape(str(logdir))}/cache is inside --logdir="):
        train_in_process("dcgan", logdir, f"--dataset=folder:{images}", "--image_size=32", f"--cache_dir={logdir}/cache")
    assert not logdir.exists()


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


@pytest.mark.parametrize("argv, message, run", [
    # A UserError, in a new process as a user types it:
    (["mnist"], "error: unexpected arguments ['mnist']; flags take the form --name=value", run_python),
    # absl's parsing, in this process:
    (["--trian_steps=3"], "error: unknown flag --trian_steps (did you mean --train_steps?)", run_in_process),
], ids=["unexpected argument", "unknown flag"])
def test_bad_input_on_the_command_line_is_one_line_and_exit_status_2(argv, message, run, bad_input_setting):
    logdir, _ = bad_input_setting
    before = snapshot(logdir)
    result = run(["wgan_gp/train.py", "--dataset=mnist_5k", "--batch_size=8", *argv, f"--logdir={logdir}"])
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message], result.stderr[-3000:]  # one line, nothing else
    assert snapshot(logdir) == before


def test_help_is_an_answer_with_exit_status_0():
    # absl's --help, --helpshort and --helpfull exit with 1, which a shell takes for a failure.
    # -h, as the argparse scripts take it, was absl's "unknown flag --h".
    for argv in (["dcgan/train.py", "--help"], ["-m", "commands.generate", "--helpshort"], ["wgan/train.py", "-h"]):
        result = run_in_process(argv)
        assert result.returncode == 0 and "--logdir" in result.stdout and own_stderr_lines(result.stderr) == []


def test_a_command_run_in_process_exits_as_a_process_would_and_leaves_this_one_as_it_was():
    # run_in_process (tests/helpers.py), which runs most of the commands these tests start.
    imported = train_module("wgan_gp")  # as the other tests import it: `-m` runs its code anew all the same
    flags_before, handlers = set(flags.FLAGS), (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    logging_before = logging.root.handlers[:], logging.root.level  # absl's start-up changes both
    for _ in range(2):  # the second time, the command defines its flags again
        refused = run_in_process(["wgan_gp/train.py", "--trian_steps=3"])
        assert refused.returncode == 2 and refused.stdout == ""
        assert own_stderr_lines(refused.stderr) == ["error: unknown flag --trian_steps (did you mean --train_steps?)"]
        checked = run_in_process(["-m", "wgan_gp.train", "--only_check_args"])  # absl's: parse, then exit 0
        assert (checked.returncode, checked.stdout, own_stderr_lines(checked.stderr)) == (0, "", [])
    assert set(flags.FLAGS) == flags_before and not flags.FLAGS.is_parsed() and train_module("wgan_gp") is imported
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert (logging.root.handlers, logging.root.level) == logging_before


def test_a_run_made_before_a_flag_existed_resumes(trained, tmp_path, capsys):
    # config.json of an older run lacks the newer flags; they count as their defaults.
    logdir = tmp_path / "run"
    shutil.copytree(trained["wgan_gp"][0], logdir)
    config = json.loads((logdir / "config.json").read_text())
    for key in ("conditional", "optimizer"):
        del config[key]
    (logdir / "config.json").write_text(json.dumps(config))
    # The settings are checked and the checkpoint restored before any training: a start with
    # nothing to train resumes through all that reads the old config.json.
    train_in_process("wgan_gp", logdir, "--train_steps=4")
    assert "resuming at generator iteration 4" in capsys.readouterr().out
    with pytest.raises(cli.UserError, match="optimizer: 'adam' -> 'rmsprop'"):
        train_in_process("wgan_gp", logdir, "--train_steps=6", "--optimizer=rmsprop")


def test_benchmark_reports_throughput_and_flops(tmp_path):
    output = tmp_path / "bench.json"
    result = run_python(["benchmarks/benchmark.py", "--variants", "wgan_gp", "--seconds", "0", "--profile",
                         "--profile_iterations", "1", "--batch_size", "2", f"--json={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(output.read_text())
    assert row["textbook_iterations_per_sec"] > 0 and "x textbook" in result.stdout
    # The profile: the convolutions lead, each with its FLOPs, which add up to the iteration's.
    ops = {op["op"]: op for op in row["profile"]["ops"]}
    assert {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"} <= set(ops)
    assert sum(op["gflop_per_iteration"] for op in ops.values()) == pytest.approx(row["gflop_per_iteration"])
    assert "| Conv2DBackpropInput |" in result.stdout
    assert (row["variant"], row["size"], row["batch_size"], row["n_critic"]) == ("wgan_gp", 28, 2, 5)
    assert row["images_per_sec"] == pytest.approx(row["iterations_per_sec"] * 5 * 2)
    assert row["input_images_per_sec"] > row["images_per_sec"]
    # One critic forward pass of the 28x28 nets is 47 MFLOP per image (three 5x5 convolutions);
    # an iteration makes 5 x 3 batches of such passes plus their gradients: at batch 2, GFLOPs.
    # (Batch 8 checked nothing more and cost 2.5 CPU-s more.)
    assert 5 * 3 * 2 * 0.047 < row["gflop_per_iteration"] < 1000 * 2 / 64
    assert "wgan_gp" in result.stdout and "% peak" in result.stdout
    # One process measured: one number, not a range of one ("209-209").
    assert re.search(r"^matmul peak, measured in each process: \d+ GFLOP/s", result.stdout, re.M), result.stdout


def test_folder_pipeline_benchmark_reports_its_table(tmp_path):
    output = tmp_path / "folder.json"
    # --seconds: any time measures at least one batch, which is all the checks below need.
    result = run_python(["benchmarks/folder_pipeline.py", "--counts", "100", "--seconds", "0.05", f"--json={output}"])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(output.read_text())
    assert [row["pipeline"] for row in rows] == ["streamed", "cache, first start", "cache, later start"]
    assert all(row["images"] == 100 and row["images_per_sec"] > 0 and row["first_batch_seconds"] > 0 for row in rows)
    assert "| 100 | cache, later start |" in result.stdout and "peak MiB" in result.stdout
