"""The scripts' command line (argparse), in the commands' style (common/cli.py).

    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--seconds", type=arguments.seconds, default=20.0)  # a finite number, at least 0
    args = parser.parse_args()

A mistake is one line and exit status 2, with the closest name where one is near:
    error: unknown option --trian_steps (did you mean --train_steps?)
    error: --variants: invalid choice 'wgangp' (did you mean wgan_gp?); choose from dcgan, wgan, ...
    error: --seconds: must be at least 0, not -1
a Ctrl-C that nothing else handles is one line and exit status 130, and a path that cannot be read
or written is one line (`error: PATH: reason`) and exit status 2 (end_in_one_line).

It imports nothing of the repository and nothing heavy, so that a script's --help or a
mistyped option answers at once; importing common/ imports TensorFlow. common/ takes
did_you_mean, os_error_message and the Ctrl-C ending from here, so that the commands and the scripts share them.
"""
import argparse
import contextlib
import difflib
import errno
import math
import os
import pathlib
import signal
import subprocess
import sys
import threading

SUPPRESS = argparse.SUPPRESS  # help= of an option --help leaves out (and no "did you mean" names)
INTERRUPTED = "interrupted: stopped before finishing"  # what a Ctrl-C says when nothing says more


def did_you_mean(name, choices, prefix=""):
    """" (did you mean X?)" with the choice closest to a mistyped `name` (difflib), or "" if none is close."""
    closest = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {prefix}{closest[0]}?)" if closest else ""


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line, without the usage block (--help shows it).

    The description (a script's docstring, usually) shows in --help as it is written. An option
    is spelt in full, as absl's flags are: a shortened one would take a mistyped one for another.
    """

    def __init__(self, *args, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, allow_abbrev=allow_abbrev, **kwargs)

    def parse_args(self, args=None, namespace=None):
        end_in_one_line()
        # A mistyped option is said before a missing required one: it may be that one, misspelt.
        required = [action for action in self._actions if action.required]
        for action in required:
            action.required = False
        try:
            parsed, unknown = self.parse_known_args(args, namespace)
        finally:
            for action in required:
                action.required = True
        # '--' ends the options: what follows it is a value, whatever its spelling.
        end = unknown.index("--") if "--" in unknown else len(unknown)
        options = [argument for argument in unknown[:end] if argument.startswith("-")]
        values = [argument for argument in unknown[:end] if not argument.startswith("-")] + unknown[end + 1:]
        if options:
            self.error(self.unknown_message(options))
        missing = [action for action in required if getattr(parsed, action.dest) is None]
        if missing:  # (before a stray value, which may be the missing option's, its name forgotten)
            names = ", ".join("/".join(action.option_strings) or action.dest for action in missing)
            self.error(f"the following arguments are required: {names}")
        if values:
            self.error(f"unexpected argument {values[0]!r}")
        for action in self._actions:  # a list option's value twice would run (and average) it twice
            given = getattr(parsed, action.dest, None)
            if action.option_strings and action.nargs in ("+", "*") and isinstance(given, list):
                twice = next((value for index, value in enumerate(given) if value in given[:index]), None)
                if twice is not None:
                    self.error(f"{action.option_strings[0]}: {twice!r} is given twice")
        return parsed

    def unknown_message(self, unknown):
        """argparse's "unrecognized arguments" as the first of them, with the closest option."""
        first = unknown[0]
        if not first.startswith("-"):
            return f"unexpected argument {first!r}"
        name = first.split("=", 1)[0]
        options = [option for action in self._actions if action.help != argparse.SUPPRESS
                   for option in action.option_strings]
        return f"unknown option {name}{did_you_mean(name, options) or ' (--help lists them)'}"

    def _get_value(self, action, text):
        # --output_dir=~/figures means the home folder's, as it would at the start of a word: the
        # shell leaves a ~ after --output_dir= as it is, and the script would make a folder named ~.
        return super()._get_value(action, os.path.expanduser(text) if text.startswith("~") else text)

    def _check_value(self, action, value):
        # argparse's check of choices=, with the closest choice named.
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            hint = did_you_mean(str(value), choices)
            raise argparse.ArgumentError(action, f"invalid choice {value!r}{hint}; choose from {', '.join(choices)}")

    def error(self, message):
        message = " ".join(message.split()).removeprefix("argument ")  # argparse's "argument --name: ..."
        self.exit(2, f"error: {message}\n")


def number(kind, *, at_least=None, above=None):
    """An argparse type: a finite `kind` (int or float) that is at least `at_least`, or more than `above`.

    Anything else is refused in one line: "--seconds: must be at least 0, not -1".
    """
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, not {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
        if at_least is not None and value < at_least:
            raise argparse.ArgumentTypeError(f"must be at least {at_least}, not {text}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be more than {above}, not {text}")
        return value

    return convert


def output_file(text):
    """An argparse type: a file the script writes when its work is done (output_file_problem).
    Returns `text`."""
    problem = output_file_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def output_file_problem(path):
    """What would stop a file being written at `path` once the work is done, as one phrase, or
    None: asked before the work starts, so that hours of runs do not end at a folder that is not there."""
    text = os.fspath(path)
    folder = os.path.dirname(text) or "."
    if not text:
        return "give a file path"
    if os.path.isdir(text):
        return f"{text} is a folder; give a file path"
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"{folder} is a file, not a folder"
    if not os.path.isdir(folder):
        return f"the folder {folder} does not exist"
    target_folder = os.path.dirname(os.path.realpath(text))  # a link is written through, to its target
    if os.path.islink(text) and not os.path.isdir(target_folder):
        said = "a file, not a folder" if os.path.exists(target_folder) else "which does not exist"
        return f"{text} is a link into {target_folder}, {said}"
    return None


def file_name(text):
    """An argparse type: the name of a file, without a folder (a script's --output_dir says where). Returns `text`."""
    if text in ("", ".", "..") or os.sep in text:
        raise argparse.ArgumentTypeError("give a file name, without a folder (--output_dir is the folder)")
    return text


count = number(int, at_least=1)  # iterations, batch sizes, runs, ...
seed = number(int, at_least=0)  # numpy's generators take no negative seed
seconds = number(float, at_least=0)


def children_end_with_this_process():
    """From now on, SIGTERM ends this script by raising Terminated (with end_in_one_line's hook:
    one line and exit status 143), so that the processes it started (run_child) are told to stop
    too, instead of running on alone."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def child_options():
    """subprocess.Popen's arguments for a child that must not outlive this script.

    The child gets a process group of its own (run_child says why), and on Linux the system
    sends it SIGTERM when this script ends, however it ends: a `kill -9` or the out-of-memory
    killer, which no handler here can see, would otherwise leave a training run going on alone
    (prctl's PR_SET_PDEATHSIG; a train.py saves a checkpoint on SIGTERM, unless its output went
    to this script through a pipe, which ended with it). Elsewhere, the group only.
    """
    options = {"process_group": 0}
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
    except (OSError, AttributeError):
        prctl = None
    if prctl is not None:
        parent = os.getpid()

        def end_with_parent():  # in the child, before it runs its program
            prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG (linux/prctl.h)
            if os.getppid() != parent:  # this script ended before the child could ask
                os.kill(os.getpid(), signal.SIGTERM)

        options["preexec_fn"] = end_with_parent
    return options


def hold_directory(path):
    """A descriptor of directory `path` holding an exclusive flock on it (closing it lets go),
    as a training process holds its run directory (common.rundir.RunLock); None where `path`
    is not a directory or its file system cannot lock. Raises BlockingIOError while another
    process holds it. (Here, free of TensorFlow, so that the scripts can ask too.)"""
    import fcntl

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(descriptor)
        if isinstance(error, BlockingIOError):
            raise
        return None
    return descriptor


def directory_in_use(path):
    """True while another process holds `path` (hold_directory): a train.py is training there."""
    try:
        descriptor = hold_directory(path)
    except BlockingIOError:
        return True
    if descriptor is not None:
        os.close(descriptor)
    return False


def run_child(command, *, check=False, capture_output=False, **popen_arguments):
    """subprocess.run(command, ...), except for how the child ends should this script stop first.

    The child runs in a process group of its own, so that a signal to this script's group (Ctrl-C
    at a terminal, `timeout`, `kill -TERM -PGID`) reaches it once, from here: a Ctrl-C passes it
    a SIGINT, a SIGTERM or an error a SIGTERM, and the
    child is waited for (a train.py saves a checkpoint); a second Ctrl-C passes on too (a
    train.py then stops at once). subprocess.run would kill it, or leave it to a second signal.
    Should this script be killed outright, the child is sent SIGTERM (child_options).
    Returns the subprocess.CompletedProcess; check=True raises CalledProcessError as run does.
    """
    if capture_output:
        popen_arguments.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with subprocess.Popen(command, **child_options(), **popen_arguments) as process:
        try:
            stdout, stderr = process.communicate()
        except BaseException as stopped:
            ctrl_c = isinstance(stopped, KeyboardInterrupt) and not isinstance(stopped, Terminated)
            process.send_signal(signal.SIGINT if ctrl_c else signal.SIGTERM)
            try:
                process.wait()
            except KeyboardInterrupt:  # Ctrl-C again: the child is told again
                process.send_signal(signal.SIGINT)
                process.wait()
            raise
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        done.check_returncode()
    return done


def raised_by_interrupt(error):
    """Whether `error` is, or was raised while handling, a KeyboardInterrupt (a Ctrl-C).

    A Ctrl-C that lands inside a call into C code (TensorFlow's) comes up as another error:
    "SystemError: ... returned a result with an exception set", caused by the
    KeyboardInterrupt, and whatever the code around it raised next. The chain of
    __cause__ and __context__ still holds it.
    """
    return _interrupt_in(error) is not None


def _interrupt_in(error):
    """The KeyboardInterrupt that `error` is or was raised while handling (raised_by_interrupt), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


class Terminated(KeyboardInterrupt):
    """A SIGTERM that came before the program's own handlers: it ends the program as a Ctrl-C
    does, with exit status 143 (128 + SIGTERM) instead of 130."""


def _raise_terminated(signal_number, frame):
    raise Terminated()


@contextlib.contextmanager
def interrupts_kept():
    """Inside, a Ctrl-C or SIGTERM raises as usual (where its handler is Python's or
    end_in_one_line's) and is also recorded; should its KeyboardInterrupt be lost on the way up,
    it is raised again at the end.

    CPython can lose one that lands while a C extension module initialises: 3 of about 540
    Ctrl-Cs sent to `commands.export` in its first 0.6 s (one caught inside TensorFlow's
    `import ssl`) were lost, and the export ran to its end. common/ imports TensorFlow inside this.
    In the main thread only, where signal handlers can be set; elsewhere it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []

    def record(signal_number, frame):
        arrived.append(signal_number)
        raise Terminated() if signal_number == signal.SIGTERM else KeyboardInterrupt

    usual = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _raise_terminated}  # (not SIG_IGN, say)
    previous = {number: signal.signal(number, record) for number, handler in usual.items()
                if signal.getsignal(number) is handler}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if arrived:  # (an exception on its way up, the signal's own or another, skips this)
        raise Terminated() if arrived[0] == signal.SIGTERM else KeyboardInterrupt


def end_in_one_line():
    """From now on, a Ctrl-C (KeyboardInterrupt) that reaches the top of the program ends it with one
    line, its message or INTERRUPTED, and exit status 130, instead of a traceback; a SIGTERM, until
    the program sets a handler of its own, the same with 143 (the default would end it without a
    word); and so does an OSError that names a path (a file that is not there, a folder that
    cannot be written), with `error: PATH: reason` and exit status 2, as the commands say it
    (common/cli.py: run_command);
    and a child that run_child(check=True) saw fail ends it with the child's exit status, after
    the child's last line on stderr if it was captured (else the child has said it already).

    common/ calls it before it imports TensorFlow, which takes the first seconds of every
    command; a Parser calls it when it parses. Other exceptions go to the hook that was there.
    """
    if getattr(sys.excepthook, "ends_interrupts", False):
        return
    previous = sys.excepthook
    main_thread = threading.current_thread() is threading.main_thread()  # (where handlers can be set)
    if main_thread and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)

    def hook(kind, error, trace):
        if issubclass(kind, KeyboardInterrupt) or raised_by_interrupt(error):
            said = str(error) if issubclass(kind, KeyboardInterrupt) else ""
            # 128 + the signal's number, as shells report it
            status = 128 + (signal.SIGTERM if isinstance(_interrupt_in(error), Terminated) else signal.SIGINT)
            line = interruption_line(said or INTERRUPTED)
        elif issubclass(kind, OSError) and error.filename is not None:
            line, status = f"error: {os_error_message(error)}\n", 2
        elif issubclass(kind, subprocess.CalledProcessError):  # run_child(check=True): the child's own line
            said = error.stderr or ""
            said = (said.decode(errors="replace") if isinstance(said, bytes) else said).strip().splitlines()
            line, status = (said[-1] + "\n" if said else ""), error.returncode if 0 < error.returncode < 256 else 1
        else:
            return previous(kind, error, trace)
        sys.stderr.write(line)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said on it
                pass
        os._exit(status)  # nothing is left to finish

    hook.ends_interrupts = True
    sys.excepthook = hook


def os_error_message(error):
    """An OSError as one line that names the path: "/data/run: Permission denied", and where a
    file stands where a folder is needed, that file: "/data/run: /data is a file, not a folder";
    a full disk says what to do."""
    if error.errno in DISK_FULL:  # (the system's words: h5py's strerror is several lines of its own)
        return f"{f'{error.filename}: ' if error.filename else ''}{os.strerror(error.errno)}; {FREE_SOME_SPACE}"
    if error.filename is None:
        return error.strerror or str(error)
    path = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
    if isinstance(error, (NotADirectoryError, FileExistsError)) and error.filename2 is None:
        blocking = file_in_the_way(os.fsdecode(error.filename))
        if blocking is not None:  # (the system says "Not a directory" or "File exists")
            said = f"{blocking} is a file, not a folder"
            return said if blocking == os.fsdecode(error.filename) else f"{path}: {said}"
    return f"{path}: {error.strerror or error}"


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left, or none left in the user's quota
FREE_SOME_SPACE = "free some space there, or write elsewhere"


@contextlib.contextmanager
def written_whole(path):
    """Yields PATH.partial to write into, which then replaces `path` in one rename: `path` is
    the new file whole or the old one as it was. A write that fails (a full disk, say) or is
    interrupted leaves no PATH.partial behind, and an OSError (a read-only folder, a full disk) names `path`."""
    path = pathlib.Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
        os.replace(partial, path)
    except BaseException as error:
        with contextlib.suppress(OSError):  # (none was made: a read-only folder)
            partial.unlink()
        if isinstance(error, OSError):
            named = {os.fsdecode(name) for name in (error.filename, error.filename2) if name is not None}
            if not named or str(partial) in named or error.errno in DISK_FULL:  # (a copy names its source too)
                error.filename, error.filename2 = str(path), None
        raise


def finished_csv_rows(path):
    """(header, rows as dicts) of the CSV file at `path`, without a last line that has no line
    end: a row still being appended, or one a kill or a full disk cut short, whose last value
    can still read as a number (42 of 421.76). A header alone, or none: rows []. Raises what
    open() raises, UnicodeDecodeError (not text) and csv.Error."""
    import csv
    import io

    with open(path, newline="") as f:
        text = f.read()
    reader = csv.DictReader(io.StringIO(text[:text.rfind("\n") + 1], newline=""))
    return reader.fieldnames, list(reader)


def write_text_whole(path, text):
    """Writes `text` into the file at `path`, replaced whole or not at all (written_whole)."""
    with written_whole(path) as partial:
        partial.write_text(text)


@contextlib.contextmanager
def temporary_files_in(folder):
    """Inside, Python's tempfile module makes its files and folders in `folder`, for libraries
    that leave theirs behind (TFDS, Keras after a failed save): they go when `folder` goes."""
    import tempfile

    previous, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous


def file_in_the_way(path):
    """The first of `path` and its parents, from the nearest, that exists: if it is a file (or a
    link to one), as a path; else None (a folder, or a link to nothing, which is no file)."""
    for candidate in (path, *map(str, pathlib.PurePath(path).parents)):
        if os.path.lexists(candidate):
            return candidate if os.path.exists(candidate) and not os.path.isdir(candidate) else None
    return None


def interruption_line(text):
    """`text` as the line that answers a Ctrl-C or SIGTERM. On a terminal it starts a line of its
    own: the terminal has echoed ^C, or a progress line is left open, where the cursor is."""
    return ("\n" if _stderr_is_a_terminal() else "") + text + "\n"


def _stderr_is_a_terminal():
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # replaced by an object without a file (a test's capture)
        return False
