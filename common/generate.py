"""Writes samples from a trained run's generator, for a run of any variant.

    python -m common.generate --logdir=runs/wgan_gp-mnist --num_samples=1000 --output=samples.npz

The .npz holds `images`: uint8 [N, H, W, C] in 0..255. A PNG grid of the first
(up to 100) samples is written beside it (samples.png).
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


def load_generator(logdir):
    """The generator of the run in `logdir`, with the weights of its latest checkpoint."""
    import tensorflow as tf

    config = runs.read_config(logdir)
    networks = importlib.import_module(f"{config['variant']}.networks")
    generator = networks.make_generator(config["image_shape"])
    latest = tf.train.latest_checkpoint(str(pathlib.Path(logdir) / "checkpoints"))
    if latest is None:
        raise runs.UserError(f"{logdir} has no checkpoint yet; train longer than --checkpoint_every")
    # The checkpoint also holds D and the optimizers; only the generator is needed.
    tf.train.Checkpoint(generator=generator).restore(latest).expect_partial().assert_existing_objects_matched()
    return generator, latest


def generate(generator, num_samples, seed, batch_size=256):
    """uint8 samples [num_samples, H, W, C] from G(z), z ~ N(0, I)."""
    noise = np.random.default_rng(seed).standard_normal((num_samples, generator.input_shape[-1]))
    noise = noise.astype(np.float32)
    batches = [generator(noise[i:i + batch_size], training=False) for i in range(0, num_samples, batch_size)]
    return images.to_uint8(np.concatenate(batches))


def main(argv):
    if len(argv) > 1:
        raise runs.UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
    output = pathlib.Path(FLAGS.output)
    if output.suffix != ".npz":
        raise runs.UserError(f"--output must end in .npz, not {output.name!r}")
    generator, checkpoint = load_generator(FLAGS.logdir)
    samples = generate(generator, FLAGS.num_samples, FLAGS.seed, FLAGS.batch_size)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, images=samples)
    images.save_png(images.grid(samples[:100]), output.with_suffix(".png"))
    print(f"wrote {len(samples)} samples {samples.shape[1:]} from {checkpoint} to {output} and {output.with_suffix('.png')}")


if __name__ == "__main__":
    define_flags()
    runs.run(main)
