"""Runs the repo's commands as a user types them (in subprocesses), and the same in this process."""
import csv
import hashlib
import os
import pathlib
import subprocess
import sys

import variants

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_python(args, timeout=300, cwd=REPO, env=None):
    """python ARGS in `cwd` with extra `env` variables; returns the CompletedProcess (text output)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_python_timed(args, marker, timeout=300):
    """run_python(args), and the seconds from the stdout line that starts with `marker` to the
    exit (None without that line). stderr goes to a file, so that neither pipe fills."""
    import tempfile
    import time

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}
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

    key = hashlib.sha256(json.dumps([variant, *argv]).encode()).hexdigest()[:16]
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
