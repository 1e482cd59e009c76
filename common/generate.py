"""Writes samples from a trained run's generator, for a run of any variant.

    python -m common.generate --logdir=runs/wgan_gp-mnist --num_samples=1000 --output=samples.npz
    python -m common.generate --logdir=runs/wgan_gp-mnist-conditional --label=7   # one class

The .npz holds `images`: uint8 [N, H, W, C] in 0..255, and for a --conditional run
`labels`: int [N], the class each image was generated for (all classes in equal
shares, or --label). A PNG grid is written beside it (samples.png): the first 100
samples, or for a conditional run without --label one row per class.
"""
import importlib
import pathlib
import sys

if __package__ in (None, ""):  # run as `python common/generate.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import images, runs  # noqa: E402  (first: it quiets TensorFlow's start-up logging)

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The command's flags; defined only when it runs, so that common.evaluate can import this module."""
    flags.DEFINE_string("logdir", None, "Run directory written by a train.py", required=True)
    flags.DEFINE_integer("num_samples", 64, "How many images to generate", lower_bound=1)
    flags.DEFINE_string("output", "samples.npz", "Output .npz file; the PNG grid goes beside it")
    flags.DEFINE_integer("seed", 0, "Seed for the noise")
    flags.DEFINE_integer("batch_size", 256, "Images generated per forward pass", lower_bound=1)
    flags.DEFINE_integer("label", None, "Conditional runs only: generate this class (default: every class)", lower_bound=0)


def load_generator(logdir):
    """The generator of the run in `logdir`, with the weights of its latest checkpoint."""
    import tensorflow as tf

    config = runs.read_config(logdir)
    networks = importlib.import_module(f"{config['variant']}.networks")
    generator = networks.make_generator(config["image_shape"], num_classes=config.get("num_classes", 0))
    latest = tf.train.latest_checkpoint(str(pathlib.Path(logdir) / "checkpoints"))
    if latest is None:
        raise runs.UserError(f"{logdir} has no checkpoint yet; train longer than --checkpoint_every")
    # The checkpoint also holds D and the optimizers; only the generator is needed.
    tf.train.Checkpoint(generator=generator).restore(latest).expect_partial().assert_existing_objects_matched()
    return generator, latest, config.get("num_classes", 0)


def generate(generator, num_samples, seed, batch_size=256, num_classes=0, label=None):
    """Samples G(z), z ~ N(0, I): (uint8 images [num_samples, H, W, C], labels).

    For a conditional generator (num_classes > 0) labels is int [num_samples]: `label`
    for every sample, or every class in turn (equal shares, class by class);
    otherwise labels is None.
    """
    noise = np.random.default_rng(seed).standard_normal((num_samples, runs.latent_dim(generator))).astype(np.float32)
    labels = None
    if num_classes:
        labels = np.full(num_samples, label, np.int32) if label is not None else (
            np.arange(num_samples) * num_classes // num_samples).astype(np.int32)
    batches = []
    for start in range(0, num_samples, batch_size):
        part = slice(start, start + batch_size)
        batches.append(generator(noise[part] if labels is None else [noise[part], labels[part]], training=False))
    return images.to_uint8(np.concatenate(batches)), labels


def preview(samples, labels, columns=10):
    """A grid image: `columns` samples of each class, one row per class; or the first 100 samples."""
    classes = sorted(set(labels.tolist())) if labels is not None else []
    if len(classes) < 2:
        return images.grid(samples[:100])
    return images.grid(np.concatenate([samples[labels == label][:columns] for label in classes]), columns=columns)


def main(argv):
    if len(argv) > 1:
        raise runs.UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
    output = pathlib.Path(FLAGS.output)
    if output.suffix != ".npz":
        raise runs.UserError(f"--output must end in .npz, not {output.name!r}")
    generator, checkpoint, num_classes = load_generator(FLAGS.logdir)
    if FLAGS.label is not None and not num_classes:
        raise runs.UserError(f"--label needs a run trained with --conditional, and {FLAGS.logdir} was not")
    if FLAGS.label is not None and FLAGS.label >= num_classes:
        raise runs.UserError(f"--label={FLAGS.label} is not a class of this run (0 to {num_classes - 1})")
    samples, labels = generate(generator, FLAGS.num_samples, FLAGS.seed, FLAGS.batch_size, num_classes, FLAGS.label)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, images=samples, **({} if labels is None else {"labels": labels}))
    images.save_png(preview(samples, labels), output.with_suffix(".png"))
    print(f"wrote {len(samples)} samples {samples.shape[1:]} from {checkpoint} to {output} and {output.with_suffix('.png')}")


if __name__ == "__main__":
    define_flags()
    runs.run(main)
