"""Exports a trained run's generator for use without this repository's code (common/export.py).

    python -m commands.export --logdir=runs/wgan_gp-mnist            # into runs/wgan_gp-mnist/export/
    python -m commands.export --logdir=RUN --output=/models/digits

Writes generator.keras, saved_model/ and export.json from the run's latest checkpoint, in
float32 whatever --mixed_precision the run trained with; common/export.py says what each holds.
"""
import pathlib
import sys

if __package__ in (None, ""):  # run as `python commands/export.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli, export  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
import variants  # noqa: E402

from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("logdir", None, "Run directory written by a train.py", required=True)
    flags.DEFINE_string("output", None, "Folder to write into (default: LOGDIR/export); an earlier export there "
                        "is replaced")


def main(argv):
    export.export(FLAGS.logdir, variants.generator_builder(FLAGS.logdir), FLAGS.output)


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
