"""Image grids, config.json and resume checks, the metrics log, the one-line errors of the commands and scripts."""
import csv
import errno
import importlib.util
import json
import os
import pathlib
import re
import sys
import warnings

import numpy as np
import pytest

import arguments
import variants
from common import cli, images, logs, rundir
from common.cli import UserError
from tests.helpers import REPO, fill_disk, snapshot


def test_to_uint8_maps_the_tanh_range_and_clips():
    values = images.to_uint8(np.array([-1.0, 0.0, 1.0, -3.0, 2.0, np.inf, -np.inf]))
    assert values.tolist() == [0, 128, 255, 0, 255, 255, 0]
    with warnings.catch_warnings():  # a blown-up generator's NaN: mid-grey, without NumPy's cast warning
        warnings.simplefilter("error")
        assert images.to_uint8(np.array([np.nan])).tolist() == [128]


def test_grid_places_images_row_by_row_with_padding():
    tiles = np.stack([np.full((2, 3, 1), value, np.uint8) for value in (10, 20, 30)])
    canvas = images.grid(tiles, columns=2, padding=1)
    assert canvas.shape == (2 * 3 + 1, 2 * 4 + 1, 1)
    assert canvas[1, 1, 0] == 10 and canvas[1, 5, 0] == 20 and canvas[4, 1, 0] == 30
    assert canvas[4, 5, 0] == 0 and canvas[0, :, 0].max() == 0  # empty cell and padding stay black


def test_save_png_round_trips(tmp_path):
    from PIL import Image

    picture = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    images.save_png(picture, tmp_path / "deep" / "grid.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "deep" / "grid.png")), picture)
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["grid.png"]


def test_a_file_that_does_not_fit_on_the_disk_is_named_and_leaves_no_part_of_itself(tmp_path, monkeypatch):
    # A full disk left an empty config.json.partial, which made the next start refuse the run
    # directory as "not empty", and said only "error: No space left on device".
    # The figures' claims and the scripts' --json were written in place: cut short, they stayed.
    from matplotlib import pyplot

    from figures import toolkit

    old = tmp_path / "old.json"
    rundir.write_json(old, {"kept": True})
    fill_disk(monkeypatch, tmp_path)
    writes = {tmp_path / "config.json": lambda path: rundir.write_json(path, {"variant": "dcgan"}),
              old: lambda path: rundir.write_json(path, {"kept": False}),
              tmp_path / "grid.png": lambda path: images.save_png(np.zeros((4, 4, 1), np.uint8), path),
              tmp_path / "rows.json": lambda path: arguments.write_text_whole(path, "[]\n"),
              tmp_path / "walks.json": lambda path: toolkit.write_claims("walks", {}, output_dir=path.parent),
              tmp_path / "walks.png": lambda path: toolkit.save_figure(pyplot.figure(), "walks",
                                                                       output_dir=path.parent)}
    for path, write in writes.items():
        with pytest.raises(OSError) as error:
            write(path)
        assert arguments.os_error_message(error.value) == (
            f"{path}: No space left on device; free some space there, or write elsewhere")
    monkeypatch.undo()
    assert [path.name for path in tmp_path.iterdir()] == ["old.json"]
    assert json.loads(old.read_text()) == {"kept": True}
    # A read-only folder named config.json.partial, which a user never made.
    def refused(file, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
    monkeypatch.setattr(pathlib.Path, "write_text", refused)
    with pytest.raises(OSError) as error:
        rundir.write_json(old, {"kept": False})
    assert arguments.os_error_message(error.value) == f"{old}: Read-only file system"


def config(tmp_path, **changes):
    return {"variant": "wgan_gp", "logdir": str(tmp_path / "run"), "batch_size": 64, "train_steps": 10, **changes}


def new_run(tmp_path, **changes):
    assert rundir.check_logdir(config(tmp_path, **changes)) is False
    (tmp_path / "run").mkdir()
    rundir.write_json(tmp_path / "run" / "config.json", config(tmp_path, **changes))


def test_resume_accepts_a_longer_run_with_other_cadences(tmp_path):
    assert rundir.check_logdir(config(tmp_path)) is False
    assert not (tmp_path / "run").exists(), "checking writes nothing"
    new_run(tmp_path)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["batch_size"] == 64
    assert rundir.check_logdir(config(tmp_path, train_steps=20, sample_every=7)) is True


def test_resume_with_other_settings_is_refused_and_changes_nothing(tmp_path):
    new_run(tmp_path)
    before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(UserError, match="batch_size: 64 -> 32"):
        rundir.check_logdir(config(tmp_path, batch_size=32))
    with pytest.raises(UserError, match="critic_norm"):
        rundir.check_logdir(config(tmp_path, critic_norm="layer"))
    assert (tmp_path / "run" / "config.json").read_bytes() == before


def test_a_non_empty_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not empty"):
        rundir.check_logdir(config(tmp_path))
    assert (tmp_path / "run" / "thesis.tex").read_text() == "precious"
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("cut", ["empty", "a header alone, cut", "the last row cut", "the header cut", "not text"])
def test_a_metrics_csv_cut_short_resumes_with_only_whole_rows_and_loses_nothing_silently(tmp_path, cut, capsys):
    log = logs.ScalarLog(tmp_path, resume_step=0)
    for step in (1, 2, 3):
        log.scalars(step, {"loss/discriminator": step / 10, "loss/generator": -step / 10})
    whole = (tmp_path / "metrics.csv").read_text()
    header = whole.splitlines()[0]
    text = {"empty": "", "a header alone, cut": header[:20], "the last row cut": whole[:-12],
            "the header cut": header.rsplit(",", 1)[0] + whole[len(header):]}.get(cut)  # a column short
    if cut == "not text":  # random bytes (a disk error, another program's file): no traceback
        text = bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8))
        assert logs.last_logged_step(tmp_path) == 3
        (tmp_path / "metrics.csv").write_bytes(text)
        assert logs.last_logged_step(tmp_path) is None and not logs.has_evaluations(tmp_path)
    else:
        (tmp_path / "metrics.csv").write_text(text)
    resumed = logs.ScalarLog(tmp_path, resume_step=3)
    resumed.scalars(4, {"loss/discriminator": 0.4, "loss/generator": -0.4})
    with open(tmp_path / "metrics.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["step", "wall_time", "loss/discriminator", "loss/generator"]
    kept = {"the last row cut": ["1", "2", "4"]}.get(cut, ["4"])
    assert [row["step"] for row in rows] == kept and all(None not in row.values() for row in rows)
    if cut in ("the header cut", "not text"):  # rows that cannot be read: kept as they were
        damaged = tmp_path / "metrics.csv.damaged"
        assert (damaged.read_bytes() if cut == "not text" else damaged.read_text()) == text
        assert capsys.readouterr().err.count("\n") == 1
    else:
        assert not (tmp_path / "metrics.csv.damaged").exists()


def test_the_newest_whole_checkpoint_is_found_from_the_files_not_the_index(tmp_path):
    # TensorFlow's `checkpoint` file names the newest save: with its files deleted, a run would
    # start again from 0 (and TensorFlow print two errors); with the index gone, the same.
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for number in (9, 12, 15):
        (folder / f"ckpt-{number}.index").write_bytes(b"")
        (folder / f"ckpt-{number}.data-00000-of-00001").write_bytes(b"")
    (folder / "checkpoint").write_text('model_checkpoint_path: "ckpt-15"\n')
    assert rundir.latest_checkpoint(tmp_path) == str(folder / "ckpt-15")
    for path in folder.glob("ckpt-15.*"):
        path.unlink()
    assert rundir.latest_checkpoint(tmp_path) == str(folder / "ckpt-12")
    (folder / "checkpoint").unlink()
    (folder / "ckpt-20.index").write_bytes(b"")  # a save whose two data shards are not both there
    (folder / "ckpt-20.data-00000-of-00002").write_bytes(b"")
    assert rundir.latest_checkpoint(tmp_path) == str(folder / "ckpt-12")
    assert rundir.latest_checkpoint(tmp_path / "elsewhere") is None


WHOLE_INDEX = ('model_checkpoint_path: "ckpt-3"\n'
               + "".join(f'all_model_checkpoint_paths: "ckpt-{n}"\n' for n in (1, 2, 3))
               + "".join(f"all_model_checkpoint_timestamps: 1000.{n}\n" for n in (1, 2, 3))
               + "last_preserved_timestamp: 999.5\n")


@pytest.mark.parametrize("index", ['model_checkpoint_path: "ckpt-', 'model_checkpoint_path: "ckpt-9"\n',
                                   'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n', None,
                                   WHOLE_INDEX])
def test_the_checkpoint_manager_knows_every_whole_checkpoint_whatever_the_index_says(tmp_path, capfd, index):
    # An index cut short by a full disk (TensorFlow ignores it, with a warning), or one naming a
    # save that is gone or only the older ones: the manager would never remove the checkpoints it
    # does not list, and the run would keep more than its newest 3 from then on.
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for number in (1, 2, 3):
        (folder / f"ckpt-{number}.index").write_bytes(b"")
        (folder / f"ckpt-{number}.data-00000-of-00001").write_bytes(b"")
    if index is not None:
        (folder / "checkpoint").write_text(index)
    before = snapshot(folder)
    capfd.readouterr()
    import tensorflow as tf

    manager = rundir.checkpoint_manager(tmp_path, tf.train.Checkpoint())
    assert manager.checkpoints == [str(folder / f"ckpt-{number}") for number in (1, 2, 3)]
    assert "Checkpoint ignored" not in capfd.readouterr().err
    if index == WHOLE_INDEX:  # TensorFlow's own, right: left as it is (a finished run changes nothing)
        assert snapshot(folder) == before


def test_folder_with_no_path_is_refused_not_read_as_the_working_directory():
    from common import data

    with pytest.raises(UserError, match="--dataset=folder: needs the folder's path"):
        data.load_dataset("folder:")


def test_metrics_csv_drops_rows_a_resumed_run_will_redo(tmp_path):
    log = logs.ScalarLog(tmp_path, resume_step=0)
    for step in (10, 20, 30):
        log.scalars(step, {"loss/generator": step / 10})
    log.flush()
    resumed = logs.ScalarLog(tmp_path, resume_step=20)  # the last checkpoint was at step 20
    resumed.scalars(30, {"loss/generator": 9.0})
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(row["step"], row["loss/generator"]) for row in rows] == [("10", "1.0"), ("20", "2.0"), ("30", "9.0")]


