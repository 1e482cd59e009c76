"""Plumbing the figure scripts share: worker processes, variant steps on toy data, saving.

Each variant's train.py defines its flags when imported, so one process can hold one
variant only. A figure that compares variants runs each in a worker process
(`run_worker`), which imports that variant, trains with the variant's own
make_optimizers / make_steps (through toy/steps.py, not copies), and hands back NumPy arrays in an .npz.
"""
import importlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
FIGURES = REPO / "docs" / "figures"


def variant_module(name):
    """VARIANT.train, with its flags defined (call once per process)."""
    return importlib.import_module(f"{name}.train")


def default_config(train, **overrides):
    """The variant's flag defaults (the paper's settings) as a config dict, with overrides."""
    from absl import flags

    config = {flag.name: flag.default for flag in flags.FLAGS.get_key_flags_for_module(train)}
    config.update(conditional=False, jit_compile=False)
    config.update(overrides)
    return config


def data_plus_noise(pool, noise_scale=1.0):
    """A fixed "generator" G(z) = x + noise_scale * z, x drawn from the rows of `pool` [P, D].

    The WGAN-GP paper's toy figures hold the generator fixed this way (gan_toy.py's
    FIXED_GENERATOR), so that the critic can be trained to optimality against it.
    """
    import keras
    import tensorflow as tf

    pool = tf.constant(pool)
    noise = keras.Input((pool.shape[1],))

    def shift(z):
        rows = tf.random.uniform([tf.shape(z)[0]], 0, pool.shape[0], tf.int32)
        return tf.gather(pool, rows) + noise_scale * z

    return keras.Model(noise, keras.layers.Lambda(shift)(noise), name="data_plus_noise")


def run_worker(script, *args, timeout=3600):
    """Runs `python SCRIPT --worker ARGS... OUTPUT.npz` and returns the arrays it saved, as a dict."""
    with tempfile.TemporaryDirectory() as folder:
        output = pathlib.Path(folder) / "result.npz"
        command = [sys.executable, str(script), "--worker", *map(str, args), str(output)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            sys.exit(f"error: worker {' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
        import numpy as np

        with np.load(output) as archive:
            return {key: archive[key] for key in archive.files}


def save_figure(figure, name, output_dir=FIGURES):
    """Saves a matplotlib figure as OUTPUT_DIR/NAME.png, whole or not at all; returns the path."""
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}.png"
    partial = output_dir / f"{name}.partial.png"
    figure.savefig(partial, dpi=100)
    os.replace(partial, path)
    return path


def write_claims(name, claims, output_dir=FIGURES):
    """Writes the numbers behind a figure beside it (NAME.json) and prints them."""
    path = pathlib.Path(output_dir) / f"{name}.json"
    path.write_text(json.dumps(claims, indent=2) + "\n")
    print(json.dumps(claims, indent=2))
    return path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt
