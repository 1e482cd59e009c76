"""Plumbing the figure scripts share: a variant's module and defaults, a fixed generator, saving.

The figures train with each variant's own make_optimizers / make_steps (through
toy/steps.py, not copies), all in one process: importing a train.py defines no flags.
"""
import json
import os
import pathlib
import sys

import arguments

REPO = pathlib.Path(__file__).resolve().parents[1]
FIGURES = REPO / "docs" / "figures"  # the committed figures, which the README shows
SCRATCH = REPO / "build" / "figures"  # --quick's: a check of the machinery, never over the committed ones


def output_folder(output_dir, quick):
    """Where a figure script writes: --output_dir if given, else SCRATCH for --quick, else FIGURES.

    The folder is made now, before any training, and a path that cannot be one (a file, no
    permission) ends the script with one line and exit status 2. Every script calls this
    right after its flags, so it is also where TensorFlow is first imported, through common:
    without its routine start-up notes.
    """
    import common  # noqa: F401

    folder = pathlib.Path(output_dir) if output_dir else SCRATCH if quick else FIGURES
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "Permission denied", str(folder))
    except OSError as error:
        from common import cli

        print(f"error: --output_dir: {cli.os_error_message(error)}", file=sys.stderr)
        sys.exit(2)
    return folder


def variant_module(name):
    """VARIANT.train, the module with the variant's make_optimizers and make_steps."""
    import variants

    return variants.module(name, "train")


def default_config(train_module, **overrides):
    """The variant's flag defaults (the paper's settings) as a config dict, with overrides."""
    from common import cli

    return cli.default_config(train_module, conditional=False, jit_compile=False, **overrides)


def data_plus_noise(pool, noise_scale=1.0, seed=0):
    """A fixed "generator" G(z) = x + noise_scale * z, x drawn from the rows of `pool` [P, D];
    it takes [z, labels], as every G does, and reads no labels.

    The WGAN-GP paper's toy figures hold the generator fixed this way (gan_toy.py's
    FIXED_GENERATOR), so that the critic can be trained to optimality against it. The
    rows come from a tf.random.Generator of their own, so every call draws new ones.
    """
    import keras
    import tensorflow as tf

    from common import devices

    pool = tf.constant(pool)
    noise = keras.Input((pool.shape[1],))
    labels = keras.Input((), dtype="int32")  # unread, as in every unconditional G
    rng = devices.make_rng(seed)

    def shift(z):
        rows = rng.uniform([tf.shape(z)[0]], 0, pool.shape[0], tf.int32)
        return tf.gather(pool, rows) + noise_scale * z

    return keras.Model([noise, labels], keras.layers.Lambda(shift)(noise), name="data_plus_noise")


def check_outputs(parser, output_dir, *names):
    """Before any work, that a folder is in the way of none of the files NAMES in output_dir
    (else parser.error: one line, exit status 2), so that a script never writes its figure
    and then fails at its numbers."""
    for name in names:
        path = pathlib.Path(output_dir) / name
        if path.is_dir():
            parser.error(f"{path} is a folder, where this script writes its {path.suffix[1:].upper()} file")


def save_figure(figure, name, output_dir=FIGURES):
    """Saves a matplotlib figure as OUTPUT_DIR/NAME.png, whole or not at all; returns the path."""
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}.png"
    with arguments.written_whole(path) as partial:
        figure.savefig(partial, dpi=100, format="png")
    return path


def write_claims(name, claims, output_dir=FIGURES):
    """Writes the numbers behind a figure beside it (NAME.json) and prints them."""
    path = pathlib.Path(output_dir) / f"{name}.json"
    arguments.write_text_whole(path, json.dumps(claims, indent=2) + "\n")
    print(json.dumps(claims, indent=2))
    return path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt
