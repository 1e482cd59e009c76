"""The command line: how every command starts, stops, reports bad input, and reads its flags.

    if __name__ == "__main__":
        define_flags(flags.FLAGS)  # the train.py's own: cli.define_flags, then the variant's
        cli.run_command(main)

A train.py defines its flags only when it runs as a program, into whichever
absl.flags.FlagValues it is given, so that one process can import every variant
(`default_config` reads a variant's defaults into a private FlagValues).
"""
import contextlib
import functools
import math
import os
import pathlib
import re
import signal
import sys
import threading
import types

from absl import app, flags, logging

from arguments import (DISK_FULL, FREE_SOME_SPACE, INTERRUPTED, did_you_mean, interruption_line,  # (common/data.py and
                       os_error_message, raised_by_interrupt)
# figures/toolkit.py take did_you_mean and os_error_message from here)

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SIZES = (28, 32, 64)  # the sizes the variants' networks have layer widths for (networks.WIDTHS)
FLOAT32_MAX = 3.4028234663852886e38  # numpy.finfo(numpy.float32).max, without importing NumPy here


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


class StopRequested(KeyboardInterrupt):
    """Raised by the training loop between two iterations, where a Ctrl-C or SIGTERM asked it to stop."""


_stop_requested = False
_stop_signal = signal.SIGINT  # the signal that asked for the stop: the exit status is 128 + its number
_stops_wait = False  # True while a training loop honours stops between its iterations
_watching = False  # a _SignalWatcher counts the signals (stops_between_iterations)
_said_if_interrupted = None  # a finished command's line for a late interrupt (say_if_interrupted)
_acknowledged = False  # the run has said that it will stop
_acknowledge_lock = threading.Lock()


def stop_requested():
    """True once Ctrl-C or SIGTERM has arrived (the training loop checks it after each iteration)."""
    return _stop_requested


def raise_if_stopped():
    """Raises KeyboardInterrupt if a Ctrl-C or SIGTERM has arrived outside a training loop.

    For a command's code after a library call that may have caught the handler's
    KeyboardInterrupt and gone on (Keras' save_model has a bare except around the choice
    of its weights store): _interrupt records the signal before it raises.
    """
    if _stop_requested and not _stops_wait:
        raise KeyboardInterrupt


def interrupted(error):
    """Whether `error` is a Ctrl-C or SIGTERM on its way up: a KeyboardInterrupt, or what
    TensorFlow's C++ code turned one raised inside a call into it into (a SystemError, then an
    AttributeError from nest.flatten, say): an error raised while handling one
    (arguments.raised_by_interrupt), or any error once the signal has arrived."""
    return raised_by_interrupt(error) or (_stop_requested and isinstance(error, Exception))


def stop_exit_status():
    """130 after Ctrl-C, 143 after SIGTERM: 128 + the signal's number, as shells report it."""
    return 128 + int(_stop_signal)


@contextlib.contextmanager
def stops_between_iterations():
    """Inside, the first Ctrl-C or SIGTERM only sets stop_requested(), for the training loop to
    stop when the iteration it is in is done; a second one stops at once, saving nothing.

    Outside (start-up, other commands), the first one stops at once.

    Python runs a signal's handler only when the TensorFlow call the main thread is in
    returns, and two signals that arrive meanwhile reach it as one. So a thread counts the
    signals as they arrive, through signal.set_wakeup_fd: it says at once that the run
    will stop, and on a second signal it ends the process (exit status 130, or 143 for
    SIGTERM) even in the middle of a long update. The checkpoints on disk stay whole:
    TensorFlow switches its index file only after a save's data is written.
    """
    global _stops_wait, _watching, _acknowledged, _stop_requested, _stop_signal
    _stops_wait, _acknowledged, _stop_requested, _stop_signal = True, False, False, signal.SIGINT
    main_thread = threading.current_thread() is threading.main_thread()
    # A caller that is not a command (a figure script's runs, a notebook) has Python's own
    # handlers, which would raise at the first Ctrl-C: inside, the run's handler answers.
    handlers = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)
                if main_thread and signal.getsignal(number) is not _interrupt}
    watcher = _SignalWatcher() if main_thread else None
    _watching = watcher is not None
    try:
        yield
    finally:
        _stops_wait = _watching = False
        if watcher:
            watcher.close()
        for number, handler in handlers.items():
            signal.signal(number, handler)


