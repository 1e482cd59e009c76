"""Measures sample quality against held-out real images, for a run of any variant.

    python -m common.evaluate --logdir=runs/wgan_gp-mnist_5k         # the run's latest checkpoint
    python -m common.evaluate --samples=samples.npz --dataset=mnist_5k

Prints a table and writes metrics.json (into the run directory, or beside the .npz).
Each metric is shown for the samples and for real training images of the same count
(the "real floor": what a perfect generator would score with this many images).
The metrics and the data each dataset is scored with are common/quality.py's.
"""
import pathlib
import sys

if __package__ in (None, ""):  # run as `python common/evaluate.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli, quality, rundir, sampling  # noqa: E402  (first: it quiets TensorFlow's start-up logging)

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The command's flags; defined only when it runs."""
    flags.DEFINE_string("logdir", None, "Run directory: evaluate its latest checkpoint")
    flags.DEFINE_string("samples", None, ".npz with uint8 `images` [N, H, W, C] (from common.generate)")
    flags.DEFINE_string("dataset", None, "With --samples: the dataset they imitate")
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset, as for train.py")
    flags.DEFINE_integer("image_size", 64, "With --samples and a folder: dataset, the image side")
    flags.DEFINE_integer("num_samples", quality.DEFAULT_NUM_SAMPLES, "Generated (and real floor) images", lower_bound=2)
    flags.DEFINE_integer("seed", 0, "Seed for the noise, the real-floor subset and the KID subsets")
    flags.DEFINE_string("inception_weights", "imagenet", "InceptionV3 weights: imagenet (download) or a .h5 path")
    flags.DEFINE_string("output", None, "metrics.json path (default: in the run directory / beside the .npz)")


def main(argv):
    if bool(FLAGS.logdir) == bool(FLAGS.samples):
        raise cli.UserError("pass either --logdir=RUN or --samples=FILE.npz --dataset=NAME")
    if FLAGS.logdir:
        config = rundir.read_config(FLAGS.logdir)
        dataset, data_dir = rundir.data_identity(config), FLAGS.data_dir or config["data_dir"]  # what it trained on
        image_size = config["image_size"]
        output = pathlib.Path(FLAGS.output or pathlib.Path(FLAGS.logdir) / "metrics.json")
    else:
        if not FLAGS.dataset:
            raise cli.UserError("--samples needs --dataset=NAME, the data the samples imitate")
        dataset, data_dir, image_size = FLAGS.dataset, FLAGS.data_dir, FLAGS.image_size
        output = pathlib.Path(FLAGS.output or pathlib.Path(FLAGS.samples).with_suffix(".metrics.json"))

    evaluator = quality.Evaluator(dataset, data_dir, FLAGS.num_samples, FLAGS.seed, FLAGS.inception_weights, image_size)
    if FLAGS.logdir:
        generator, source, num_classes = sampling.load_generator(FLAGS.logdir)
        images, labels = sampling.generate(generator, evaluator.num_samples, FLAGS.seed + 1, num_classes=num_classes)
    else:
        source = FLAGS.samples
        try:
            with np.load(FLAGS.samples) as archive:
                images = archive["images"]
                labels = archive["labels"] if "labels" in archive else None
        except (OSError, KeyError, ValueError) as error:
            raise cli.UserError(f"cannot read images from {FLAGS.samples}: {error}") from None
        if images.dtype != np.uint8 or images.ndim != 4:
            raise cli.UserError(f"{FLAGS.samples}: images must be uint8 [N, H, W, C], not {images.dtype} {images.shape}")
    results = evaluator.score(images, labels)
    print(f"{source}: {len(images)} samples, {dataset}; {evaluator.describe()}")
    print(quality.table(results, evaluator.floor))
    rundir.write_json(output, {
        "source": str(source), "dataset": dataset, "num_samples": len(images),
        "reference_size": evaluator.reference_size, "extractor": evaluator.describe(),
        "samples": results, "real_floor": {key: evaluator.floor[key] for key in results}, "seed": FLAGS.seed,
    })
    print(f"wrote {output}")


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
