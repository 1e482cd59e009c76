"""Runs the repo's commands as a user types them (in subprocesses), and the same in this process."""
import contextlib
import csv
import functools
import hashlib
import logging
import os
import pathlib
import subprocess
import sys

import numpy as np

import variants

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_python(args, timeout=300, cwd=REPO, env=None):
    """python ARGS in `cwd` with extra `env` variables; returns the CompletedProcess (text output)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_python_timed(args, marker, timeout=300, env=None):
    """run_python(args, env=env), and the seconds from the stdout line that starts with `marker`
    to the exit (None without that line). stderr goes to a file, so that neither pipe fills."""
    import tempfile
    import time

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **(env or {})}
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
        lines, seen = [], None
        for line in process.stdout:
            lines.append(line)
            if seen is None and line.startswith(marker):
                seen = time.perf_counter()
        process.wait(timeout=timeout)
        ended = time.perf_counter()
        stderr.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode, "".join(lines), stderr.read())
    return result, None if seen is None else ended - seen


def own_stderr_lines(stderr):
    """stderr without TensorFlow's C++ start-up notes, which no flag can silence."""
    noise = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "E0000 ", "W0000 ")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(noise)]


VARIANTS = variants.NAMES
TINY = ["--dataset=mnist_5k", "--batch_size=8", "--sample_every=2", "--checkpoint_every=2", "--log_every=1"]
N_CRITIC = {name: 1 if name == "dcgan" else 5 for name in VARIANTS}  # the papers' defaults
ITERATIONS = "/.ATTRIBUTES/VARIABLE_VALUE"  # a checkpoint key's suffix


def train_module(variant):
    return variants.module(variant, "train")


def parse(variant, argv):
    """The config that `python VARIANT/train.py ARGV` would train, parsed in this process."""
    from absl import flags

    from common import cli

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


def small_generator(image_shape, num_classes=0, *, latent_dim):
    """A stand-in for a variant's networks.make_generator (small_networks binds its latent_dim),
    with its interface and a hundredth of its cost: [noise [N, latent_dim], labels int [N]] ->
    images [N, H, W, C] in [-1, 1] (float32), one dense layer (and, with num_classes, a
    per-class offset: the label shows)."""
    import keras
    from keras import layers

    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((), dtype="int32", name="labels")
    x = layers.Dense(int(np.prod(image_shape)))(noise)
    if num_classes:
        x = layers.Add()([x, layers.Embedding(num_classes, int(np.prod(image_shape)))(labels)])
    images = layers.Activation("tanh", dtype="float32")(layers.Reshape(tuple(image_shape))(x))
    return keras.Model([noise, labels], images, name="generator")


def small_discriminator(image_shape, num_classes=0, *options):
    """A stand-in for every variant's networks.make_discriminator: [images [N, H, W, C], labels
    int [N]] -> [N, 1] float32, one dense layer on the pixels (with num_classes, plus a per-class
    bias). `options`: a variant's own (wgan_gp's critic_norm), which one layer has no use for."""
    import keras
    from keras import layers

    images = keras.Input(tuple(image_shape), name="images")
    labels = keras.Input((), dtype="int32", name="labels")
    logits = layers.Dense(1, dtype="float32")(layers.Flatten()(images))
    if num_classes:
        logits = layers.Add(dtype="float32")([logits, layers.Embedding(num_classes, 1, dtype="float32")(labels)])
    return keras.Model([images, labels], logits, name="discriminator")


_SMALL = []  # [True] while small_networks() is in effect (trained_run's cache tells the two apart)