class _SignalWatcher:
    """A thread that sees every Ctrl-C and SIGTERM when it arrives (see stops_between_iterations)."""

    def __init__(self):
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # the signal handler must never wait on it
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="signal-watcher", daemon=True)
        self._thread.start()

    def _watch(self):
        stops = 0
        while True:
            try:
                received = os.read(self._read, 64)
            except OSError:  # closed
                return
            if not received:
                return
            for number in received:
                if number not in (signal.SIGINT, signal.SIGTERM):
                    continue
                stops += 1
                if stops == 1:
                    _acknowledge_stop()
                    continue
                with _acknowledge_lock:  # after the first stop's line, which the handler may be writing
                    os.write(sys.stderr.fileno(), interruption_line(
                        "interrupted again: stopped at once, nothing saved; the latest checkpoint on disk is the "
                        "one to resume from").encode())
                    os._exit(143 if number == signal.SIGTERM else 130)

    def close(self):
        signal.set_wakeup_fd(self._previous)
        os.close(self._write)  # the thread's read then returns b"", and the thread ends
        self._thread.join(timeout=5)
        os.close(self._read)


def _acknowledge_stop():
    """Says once, whichever of the watcher and the handler comes first, that the run will stop."""
    global _acknowledged
    with _acknowledge_lock:  # held while writing: a second signal's line and exit come after this line
        if _acknowledged:
            return
        _acknowledged = True
        # os.write: print could land inside another print to the same stream, and fail there. On a
        # terminal the line starts a line of its own, not glued to the progress line or the echoed ^C.
        os.write(sys.stderr.fileno(), interruption_line(
            "stopping when this iteration is done, with a checkpoint (again: stop at once, without one)").encode())


def _interrupt(signum, frame):
    """Ctrl-C or a SIGTERM (a job scheduler, `kill`) stops the run: see stops_between_iterations."""
    global _stop_requested, _stop_signal
    if _stops_wait and not _stop_requested:
        _stop_requested, _stop_signal = True, signum
        _acknowledge_stop()
        return
    if _stops_wait and _watching:
        return  # a second signal: the watcher ends the process
    if _stop_requested and raised_by_interrupt(sys.exc_info()[1]):
        # The first one's KeyboardInterrupt is being handled (an except or finally clause is
        # cleaning up): a second signal, often the same Ctrl-C passed on by a wrapper, lets it finish.
        return
    _stop_requested, _stop_signal = True, signum  # the training loop raises again if this raise is swallowed
    raise KeyboardInterrupt


