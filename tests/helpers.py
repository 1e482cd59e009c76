"""Runs the repo's commands in subprocesses, as a user would type them."""
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_python(args, timeout=300, cwd=REPO, env=None):
    """python ARGS in `cwd` with extra `env` variables; returns the CompletedProcess (text output)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def own_stderr_lines(stderr):
    """stderr without TensorFlow's C++ start-up notes, which no flag can silence."""
    noise = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "E0000 ", "W0000 ")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(noise)]