def test_a_run_saved_with_a_retired_flag_resumes_only_with_the_value_the_code_now_uses(tmp_path):
    # wgan_gp's --penalty, --loss and --spectral_norm moved to wgan_r1/ and sngan/; a run
    # saved before that with the paper's own values still resumes, any other is refused.
    new_run(tmp_path, penalty="one_centred", loss="wasserstein", spectral_norm=False)
    retired = variants.get("wgan_gp").retired_flags
    assert rundir.check_logdir(config(tmp_path), retired_flags=retired) is True
    (tmp_path / "other").mkdir()
    other = config(tmp_path, logdir=str(tmp_path / "other"))
    rundir.write_json(tmp_path / "other" / "config.json", {**other, "loss": "hinge"})
    with pytest.raises(UserError, match="loss: 'hinge' \\(not a flag of wgan_gp now\\)"):
        rundir.check_logdir(other, retired_flags=retired)


def test_another_variants_run_is_refused_in_one_plain_sentence(tmp_path):
    new_run(tmp_path)
    with pytest.raises(UserError, match="holds a wgan_gp run; resume it with wgan_gp/train.py"):
        rundir.check_logdir(config(tmp_path, variant="sngan"))


class CountedValue:
    """A logged number that counts how often it is read (on a GPU, each read is a device sync)."""

    reads = 0

    def __float__(self):
        CountedValue.reads += 1
        return 1.5


def test_progress_reads_the_numbers_only_when_it_prints():
    import io

    CountedValue.reads = 0
    stream = io.StringIO()  # not a terminal: a plain line every 10 steps
    progress = logs.Progress(0, 100, every=10, stream=stream)
    for step in range(1, 10):
        progress.update(step, {"loss/generator": CountedValue(), "loss/discriminator": CountedValue()})
    assert CountedValue.reads == 0 and stream.getvalue() == ""
    progress.update(10, {"loss/generator": CountedValue(), "loss/discriminator": CountedValue()})
    assert CountedValue.reads == 2 and "loss/generator 1.5" in stream.getvalue()


def test_progress_shows_elapsed_time_and_time_left_in_a_log_and_on_a_terminal(monkeypatch):
    import io

    clock = [100.0]
    monkeypatch.setattr(logs.time, "perf_counter", lambda: clock[0])

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream in (io.StringIO(), Terminal()):
        progress = logs.Progress(1000, 4000, every=500, stream=stream)  # resumed at 1000
        clock[0] += 600.0  # 500 iterations in 10 minutes: 50 minutes for the 2,500 left
        progress.update(1500, {"loss/generator": 0.25})
        progress.close()
        line = stream.getvalue().replace("\r", "\n").strip().splitlines()[-1]
        assert line.startswith("step 1500/4000 "), line
        assert "10:00<50:00" in line and "loss/generator 0.25" in line, line


@pytest.mark.parametrize("terminal", [True, False])
def test_what_a_ctrl_c_says_starts_a_line_of_its_own_on_a_terminal(monkeypatch, capfd, terminal):
    # On a terminal the cursor is after the echoed ^C or in the middle of the progress line.
    import arguments

    monkeypatch.setattr(arguments, "_stderr_is_a_terminal", lambda: terminal)
    monkeypatch.setattr(cli, "_acknowledged", False)
    cli._acknowledge_stop()
    cli._acknowledge_stop()  # once only, whoever sees the signal first
    start = "\n" if terminal else ""
    assert capfd.readouterr().err == f"{start}stopping when this iteration is done, with a checkpoint " \
                                     "(again: stop at once, without one)\n"
    assert arguments.interruption_line("interrupted") == f"{start}interrupted\n"


@pytest.mark.parametrize("width", [0, 150])  # 0: a terminal that does not say its size
def test_the_progress_line_keeps_the_losses_where_the_width_is_unknown(monkeypatch, width):
    import io
    import shutil

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=(80, 24): (width or fallback[0], width or fallback[1]))
    clock = iter(range(0, 1000, 60))  # a minute between two readings: the terminal's line is redrawn
    monkeypatch.setattr(logs.time, "perf_counter", lambda: next(clock))
    values = {"loss/discriminator": -1.23456, "loss/generator": 0.123456, "wasserstein_estimate": 1.23456}
    for stream in (io.StringIO(), Terminal()):  # a log file or a pipe, and a terminal
        progress = logs.Progress(0, 200_000, every=50, stream=stream)
        progress.update(50, values)
        progress.close()
        line = stream.getvalue().replace("\r", "\n").strip().splitlines()[-1]
        assert len(line) > 80 and line.endswith("wasserstein_estimate 1.235"), line


def test_start_up_filter_leaves_out_routine_lines_only(capfd):
    import os

    from common import startup

    with startup.native_stderr_without(("a routine note",)):
        os.write(2, b"I0000 a routine note\nE0000 something is wrong\n")  # as C++ writes: fd 2
    assert capfd.readouterr().err == "E0000 something is wrong\n"