@contextlib.contextmanager
def small_networks():
    """Inside, every variant trains small_generator and small_discriminator instead of its own
    networks: the same steps, losses, optimizers, data and TrainingRun around them, for about a
    fifth of a tiny run's CPU time (most of which is TensorFlow building the networks' graphs).
    For tests whose subject is what a run does around its networks (checkpoints, signals, logs,
    resumes); the networks themselves, and each variant's run with them, are tested with their
    own (test_networks.py, test_train.py, test_finite_runs.py's switches, test_devices.py)."""
    modules = [variants.module(name, "networks") for name in VARIANTS]
    saved = [(module.make_generator, module.make_discriminator) for module in modules]
    for module in modules:
        module.make_generator = functools.partial(small_generator, latent_dim=module.LATENT_DIM)
        module.make_discriminator = small_discriminator
    _SMALL.append(True)
    try:
        yield
    finally:
        _SMALL.pop()
        for module, (generator, discriminator) in zip(modules, saved):
            module.make_generator, module.make_discriminator = generator, discriminator


def trained_run(variant, destination, *argv):
    """A copy at `destination` of the run that train_in_process(variant, ..., *argv) leaves.

    Each such run is trained once per test session, under the session's cache (conftest.py),
    with a lock so that both test workers share it; each test gets its own copy (config.json's
    logdir names the copy), so a test may resume, damage or delete it. Returns `destination`.
    For tests whose subject is what comes after the run; a test of the run itself trains it.
    """
    import fcntl
    import json
    import shutil

    from common import rundir

    networks = ["small networks"] if _SMALL else []
    key = hashlib.sha256(json.dumps([variant, *argv, *networks]).encode()).hexdigest()[:16]
    cached = pathlib.Path(os.environ["GAN_TESTS_CACHE"]) / "runs" / f"{variant}-{key}"
    cached.parent.mkdir(parents=True, exist_ok=True)
    with open(cached.parent / f"{cached.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cached.parent / f"{cached.name}.done").exists():
            shutil.rmtree(cached, ignore_errors=True)
            train_in_process(variant, cached, *argv)
            (cached.parent / f"{cached.name}.done").touch()
    destination = pathlib.Path(destination)
    shutil.copytree(cached, destination)
    config = json.loads((destination / "config.json").read_text())
    rundir.write_json(destination / "config.json", {**config, "logdir": str(destination)})
    return destination


def metrics_rows(logdir):
    with open(pathlib.Path(logdir) / "metrics.csv") as f:
        return list(csv.DictReader(f))


def snapshot(folder):
    """Every file under `folder` with its modification time and contents' hash."""
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def run_in_process(args, cwd=REPO, env=None):
    """What run_python(args, cwd=cwd, env=env) runs, in this process; returns a CompletedProcess.

    `python SCRIPT ARGS` runs SCRIPT's `if __name__ == "__main__":` block (runpy.run_path) and
    `python -m MODULE ARGS` runs MODULE's (runpy.run_module), with sys.argv, sys.path[0], the
    working folder and the environment set as Python sets them for a new process. stdout and
    stderr are captured at their file descriptors, so the output of TensorFlow's C++ code and
    of absl's logging is in them too; Python's warnings show as a new process shows them.

    The command's exit status is the returncode: cli's _exit_at_once, which ends a real process
    at once (os._exit), raises SystemExit here instead, so `finally` blocks that a real exit
    skips do run. Afterwards this process is as it was: absl's flags.FLAGS (the flags the
    command defined are removed, the values it parsed put back), absl's one-time start-up
    (so the next command parses its flags, --helpfull included, as a new process would) and
    the root logger's handlers and level that it sets, the SIGINT and SIGTERM handlers, cli's
    stop state, sys.argv, sys.path, os.environ and the working folder. The module that
    `-m MODULE` names runs from a fresh import, and the one imported before stays in
    sys.modules. What a process starts with once (TensorFlow's start-up notes, Keras' layer
    name counters) a command run here does not start with: a test of those runs the command
    in a subprocess.
    """
    import runpy
    import signal
    import warnings

    from absl import app, flags
    from absl import logging as absl_logging

    from common import cli

    args = [str(arg) for arg in args]
    saved = _ProcessState()
    status = 0
    try:
        os.chdir(cwd)
        os.environ.update({"CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **(env or {})})
        cli._exit_at_once = _raise_system_exit
        cli._stop_requested, cli._stop_signal = False, signal.SIGINT  # a new process's: no stop asked for yet
        app.faulthandler = None  # it would keep the capture's file descriptor after the command
        app.command_name.make_process_name_useful = lambda: None  # (it renames this process)
        app._run_init.done = app._register_and_parse_flags_with_usage.done = False  # absl's start, as new
        app._define_help_flags_called = "helpfull" in flags.FLAGS  # --helpfull and the like, defined anew
        with _captured_output() as output, warnings.catch_warnings():
            _python_default_warnings()
            handler = absl_logging.get_absl_handler().python_handler
            handler.stream = sys.stderr  # where a new process's absl logging writes
            try:
                if args[0] == "-m":
                    sys.argv = [args[1], *args[2:]]  # run_module puts the module's file in argv[0]
                    sys.path.insert(0, os.getcwd())
                    with _not_imported(args[1]):  # as in a new process (else runpy warns)
                        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
                else:
                    script = os.path.abspath(args[0])
                    sys.argv = [args[0], *args[1:]]
                    sys.path.insert(0, os.path.dirname(script))
                    runpy.run_path(script, run_name="__main__")
            except SystemExit as exit_request:  # as Python turns sys.exit(code) into an exit status
                code = exit_request.code
                if code is None or isinstance(code, int):
                    status = code or 0
                else:
                    print(code, file=sys.stderr)
                    status = 1
            except Exception:  # an uncaught exception: its traceback and status 1
                import traceback

                traceback.print_exc()
                status = 1
            finally:
                handler.stream = saved.absl_stream
    finally:
        saved.restore()
    return subprocess.CompletedProcess([sys.executable, *args], status, output.stdout, output.stderr)


def _raise_system_exit(status):
    """cli._exit_at_once for a command run in this process: the exit status, without ending it."""
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(0 if status is None else status if isinstance(status, int) else 1)


def _python_default_warnings():
    """The warnings filters a new Python process starts with (its defaults, then PYTHONWARNINGS,
    which it inherits), each warning printed on stderr."""
    import warnings

    warnings.resetwarnings()  # (it also lets warnings already shown once show again)
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for option in os.environ.get("PYTHONWARNINGS", "").split(","):  # as a new process reads it
        if option.strip():
            warnings._setoption(option.strip())

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


@contextlib.contextmanager
def _not_imported(name):
    """Inside, module `name` is not in sys.modules; afterwards the module imported before (if any)
    is back there and in its package, and one imported inside is left out."""
    parent, _, child = name.rpartition(".")
    before = sys.modules.pop(name, None)
    try:
        yield
    finally:
        sys.modules.pop(name, None)
        if before is not None:
            sys.modules[name] = before
        if parent in sys.modules:
            if before is not None:
                setattr(sys.modules[parent], child, before)
            elif hasattr(sys.modules[parent], child):
                delattr(sys.modules[parent], child)


class _ProcessState:
    """What a command run in this process changes, saved; restore() puts it back."""

    def __init__(self):
        import signal

        from absl import app, flags
        from absl import logging as absl_logging

        from common import cli

        self.cwd, self.argv, self.path, self.environ = os.getcwd(), sys.argv[:], sys.path[:], dict(os.environ)
        self.signals = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        self.cli = {name: getattr(cli, name) for name in (
            "_exit_at_once", "_stop_requested", "_stop_signal", "_stops_wait", "_watching", "_acknowledged")}
        self.app = (app.faulthandler, app.command_name.make_process_name_useful, app._run_init.done,
                    app._register_and_parse_flags_with_usage.done, app._define_help_flags_called)
        self.absl_stream = absl_logging.get_absl_handler().python_handler.stream
        # absl's start-up puts its handler on the root logger, and its verbosity sets the root's level
        self.logging = (logging.root.handlers[:], logging.root.level, absl_logging.get_absl_logger().level,
                        absl_logging._attempted_to_remove_stderr_stream_handlers)
        self.flags_parsed = flags.FLAGS.is_parsed()
        self.flags = {name: (flag.value, flag.present, flag.using_default_value)
                      for name, flag in flags.FLAGS._flags().items()}

    def restore(self):
        import signal

        from absl import app, flags
        from absl import logging as absl_logging

        from common import cli

        handlers, root_level, absl_level, absl_logging._attempted_to_remove_stderr_stream_handlers = self.logging
        logging.root.handlers[:] = handlers
        for name in [name for name in flags.FLAGS if name not in self.flags]:  # the command's own
            delattr(flags.FLAGS, name)
        if self.flags_parsed:
            flags.FLAGS.mark_as_parsed()
        else:
            flags.FLAGS.unparse_flags()
        for name, (value, present, using_default_value) in self.flags.items():
            flag = flags.FLAGS[name]
            flag.value, flag.present, flag.using_default_value = value, present, using_default_value
        logging.root.setLevel(root_level)
        absl_logging.get_absl_logger().setLevel(absl_level)
        (app.faulthandler, app.command_name.make_process_name_useful, app._run_init.done,
         app._register_and_parse_flags_with_usage.done, app._define_help_flags_called) = self.app
        for name, value in self.cli.items():
            setattr(cli, name, value)
        for number, handler in self.signals.items():
            signal.signal(number, handler)
        os.chdir(self.cwd)
        sys.argv[:], sys.path[:] = self.argv, self.path
        for name in [name for name in os.environ if name not in self.environ]:
            del os.environ[name]
        os.environ.update({name: value for name, value in self.environ.items() if os.environ.get(name) != value})


class _captured_output:
    """Inside, file descriptors 1 and 2, and sys.stdout and sys.stderr, write to temporary files;
    at the end their text is in .stdout and .stderr."""

    def __enter__(self):
        import io
        import tempfile

        sys.stdout.flush()
        sys.stderr.flush()
        self.files = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.saved_descriptors = os.dup(1), os.dup(2)
        self.saved_streams = sys.stdout, sys.stderr
        os.dup2(self.files[0].fileno(), 1)
        os.dup2(self.files[1].fileno(), 2)
        sys.stdout, sys.stderr = (
            io.TextIOWrapper(io.FileIO(descriptor, "w", closefd=False), encoding="utf-8", errors=errors,
                             line_buffering=True, write_through=True)
            for descriptor, errors in ((1, "strict"), (2, "backslashreplace")))
        return self

    def __exit__(self, *exception):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = self.saved_streams
        for descriptor, saved in zip((1, 2), self.saved_descriptors):
            os.dup2(saved, descriptor)
            os.close(saved)
        texts = []
        for file in self.files:
            file.seek(0)
            texts.append(file.read().decode(errors="replace"))
            file.close()
        self.stdout, self.stderr = texts
        return False


def fill_disk(monkeypatch, folder, room=0):
    """Makes the disk under `folder` full for Python's own writes, as a full disk fails them: a
    file opened for writing is made, and its first write that reaches the disk (at a flush or
    close, mostly) raises OSError ENOSPC. TensorFlow's writes (checkpoints, events) are unaffected.
    With `room`, that many bytes (over all files) are written first: the disk fills part way."""
    import builtins
    import errno
    import io

    real_open = io.open
    folder = os.path.abspath(folder)

    left = [room]

    class Full(io.FileIO):
        def write(self, data):
            if len(data) > left[0]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            left[0] -= len(data)
            return super().write(data)

    def opened(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None):
        inside = not isinstance(file, int) and os.path.abspath(os.fsdecode(file)).startswith(folder + os.sep)
        if not inside or not set(mode) & set("wax+"):
            return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        raw = Full(file, mode.replace("b", "").replace("t", ""), closefd, opener=opener)  # (TemporaryFile: O_TMPFILE)
        buffered = (io.BufferedRandom if "+" in mode else io.BufferedWriter)(raw)
        return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding or "utf-8", errors, newline)

    monkeypatch.setattr(builtins, "open", opened)
    monkeypatch.setattr(io, "open", opened)
