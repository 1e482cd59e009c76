"""A training run's lifecycle, in-process: conditional runs, signals, evaluation during training,
and the data a resumed run trains on (tests/test_finite_runs.py: the switches and a blow-up to NaN).

Each test calls what `python VARIANT/train.py FLAGS` runs after parsing its flags (the
signal tests start the command itself: a signal needs a process of its own).
"""
import functools
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
from PIL import Image

from commands import generate
from common import cli, data, quality, rundir, training_run
from tests.helpers import (ITERATIONS, REPO, TINY, fill_disk, metrics_rows, own_stderr_lines, parse, run_in_process,
                           run_python, small_networks, snapshot, train_in_process, trained_run)


@pytest.fixture(autouse=True)
def small(request):
    """The runs here train small stand-in networks (conftest.py: stand_in_networks): what is
    tested is what a run does around them. A test marked real_networks (it continues here a
    run that a command trained in a process of its own) trains the variants' own."""
    if not request.node.get_closest_marker("real_networks"):
        request.getfixturevalue("stand_in_networks")


# ---- --conditional ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conditional_runs(tmp_path_factory):
    """Each paper's variant trained for 2 generator iterations with --conditional: dcgan and
    wgan on mnist_5k, wgan_gp on a TFDS set; and an unconditional run (the flags of other
    tests' runs: trained once for all of them)."""
    root = tmp_path_factory.mktemp("conditional")
    with small_networks():
        trained_conditional_runs(root)
    return root


def trained_conditional_runs(root):
    import tensorflow_datasets as tfds

    for variant in ("dcgan", "wgan"):
        trained_run(variant, root / variant, "--train_steps=2", "--conditional")
    with tfds.testing.mock_data(num_examples=16):  # offline: random images with the set's shapes and labels
        trained_run("wgan_gp", root / "wgan_gp", "--dataset=tfds:mnist", "--image_size=28", "--conditional",
                    "--train_steps=2")
    trained_run("dcgan", root / "unconditional", "--train_steps=2")  # the contrast for --label


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