def run_command(main):
    """absl.app.run(main), but bad input ends the program with one line instead of a traceback.

    main(argv) is called with the arguments left after the flags; any left over is an error.
    """

    def guarded(argv):
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # hide TensorFlow's routine INFO lines
        try:
            if len(argv) > 1:
                raise UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
            main(argv)
            if "TF_CONFIG" not in os.environ:  # (several machines: each leaves with TensorFlow's own shutdown)
                _exit_at_once(0)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except OSError as error:  # a path that cannot be read or written: a folder that is a file, no permission, ...
            print(f"error: {os_error_message(error)}", file=sys.stderr)
            sys.exit(2)
        except _tensorflow_file_errors() as error:  # the same, met by TensorFlow's own file functions
            path, reason = _tensorflow_path(error)
            print(f"error: {f'{path}: ' if path else ''}{reason}", file=sys.stderr)
            sys.exit(2)
        except _out_of_memory_errors() as error:  # a number with zeros too many: --num_samples=100000000000, say
            print(f"error: {_exhausted_line(error)}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as interruption:  # (training saves and exits itself, from its first iteration)
            # A command may say what it leaves: raise KeyboardInterrupt("interrupted: ... is as it was"),
            # or say_if_interrupted(...) for an interrupt that comes after its own code is done.
            sys.stderr.write(interruption_line(str(interruption) or _said_if_interrupted or INTERRUPTED))
            _exit_at_once(stop_exit_status())
        except SystemExit as exit_request:
            if stop_requested():  # a stopped training run, its checkpoint saved
                _exit_at_once(exit_request.code)
            raise
        except Exception as error:
            if not interrupted(error):
                raise
            sys.stderr.write(interruption_line(_said_if_interrupted or INTERRUPTED))
            _exit_at_once(stop_exit_status())

    say_if_interrupted(None)
    app.run(guarded, flags_parser=_parse_flags)


def say_if_interrupted(line):
    """What a command's Ctrl-C or SIGTERM says from now on, where nothing it raises says more:
    for a command whose work is done (its files written) but whose process has not ended yet
    (its objects are being freed), so that the line does not say it stopped before finishing."""
    global _said_if_interrupted
    _said_if_interrupted = line


def first_line(error):
    """An exception's first line of text (for a one-line message), or its type's name."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _out_of_memory_errors():
    """NumPy's MemoryError, and TensorFlow's ResourceExhaustedError once a command has imported it."""
    errors = getattr(sys.modules.get("tensorflow"), "errors", None)
    return (MemoryError, errors.ResourceExhaustedError) if errors else (MemoryError,)


def disk_full(error):
    """The file a full disk (or quota) left unwritten, as TensorFlow or the system names it, or
    None where `error` is not that: "" for an OSError that names no file."""
    if isinstance(error, OSError):
        return (error.filename or "") if error.errno in DISK_FULL else None
    path, reason = _tensorflow_path(error)
    return path if path and reason in map(os.strerror, DISK_FULL) else None


def _tensorflow_path(error):
    """(PATH, reason) of TensorFlow's error about a file, "{{function_node ...}} PATH; No space left on
    device [Op:SaveV2]" (its first line), or (None, that line) for another error."""
    line = re.sub(r"^\{\{function_node [^}]*\}\} ", "", str(error).strip().split("\n", 1)[0])
    path, _, reason = re.sub(r" \[Op:\w+\].*$", "", line).rpartition("; ")
    return (path, reason) if path else (None, reason)


def _tensorflow_file_errors():
    """TensorFlow's errors about a file (a checkpoint folder made read-only, say), once a command has imported it."""
    errors = getattr(sys.modules.get("tensorflow"), "errors", None)
    return (errors.PermissionDeniedError, errors.NotFoundError) if errors else ()


def _exhausted_line(error):
    """One line for an allocation that failed: NumPy's own line, or the tensor of TensorFlow's
    several lines ("OOM when allocating tensor with shape[3000000,4096] and type float");
    or for a file that TensorFlow found no space for (a checkpoint, say)."""
    written = disk_full(error)
    if written:
        return f"{written}: {os.strerror(DISK_FULL[0])}; {FREE_SOME_SPACE}"
    tensor = re.search(r"OOM when allocating tensor with shape\[[\d,]*\] and type \w+", str(error))
    detail = tensor.group(0) if tensor else str(error).strip().split("\n", 1)[0]
    return f"out of memory{f' ({detail})' if detail else ''}; ask for less"


def _parse_flags(argv):
    """absl's flag parsing, with its errors in the commands' style: one line, exit status 2; -h
    is --help, as in the argparse scripts (absl reads it as an unknown flag h)."""
    ending = argv.index("--") if "--" in argv else len(argv)
    argv = [*("--help" if arg == "-h" and not _takes_the_next_value(before) else arg
              for before, arg in zip([None, *argv], argv[:ending])), *argv[ending:]]
    try:
        argv = flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {flag_error_message(error, flags.FLAGS)}", file=sys.stderr)
        sys.exit(2)
    except SystemExit as exit_request:  # absl's --help and the like, which exit with 1 once they have answered
        sys.exit(0 if exit_request.code == 1 else exit_request.code)
    expand_home(flags.FLAGS)
    for name in flags.FLAGS:
        value = flags.FLAGS[name].value
        if isinstance(value, str) and not is_utf8(value):  # a path, most likely
            shown = os.fsencode(value).decode(errors="backslashreplace")
            print(f"error: --{name}={shown}: not UTF-8 text, which TensorFlow's file functions need; rename it",
                  file=sys.stderr)
            sys.exit(2)
    return argv


def is_utf8(text):
    """False for text with a byte that is no UTF-8 (Python keeps one of a path as a lone surrogate)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _takes_the_next_value(arg):
    """Whether absl reads the word after `arg` as its value: `arg` is a flag that is not boolean,
    with no =VALUE (--logdir -h is the logdir -h)."""
    if arg is None or not arg.startswith("-") or "=" in arg:
        return False
    name = arg.lstrip("-")
    return name in flags.FLAGS and not flags.FLAGS[name].boolean


def expand_home(flag_values):
    """--logdir=~/runs/x means the home folder's runs/x, as it would at the start of a word: the
    shell leaves a ~ after --logdir= as it is, and the run would go into a folder named ~. Every
    text flag that starts with ~ is a path (as arguments.Parser reads the scripts' options)."""
    for name in flag_values:
        value = flag_values[name].value
        if isinstance(value, str) and value.startswith("~"):
            flag_values[name].value = os.path.expanduser(value)


def flag_error_message(error, flag_values):
    """absl's flags.Error as one line that names the flag, with the closest name or value when
    one is near: "unknown flag --trian_steps (did you mean --train_steps?)"."""
    if isinstance(error, flags.UnrecognizedFlagError):
        hint = did_you_mean(error.flagname, flag_values, prefix="--") or " (--helpfull lists them)"
        return f"unknown flag --{error.flagname}{hint}"
    message = " ".join(str(error).split())  # one line
    message = message.removeprefix("ERROR:: ")  # absl's own prefix on a --flagfile that cannot be opened
    if message.startswith("Unable to open flagfile: "):  # "...: [Errno 2] No such file or directory: 'PATH'"
        reason = message.removeprefix("Unable to open flagfile: ")
        path = pathlib.Path(reason.rsplit(": ", 1)[-1].strip("'\""))
        if path.exists():  # a folder, say: the system's reason, not a near name (its own)
            return f"--flagfile: cannot open {path}: {reason.split('] ', 1)[-1].rsplit(': ', 1)[0]}"
        in_repository = REPOSITORY / path  # the README's --flagfile=configs/..., typed in another folder
        if not path.is_absolute() and in_repository.is_file():
            return f"--flagfile: cannot open {path} in {os.getcwd()} (did you mean {in_repository}?)"
        siblings = [sibling.name for sibling in path.parent.glob("*")] if path.parent.is_dir() else []
        return f"--flagfile: cannot open {path}{did_you_mean(path.name, siblings)}"
    if message.startswith("flag --"):  # "flag --name=value: what is wrong"
        message = message[len("flag "):]
        name, _, value = message[2:].partition(":")[0].partition("=")
        enum_values = getattr(flag_values[name].parser, "enum_values", None) if name in flag_values else None
        if enum_values:
            message += did_you_mean(value, enum_values)
    return message


_kept_until_exit = []


def keep_until_exit(value):
    """Holds `value` (the newest one given) until the process ends.

    For a run's input pipeline: freed when train() returns, a tf.data iterator waits for
    its threads, 1-9 s measured here; held, it ends with the process (_exit_at_once). A
    process that trains again (the tests, a figure script's runs) lets go of the one held
    before on a thread of its own, so that the next run does not wait for it (0.5-3.7 s
    each, measured on a tiny run).
    """
    previous = _kept_until_exit[:]
    _kept_until_exit[:] = [value]
    if previous:
        threading.Thread(target=previous.clear, name="input pipeline teardown", daemon=True).start()


def _exit_at_once(status):
    """Ends a command that is done, or that a Ctrl-C or SIGTERM stopped, once it has written what it keeps.

    Python's own exit waits for the threads of tf.data's input pipelines, torn down as their
    iterators are collected: after a Ctrl-C that took 2-8 s here (15-47 s reported), and
    users press Ctrl-C again or think the run hung; after a finished run, 1-22 s (with
    keep_until_exit, which keeps the wait out of train()'s return). By now
    every file the command keeps is written and closed (the checkpoint, metrics.csv, the
    TensorBoard events flushed, exports renamed into place), so the streams are flushed and
    the process ends without that wait. The exit handlers still run first (os._exit skips
    them): AutoGraph removes the sources it generated in the temp folder there, and the
    libraries close what they hold (logging, h5py, matplotlib's figures), all in milliseconds.
    A Ctrl-C or SIGTERM from here on is ignored: the command has finished or stopped, and one
    that came during the exit handlers left a traceback of the handler it broke off.
    """
    import atexit

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said on it
            pass
    atexit._run_exitfuncs()  # (what Python's own exit runs first; logging.shutdown is one)
    os._exit(0 if status is None else status if isinstance(status, int) else 1)  # as sys.exit(status)


class FlagDefiner:
    """absl's flags.DEFINE_<kind> into one FlagValues, on behalf of one module.

    define.integer("n_critic", 5, "help", lower_bound=1) is flags.DEFINE_integer with
    flag_values and module_name filled in, so that the flags count as that module's.
    """

    def __init__(self, flag_values, module_name):
        if module_name == "__main__":
            module_name = sys.argv[0]  # absl's name for the program's own module
        self.flag_values, self.module_name = flag_values, module_name

    def __getattr__(self, kind):
        define = functools.partial(
            getattr(flags, f"DEFINE_{kind}"), flag_values=self.flag_values, module_name=self.module_name
        )
        if kind == "integer":
            def define_int64(name, *args, **kwargs):  # absl's integers have no size limit
                holder = define(name, *args, **kwargs)
                self.validator(name, lambda value: value is None or -2**63 <= value < 2**63,
                               "must be below 2**63 in size (NumPy and TensorFlow count in int64)")
                return holder

            return define_int64
        if kind != "float":
            return define

        def define_finite(name, *args, **kwargs):  # absl's float parser takes nan, inf and 1e400
            holder = define(name, *args, **kwargs)
            self.validator(name, lambda value: value is None or math.isfinite(value), "must be a finite number")
            # The steps compute in float32, where a larger number is inf (with NumPy's overflow warning).
            self.validator(name, lambda value: value is None or abs(value) <= FLOAT32_MAX,
                           "must be at most 3.4e38 in size (float32's largest)")
            return holder

        return define_finite

    def validator(self, name, check, message):
        flags.register_validator(name, check, message, flag_values=self.flag_values)


def define_flags(flag_values, module_name):
    """Defines the flags every train.py shares (data, run directory, cadence, devices) for module_name.

    Returns a FlagDefiner with which the train.py defines its own.
    """
    define = FlagDefiner(flag_values, module_name)
    define.string(
        "dataset", "mnist", "mnist, fashion_mnist, cifar10, mnist_5k (bundled, offline), folder:PATH or tfds:NAME")
    define.string(
        "data_dir", None, "Folder with a local copy of the dataset's files instead of downloading; for tfds:, "
        "TFDS's data directory")
    define.integer("image_size", 64, "Side in pixels for folder: and tfds: datasets (64: the DCGAN paper's nets)")
    define.string(
        "cache_dir", None, "With a folder: dataset, keep its decoded images here (once) and read them from there")
    define.string("logdir", None, "Run directory; default runs/VARIANT-DATASET. An existing run is resumed")
    define.integer("seed", 0, "Seeds Python, NumPy and TensorFlow, the data order and the fixed sample noise",
                   lower_bound=0)  # (NumPy takes no negative seed)
    define.integer("log_every", 50, "Generator iterations between logged scalars", lower_bound=1)
    define.integer("sample_every", 500, "Generator iterations between sample grids (and grids at 1, 10, 50, "
                   "100, 200 and 500 iterations into every session; samples/latest.png is the newest)", lower_bound=1)
    define.integer("checkpoint_every", 500, "Generator iterations between checkpoints (Ctrl-C and SIGTERM save "
                   "one too)", lower_bound=1)
    define.bool(
        "export", False, "When training ends, also write the generator for use without this repository "
        "(RUN/export: generator.keras and a SavedModel; see common/export.py)")
    define.integer(
        "eval_every", 0, "Generator iterations between sample-quality metrics (common/quality.py); 0: never",
        lower_bound=0,
    )
    define.integer(
        "eval_samples", 5000, "With --eval_every: generated images per evaluation, and as many real training images "
        "for the real floor (5,000: commands.evaluate's --num_samples; fewer is faster and scores a higher FD)",
        lower_bound=2,
    )
    define.string(
        "inception_weights", "imagenet",
        "With --eval_every on colour images: InceptionV3 weights, imagenet (downloaded) or a local .h5 file",
    )
    define.enum(
        "strategy", "default", ["default", "mirrored", "multi_worker"],
        "default: one device. mirrored: every GPU of this machine. multi_worker: several machines (TF_CONFIG)",
    )
    define.bool("jit_compile", False, "Compile the steps with XLA (slower on CPU: see the README's benchmarks)")
    define.bool(
        "conditional", False,
        "Class-conditional G and D (datasets with labels): G reads a one-hot label, D is a projection discriminator",
    )
    define.enum(
        "mixed_precision", "off", ["off", "float16", "bfloat16"],
        "Compute in 16 bits with float32 variables; float16 adds a dynamic loss scale",
    )
    define.validator("image_size", lambda size: size in IMAGE_SIZES, "--image_size must be 28, 32 or 64")
    return define


def variant_name(module):
    """The variant a train.py belongs to: the name of its directory (dcgan, wgan, wgan_gp, ...)."""
    return pathlib.Path(module.__file__).resolve().parent.name


def config_from_flags(flag_values, module):
    """The resolved configuration: every flag `module` (a train.py) defined, as a read-only
    mapping (types.MappingProxyType), since the flags say what was asked and nothing after
    changes that; what a run learns at start is common.data.RunFacts. A caller that needs
    other values makes a new mapping ({**config, key: value})."""
    variant = variant_name(module)
    values = {flag.name: flag.value for flag in flag_values.get_flags_for_module(module.__name__)}
    if flag_values["image_size"].present and not values["dataset"].startswith(("folder:", "tfds:")):
        raise UserError(f"--image_size (given here or in a --flagfile) applies to folder: and tfds: datasets; "
                        f"{values['dataset']} has a fixed size: add --dataset=folder:PATH or tfds:NAME")
    if values.get("cache_dir") and not values["dataset"].startswith("folder:"):
        raise UserError(f"--cache_dir applies to folder: datasets, not {values['dataset']}")
    values["dataset"] = normalized_dataset(values["dataset"])
    if values.get("logdir") == "":  # an unset shell variable, say: the current folder would become the run
        raise UserError("--logdir is empty; give the run's folder, or leave the flag out for runs/VARIANT-DATASET")
    if values.get("logdir") is None:
        dataset = values["dataset"]
        if dataset.startswith("folder:"):
            dataset = "folder-" + (pathlib.Path(dataset[len("folder:"):]).resolve().name or "root")
        dataset = dataset.replace(":", "-").replace("/", "-")  # tfds:lsun/bedroom -> tfds-lsun-bedroom
        values["logdir"] = os.path.join("runs", f"{variant}-{dataset}")
    if values.get("cache_dir"):
        cache, logdir = (pathlib.Path(values[key]).expanduser().resolve() for key in ("cache_dir", "logdir"))
        if cache.is_relative_to(logdir):  # the run directory holds its run's files only (rundir.check_logdir)
            raise UserError(f"--cache_dir={values['cache_dir']} is inside --logdir={values['logdir']}; keep the "
                            "cache outside the run (it serves every run on that folder)")
    return types.MappingProxyType({"variant": variant, **dict(sorted(values.items()))})


def normalized_dataset(name):
    """--dataset as a run records it: folder:PATH with PATH absolute and resolved (folder:data/x/,
    folder:./data/x and folder:/abs/data/x are one folder); other names as given."""
    if name.startswith("folder:") and name != "folder:":
        return "folder:" + str(pathlib.Path(name[len("folder:"):]).expanduser().resolve())
    return name


def default_config(module, **overrides):
    """A train.py's configuration at its flags' defaults (the paper's settings), with overrides.

    For scripts and tests that use a variant's functions without its command line; any
    number of variants can be read this way in one process.
    """
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    flag_values.mark_as_parsed()
    return types.MappingProxyType({**config_from_flags(flag_values, module), **overrides})
