"""Writes samples from a trained run's generator, for a run of any variant.

    python -m commands.generate --logdir=runs/wgan_gp-mnist --num_samples=1000   # RUN/samples.npz
    python -m commands.generate --logdir=runs/wgan_gp-mnist-conditional --label=7   # one class

The .npz holds `images`: uint8 [N, H, W, C] in 0..255, and for a --conditional run
`labels`: int [N], the class each image was generated for (all classes in equal
shares, or --label). A PNG grid is written beside it (samples.png): the first 100
samples, or for a conditional run without --label one row per class.
"""
import os
import pathlib
import sys

if __package__ in (None, ""):  # run as `python commands/generate.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli, images, sampling  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
import arguments  # noqa: E402
import variants  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """The command's flags; defined only when it runs (tests pass a FlagValues of their own)."""
    define = cli.FlagDefiner(flag_values, __name__)
    define.string("logdir", None, "Run directory written by a train.py", required=True)
    define.integer("num_samples", 64, "How many images to generate", lower_bound=1)
    define.string("output", None, "Output .npz file (default: LOGDIR/samples.npz); its PNG grid goes beside it")
    define.integer("seed", 0, "Seed for the noise", lower_bound=0)
    define.integer("batch_size", 256, "Images generated per forward pass", lower_bound=1)
    define.integer("label", None, "Conditional runs only: generate this class (default: every class)", lower_bound=0)


def write_samples(logdir, num_samples, output=None, seed=0, batch_size=256, label=None):
    """Generates from the run in `logdir` and writes OUTPUT.npz and OUTPUT.png (OUTPUT: by default
    LOGDIR/samples, inside the run, never the current folder); returns the samples."""
    output = pathlib.Path(output or pathlib.Path(logdir) / "samples.npz")
    if output.suffix != ".npz":
        raise cli.UserError(f"--output must end in .npz, not {output.name!r}")
    grid = output.with_suffix(".png")
    for path in (output, grid):  # both before either is written, so that a failure leaves neither half
        if path.is_dir():
            where = "" if path == output else f" (the PNG grid of {output.name} goes there)"
            raise cli.UserError(f"{path} is a folder; give a file path{where}")
    if grid.exists() and not output.exists():  # a picture of someone else's, not an earlier grid of ours
        raise cli.UserError(f"{grid} exists, and the PNG grid of {output.name} goes there; move it, or choose "
                            "another --output")
    before = {path: file_identity(path) for path in (output, grid)}
    try:
        generator, checkpoint, num_classes = variants.load_generator(logdir)
        if label is not None and not num_classes:
            raise cli.UserError(f"--label needs a run trained with --conditional, and {logdir} was not")
        if label is not None and label >= num_classes:
            raise cli.UserError(f"--label={label} is not a class of this run (0 to {num_classes - 1})")
        samples, labels = sampling.generate(generator, num_samples, seed, batch_size, num_classes, label)
        output.parent.mkdir(parents=True, exist_ok=True)
        # Written under another name and renamed, so that an interrupted write leaves no broken .npz.
        with arguments.written_whole(output) as partial, open(partial, "wb") as file:
            np.savez_compressed(file, images=samples, **({} if labels is None else {"labels": labels}))
        images.save_png(sampling.preview(samples, labels), grid)
        cli.say_if_interrupted(f"interrupted: wrote {output} and {grid}")  # (as the command ends)
        print(f"wrote {len(samples)} samples {samples.shape[1:]} from {checkpoint} to {output} and {grid}")
    except BaseException as error:
        if not cli.interrupted(error):
            raise
        # cli.run_command prints the message and exits with 130. Each file is renamed into
        # place whole, so one that is new is a new file at its path.
        new = [path for path in (output, grid) if file_identity(path) != before[path]]
        left = {0: f"{output} not written", 1: f"wrote {output}; {grid} not written"}.get(len(new))
        raise KeyboardInterrupt(f"interrupted: {left}, any earlier one there is as it was" if left else
                                f"interrupted: wrote {output} and {grid}") from None
    return samples, labels


def file_identity(path):
    """What tells a file apart from the one that was at its path before (None: no file)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_dev, status.st_mtime_ns, status.st_size


def main(argv):
    write_samples(FLAGS.logdir, FLAGS.num_samples, FLAGS.output, FLAGS.seed, FLAGS.batch_size, FLAGS.label)


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
