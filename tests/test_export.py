"""An exported generator works with no code of this repository, draws what commands.generate draws,
refuses inputs it was not trained for, is float32, and replaces an earlier export whole."""
import errno
import json
import os
import pathlib
import shutil
import signal
import socket
import tempfile
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import variants
from common import cli, export, sampling
from common.cli import UserError
from tests.helpers import fill_disk, run_in_process, run_python, snapshot, train_in_process, trained_run

# Runs in a fresh Python whose working directory and path hold nothing of this repository.
# For each FOLDER INPUTS RESULTS in its arguments: draws from INPUTS with both of FOLDER's
# models, then feeds them inputs they must refuse, and prints (one line each) what they said.
LOADER = """
import json, sys
import numpy as np
import keras, tensorflow as tf

def layers(layer):  # every layer, into nested models
    yield layer
    for inner in getattr(layer, "layers", []):
        yield from layers(inner)

def error(call):
    try:
        call()
    except Exception as raised:
        return " ".join(str(raised).split())
    return None

def load(folder, inputs_path, results_path):
    with np.load(inputs_path) as archive:
        inputs = {key: archive[key] for key in archive.files}
    model = keras.models.load_model(f"{folder}/generator.keras")
    images = model([inputs["noise"], inputs["labels"]] if "labels" in inputs else inputs["noise"], training=False)
    from_keras = np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    serve = tf.saved_model.load(f"{folder}/saved_model").signatures["serving_default"]
    from_saved_model = serve(**{key: tf.constant(value) for key, value in inputs.items()})["images"].numpy()
    np.savez(results_path, keras=from_keras, saved_model=from_saved_model)

    noise = inputs["noise"][:3]
    bad = {"noise of width 127": {"noise": noise[:, :127]}}
    if "labels" in inputs:
        bad = {"noise of width 127": {"noise": noise[:, :127], "labels": np.int32([0, 1, 2])},
               "label 10": {"noise": noise, "labels": np.int32([0, 10, 2])},
               "label 99": {"noise": noise, "labels": np.int32([0, 1, 99])},
               "label -1": {"noise": noise, "labels": np.int32([-1, 1, 2])},
               "label 2.5": {"noise": noise, "labels": np.float32([0, 2.5, 2])},
               "label -0.5": {"noise": noise, "labels": np.float32([0, -0.5, 2])},
               "labels [N, 2]": {"noise": noise, "labels": np.int32([[0, 1], [1, 2], [2, 3]])},
               "2 labels for 3 noise rows": {"noise": noise, "labels": np.int32([0, 1])}}
    refused = {}
    for name, given in bad.items():
        arguments = [given["noise"], given["labels"]] if "labels" in given else given["noise"]
        refused[name] = [error(lambda: model(arguments, training=False)),
                         error(lambda: serve(**{key: tf.constant(value) for key, value in given.items()}))]
    ours = ("common", "dcgan", "wgan", "wgan_gp", "sngan", "wgan_r1", "toy", "figures")
    print(json.dumps({
        "modules": sorted(name for name in sys.modules if name.split(".")[0] in ours),
        "policies": sorted({layer.dtype_policy.name for layer in layers(model) if layer.weights}),
        "weights": sorted({str(weight.dtype) for weight in model.weights}),
        "output": [str(model.output.dtype), str(np.asarray(images).dtype)],
        "refused": refused,
    }))

for start in range(1, len(sys.argv), 3):
    load(*sys.argv[start:start + 3])
"""


def export_run(logdir, output=None):
    """common/export.py's export with the run's own make_generator, as `python -m commands.export` calls it."""
    return export.export(logdir, variants.generator_builder(logdir), output)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """A wgan_gp run of 2 iterations, trained without --export."""
    return trained_run("wgan_gp", tmp_path_factory.mktemp("plain") / "run", "--train_steps=2")


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """A --conditional wgan_gp run of 2 iterations in bfloat16, exported when training ended."""
    logdir = tmp_path_factory.mktemp("conditional") / "run"
    train_in_process("wgan_gp", logdir, "--train_steps=2", "--conditional", "--mixed_precision=bfloat16", "--export")
    keras.mixed_precision.set_global_policy("float32")  # as commands.generate runs
    return logdir