def test_an_interrupted_generate_leaves_the_previous_samples_whole(conditional_runs, tmp_path, monkeypatch):
    output = tmp_path / "samples.npz"
    generate.write_samples(conditional_runs / "unconditional", 12, output)
    before = output.read_bytes()

    def interrupted(source, target):
        raise KeyboardInterrupt  # the new file is written, the rename never happens

    with monkeypatch.context() as patched, pytest.raises(
            KeyboardInterrupt, match=f"^interrupted: {output} not written, any earlier one there is as it was$"):
        patched.setattr(os, "replace", interrupted)
        generate.write_samples(conditional_runs / "unconditional", 20, output, seed=1)
    assert output.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["samples.npz", "samples.png"]  # no partial file
    with np.load(output) as archive:
        assert archive["images"].shape == (12, 28, 28, 1)
    # Later: the line says which file is new, also when the interrupt comes just after a rename.
    grid = output.with_suffix(".png")
    not_grid = f"wrote {output}; {grid} not written, any earlier one there is as it was"
    replace, save_png = os.replace, generate.images.save_png

    def renamed_then_interrupted(source, target):
        replace(source, target)
        raise KeyboardInterrupt

    def saved_then_interrupted(*args):
        save_png(*args)
        raise KeyboardInterrupt

    for count, (module, name, patch, said) in enumerate([
            (generate.images, "save_png", interrupted, not_grid),  # before the grid
            (os, "replace", renamed_then_interrupted, not_grid),  # the .npz renamed into place
            (generate.images, "save_png", saved_then_interrupted, f"wrote {output} and {grid}")], start=21):
        grid_before = grid.read_bytes()
        with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt, match=f"^interrupted: {said}$"):
            patched.setattr(module, name, patch)
            generate.write_samples(conditional_runs / "unconditional", count, output, seed=1)
        with np.load(output) as archive:
            assert archive["images"].shape == (count, 28, 28, 1)
        assert (grid.read_bytes() == grid_before) == (said == not_grid)
        assert sorted(path.name for path in tmp_path.iterdir()) == ["samples.npz", "samples.png"]


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
def test_generate_refuses_a_label_it_cannot_honour(conditional_runs, tmp_path, which, label, message):
    logdir = conditional_runs / ("wgan" if which == "conditional" else "unconditional")
    with pytest.raises(cli.UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate.write_samples(logdir, 4, tmp_path / "x.npz", label=label)
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("blocked", ["x.npz", "x.png"])
def test_generate_whose_output_is_in_the_way_writes_neither_file(conditional_runs, tmp_path, blocked):
    # A folder where the grid goes stopped generate after it had written the .npz.
    (tmp_path / blocked).mkdir()
    said = f"{tmp_path / blocked} is a folder; give a file path"
    with pytest.raises(cli.UserError, match="^" + re.escape(said + ("" if blocked == "x.npz" else
                                                                    " (the PNG grid of x.npz goes there)")) + "$"):
        generate.write_samples(conditional_runs / "unconditional", 4, tmp_path / "x.npz")
    assert sorted(path.name for path in tmp_path.iterdir()) == [blocked]


def test_generate_replaces_an_earlier_grid_but_not_a_picture_of_the_users(conditional_runs, tmp_path):
    # --output=mine.npz went over a mine.png beside it, a file the user never named.
    (tmp_path / "x.png").write_bytes(b"my picture")
    with pytest.raises(cli.UserError, match=re.escape(f"{tmp_path / 'x.png'} exists, and the PNG grid of x.npz goes "
                                                      "there; move it, or choose another --output")):
        generate.write_samples(conditional_runs / "unconditional", 4, tmp_path / "x.npz")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x.png"]
    (tmp_path / "x.png").unlink()
    generate.write_samples(conditional_runs / "unconditional", 4, tmp_path / "x.npz")
    generate.write_samples(conditional_runs / "unconditional", 4, tmp_path / "x.npz")  # the pair, replaced


def test_generate_of_more_samples_than_memory_holds_is_one_line(tmp_path):
    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=2")
    output = tmp_path / "x.npz"
    result = run_in_process(["-m", "commands.generate", f"--logdir={logdir}", "--num_samples=100000000000",
                             f"--output={output}"])  # 93 TiB of noise: NumPy refuses it at once
    assert result.returncode == 2
    assert own_stderr_lines(result.stderr) == [
        "error: out of memory (Unable to allocate 93.1 TiB for an array with shape (100000000000, 128) and data type "
        "float64); ask for less"]
    assert not output.exists()


def test_a_path_flag_that_starts_with_a_tilde_means_the_home_folder(tmp_path):
    # The shell leaves --logdir=~/x as it is (it expands ~ only at the start of a word): the
    # commands expand it, instead of making a folder named ~ in the current one.
    trained_run("dcgan", tmp_path / "home" / "run", "--train_steps=2")
    (tmp_path / "elsewhere").mkdir()
    result = run_in_process(["-m", "commands.generate", "--logdir=~/run", "--num_samples=2", "--output=~/s.npz"],
                            cwd=tmp_path / "elsewhere", env={"HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "home" / "s.npz").is_file() and list((tmp_path / "elsewhere").iterdir()) == []


# ---- signals -----------------------------------------------------------------------------------


def signal_a_long_run(logdir, when, *signal_numbers, argv=(), clock=None):
    """Starts a long wgan_gp run, sends `signal_numbers` once a stdout line starts with `when`.

    Returns (exit status, the rest of stdout, stderr). clock, a dict, receives the seconds
    from the start to: the first grid seen (the check is at each stdout line), the line
    `when`, each later stdout line by its first word, and the exit; and "line", the line `when`.
    """
    command = [sys.executable, "wgan_gp/train.py", *TINY, "--train_steps=100000", f"--logdir={logdir}", *argv]
    stderr_path = logdir.parent / "stderr.txt"
    clock = {} if clock is None else clock
    began = time.perf_counter()
    with open(stderr_path, "w") as stderr:  # a file, not a pipe: nothing reads it until the end
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in process.stdout:
            if "first grid" not in clock and (logdir / "samples" / "latest.png").is_file():
                clock["first grid"] = time.perf_counter() - began
            if line.startswith(when):
                clock[when], clock["line"] = time.perf_counter() - began, line
                for signal_number in signal_numbers:
                    process.send_signal(signal_number)
                break
        rest = []
        for line in process.stdout:
            rest.append(line)
            clock.setdefault(line.split(" ")[0], time.perf_counter() - began)
        status = process.wait(timeout=120)
        clock["exit"] = time.perf_counter() - began
    return status, "".join(rest), stderr_path.read_text()


@pytest.mark.real_networks
def test_an_interrupted_run_saves_a_checkpoint_and_resumes_there(tmp_path, capsys):
    # Ctrl-C in a real process. A SIGTERM is the same stop (cli.run_command handles both):
    # mid-iteration in test_a_signal_between_two_critic_updates_saves_whole_iterations, and
    # to a real process in the start-up and second-signal tests below.
    logdir = tmp_path / "run"
    clock = {}
    status, rest, _ = signal_a_long_run(logdir, "step 3/", signal.SIGINT, clock=clock)
    assert status == 130  # 128 + SIGINT, as shells say
    assert "interrupted: saved a checkpoint at generator iteration" in rest
    # The process ends at once after saying so: under 2 s is the promise; 0.03-0.1 s measured,
    # where Python's exit used to wait for tf.data's threads (1.2-1.6 s for this run, 2-47 s for longer ones).
    assert clock["exit"] - clock["interrupted:"] < 1, clock
    # A picture within the first minute (here a grid at iteration 1, before iteration 2's line),
    # and the progress line's elapsed time and time left (tqdm's mm:ss<mm:ss or h:mm:ss).
    assert clock["first grid"] < 60 and (logdir / "samples" / "step_0000001.png").is_file(), clock
    assert re.match(r"step 3/100000 .*\| \d\d:\d\d<[\d:]+, ", clock["line"]), clock["line"]
    saved = int(rest.split("generator iteration ")[1].split(";")[0])
    assert saved >= 3
    assert int(metrics_rows(logdir)[-1]["step"]) == saved  # the saved iteration is logged too (--log_every=1)
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith(f"ckpt-{saved}")
    # The state of whole iterations: `saved` generator updates, 5 critic updates (and batches) each.
    reader = tf.train.load_checkpoint(str(logdir / "checkpoints" / f"ckpt-{saved}"))
    counters = {name: int(reader.get_tensor(name + ITERATIONS)) for name in (
        "generator_optimizer/_iterations", "discriminator_optimizer/_iterations", "step")}
    assert counters == {"generator_optimizer/_iterations": saved, "discriminator_optimizer/_iterations": 5 * saved,
                        "step": saved}
    assert int(reader.get_tensor("data_position" + ITERATIONS)) == 5 * saved  # the batches of those updates

    train_in_process("wgan_gp", logdir, f"--train_steps={saved + 1}")
    assert f"resuming at generator iteration {saved}" in capsys.readouterr().out


@pytest.mark.parametrize("signal_name, handlers_from", [("SIGINT", "python"), ("SIGTERM", "run_command")])
def test_a_signal_between_two_critic_updates_saves_whole_iterations(tmp_path, monkeypatch, signal_name,
                                                                    handlers_from, capfd):
    # The signal lands where it does the most harm: after the second of iteration 3's five
    # critic updates. The checkpoint must hold 3 whole iterations (or 2), never 2 and a part.
    # Under a command (the handlers cli.run_command installs), and where train() is called with
    # Python's own handlers (a figure script's runs, a notebook): one signal is a stop, not two.
    from wgan_gp import train

    iteration, critic_updates = train.train_iteration, []

    def signalled_iteration(real_batches, discriminator_step, generator_step, n_critic):
        def critic_step(*batch):
            metrics = discriminator_step(*batch)
            critic_updates.append(1)
            if len(critic_updates) == 12:
                os.kill(os.getpid(), getattr(signal, signal_name))  # handled before the next line runs
            return metrics

        return iteration(real_batches, critic_step, generator_step, n_critic)

    monkeypatch.setattr(train, "train_iteration", signalled_iteration)
    own = {"python": signal.default_int_handler, "run_command": cli._interrupt}[handlers_from]
    handlers = {number: signal.signal(number, own) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as exit_status:
            train_in_process("wgan_gp", tmp_path / "run", "--train_steps=10", "--checkpoint_every=100")
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        cli._stop_requested, cli._stop_signal = False, signal.SIGINT  # as a new process has them
    assert exit_status.value.code == 128 + getattr(signal, signal_name)
    output = capfd.readouterr()
    assert "interrupted: saved a checkpoint at generator iteration 3" in output.out
    assert "interrupted again" not in output.out + output.err
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints")))
    step = int(reader.get_tensor("step" + ITERATIONS))
    assert step == 3 and int(reader.get_tensor(f"discriminator_optimizer/_iterations{ITERATIONS}")) == 5 * step
    assert int(reader.get_tensor(f"generator_optimizer/_iterations{ITERATIONS}")) == step


HOLD_A_RUN_DIRECTORY = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(descriptor, fcntl.LOCK_EX)  # the claim common.rundir.RunLock takes for a training process
print("holding", flush=True)
time.sleep(600)
"""


def test_one_process_trains_a_run_at_a_time_and_a_killed_one_leaves_no_claim(tmp_path, capsys, monkeypatch):
    logdir = trained_run("wgan_gp", tmp_path / "run", "--train_steps=2")
    before = snapshot(logdir)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN_DIRECTORY, logdir], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        with monkeypatch.context() as unread, pytest.raises(
                cli.UserError, match=r"is in use: another process is training this run") as error:
            # Refused before its data is read (a folder's decoding, a download and their lines).
            unread.setattr(data, "load_dataset", lambda *args, **kwargs: pytest.fail("read the data"))
            train_in_process("wgan_gp", logdir, "--train_steps=4")
        assert "\n" not in str(error.value)
        assert snapshot(logdir) == before  # refused before it touched the directory
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait()
    capsys.readouterr()
    train_in_process("wgan_gp", logdir, "--train_steps=2")  # the claim ended with its process
    assert "already trained for 2 generator iterations" in capsys.readouterr().out
    # This process's own claim ends with the run: the same command goes on again.
    train_in_process("wgan_gp", logdir, "--train_steps=2")


@pytest.mark.parametrize("other_run", ["still starting", "trained and finished"])
def test_a_run_made_in_the_folder_while_a_new_one_starts_is_left_alone(other_run, tmp_path, monkeypatch, capsys):
    # Between finding no run in --logdir and making it, another process made one there: it either
    # holds the folder still, or has trained and finished (a start that evaluates waits ~20 s for
    # its classifier). Either way the late start is refused and the other run is left as it was.
    logdir, others = tmp_path / "new", []
    finished = trained_run("dcgan", tmp_path / "finished", "--train_steps=1") if other_run != "still starting" else None
    check_logdir = rundir.check_logdir
    capsys.readouterr()

    def another_run_is_made_meanwhile(*args, **kwargs):
        checked = check_logdir(*args, **kwargs)
        if finished:
            shutil.copytree(finished, logdir)  # (its modification times kept)
        else:
            logdir.mkdir()
            others.append(rundir.RunLock(logdir))
        return checked

    monkeypatch.setattr(rundir, "check_logdir", another_run_is_made_meanwhile)
    message = r"is in use" if not finished else rf"another process started a run in {re.escape(str(logdir))} while"
    try:
        with pytest.raises(cli.UserError, match=message):
            train_in_process("dcgan", logdir, "--train_steps=3")
    finally:
        for other in others:
            other.release()
    assert snapshot(logdir) == (snapshot(finished) if finished else {})
    assert "run directory:" not in capsys.readouterr().out  # refused before its start-up lines


def run_whose_folder_goes(moment):
    """A TrainingRun class whose folder another process deletes (and, but for a checkpoint
    save, makes anew with a file of its own) at `moment`: "start" (a resume's set-up), "between
    iterations" (after the first), "evaluation" (the first), "checkpoint save" (the first)."""

    def replace(logdir, again=True):
        shutil.rmtree(logdir)
        if again:
            logdir.mkdir()
            (logdir / "the other run's file").write_text("kept")

    class Run(training_run.TrainingRun):
        def print_banner(self, *args):
            if moment == "start":
                replace(self.logdir)
            return super().print_banner(*args)

        def end_iteration(self, iteration, metrics):
            if moment == "between iterations" and iteration == 2:
                replace(self.logdir)
            if moment == "checkpoint save" and iteration == 1:
                self.manager.save = self.save_into_a_folder_that_goes
            return super().end_iteration(iteration, metrics)

        def save_into_a_folder_that_goes(self, **kwargs):  # as TensorFlow fails when it goes mid-save
            replace(self.logdir, again=False)
            raise tf.errors.NotFoundError(None, None, f"{self.logdir}/checkpoints/ckpt-1_temp; No such file or directory")

        def evaluate(self, iteration):
            if moment == "evaluation":
                replace(self.logdir)
            return super().evaluate(iteration)

    return Run


@pytest.mark.parametrize("moment, stopped", [
    ("start", "was starting"), ("between iterations", "trained; stopped at generator iteration 2"),
    ("evaluation", "trained; stopped at generator iteration 1"),
    ("checkpoint save", "trained; stopped at generator iteration 1")])
def test_a_run_whose_folder_goes_stops_in_one_line_without_writing_into_a_new_one(moment, stopped, tmp_path,
                                                                                   monkeypatch):
    logdir = tmp_path / "run"
    if moment == "start":  # a resume
        trained_run("dcgan", logdir, "--train_steps=1")
    evaluation = ["--eval_every=1", "--eval_samples=100"] if moment == "evaluation" else []
    monkeypatch.setattr(training_run, "TrainingRun", run_whose_folder_goes(moment))
    with pytest.raises(training_run.RunDirectoryLost) as error:
        train_in_process("dcgan", logdir, "--train_steps=3", "--checkpoint_every=1", *evaluation)
    assert str(error.value) == (f"{logdir} was deleted or replaced while this run {stopped} without writing there "
                                "(nothing saved)")
    kept = [] if moment == "checkpoint save" else ["the other run's file"]
    assert sorted(path.name for path in logdir.iterdir()) == kept if logdir.exists() else kept == []


def test_a_save_killed_half_way_and_an_emptied_index_file_resume_and_leave_no_debris(tmp_path, capsys):
    # kill -9 during a save leaves TensorFlow's ckpt-N_temp/ folder; a full disk can leave its
    # `checkpoint` index file empty, on which tf.train.CheckpointManager raises a ValueError.
    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=2")  # ckpt-2
    folder = logdir / "checkpoints"
    (folder / "ckpt-3_temp").mkdir()
    (folder / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"\0" * 1000)
    (folder / "checkpoint").write_text("")
    capsys.readouterr()
    train_in_process("dcgan", logdir, "--train_steps=3", "--checkpoint_every=1")
    output = capsys.readouterr()
    assert "resuming at generator iteration 2" in output.out and output.err == ""
    assert sorted(path.name for path in folder.iterdir()) == [
        "checkpoint", *(f"ckpt-{number}.{part}" for number in (2, 3) for part in ("data-00000-of-00001", "index"))]
    assert tf.train.get_checkpoint_state(str(folder)).all_model_checkpoint_paths == [
        str(folder / f"ckpt-{number}") for number in (2, 3)]  # the oldest still go first


@pytest.mark.parametrize("damage", ["cut short", "bytes changed in place"])
def test_a_damaged_checkpoint_stops_a_resume_in_one_line_before_anything_is_restored(tmp_path, damage, capsys):
    # TensorFlow checks each tensor against its stored checksum as it reads it. Bytes changed in
    # place failed the restore half way, and TensorFlow then warned of the values left
    # unrestored: five more lines after the one. The line says which files to remove to use
    # the newest readable checkpoint before it, or that there is none.
    import gc
    import logging

    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=6")  # ckpt-2, ckpt-4 and ckpt-6
    checkpoints = logdir / "checkpoints"
    said = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())
    logging.getLogger("tensorflow").addHandler(handler)
    advice = ["remove its files \\(ckpt-6\\.\\*\\) to use ckpt-4, the newest readable checkpoint before it",
              "so is ckpt-4: remove their files \\(ckpt-6\\.\\*, ckpt-4\\.\\*\\) to use ckpt-2, the newest readable "
              "checkpoint before them",
              "so are ckpt-4 and ckpt-2: there is no readable checkpoint before them: put back a copy of their files, "
              "or train again in a new --logdir"]
    try:
        for number, advised in zip((6, 4, 2), advice):
            (data_file,) = checkpoints.glob(f"ckpt-{number}.data-*")
            content = bytearray(data_file.read_bytes())
            if damage == "cut short":
                del content[100:]
            else:
                middle = len(content) // 2
                content[middle:middle + 64] = bytes(byte ^ 0xFF for byte in content[middle:middle + 64])
            data_file.write_bytes(bytes(content))
            before = snapshot(logdir)
            with pytest.raises(cli.UserError, match=f"^{re.escape(str(checkpoints))}/ckpt-6 is unreadable "
                                                    f"\\(.*\\); {advised}$"):
                train_in_process("dcgan", logdir, "--train_steps=7")
            assert snapshot(logdir) == before
        gc.collect()  # (the warnings came as the half-restored objects were freed)
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert said == [] and capsys.readouterr().err == ""
    # As it said once: without ckpt-6's files the run resumes from ckpt-4.
    resumed = trained_run("dcgan", tmp_path / "resumed", "--train_steps=6")
    for path in (resumed / "checkpoints").glob("ckpt-6.*"):
        path.unlink()
    train_in_process("dcgan", resumed, "--train_steps=7")
    assert "resuming at generator iteration 4" in capsys.readouterr().out


def test_a_checkpoint_whose_files_are_gone_in_part_is_named(tmp_path, capsys):
    # An .index without its data files (deleted by hand, lost) or data files without their
    # .index (deleted, or a save killed between its last two renames): the newest whole
    # checkpoint before them is used, and they are named; with none, the one line names them.
    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=6")  # ckpt-2, ckpt-4 and ckpt-6
    checkpoints = logdir / "checkpoints"
    (checkpoints / "ckpt-6.index").unlink()
    for path in checkpoints.glob("ckpt-4.data-*"):
        path.unlink()
    incomplete = f"ckpt-4 and ckpt-6 in {checkpoints} are incomplete (an .index or data files missing)"
    capsys.readouterr()
    generate.write_samples(logdir, 4, tmp_path / "samples.npz")
    assert capsys.readouterr().err == f"warning: {incomplete}: using ckpt-2, the newest whole checkpoint\n"
    resumed = tmp_path / "resumed"
    shutil.copytree(logdir, resumed)
    train_in_process("dcgan", resumed, "--train_steps=7")
    said = capsys.readouterr()
    assert "resuming at generator iteration 2" in said.out and said.err == (
        f"warning: {incomplete.replace(str(logdir), str(resumed))}: resuming from ckpt-2, the newest whole "
        "checkpoint\n")

    for path in checkpoints.glob("ckpt-2.data-*"):
        path.unlink()
    before = snapshot(logdir)
    incomplete = re.escape(f"ckpt-2, ckpt-4 and ckpt-6 in {checkpoints} are incomplete (an .index or data files "
                           "missing)")
    with pytest.raises(cli.UserError, match=f"^{incomplete}, and {re.escape(str(logdir))} has no whole checkpoint; "
                                            "put back a copy of the missing files$"):
        generate.write_samples(logdir, 4, tmp_path / "samples.npz")
    with pytest.raises(cli.UserError, match=f"no checkpoint to resume from \\({incomplete}, and no whole one is "
                                            "there\\)"):
        train_in_process("dcgan", logdir, "--train_steps=7")
    assert snapshot(logdir) == before  # (the index file was rewritten before the refusal)
    assert capsys.readouterr().err == ""  # the one line only


@pytest.mark.real_networks  # whose layers a --conditional run's do not fit (the stand-ins' largely do)
def test_another_runs_checkpoint_is_one_line_in_a_resume_and_in_generate(tmp_path):
    # Its files read whole, but its variables do not fit this run's networks: the restore fails
    # half way, and TensorFlow warned of each value left unrestored, some 80 lines after the one.
    # (The runs are the ones tests/test_figures.py's latent walks start from.)
    import gc
    import logging

    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=2")
    other = trained_run("dcgan", tmp_path / "conditional", "--train_steps=2", "--conditional")
    for path in (other / "checkpoints").glob("ckpt-2.*"):
        shutil.copy(path, logdir / "checkpoints" / path.name)  # over this run's own
    said = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())
    logging.getLogger("tensorflow").addHandler(handler)
    message = (f"^{re.escape(str(logdir))}/checkpoints/ckpt-2 does not fit this run \\(.*\\): it was saved by "
               "another variant or with other settings; remove its files or use another --logdir$")
    try:
        with pytest.raises(cli.UserError, match=message):
            train_in_process("dcgan", logdir, "--train_steps=3")
        with pytest.raises(cli.UserError, match=message):
            generate.write_samples(logdir, 4)
        gc.collect()  # (the warnings came as the half-restored objects were freed)
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert said == []


def run_on_a_disk_that_fills(monkeypatch, what):
    """A TrainingRun class whose disk fills at generator iteration 3: during the checkpoint save
    (TensorFlow's error, its ckpt-3_temp/ left behind as TensorFlow leaves it), during the save
    that a Ctrl-C at its end asks for ("stop"), or, the save done, for the files Python writes
    in the run directory ("": metrics.csv is the first)."""

    class Run(training_run.TrainingRun):
        def end_iteration(self, iteration, metrics):
            if iteration == 3 and what == "checkpoint":
                self.manager.save = self.save_onto_a_full_disk
            if iteration == 3 and what == "":
                fill_disk(monkeypatch, self.logdir)
            super().end_iteration(iteration, metrics)
            if iteration == 3 and what == "stop":  # a Ctrl-C: the checkpoint it saves does not fit
                self.manager.save = self.save_onto_a_full_disk
                raise cli.StopRequested

        def save_onto_a_full_disk(self, checkpoint_number):
            partial = self.logdir / "checkpoints" / f"ckpt-{checkpoint_number}_temp"
            partial.mkdir()
            (partial / "part-00000-of-00001.data-00000-of-00001.tempstate1").write_bytes(b"\0" * 1000)
            raise tf.errors.ResourceExhaustedError(None, None, f"{{{{function_node __wrapped__SaveV2}}}} {partial}/"
                                                   "part-00000-of-00001.data-00000-of-00001.tempstate1; No space "
                                                   "left on device [Op:SaveV2]")

    return Run


@pytest.mark.parametrize("what, latest", [("checkpoint", "ckpt-2"), ("stop", "ckpt-2"), ("", "ckpt-3")])
def test_a_full_disk_stops_the_run_in_one_line_and_it_resumes_from_its_last_checkpoint(what, latest, tmp_path,
                                                                                        monkeypatch, capsys):
    # A checkpoint that did not fit said "error: out of memory (...); ask for less", and left
    # its ckpt-N_temp/ taking the space until the next start.
    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=2")  # ckpt-2
    with monkeypatch.context() as patches:
        patches.setattr(training_run, "TrainingRun", run_on_a_disk_that_fills(patches, what))
        with pytest.raises(cli.UserError) as error:
            train_in_process("dcgan", logdir, "--train_steps=4", f"--checkpoint_every={10 if what == 'stop' else 1}",
                             "--sample_every=1")
    written = "metrics.csv" if what == "" else "the checkpoint"  # (a sample grid's: test_runs.py names it)
    assert re.fullmatch(
        rf"{re.escape(str(logdir))}: no space left on device for {re.escape(written)} at generator iteration 3; free "
        rf"some space there \(a checkpoint takes about \d+ MB\), then run the same command to resume from {latest}",
        str(error.value)), str(error.value)
    assert not list(logdir.glob("checkpoints/*_temp")) and not list(logdir.rglob("*.partial"))
    capsys.readouterr()
    train_in_process("dcgan", logdir, "--train_steps=4", "--checkpoint_every=1")
    assert f"resuming at generator iteration {latest[-1]}" in capsys.readouterr().out
    assert rundir.latest_checkpoint(logdir).endswith("ckpt-4")


def test_a_run_lock_says_when_its_folder_is_gone_or_another(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    lock = rundir.RunLock(folder)
    try:
        assert lock.held and not lock.replaced()
        folder.rename(tmp_path / "moved")
        assert lock.replaced()  # gone from its path
        folder.mkdir()
        assert lock.replaced()  # another folder at its path
    finally:
        lock.release()
    assert not lock.held and not lock.replaced()


def test_a_second_signal_stops_at_once_and_saves_nothing(tmp_path):
    # Two signals of different kinds (two of one kind can arrive as one): the first asks for a
    # stop after the iteration, the second abandons it; with no checkpoint due, none is written.
    logdir = tmp_path / "run"
    status, rest, errors = signal_a_long_run(logdir, "step 3/", signal.SIGINT, signal.SIGTERM,
                                             argv=["--checkpoint_every=1000"])
    # 128 + the number of the signal that ended it: sent together, either can arrive second.
    assert status in (130, 143), errors[-2000:]
    assert errors.count("stopping when this iteration is done") == 1
    assert "interrupted again: stopped at once, nothing saved" in errors
    assert "Traceback" not in errors and tf.train.latest_checkpoint(str(logdir / "checkpoints")) is None


TWO_SIGNALS_IN_ONE_LONG_CALL = """
import os, signal, sys, threading, time
from common import cli
import tensorflow as tf

@tf.function
def long_call():  # some seconds inside TensorFlow, where Python runs no signal handler
    a = tf.random.stateless_normal([768, 768], seed=[1, 2])
    return tf.while_loop(lambda i, x: i < 400, lambda i, x: (i + 1, tf.tanh(x @ a) / 30.0), [0, a])[1]

long_call.get_concrete_function()  # traced before the clock starts
signal.signal(signal.SIGINT, cli._interrupt)
with cli.stops_between_iterations():
    for delay in (0.3, 0.6):
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
    began = time.perf_counter()
    long_call()
    print(f"the call ended after {time.perf_counter() - began:.1f} s", flush=True)
"""


def test_two_ctrl_cs_during_one_long_update_stop_the_run_at_once():
    # Both arrive while the main thread is inside one TensorFlow call: Python would run its
    # handler once, after the call. The watcher sees both as they come and ends the process.
    result = run_python(["-c", TWO_SIGNALS_IN_ONE_LONG_CALL])
    assert result.returncode == 130, result.stderr[-2000:]
    assert "the call ended" not in result.stdout, f"{result.stdout}: the call was not cut short"
    assert result.stderr.count("stopping when this iteration is done") == 1
    assert "interrupted again: stopped at once, nothing saved" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_signal_during_start_up_still_stops_the_run(tmp_path):
    # Sent while the run loads and TensorFlow traces the first steps, where a raised
    # KeyboardInterrupt can be swallowed; the run must stop all the same.
    status, rest, errors = signal_a_long_run(tmp_path / "run", "run directory:", signal.SIGTERM)
    assert status == 143, errors[-2000:]  # 128 + SIGTERM
    assert "interrupted" in rest + errors and "Traceback" not in errors


SIGNAL_WHILE_TENSORFLOW_IS_IMPORTED = """
import os, runpy, signal, sys

number = getattr(signal, sys.argv[2])


class Signal:  # a signal once TensorFlow's import has begun: before any handler of the command's own
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow.python":
            os.kill(os.getpid(), number)

sys.meta_path.insert(0, Signal())
sys.argv = ["wgan_gp/train.py", "--dataset=mnist_5k", "--logdir=" + sys.argv[1]]
runpy.run_path("wgan_gp/train.py", run_name="__main__")
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_while_tensorflow_is_imported_is_one_line(tmp_path, signal_name):
    # The first seconds of every command (a Ctrl-C, or a job scheduler's SIGTERM, which used to
    # end it without a word); cheap, since TensorFlow's import stops at once.
    result = run_python(["-c", SIGNAL_WHILE_TENSORFLOW_IS_IMPORTED, tmp_path / "run", signal_name])
    assert result.returncode == 128 + getattr(signal, signal_name), result.stderr[-2000:]
    assert result.stderr.splitlines() == ["interrupted: stopped before finishing"], result.stderr[-2000:]
    assert not (tmp_path / "run").exists()


# ---- evaluation during training, and the data a run trains on ----------------------------------


def small_evaluator(monkeypatch, built=None):
    """In-training evaluation with 200 samples instead of 5,000; `built` collects each evaluator,
    which records when it was done (built_at, time.perf_counter())."""

    class SmallEvaluator(quality.Evaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "num_samples": 200})  # over --eval_samples
            self.built_at = time.perf_counter()
            if built is not None:
                built.append(self)

    monkeypatch.setattr(training_run.quality, "Evaluator", SmallEvaluator)


def test_evaluation_during_training_changes_no_training_number(tmp_path, monkeypatch):
    # Building the evaluator seeds TensorFlow (the classifier trains seeded); the run's
    # own seed must still decide every training number.
    small_evaluator(monkeypatch)

    def losses(name):
        return [(row["loss/discriminator"], row["loss/generator"]) for row in metrics_rows(tmp_path / name)]

    trained_run("dcgan", tmp_path / "plain", "--train_steps=2")  # seed 0, the default
    train_in_process("dcgan", tmp_path / "evaluated", "--train_steps=2", "--eval_every=1")
    train_in_process("dcgan", tmp_path / "other_seed", "--train_steps=2", "--seed=1", "--eval_every=1")
    assert losses("evaluated") == losses("plain")
    assert losses("other_seed") != losses("plain")


def test_in_training_evaluation_is_float32_under_mixed_precision_and_the_clock_starts_after_it(tmp_path,
                                                                                              monkeypatch):
    # The first perf/steps_per_sec must not count the evaluator's start-up (on a cache miss,
    # ~20 s of classifier training).
    class RecordedRun(training_run.TrainingRun):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clock_starts.append(self._tick[0])

    built, clock_starts = [], []
    small_evaluator(monkeypatch, built)
    monkeypatch.setattr(training_run, "TrainingRun", RecordedRun)
    train_in_process("dcgan", tmp_path / "run", "--train_steps=1", "--eval_every=1", "--mixed_precision=float16")
    layers = [layer for layer in built[0].extractor.model.layers if layer.weights]
    assert layers and {layer.compute_dtype for layer in layers} == {"float32"}
    assert clock_starts[0] >= built[0].built_at


def test_a_run_keeps_the_image_count_its_evaluations_scored(tmp_path):
    # FD and KID depend on how many images are scored, so one run's curve keeps one count:
    # across a resume without evaluation too, and counted after the data's cap (mnist_5k: 4000).
    import types

    run = types.SimpleNamespace(logdir=tmp_path, config={"eval_samples": 4500}, evaluations_scored=4000,
                                evaluator=None, facts=types.SimpleNamespace(recorded=lambda: {}))
    check = functools.partial(training_run.TrainingRun.check_evaluation_count, run)
    check(500)  # no evaluation logged yet: the count may still change
    (tmp_path / "metrics.csv").write_text("step,wall_time,loss/generator,eval/classifier_fd\n1,0.5,-0.1,\n"
                                          "2,1.0,-1.3,403.8\n3,1.5,-2.0,\n")
    check(4000)  # --eval_samples=4500 on mnist_5k: the same 4000 images as before
    with pytest.raises(cli.UserError, match=r"evaluations scored 4000 images each, and --eval_samples=4500 would "
                                            r"score 500: .* resume with --eval_samples=4000"):
        check(500)
    # A start without evaluation keeps the count in config.json; a run recorded before it is not checked.
    assert training_run.TrainingRun.record(run)["evaluations_scored"] == 4000
    run.evaluations_scored = None
    check(500)
    assert "evaluations_scored" not in training_run.TrainingRun.record(run)
    # A hand-edited count that is not one is said as such, not compared.
    run.config = {"variant": "wgan_gp", "logdir": str(tmp_path), "eval_samples": 50}
    for written in ("50", 0, -5, 50.0, True):
        rundir.write_json(tmp_path / "config.json", {**run.config, "evaluations_scored": written})
        with pytest.raises(cli.UserError, match=rf"config.json: evaluations_scored is {re.escape(repr(written))}, "
                                                "not a number of images"):
            training_run.TrainingRun.recorded_evaluation_count(run)
    rundir.write_json(tmp_path / "config.json", {**run.config, "evaluations_scored": 50})
    assert training_run.TrainingRun.recorded_evaluation_count(run) == 50


def test_a_resume_without_evaluation_does_not_free_the_evaluation_count(tmp_path, capsys):
    logdir = tmp_path / "run"
    train_in_process("dcgan", logdir, "--train_steps=1", "--eval_every=1", "--eval_samples=50")
    train_in_process("dcgan", logdir, "--train_steps=2", "--eval_every=0", "--eval_samples=60")
    assert json.loads((logdir / "config.json").read_text())["evaluations_scored"] == 50
    before = snapshot(logdir)
    with pytest.raises(cli.UserError, match="evaluations scored 50 images each, and --eval_samples=60 would score 60"):
        train_in_process("dcgan", logdir, "--train_steps=3", "--eval_every=1", "--eval_samples=60")
    assert snapshot(logdir) == before
    assert "real floor: 50 training images" in capsys.readouterr().out


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


def test_a_run_refuses_a_real_change_of_data_and_resumes_from_a_moved_copy_of_it(tmp_path, monkeypatch, capsys):
    # ... and refuses a restart over its log once its checkpoints are deleted.
    import shutil

    from common import data

    fake_mnist(tmp_path / "here")
    logdir = tmp_path / "run"
    train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'here'}", "--train_steps=2")
    before = snapshot(logdir)
    with monkeypatch.context() as patch:
        patch.setattr(data, "_download", lambda name, fix, split: (_ for _ in ()).throw(cli.UserError("offline")))
        with pytest.raises(cli.UserError, match=r"trained on mnist, and this one would train on mnist_5k; "
                                                r"give it that data \(--data_dir\)"):
            train_in_process("dcgan", logdir, "--dataset=mnist", "--train_steps=3")  # no --data_dir: the fallback
    assert snapshot(logdir) == before
    capsys.readouterr()
    (tmp_path / "here").rename(tmp_path / "there")
    train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'there'}", "--train_steps=3")
    assert "resuming at generator iteration 2" in capsys.readouterr().out
    assert "there" in json.loads((logdir / "config.json").read_text())["data_source"]
    # Its checkpoints deleted by hand: starting again from 0 would rewrite the log of 3 iterations.
    shutil.rmtree(logdir / "checkpoints")
    (logdir / "checkpoints").mkdir()
    before = snapshot(logdir)
    with pytest.raises(cli.UserError, match=r"run has logs up to generator iteration 3 but no checkpoint to resume "
                                            r"from \(.*checkpoints is empty or gone\); to train it again"):
        train_in_process("dcgan", logdir, "--dataset=mnist", f"--data_dir={tmp_path / 'there'}", "--train_steps=4")
    assert snapshot(logdir) == before


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
    # The truthful name resumes it too, and the run says what it trains on under either name
    # (which the settings' check before any training decides: the last start has nothing to train).
    train_in_process("dcgan", logdir, "--dataset=mnist_5k", "--train_steps=4")
    assert "resuming at generator iteration 3" in capsys.readouterr().out
    train_in_process("dcgan", logdir, "--dataset=mnist", "--train_steps=4")
    assert "resuming at generator iteration 4" in capsys.readouterr().out


def test_a_conditional_run_trains_on_a_tfds_set(conditional_runs):
    logdir = conditional_runs / "wgan_gp"  # trained on tfds:mnist
    config = json.loads((logdir / "config.json").read_text())
    assert config["data_source"].startswith("tfds:mnist") and config["num_classes"] == 10
    assert config["image_shape"] == [28, 28, 1] and [row["step"] for row in metrics_rows(logdir)] == ["1", "2"]


def test_a_resumed_run_trains_on_the_batches_an_uninterrupted_run_trains_on(tmp_path, monkeypatch):
    from common import data

    # The uninterrupted run: 4 iterations of 5 critic updates, a batch each (its checkpoint
    # counts them); its batches are the first 20 of the run's data order (seed 0, the default).
    trained_run("wgan_gp", tmp_path / "straight", "--train_steps=4")
    reader = tf.train.load_checkpoint(str(tmp_path / "straight" / "checkpoints" / "ckpt-4"))
    assert int(reader.get_tensor("data_position" + ITERATIONS)) == 20
    order = data.make_batches(data.load_dataset("mnist_5k"), 8, 0)
    straight = [float(tf.reduce_sum(next(order)[0])) for _ in range(20)]

    seen = []
    draw = data.Batches.__next__

    def recorded(batches):
        images, labels = draw(batches)
        seen.append(float(tf.reduce_sum(images)))
        return images, labels

    trained_run("wgan_gp", tmp_path / "resumed", "--train_steps=2")  # stopped after 2 iterations
    monkeypatch.setattr(data.Batches, "__next__", recorded)
    train_in_process("wgan_gp", tmp_path / "resumed", "--train_steps=4")
    assert seen == straight[10:]  # the resumed iterations 3 and 4: the batches after the first 10
    # The same weights, data and random numbers (z, eps: the checkpoint keeps the generator's
    # state): iterations 3 and 4 log the numbers the uninterrupted run logged.
    def losses(name):
        return [{key: value for key, value in row.items() if not key.startswith(("wall_time", "perf/"))}
                for row in metrics_rows(tmp_path / name)]

    assert [int(row["step"]) for row in losses("resumed")] == [1, 2, 3, 4]
    assert losses("resumed") == losses("straight")


def test_a_run_on_a_cached_folder_decodes_it_once_and_resumes_from_the_cache(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    for index in range(10):
        Image.fromarray(np.full((30, 40, 3), 25 * index, np.uint8)).save(tmp_path / "images" / f"{index}.png")
    logdir, argv = tmp_path / "run", [f"--dataset=folder:{tmp_path / 'images'}", "--image_size=28",
                                      f"--cache_dir={tmp_path / 'cache'}"]
    train_in_process("dcgan", logdir, *argv, "--train_steps=2")  # trains on the cache it builds
    assert "caching 10 images (28x28)" in capsys.readouterr().err
    # A start finds the cache (or builds it) before any training: one with nothing to train shows which.
    train_in_process("dcgan", logdir, *argv, "--train_steps=2")
    output = capsys.readouterr()
    assert "resuming at generator iteration 2" in output.out and "caching" not in output.err