def test_a_module_not_importable_inside_imports_as_usual_after(tmp_path, monkeypatch):
    import importlib

    from common import startup

    (tmp_path / "probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with startup.not_importable("probe_module"):
        with pytest.raises(ImportError):
            importlib.import_module("probe_module")
    assert importlib.import_module("probe_module").VALUE == 1
    with startup.not_importable("probe_module"):  # imported before: left as it is
        assert importlib.import_module("probe_module").VALUE == 1


def test_tensorflow_was_imported_without_matplotlib_and_keras_plots_all_the_same(tmp_path):
    # conftest.py imports common, so TensorFlow, before anything else in this process.
    import keras
    from keras.src.visualization import plot_image_gallery

    from common import startup

    assert isinstance(plot_image_gallery.plt, startup._PyplotAtFirstUse)  # Keras' import of matplotlib failed
    # Keras' helper imports matplotlib when it is called (it said "requires the matplotlib package").
    keras.visualization.plot_image_gallery(np.zeros((4, 8, 8, 3)), rows=2, cols=2, path=str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").stat().st_size > 0
    import matplotlib.pyplot  # and it imports as usual

    assert matplotlib.pyplot.figure


@pytest.mark.parametrize("argv, message", [
    (["--trian_steps=3"], "unknown flag --trian_steps (did you mean --train_steps?)"),
    (["--nosuchflag"], "unknown flag --nosuchflag (--helpfull lists them)"),
    (["--critic_norm=layr"], "--critic_norm=layr: value should be one of <none|layer> (did you mean layer?)"),
    (["--train_steps=0"], "--train_steps=0: 0 is not a positive integer"),
    (["--image_size=48"], "--image_size=48: --image_size must be 28, 32 or 64"),
    (["--seed=-1"], "--seed=-1: -1 is not a non-negative integer"),
    (["--seed=18446744073709551616"], "--seed=18446744073709551616: must be below 2**63 in size (NumPy and "
                                      "TensorFlow count in int64)"),
    (["--learning_rate=nan"], "--learning_rate=nan: must be a finite number"),  # absl's float takes these
    (["--gp_lambda=inf"], "--gp_lambda=inf: must be a finite number"),
    (["--learning_rate=1e400"], "--learning_rate=inf: must be a finite number"),
    (["--gp_lambda=1e39"], "--gp_lambda=1e+39: must be at most 3.4e38 in size (float32's largest)"),
])
def test_a_flag_error_is_one_line_that_names_the_flag(argv, message):
    from absl import flags

    from wgan_gp import train

    flag_values = flags.FlagValues()
    train.define_flags(flag_values)
    with pytest.raises(flags.Error) as error:
        flag_values(["train.py", *argv])
    assert cli.flag_error_message(error.value, flag_values) == message


@pytest.mark.parametrize("command", ["dcgan/train.py", "commands/export.py"])
def test_a_path_that_is_not_utf8_is_one_line(command, tmp_path):
    # A folder name in Latin-1, say: train.py ended in TensorFlow's UnicodeEncodeError traceback.
    from tests.helpers import run_in_process

    logdir = os.fsdecode(bytes(tmp_path) + b"/caf\xe9")
    done = run_in_process([command, f"--logdir={logdir}"])
    assert done.returncode == 2 and done.stderr.splitlines() == [
        f"error: --logdir={tmp_path}/caf\\xe9: not UTF-8 text, which TensorFlow's file functions need; rename it"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["wgan_gp.train", "commands.generate", "commands.evaluate"])
def test_every_integer_flag_past_int64_is_one_line(command):
    # --num_samples=10**23 ended in NumPy's "Maximum allowed dimension exceeded" traceback, and
    # --seed=2**64 in an OverflowError once training began.
    import importlib

    from absl import flags

    define_flags = importlib.import_module(command).define_flags
    defined = flags.FlagValues()
    define_flags(defined)
    integers = [name for name in defined if isinstance(defined[name].parser, flags.IntegerParser)]
    assert {"seed", "num_samples"} & set(integers)
    for name in integers:
        for value in (2**63, -2**63 - 1):
            flag_values = flags.FlagValues()
            define_flags(flag_values)
            with pytest.raises(flags.Error) as error:
                flag_values(["command", "--logdir=run", f"--{name}={value}"])
            message = cli.flag_error_message(error.value, flag_values)
            assert message.startswith(f"--{name}={value}: ") and "\n" not in message
            if value > 0 and name in ("seed", "num_samples", "batch_size", "train_steps"):  # (others: their own rule)
                assert message.endswith(": must be below 2**63 in size (NumPy and TensorFlow count in int64)")
                flag_values = flags.FlagValues()
                define_flags(flag_values)
                flag_values(["command", "--logdir=run", f"--{name}={2**63 - 1}"])  # int64's largest is one


def test_an_unknown_dataset_gets_the_closest_name():
    from common import data

    with pytest.raises(cli.UserError, match=r"unknown dataset 'mnsit' \(did you mean mnist\?\); choose one of"):
        data.load_dataset("mnsit")
    with pytest.raises(cli.UserError) as error:
        data.load_dataset("imagenet")
    assert "did you mean" not in str(error.value)


@pytest.mark.parametrize("text, message", [('{"variant": "dcg', "is unreadable"), ("[]", "does not hold a run's settings"),
                                           ("", "is unreadable"), ("null", "does not hold a run's settings"),
                                           ('{"dataset": 5}', "dataset is 5, which no run records"),
                                           ('{"checkpoint_every": "x"}', "checkpoint_every is 'x', which no run"),
                                           ('{"image_shape": [5, 28, 28, 1]}', r"image_shape is \[5, 28, 28, 1\], "),
                                           # (the networks have no layers for these: a KeyError, and a
                                           # checkpoint said to be unreadable, in commands.generate)
                                           ('{"image_shape": [3, 3, 1]}', r"image_shape is \[3, 3, 1\], "),
                                           ('{"image_shape": [28, 28, 2]}', r"image_shape is \[28, 28, 2\], "),
                                           ('{"image_size": 5}', "image_size is 5, which no run records")])
def test_a_damaged_config_json_is_one_line(tmp_path, text, message):
    (tmp_path / rundir.CONFIG_FILE).write_text(text)
    with pytest.raises(UserError, match=message) as error:
        rundir.read_config(tmp_path)
    assert "\n" not in str(error.value) and str(tmp_path) in str(error.value)
    # A train command reads the recorded data before it checks the run: no traceback there either.
    assert rundir.recorded_data_source(tmp_path) is None


def test_a_mistyped_flagfile_is_one_line_with_the_closest_file(tmp_path):
    from absl import flags

    (tmp_path / "wgan_gp_cifar10.cfg").write_text("--batch_size=64\n")
    flag_values = flags.FlagValues()
    flags.DEFINE_integer("batch_size", 1, "", flag_values=flag_values)
    with pytest.raises(flags.Error) as error:
        flag_values(["prog", f"--flagfile={tmp_path / 'wgan_gp_cifar.cfg'}"])
    assert cli.flag_error_message(error.value, flag_values) == (
        f"--flagfile: cannot open {tmp_path / 'wgan_gp_cifar.cfg'} (did you mean wgan_gp_cifar10.cfg?)")


def test_the_readmes_flagfile_typed_in_another_folder_names_the_repositorys_copy(tmp_path, monkeypatch):
    # It said only "cannot open configs/wgan_gp_cifar10.cfg", which is there when typed in the repository.
    from absl import flags

    monkeypatch.chdir(tmp_path)
    flag_values = flags.FlagValues()
    flags.DEFINE_integer("batch_size", 1, "", flag_values=flag_values)
    with pytest.raises(flags.Error) as error:
        flag_values(["prog", "--flagfile=configs/wgan_gp_cifar10.cfg"])
    assert cli.flag_error_message(error.value, flag_values) == (
        f"--flagfile: cannot open configs/wgan_gp_cifar10.cfg in {tmp_path} (did you mean "
        f"{REPO / 'configs' / 'wgan_gp_cifar10.cfg'}?)")


def test_a_flagfile_that_is_a_folder_is_one_line_that_says_so(tmp_path):
    from absl import flags

    flag_values = flags.FlagValues()
    with pytest.raises(flags.Error) as error:
        flag_values(["prog", f"--flagfile={tmp_path}"])
    assert cli.flag_error_message(error.value, flag_values) == f"--flagfile: cannot open {tmp_path}: Is a directory"


def argparse_scripts():
    """Every script with an argparse command line (the commands' is absl's): figures/, benchmarks/,
    scripts/, toy/compare.py, docs.build."""
    found = [path for folder in ("figures", "benchmarks", "scripts", "toy", "docs/build")
             for path in sorted((REPO / folder).glob("*.py")) if "parse_args(" in path.read_text()]
    assert len(found) >= 16 and REPO / "docs" / "build" / "__main__.py" in found
    return found


def run_script(path, argv, monkeypatch, capsys):
    """main() of the script at `path`, in this process, as `python PATH ARGV` runs it: (exit status, stderr)."""
    spec = importlib.util.spec_from_file_location(f"script_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    parse_args = arguments.Parser.parse_args

    def parse_args_only(*args, **kwargs):  # never the script's work, should the arguments pass
        pytest.fail(f"{path.name} accepted {argv}: {parse_args(*args, **kwargs)}")

    monkeypatch.setattr(arguments.Parser, "parse_args", parse_args_only)
    with pytest.raises(SystemExit) as exit_status:
        module.main()
    return exit_status.value.code, capsys.readouterr().err


@pytest.mark.parametrize("content", ["empty", "not gzip", "not numbers", "too few digits"])
def test_make_mnist_5k_refuses_a_file_that_is_not_the_digits_in_one_line(tmp_path, monkeypatch, capsys, content):
    import gzip

    source, output = tmp_path / "mnist_5k.csv.gz", tmp_path / "mnist_5k.npz"
    source.write_bytes({"empty": b"", "not gzip": b"1,2,3\n", "not numbers": gzip.compress(b"a,b\n"),
                        "too few digits": gzip.compress(b"1,2,3\n")}[content])
    spec = importlib.util.spec_from_file_location("make_mnist_5k", REPO / "scripts" / "make_mnist_5k.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["make_mnist_5k.py", f"--csv={source}", f"--output={output}"])
    with pytest.raises(SystemExit) as exit_status:
        module.main()
    error = capsys.readouterr().err
    assert exit_status.value.code == 2 and error.startswith(f"error: {source}: ") and error.count("\n") == 1
    assert not output.exists()


def time_to_quality_with_a_stand_in_train(monkeypatch, status):
    """scripts/time_to_quality.py as a module, whose train.py runs are stand-ins that end at once
    with `status`, having logged nothing; returns (module, the commands they were started with)."""
    spec = importlib.util.spec_from_file_location("time_to_quality", REPO / "scripts" / "time_to_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = []

    class StandIn:
        def __init__(self, command, **kwargs):
            started.append(command)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def poll(self):
            return status

        def terminate(self):
            pass

        def wait(self):
            return status

    monkeypatch.setattr(module.subprocess, "Popen", StandIn)
    return module, started


def test_time_to_quality_stops_at_a_train_command_that_fails(tmp_path, monkeypatch):
    # `-- --bogus_flag` reaches every train.py, which refuses it (one line, status 2): the
    # script ends there with that status, instead of timing the next variant and exiting 0.
    module, started = time_to_quality_with_a_stand_in_train(monkeypatch, 2)
    monkeypatch.setattr(sys, "argv", ["time_to_quality.py", f"--runs={tmp_path}", "--", "--bogus_flag"])
    with pytest.raises(SystemExit) as exit_status:
        module.main()
    assert exit_status.value.code == 2 and len(started) == 1 and started[0][-2] == "--bogus_flag"
    # Each command has its own run folder: a finished run of other flags (or another seed) is
    # never reported as this command's.
    for flags in (["--", "--bogus_flag"], ["--seed=1", "--", "--bogus_flag"], ["--", "--conditional"], []):
        monkeypatch.setattr(sys, "argv", ["time_to_quality.py", f"--runs={tmp_path}", "--variants=dcgan", *flags])
        with pytest.raises(SystemExit):
            module.main()
    logdirs = [command[-1] for command in started]
    assert logdirs[0] == logdirs[1] and len(set(logdirs[1:])) == 4 and all("--logdir=" in d for d in logdirs)


@pytest.mark.parametrize("junk", ["not text", "a step that is no number", "no rate column", "no loss column",
                                  "a rate that is no number"])
def test_time_to_quality_times_again_a_run_whose_metrics_csv_it_cannot_read(tmp_path, monkeypatch, junk):
    # Its own run folder with a metrics.csv that is not train.py's: the run is timed again, where
    # the script ended in a UnicodeDecodeError, ValueError or KeyError.
    module, started = time_to_quality_with_a_stand_in_train(monkeypatch, 0)
    monkeypatch.setattr(sys, "argv", ["time_to_quality.py", f"--runs={tmp_path}", "--variants=dcgan",
                                      "--max_steps=10"])
    module.main()  # once, to learn the run's folder
    logdir = pathlib.Path(started[-1][-1].split("=", 1)[1])
    logdir.mkdir()
    text = {"not text": bytes(range(256)) * 8,
            "a step that is no number": b"step,wall_time,perf/steps_per_sec\nabc,1.0,2.0\n",
            "no rate column": b"step,wall_time\n10,1.0\n20,2.0\n",
            "no loss column": b"step,wall_time,perf/steps_per_sec\n10,1.0,2.0\n",
            "a rate that is no number": b"step,perf/steps_per_sec,loss/discriminator\n10,fast,2.0\n"}[junk]
    (logdir / "metrics.csv").write_bytes(text)
    module.main()
    assert len(started) == 2 and not logdir.exists()  # timed again from the start (the stand-in made nothing)


CHILD = """import os, pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (folder.joinpath("stopped").write_text("saved"), sys.exit(0)))
folder.joinpath("group").write_text(str(os.getpgid(0)))
folder.joinpath("ready").touch()
time.sleep(60)
"""


def assert_told_once_from_a_group_of_its_own(folder):
    """The child saved on a SIGTERM, and ran in a process group of its own: a signal to this
    process's group (Ctrl-C at a terminal, `timeout`) reaches it only as passed on, once."""
    import os

    assert (folder / "stopped").read_text() == "saved"
    assert int((folder / "group").read_text()) != os.getpgid(0)


def terminate_this_process_when_ready(folder):
    """SIGTERM to this process (as `kill PID` does to a script), once the child has said it is ready."""
    import os
    import signal
    import threading
    import time

    def send():
        while not (folder / "ready").exists():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()


def test_a_terminated_script_asks_its_child_to_stop_and_waits_for_it(tmp_path):
    # scripts/precision_quality.py trains its runs in children: a `kill` of the script used to
    # leave them training on alone; now each is asked to stop (a train.py saves a checkpoint).
    import signal

    previous = signal.getsignal(signal.SIGTERM)
    try:
        arguments.children_end_with_this_process()
        terminate_this_process_when_ready(tmp_path)
        with pytest.raises(arguments.Terminated):  # which end_in_one_line's hook ends with one line and 143
            arguments.run_child([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert_told_once_from_a_group_of_its_own(tmp_path)


@pytest.mark.parametrize("case", ["a script's SIGTERM", "a SIGTERM inside another error"])
def test_a_terminated_script_says_one_line_and_exits_143(case):
    # The benchmarks and scripts that start children (children_end_with_this_process) used to
    # end without a word; a SIGTERM that lands in C code comes up as another error, caused by it.
    import subprocess

    script = "import os, signal, time, arguments\narguments.end_in_one_line()\n" + {
        "a script's SIGTERM": "arguments.children_end_with_this_process()\nos.kill(os.getpid(), signal.SIGTERM)\n"
                              "time.sleep(30)\n",
        "a SIGTERM inside another error": "raise SystemError('returned a result with an exception set') "
                                          "from arguments.Terminated()\n"}[case]
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (143, "interrupted: stopped before finishing\n")


def test_a_script_killed_outright_still_stops_its_child(tmp_path):
    # A `kill -9` (or the out-of-memory killer) of a script that trains in a child used to leave
    # the child training on alone, in a run folder the next start would claim again.
    import subprocess
    import time

    script = "import sys, arguments; arguments.run_child([sys.executable, '-c', sys.argv[1], sys.argv[2]])"
    parent = subprocess.Popen([sys.executable, "-c", script, CHILD, str(tmp_path)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        parent.kill()  # SIGKILL: nothing in the script runs
        parent.wait()
    deadline = time.monotonic() + 20
    while not (tmp_path / "stopped").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / "stopped").read_text() == "saved"  # told with SIGTERM, as a train.py saves on


def test_time_to_quality_leaves_alone_a_run_that_another_process_is_timing(tmp_path, monkeypatch, capsys):
    # It deletes a part-timed run to time it again from the start: not while another process
    # (the same command, started twice) is training in it.
    import fcntl
    import os

    module, started = time_to_quality_with_a_stand_in_train(monkeypatch, 0)
    monkeypatch.setattr(sys, "argv", ["time_to_quality.py", f"--runs={tmp_path}", "--variants=dcgan"])
    module.main()  # once, to learn the run's folder
    logdir = pathlib.Path(started[-1][-1].split("=", 1)[1])
    logdir.mkdir()
    (logdir / "metrics.csv").write_text("step,wall_time,perf/steps_per_sec,loss/discriminator\n10,1.0,2.0,0.5\n")
    held = os.open(logdir, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as the other process's train.py holds it (common.rundir.RunLock)
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as exit_status:
            module.main()
    finally:
        os.close(held)
    assert exit_status.value.code == 2 and len(started) == 1
    assert capsys.readouterr().err == (f"error: {logdir} is in use: another process is timing this command; let it "
                                       "finish or stop it\n")
    assert (logdir / "metrics.csv").is_file()  # left as it was


def test_a_child_that_failed_under_run_child_check_ends_the_script_with_its_line_and_status(tmp_path):
    import subprocess

    child = "import sys; print('some output'); print('error: it is in use', file=sys.stderr); sys.exit(2)"
    for capture in (False, True):  # the child said its line itself / the script says the captured line
        script = (f"import sys, arguments; arguments.end_in_one_line(); "
                  f"arguments.run_child([sys.executable, '-c', sys.argv[1]], check=True, capture_output={capture})")
        done = subprocess.run([sys.executable, "-c", script, child], cwd=REPO, capture_output=True, text=True)
        assert (done.returncode, done.stderr) == (2, "error: it is in use\n")


def test_a_terminated_time_to_quality_stops_its_training_run(tmp_path, monkeypatch):
    import signal
    import subprocess

    spec = importlib.util.spec_from_file_location("time_to_quality", REPO / "scripts" / "time_to_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    children, popen = [], subprocess.Popen

    def child(command, **kwargs):  # a train.py that trains for a minute
        children.append(popen([sys.executable, "-c", CHILD, str(tmp_path)], **kwargs))
        return children[-1]

    monkeypatch.setattr(module.subprocess, "Popen", child)
    monkeypatch.setattr(sys, "argv", ["time_to_quality.py", f"--runs={tmp_path / 'runs'}", "--variants", "dcgan"])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        terminate_this_process_when_ready(tmp_path)
        with pytest.raises(arguments.Terminated):  # one line and 143 (test_a_terminated_script_says_one_line...)
            module.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert children[0].poll() is not None
    assert_told_once_from_a_group_of_its_own(tmp_path)


@pytest.mark.parametrize("path", argparse_scripts(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_script_says_a_mistyped_option_in_one_line(path, monkeypatch, capsys):
    # As the absl commands do (common/cli.py): no usage block, exit status 2, the closest name.
    # A script's required option left out too: the mistyped one is said first (it may be that one).
    assert "argparse.ArgumentParser(" not in path.read_text(), "arguments.Parser, for one-line errors"
    assert run_script(path, ["--hlep"], monkeypatch, capsys) == (
        2, "error: unknown option --hlep (did you mean --help?)\n")


@pytest.mark.parametrize("script, argv, message", [
    ("benchmarks/benchmark.py", ["--seconds=-1"], "--seconds: must be at least 0, not -1"),
    ("benchmarks/benchmark.py", ["--seconds", "inf"], "--seconds: expected a finite number, not 'inf'"),
    ("benchmarks/benchmark.py", ["--batch_size=0"], "--batch_size: must be at least 1, not 0"),
    ("benchmarks/benchmark.py", ["--top=2.5"], "--top: expected an integer, not '2.5'"),
    ("benchmarks/benchmark.py", ["--variants", "wgangp"],
     "--variants: invalid choice 'wgangp' (did you mean wgan_gp?); choose from dcgan, wgan, wgan_gp, sngan, wgan_r1"),
    ("benchmarks/benchmark.py", ["--jit_compil"], "unknown option --jit_compil (did you mean --jit_compile?)"),
    ("benchmarks/benchmark.py", ["--wroker"], "unknown option --wroker (--help lists them)"),  # a hidden option
    ("benchmarks/benchmark.py", ["wgan"], "unexpected argument 'wgan'"),
    ("benchmarks/folder_pipeline.py", ["--counts", "10"], "--counts: must be at least 64, not 10"),
    ("benchmarks/folder_pipeline.py", ["--seconds=0"], "--seconds: must be more than 0, not 0"),
    ("toy/compare.py", ["--study=variants", "--seeds=0"], "--seeds: must be at least 1, not 0"),
    ("toy/compare.py", ["--study=varaints"], "--study: invalid choice 'varaints' (did you mean variants?); "
                                             "choose from beta1, dcgan, options, variants"),
    ("toy/compare.py", [], "the following arguments are required: --study"),
    ("benchmarks/benchmark.py", ["--variants", "wgan", "wgan_gp", "wgan"], "--variants: 'wgan' is given twice"),
    ("benchmarks/benchmark.py", ["--sizes", "28", "28"], "--sizes: 28 is given twice"),
    ("scripts/precision_quality.py", ["--seeds", "0", "1", "0"], "--seeds: 0 is given twice"),
    ("toy/compare.py", ["--stdy=variants"], "unknown option --stdy (did you mean --study?)"),
    ("toy/compare.py", ["variants"], "the following arguments are required: --study"),
    ("toy/compare.py", ["--study=variants", "--", "dcgan"], "unexpected argument 'dcgan'"),
    ("toy/compare.py", ["--", "--study=variants"], "the following arguments are required: --study"),
    ("scripts/same_numbers.py", ["--before=.", "--", "--only=dcgan"], "unexpected argument '--only=dcgan'"),
    ("scripts/same_numbers.py", ["--befor=."], "unknown option --befor (did you mean --before?)"),
    ("scripts/precision_quality.py", ["--seeds", "0", "-1"], "--seeds: must be at least 0, not -1"),
    ("scripts/time_to_quality.py", ["--eval_every=0"], "--eval_every: must be at least 1, not 0"),
    ("scripts/time_to_quality.py", ["--target_fd=-5"], "--target_fd: must be more than 0, not -5"),
    ("figures/latent_walks.py", ["--seed=-3"], "--seed: must be at least 0, not -3"),
    # It wrote the hidden .png and .json, or into the folder the name led to.
    ("figures/latent_walks.py", ["--name="], "--name: give a file name, without a folder (--output_dir is the folder)"),
    ("figures/latent_walks.py", ["--name=../walks"],
     "--name: give a file name, without a folder (--output_dir is the folder)"),
    ("figures/toy_training.py", ["--train_steps=0"], "--train_steps: must be at least 1, not 0"),
    # A file written when the work is done (hours of it) is checked before the work.
    ("scripts/precision_quality.py", ["--json=/no/such/folder/rows.json"],
     "--json: the folder /no/such/folder does not exist"),
    ("scripts/time_to_quality.py", [f"--json={REPO / 'README.md' / 'rows.json'}"],
     f"--json: {REPO / 'README.md'} is a file, not a folder"),
    ("benchmarks/benchmark.py", [f"--json={REPO / 'docs'}"], f"--json: {REPO / 'docs'} is a folder; give a file path"),
    ("benchmarks/folder_pipeline.py", ["--json=/no/such/folder/rows.json"],
     "--json: the folder /no/such/folder does not exist"),
    ("scripts/precision_quality.py", ["--json="], "--json: give a file path"),  # (it wrote no file, silently)
])
def test_a_scripts_bad_number_or_choice_is_one_line(script, argv, message, monkeypatch, capsys):
    assert run_script(REPO / script, argv, monkeypatch, capsys) == (2, f"error: {message}\n")


def test_a_scripts_json_that_is_a_link_into_no_folder_is_refused_before_the_work(monkeypatch, capsys, tmp_path):
    # The rows are written through the link: to a folder that is not there, after all the work.
    link = tmp_path / "rows.json"
    link.symlink_to("/no/such/folder/rows.json")
    assert run_script(REPO / "scripts/precision_quality.py", [f"--json={link}"], monkeypatch, capsys) == (
        2, f"error: --json: {link} is a link into /no/such/folder, which does not exist\n")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    link.unlink()
    link.symlink_to(blocker / "rows.json")
    assert run_script(REPO / "scripts/precision_quality.py", [f"--json={link}"], monkeypatch, capsys) == (
        2, f"error: --json: {link} is a link into {blocker}, a file, not a folder\n")


def test_a_scripts_option_that_starts_with_a_tilde_means_the_home_folder(monkeypatch, tmp_path):
    # The shell leaves --output_dir=~/figures as it is; the folder would be one named ~ here.
    monkeypatch.setenv("HOME", str(tmp_path))
    parser = arguments.Parser()
    parser.add_argument("--output_dir")
    parser.add_argument("--runs", type=pathlib.Path)
    parser.add_argument("--json", type=arguments.output_file)  # checked where it is: in the home folder
    args = parser.parse_args(["--output_dir=~/figures", "--runs", "~", "--json=~/rows.json"])
    assert (args.output_dir, args.runs, args.json) == (f"{tmp_path}/figures", tmp_path, f"{tmp_path}/rows.json")


def test_a_ctrl_c_that_nothing_handles_is_one_line_with_status_130(monkeypatch, capsys):
    # common/ sets this up before it imports TensorFlow (test_training_run.py: in a real process).
    import os

    assert getattr(sys.excepthook, "ends_interrupts", False)
    ended = []
    monkeypatch.setattr(os, "_exit", ended.append)
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt("interrupted: X is as it was"), None)
    assert ended == [130, 130]
    assert capsys.readouterr().err == f"{arguments.INTERRUPTED}\ninterrupted: X is as it was\n"


@pytest.mark.parametrize("number, raised", [("SIGINT", KeyboardInterrupt), ("SIGTERM", arguments.Terminated)])
def test_a_signal_that_an_import_loses_is_raised_again_after_it(number, raised):
    # CPython can lose the KeyboardInterrupt of a Ctrl-C that lands while a C extension module
    # initialises (seen in TensorFlow's `import ssl`): the command then ran to its end, exit 0.
    import signal

    number = getattr(signal, number)
    before = {other: signal.getsignal(other) for other in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, arguments._raise_terminated)  # as end_in_one_line leaves it
    try:
        with pytest.raises(raised):
            with arguments.interrupts_kept():
                try:
                    signal.raise_signal(number)
                except KeyboardInterrupt:
                    pass  # lost
        after = {other: signal.getsignal(other) for other in before}
    finally:
        for other, handler in before.items():
            signal.signal(other, handler)
    assert after == {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: arguments._raise_terminated}


def test_a_signal_during_a_commands_exit_handlers_is_ignored(monkeypatch):
    # Done (or stopped), a command runs the exit handlers and ends; a Ctrl-C or SIGTERM that came
    # during them broke one off with a traceback, and the command still ended with status 0.
    import atexit
    import os
    import signal

    received, ended = [], []
    before = {number: signal.signal(number, lambda number, frame: received.append(number))
              for number in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: [signal.raise_signal(number) for number in before])
    monkeypatch.setattr(os, "_exit", ended.append)
    try:
        cli._exit_at_once(0)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    assert received == [] and ended == [0]


def test_a_ctrl_c_that_c_code_turned_into_another_error_is_still_one_line_with_status_130(monkeypatch, capsys):
    # Landing inside a call into C code (TensorFlow's), the KeyboardInterrupt comes up as the cause
    # of a SystemError, itself the context of whatever the code around it raised next.
    import os

    ended = []
    monkeypatch.setattr(os, "_exit", ended.append)
    try:
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as interruption:
                raise SystemError("<built-in function __import__> returned a result with an exception set") \
                    from interruption
        except SystemError:
            raise AttributeError("'list' object has no attribute '_type_spec'")
    except AttributeError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    assert ended == [130]
    assert capsys.readouterr().err == f"{arguments.INTERRUPTED}\n"
    assert not arguments.raised_by_interrupt(ValueError("a plain error"))


def test_a_path_error_that_nothing_handles_is_one_line_with_status_2(monkeypatch, capsys, tmp_path):
    # A script's --json in a folder that is not there, a --csv that is not there, ...
    import os

    ended = []
    monkeypatch.setattr(os, "_exit", ended.append)
    try:
        open(tmp_path / "no_such_folder" / "x.json", "w")
    except OSError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    assert ended == [2]
    assert capsys.readouterr().err == f"error: {tmp_path / 'no_such_folder' / 'x.json'}: No such file or directory\n"


def test_another_dataset_is_refused_before_any_data_is_loaded(tmp_path, monkeypatch):
    # A download would come first otherwise (common.data.load_training_data).
    import collections

    from common import data

    monkeypatch.setattr(data, "load_dataset", lambda *args: pytest.fail("the data was loaded"))
    monkeypatch.setattr(data, "load_mnist_5k", lambda: collections.namedtuple("Digits", "source")("bundled"))
    new_run(tmp_path, dataset="mnist", data_source="mnist (keras download)")
    with pytest.raises(UserError, match=r"run holds a run trained on mnist, and this one would train on cifar10; "
                                        r"resume it with --dataset=mnist or choose a new --logdir"):
        data.load_training_data(config(tmp_path, dataset="cifar10", data_dir=None))
    with pytest.raises(UserError, match="holds a wgan_gp run; resume it with wgan_gp/train.py"):
        data.load_training_data(config(tmp_path, dataset="cifar10", variant="dcgan"))
    # A run that fell back to the bundled digits resumes as --dataset=mnist, on those digits.
    rundir.write_json(tmp_path / "run" / "config.json", config(tmp_path, dataset="mnist", data_source="mnist_5k"))
    assert data.load_training_data(config(tmp_path, dataset="mnist")).source == "mnist_5k"


def test_a_held_input_pipeline_is_let_go_without_holding_up_the_next_run():
    # A process that trains twice (the tests, a figure script) frees the first run's pipeline,
    # whose tf.data threads can take seconds to stop, on a thread of its own.
    import threading
    import time

    freed = threading.Event()

    class SlowToFree:
        def __del__(self):
            time.sleep(1.0)
            freed.set()

    cli.keep_until_exit(SlowToFree())
    began = time.perf_counter()
    cli.keep_until_exit(object())
    assert time.perf_counter() - began < 0.5 and freed.wait(timeout=10)
    cli.keep_until_exit(None)


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_a_csv_row_without_its_line_end_is_not_read_as_a_whole_one(tmp_path, line_end):
    # Appended rows end in a line end; one that a kill, a full disk or a write under way has
    # not finished has none, and its last value can read as a number: 42 of 421.76.
    path = tmp_path / "metrics.csv"
    rows = ["step,wall_time,eval/classifier_fd", "1,0.5,", "2,1.0,403.8"]
    path.write_text(line_end.join(rows) + line_end + "3,1.5,42")
    header, read = arguments.finished_csv_rows(path)
    assert header == ["step", "wall_time", "eval/classifier_fd"]
    assert [(row["step"], row["eval/classifier_fd"]) for row in read] == [("1", ""), ("2", "403.8")]
    assert logs.read_metrics(path) == (header, read) and logs.last_logged_step(tmp_path) == 2
    path.write_text(line_end.join(rows) + line_end)
    assert arguments.finished_csv_rows(path) == (header, read)
    path.write_text("step,wall_ti")  # a header cut short: no rows, as an empty file
    assert arguments.finished_csv_rows(path) == (None, [])