def load_elsewhere(tmp_path, logdirs):
    """Runs LOADER, in one new Python, on each logdir/export with commands.generate's noise (and labels)
    for seed 3.

    Returns for each logdir (what commands.generate draws, LOADER's images, LOADER's report).
    """
    expected, arguments = [], []
    for index, logdir in enumerate(logdirs):
        generator, _, num_classes = variants.load_generator(logdir)
        images, labels = sampling.generate(generator, 12, seed=3, num_classes=num_classes)
        expected.append(images)
        inputs = {"noise": np.random.default_rng(3).standard_normal((12, 128)).astype(np.float32)}
        if num_classes:
            inputs["labels"] = labels
        np.savez(tmp_path / f"inputs-{index}.npz", **inputs)
        arguments += [logdir / "export", tmp_path / f"inputs-{index}.npz", tmp_path / f"results-{index}.npz"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", LOADER, *map(str, arguments)], cwd=outside, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.strip().splitlines()[-len(logdirs):]]
    loaded = []
    for index, report in enumerate(reports):
        with np.load(tmp_path / f"results-{index}.npz") as results:
            loaded.append((expected[index], {key: results[key] for key in results.files}, report))
    return loaded


@pytest.fixture(scope="module")
def loaded(request, plain_run, conditional_run, tmp_path_factory):
    """LOADER's results for both runs: the plain one exported by the command as a user types it,
    which leaves nothing in its temp folder (TMPDIR)."""
    scratch = tmp_path_factory.mktemp("temp")
    result = run_python(["-m", "commands.export", f"--logdir={plain_run}"], env={"TMPDIR": str(scratch)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(scratch.iterdir()) == []  # (AutoGraph's generated sources were left there)
    cases = {"command": plain_run, "conditional-at-training-end": conditional_run}
    return dict(zip(cases, load_elsewhere(tmp_path_factory.mktemp("elsewhere"), list(cases.values()))))


@pytest.mark.parametrize("case", ["command", "conditional-at-training-end"])
def test_an_exported_generator_loads_without_this_repository_and_matches_generate(loaded, case, plain_run,
                                                                                  conditional_run):
    conditional = case != "command"
    described = json.loads(((conditional_run if conditional else plain_run) / "export" / "export.json").read_text())
    assert described["latent_dim"] == 128 and described["image_shape"] == [28, 28, 1]
    assert described["num_classes"] == (10 if conditional else 0) and described["checkpoint"].endswith("ckpt-2")
    expected, drawn, report = loaded[case]
    assert report["modules"] == []  # no module of this repository was loaded
    assert expected.dtype == np.uint8 and expected.std() > 0
    np.testing.assert_array_equal(drawn["keras"], expected)
    np.testing.assert_array_equal(drawn["saved_model"], expected)


@pytest.mark.parametrize("case", ["command", "conditional-at-training-end"])
def test_an_export_is_float32_even_from_a_16_bit_run(loaded, case):
    # The conditional run trained with --mixed_precision=bfloat16 (and exported then): every
    # layer that holds weights computes in float32, as the images above (float32 math) show.
    _, _, report = loaded[case]
    assert report["policies"] == ["float32"] and report["weights"] == ["float32"]
    assert report["output"] == ["float32", "float32"]


def test_an_export_is_float32_under_a_float16_global_policy(plain_run, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")  # as train.py --mixed_precision=float16 leaves it
    export_run(plain_run, tmp_path / "out")
    keras.mixed_precision.set_global_policy("float32")
    model = keras.models.load_model(tmp_path / "out" / "generator.keras")
    assert {layer.dtype_policy.name for layer in model.layers if layer.weights} == {"float32"}
    assert model.output.dtype == "float32"


@pytest.mark.parametrize("name", ["label 10", "label 99", "label -1", "label 2.5", "label -0.5", "labels [N, 2]",
                                  "2 labels for 3 noise rows", "noise of width 127"])
def test_an_exported_conditional_generator_refuses_inputs_outside_its_classes(loaded, name):
    _, _, report = loaded["conditional-at-training-end"]
    from_keras, from_saved_model = report["refused"][name]
    assert from_keras is not None and from_saved_model is not None, (from_keras, from_saved_model)
    value = name.split()[-1]
    if value in ("10", "99", "-1"):  # each names the label
        assert f"found OOV values [{value}]" in from_keras
        assert "labels must be class numbers 0 to 9" in from_saved_model and value in from_saved_model
    if name.startswith("label ") and "." in value:  # a float label: the signature takes int32 only
        assert "int32" in from_saved_model
    if name == "noise of width 127":
        assert "128" in from_keras and "127" in from_keras
        assert "noise_must_be_N_by_128" in from_saved_model
    if name == "2 labels for 3 noise rows":
        assert "labels must be one per row of noise" in from_saved_model


def test_an_exported_generator_refuses_noise_of_another_width(loaded):
    _, _, report = loaded["command"]
    from_keras, from_saved_model = report["refused"]["noise of width 127"]
    assert "128" in from_keras and "127" in from_keras and "noise_must_be_N_by_128" in from_saved_model


def test_export_on_a_finished_run_exports_it(plain_run, tmp_path, capsys):
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    train_in_process("wgan_gp", logdir, "--train_steps=2", "--export")
    assert "already trained for 2 generator iterations" in capsys.readouterr().out
    described = json.loads((logdir / "export" / "export.json").read_text())
    assert described["checkpoint"].endswith("ckpt-2") and (logdir / "export" / "generator.keras").is_file()


def test_a_failed_re_export_leaves_the_previous_export_whole(plain_run, tmp_path, monkeypatch):
    import tensorflow as tf

    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    export_run(logdir)
    # A file the earlier export wrote (it lists it) that this one does not: replaced with the rest.
    (logdir / "export" / "saved_model" / "stale.pb").write_text("from an earlier export")
    described = json.loads((logdir / "export" / "export.json").read_text())
    (logdir / "export" / "export.json").write_text(json.dumps({**described,
                                                               "files": [*described["files"], "saved_model/stale.pb"]}))
    before = snapshot(logdir / "export")

    def interrupted(*args, **kwargs):  # after generator.keras, before the SavedModel
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(tf.saved_model, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            export_run(logdir)
    assert snapshot(logdir / "export") == before
    renames = []

    def second_rename_fails(source, target):  # the old export is aside, the new one fails to move in
        renames.append(source) if os.path.isdir(source) else None  # not export.json's own rename
        if len(renames) == 2 and os.path.isdir(source):
            raise OSError("disk went away")
        os.rename(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(export.os, "replace", second_rename_fails)
        with pytest.raises(OSError, match="disk went away"):
            export_run(logdir)
    assert snapshot(logdir / "export") == before
    assert sorted(path.name for path in logdir.iterdir() if path.name.startswith(".")) == []  # no partial folder

    export_run(logdir)  # replaces the folder whole: the stale file goes with it, and every other file is new
    assert sorted(path.name for path in (logdir / "export").iterdir()) == [
        "export.json", "generator.keras", "saved_model"]
    after = snapshot(logdir / "export")
    assert set(after) == set(before) - {"saved_model/stale.pb"}
    assert all(after[name][0] != before[name][0] for name in after)


def test_export_refuses_to_replace_a_folder_that_is_not_an_export(plain_run, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not an earlier export"):
        export_run(plain_run, tmp_path / "models")
    assert (tmp_path / "models" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("given", [True, False], ids=["--output", "the run's export folder"])
def test_a_re_export_leaves_what_a_user_added_to_the_earlier_export(plain_run, tmp_path, given):
    # The folder is replaced whole: a user's notes and converted models in it went without a word.
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    output = tmp_path / "models" if given else logdir / "export"
    export_run(logdir, output if given else None)
    (output / "NOTES.txt").write_text("mine")
    (output / "tflite").mkdir()
    (output / "tflite" / "model.tflite").write_bytes(b"converted")
    before = snapshot(output)
    with pytest.raises(UserError) as error:
        export_run(logdir, output if given else None)
    where, choose = ((f"--output={output}", "choose a new folder") if given else
                     (output, "export elsewhere with `python -m commands.export --output=FOLDER`"))
    assert str(error.value) == (f"{where} holds NOTES.txt and tflite/model.tflite besides an earlier export, and a "
                                f"new export replaces the folder whole; move them out, or {choose}")
    assert snapshot(output) == before
    (output / "NOTES.txt").unlink()
    shutil.rmtree(output / "tflite")
    (output / "saved_model" / "model.tflite").write_bytes(b"converted")  # inside the export's own folders too
    with pytest.raises(UserError, match="holds saved_model/model.tflite besides an earlier export"):
        export_run(logdir, output if given else None)
    (output / "saved_model" / "model.tflite").unlink()
    export_run(logdir, output if given else None)  # an export's own files alone: replaced
    if not given:  # train.py --export refuses before it trains
        (output / "NOTES.txt").write_text("mine")
        with pytest.raises(UserError, match="holds NOTES.txt besides an earlier export"):
            train_in_process("wgan_gp", logdir, "--train_steps=3", "--export")
        assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-2")


def test_a_file_where_the_run_s_export_folder_goes_is_named_without_a_flag_the_user_did_not_give(plain_run, tmp_path):
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    (logdir / "export").write_text("mine")
    with pytest.raises(UserError) as error:
        export_run(logdir)
    assert str(error.value) == (f"{logdir / 'export'} exists and is not an earlier export (no export.json); "
                                "export elsewhere with `python -m commands.export --output=FOLDER`")
    assert (logdir / "export").read_text() == "mine"


def test_export_of_a_run_without_a_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"variant": "dcgan", "image_shape": [28, 28, 1]}))
    result = run_in_process(["-m", "commands.export", f"--logdir={tmp_path / 'run'}"])
    assert result.returncode == 2 and "has no checkpoint yet" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run" / "export").exists()


def test_the_export_folder_gets_the_permissions_of_a_plain_mkdir(plain_run, tmp_path):
    # Not tempfile's private 0o700: a serving process of another user must be able to read it.
    previous = os.umask(0o027)
    try:
        export_run(plain_run, tmp_path / "out")
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o750


# Runs `python -m commands.export ARGV` with tf.saved_model.save held up (a minute, in short sleeps), so
# that a signal arrives while the new export is half written. Short sleeps: the kernel may hand the
# signal to one of TensorFlow's threads, and then only a main thread that wakes up runs the handler.
HELD_EXPORT = """
import runpy, sys, time
import tensorflow as tf
def held(*args, **kwargs):
    for _ in range(600):
        time.sleep(0.1)
tf.saved_model.save = held
sys.argv = ["export.py", *sys.argv[1:]]
runpy.run_module("commands.export", run_name="__main__", alter_sys=True)
"""


def held_export(logdir):
    """A running `commands.export --logdir=LOGDIR`, returned once its partial folder holds generator.keras."""
    from tests.helpers import REPO

    process = subprocess.Popen([sys.executable, "-c", HELD_EXPORT, f"--logdir={logdir}"], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    for _ in range(3000):
        if any(logdir.glob(".export.partial-*/generator.keras")) or process.poll() is not None:
            break
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()[1][-3000:]
    return process


def test_an_interrupted_export_says_so_and_a_killed_one_is_cleaned_up_by_the_next(plain_run, tmp_path):
    from tests.helpers import own_stderr_lines

    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    export_run(logdir)
    before = snapshot(logdir / "export")

    process = held_export(logdir)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in errors, errors[-3000:]
    assert own_stderr_lines(errors)[-1] == (
        f"interrupted: {logdir / 'export'} not exported; the previous export there is as it was")
    assert snapshot(logdir / "export") == before and not list(logdir.glob(".export.*"))

    process = held_export(logdir)
    process.kill()  # SIGKILL: no handler runs, the partial folder stays
    process.communicate(timeout=60)
    killed = list(logdir.glob(".export.partial-*"))
    assert len(killed) == 1 and str(process.pid) in killed[0].name
    host = socket.gethostname()
    live = logdir / f".export.partial-{host}-{os.getppid()}-0123abcd"  # a live process's (pytest's parent)
    elsewhere = logdir / f".export.partial-other.host-{process.pid}-0123abcd"  # another machine's
    stale_old = logdir / f".export.old-{host}-{process.pid}-0123abcd"  # killed after the first rename
    other_output = logdir / f".models.partial-{host}-{process.pid}-0123abcd"  # another output's
    for folder in (live, elsewhere, stale_old, other_output):
        folder.mkdir()
    export_run(logdir)
    assert sorted(path.name for path in logdir.glob(".*")) == sorted(
        path.name for path in (live, elsewhere, other_output))


def test_a_ctrl_c_that_a_library_swallows_still_stops_the_export(tmp_path, plain_run, monkeypatch):
    # Keras' save_model catches everything (a bare except) around the choice of its weights
    # store: a Ctrl-C whose KeyboardInterrupt is raised there was lost, and the export ran to its
    # end (as the test above once saw, its signal sent as generator.keras appeared). The signal
    # is still recorded: the export stops after the save, and never renames its folder into place.
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    export_run(logdir)
    before = snapshot(logdir / "export")
    from keras.src.saving import saving_lib

    sufficient = saving_lib.is_memory_sufficient

    def is_memory_sufficient(model):
        signal.raise_signal(signal.SIGINT)  # the handler's KeyboardInterrupt comes up inside the bare except
        return sufficient(model)

    monkeypatch.setattr(saving_lib, "is_memory_sufficient", is_memory_sufficient)
    done = run_in_process(["-m", "commands.export", f"--logdir={logdir}"])
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"interrupted: {logdir / 'export'} not exported; the previous export there is as it was")
    assert snapshot(logdir / "export") == before and not list(logdir.glob(".export.*"))


def test_a_second_ctrl_c_during_the_cleanup_lets_it_finish(tmp_path, plain_run, monkeypatch):
    # A wrapper that passes on the terminal's Ctrl-C (the terminal signals the whole process
    # group) delivers two at once. The second came while the first was being handled and cut the
    # removal of the partial folder short, leaving it, and its line said only "interrupted".
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    from keras.src.saving import saving_lib

    sufficient, rmtree = saving_lib.is_memory_sufficient, shutil.rmtree

    def is_memory_sufficient(model):
        signal.raise_signal(signal.SIGINT)
        return sufficient(model)

    def rmtree_signalled(path, **options):
        signal.raise_signal(signal.SIGINT)  # the second, as the cleanup starts
        rmtree(path, **options)

    monkeypatch.setattr(saving_lib, "is_memory_sufficient", is_memory_sufficient)
    monkeypatch.setattr(export.shutil, "rmtree", rmtree_signalled)
    done = run_in_process(["-m", "commands.export", f"--logdir={logdir}"])
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"interrupted: {logdir / 'export'} not exported; nothing written"
    assert not list(logdir.glob(".export.*")) and not (logdir / "export").exists()


@pytest.mark.parametrize("damage", ["cut short", "bytes changed in place"])
def test_a_damaged_checkpoint_is_named_in_one_line(plain_run, tmp_path, damage):
    # Also when the damage is outside the generator's weights: the file as a whole is not to be trusted.
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir)
    (data,) = (logdir / "checkpoints").glob("ckpt-2.data-*")
    content = data.read_bytes()
    if damage == "cut short":  # as by a full disk
        data.write_bytes(content[:100])
    else:  # in the middle: the generator's optimizer state, which generate does not read
        middle = len(content) // 2
        data.write_bytes(content[:middle] + bytes(byte ^ 0xFF for byte in content[middle:middle + 64])
                         + content[middle + 64:])
    make_generator = variants.module("wgan_gp", "networks").make_generator
    with pytest.raises(UserError, match=r"ckpt-2 is unreadable .*; there is no readable checkpoint before it: put "
                                        r"back a copy of its files, or train again in a new --logdir$") as error:
        sampling.load_generator(logdir, make_generator)
    assert "\n" not in str(error.value)


def command_in_process(tmp_path, program, **env):
    """What `python PROGRAM` (a command's text) runs, in this process (tests/helpers.py)."""
    path = tmp_path / "command.py"
    path.write_text(program)
    return run_in_process([path], env=env)


def test_every_command_says_what_an_interrupt_left(tmp_path):
    # The default is right for any command (train.py's start-up, prepare); a command
    # that knows what it leaves says so. Training, once it runs, prints its own (common/training_run.py).
    # One whose work is done says so for an interrupt that comes as it ends (cli.say_if_interrupted).
    program = ("import os; from common import cli\n"
               "def main(argv):\n"
               "    if os.environ.get('DONE'):\n"
               "        cli.say_if_interrupted(os.environ['DONE'])\n"
               "    raise KeyboardInterrupt(*filter(None, [os.environ.get('SAID')]))\n"
               "cli.run_command(main)\n")
    for given, done, said in [("", "", "interrupted: stopped before finishing"),
                              ("interrupted: X is as it was", "", "interrupted: X is as it was"),
                              ("", "interrupted: wrote X", "interrupted: wrote X"),
                              ("", "", "interrupted: stopped before finishing")]:  # (the next command's own)
        ended = command_in_process(tmp_path, program, SAID=given, DONE=done)
        assert ended.returncode == 130 and ended.stderr.strip().splitlines() == [said], ended.stderr


def test_a_ctrl_c_that_tensorflow_turned_into_another_error_is_still_the_interrupt_line(tmp_path, plain_run):
    # A signal that arrives inside TensorFlow's C++ code (export's tf.function, say) can come up as
    # another exception: "SystemError: <built-in function __import__> returned a result with an
    # exception set", then an AttributeError from nest.flatten. It is still the user's Ctrl-C.
    program = ("import signal; from common import cli\n"
               "def main(argv):\n"
               "    try:\n"
               "        signal.raise_signal(signal.SIGINT)\n"
               "    except KeyboardInterrupt:\n"
               "        raise AttributeError(\"'list' object has no attribute '_type_spec'\")\n"
               "cli.run_command(main)\n")
    done = command_in_process(tmp_path, program)
    assert done.returncode == 130 and done.stderr.strip().splitlines() == ["interrupted: stopped before finishing"], \
        done.stderr
    # export says what it left, and leaves no partial folder
    logdir = tmp_path / "run"
    shutil.copytree(plain_run, logdir, ignore=shutil.ignore_patterns("export"))
    program = ("import signal; from common import cli, export\n"
               "def serving_module(*args):\n"
               "    try:\n"
               "        signal.raise_signal(signal.SIGINT)\n"
               "    except KeyboardInterrupt:\n"
               "        raise AttributeError(\"'list' object has no attribute '_type_spec'\")\n"
               "export.serving_module = serving_module\n"
               "import runpy, sys\n"
               f"sys.argv = ['export.py', '--logdir={logdir}']\n"
               "runpy.run_module('commands.export', run_name='__main__', alter_sys=True)\n")
    done = command_in_process(tmp_path, program)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"interrupted: {logdir / 'export'} not exported; nothing written"
    assert sorted(path.name for path in logdir.iterdir() if path.name.startswith(".export")) == []


TENSORFLOW_ERRORS = {
    # NumPy's MemoryError was one line, TensorFlow's was a traceback: generate --num_samples=3000000
    # --batch_size=3000000 on a machine of 20 GB, say (one Dense output of 49 GB).
    "out of memory": (
        "ResourceExhaustedError", "Exception encountered when calling Dense.call().\\n\\n{{function_node MatMul}} OOM "
        "when allocating tensor with shape[3000000,4096] and type float on /job:localhost/replica:0/task:0/device:CPU:0 "
        "by allocator mklcpu [Op:MatMul]",
        "out of memory (OOM when allocating tensor with shape[3000000,4096] and type float); ask for less"),
    # TensorFlow says a full disk with the error it raises for memory: it read "out of memory ...; ask for less".
    "a full disk": (
        "ResourceExhaustedError", "{{function_node __wrapped__SaveV2}} /full/export/variables/variables.data-00000-of-"
        "00001.tempstate1; No space left on device [Op:SaveV2]",
        "/full/export/variables/variables.data-00000-of-00001.tempstate1: No space left on device; free some space "
        "there, or write elsewhere"),
    # A checkpoint folder made immutable (chattr +i) under a writable run directory: it was a traceback.
    "no permission": (
        "PermissionDeniedError", "{{function_node __wrapped__SaveV2}} /odd dir/run/checkpoints/ckpt-5_temp; Operation "
        "not permitted [Op:SaveV2]",
        "/odd dir/run/checkpoints/ckpt-5_temp: Operation not permitted"),
}


@pytest.mark.parametrize("case", TENSORFLOW_ERRORS)
def test_tensorflows_errors_about_memory_and_files_are_one_line_in_every_command(tmp_path, case):
    kind, message, said = TENSORFLOW_ERRORS[case]
    program = ("import tensorflow as tf; from common import cli\n"
               "def main(argv):\n"
               f"    raise tf.errors.{kind}(None, None, '{message}')\n"
               "cli.run_command(main)\n")
    done = command_in_process(tmp_path, program)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {said}"]


def test_export_into_a_read_only_folder_names_its_output_not_its_partial_folder(plain_run, tmp_path, monkeypatch):
    output = tmp_path / "models"
    make_folder = pathlib.Path.mkdir

    def read_only(folder, *args, **kwargs):
        if folder.name.startswith(".models.partial-"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))
        return make_folder(folder, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    done = run_in_process(["-m", "commands.export", f"--logdir={plain_run}", f"--output={output}"])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {output}: Read-only file system"]


def test_a_path_that_cannot_be_written_is_one_line_in_every_command(tmp_path):
    # Any command: a folder that is a file, no permission, ... gives the path and the reason.
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    program = ("import os; from common import cli\n"
               "def main(argv):\n"
               "    open(os.environ['TARGET'], 'w')\n"
               "cli.run_command(main)\n")
    target = blocker / "run" / "config.json"
    done = command_in_process(tmp_path, program, TARGET=str(target))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {target}: {blocker} is a file, not a folder"]
    # A folder asked for where that file is (generate's and export's --output): it said "File exists".
    program = ("import os, pathlib; from common import cli\n"
               "def main(argv):\n"
               "    pathlib.Path(os.environ['TARGET']).mkdir(parents=True, exist_ok=True)\n"
               "cli.run_command(main)\n")
    for target in (blocker, blocker / "export"):
        done = command_in_process(tmp_path, program, TARGET=str(target))
        assert done.returncode == 2, done.stderr
        said = f"{blocker} is a file, not a folder" if target == blocker else f"{target}: {blocker} is a file, not a folder"
        assert done.stderr.strip().splitlines() == [f"error: {said}"]
    # A link to nothing is not a file: mkdir said "File exists" of it, which is all that is known.
    link = tmp_path / "a_link"
    link.symlink_to(tmp_path / "nothing")
    for target in (link, link / "export"):
        done = command_in_process(tmp_path, program, TARGET=str(target))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [f"error: {link}: File exists"]


@pytest.mark.parametrize("command, name, room", [("generate", "samples.npz", 0), ("export", "export", 100_000)])
def test_generate_and_export_onto_a_full_disk_name_what_and_leave_nothing(plain_run, tmp_path, monkeypatch, command,
                                                                          name, room):
    # Each said "error: No space left on device"; generate left an empty samples.npz.partial.npz.
    # Export also left Keras's temporary assets folder (tmpXXXX/assets) in $TMPDIR when the disk
    # filled part way through generator.keras (its weights, after the zip file's first entries).
    output = tmp_path / "full" / name
    output.parent.mkdir()
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    fill_disk(monkeypatch, output.parent, room)
    done = run_in_process(["-m", f"commands.{command}", f"--logdir={plain_run}", f"--output={output}"])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {output}: No space left on device; free some space there, or write elsewhere"]
    assert list(output.parent.iterdir()) == []
    assert list(scratch.iterdir()) == []


def test_h_as_a_flags_value_is_that_value(tmp_path):
    # -h after a flag that takes a value is the value, as absl reads it: it became "--help".
    program = ("from absl import flags; from common import cli\n"
               "flags.DEFINE_string('name', None, 'a name')\n"
               "def main(argv):\n"
               "    print(flags.FLAGS.name)\n"
               "cli.run_command(main)\n")
    path = tmp_path / "command.py"
    path.write_text(program)
    for argv in (["--name", "-h"], ["--name=-h"]):
        done = run_in_process([path, *argv])
        assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "-h", (done.stdout, done.stderr)
    # After a flag's value, or a boolean flag, -h is still the help.
    for argv in (["--name", "x", "-h"], ["--name=x", "--only_check_args", "-h"]):
        done = run_in_process([path, *argv])
        assert done.returncode == 0 and "--name" in done.stdout, (done.stdout, done.stderr)
