"""Drawing images from a generator: the noise, the labels, a trained run's generator, preview grids."""
import pathlib
import sys

import numpy as np

from common import images, rundir
from common.cli import UserError


def latent_dim(generator):
    """The size of z, for a generator that takes noise or [noise, labels]."""
    return generator.inputs[0].shape[-1]


def random_labels(rng, size, num_classes):
    """Classes for G to draw in a generator update: int32 [size], uniform over 0..num_classes-1
    (the labelled datasets are balanced), from the run's tf.random.Generator `rng`.

    An unconditional run (num_classes 0) gets zeros, which its G and D do not read, and
    draws nothing: its random numbers stay those of a run without labels.
    """
    import tensorflow as tf

    if not num_classes:
        return tf.zeros([size], tf.int32)
    return rng.uniform([size], 0, num_classes, tf.int32)


def load_generator(logdir, make_generator):
    """The generator of the run in `logdir`, with the weights of its latest checkpoint.

    make_generator: the run's variant's networks.make_generator (variants.load_generator
    passes the right one for any run directory).
    Returns (generator, checkpoint path, num_classes: 0 unless the run is --conditional).
    """
    import tensorflow as tf

    config = rundir.read_config(logdir)
    generator = make_generator(config["image_shape"], num_classes=config.get("num_classes", 0))
    latest, lost = rundir.latest_checkpoint(logdir), rundir.incomplete_checkpoints(logdir)
    if latest is None and lost:
        raise UserError(f"{rundir.incomplete_note(lost)}, and {logdir} has no whole checkpoint; put back a copy of "
                        "the missing files")
    if latest is None:
        raise UserError(f"{logdir} has no checkpoint yet; train longer than --checkpoint_every")
    # The checkpoint also holds D and the optimizers; only the generator is needed.
    rundir.restore_checkpoint(tf.train.Checkpoint(generator=generator), latest).expect_partial() \
        .assert_existing_objects_matched()
    if lost:  # (said once it is sure to be used: a command that refuses says one line)
        print(f"warning: {rundir.incomplete_note(lost)}: using {pathlib.Path(latest).name}, the newest whole "
              "checkpoint", file=sys.stderr)
    return generator, latest, config.get("num_classes", 0)


def generate(generator, num_samples, seed, batch_size=256, num_classes=0, label=None):
    """Samples G(z), z ~ N(0, I): (uint8 images [num_samples, H, W, C], labels).

    For a conditional generator (num_classes > 0) labels is int [num_samples]: `label`
    for every sample, or every class in turn (equal shares, class by class);
    otherwise labels is None.
    """
    noise = np.random.default_rng(seed).standard_normal((num_samples, latent_dim(generator))).astype(np.float32)
    labels = None
    if num_classes:
        labels = np.full(num_samples, label, np.int32) if label is not None else (
            np.arange(num_samples) * num_classes // num_samples).astype(np.int32)
    classes = labels if labels is not None else np.zeros(num_samples, np.int32)  # unread without classes
    batches = []
    for start in range(0, num_samples, batch_size):
        part = slice(start, start + batch_size)
        batches.append(generator([noise[part], classes[part]], training=False))
    return images.to_uint8(np.concatenate(batches)), labels


def label_free(model):
    """An unconditional G or D without its labels input (noise -> images, images -> values),
    sharing the model's layers and weights: for code that never has labels (the export,
    plots). Keras raises ValueError for a model that reads its labels."""
    import keras

    return keras.Model(model.inputs[0], model.outputs[0], name=model.name)


def preview(samples, labels, columns=10):
    """A grid image: one row per class, as many samples in each as the rarest class has (at
    most `columns`); or, without classes, the first 100 samples."""
    classes = sorted(set(labels.tolist())) if labels is not None else []
    if len(classes) < 2:
        return images.grid(samples[:100])
    per_class = min(columns, min(int(np.sum(labels == label)) for label in classes))
    rows = [samples[labels == label][:per_class] for label in classes]
    return images.grid(np.concatenate(rows), columns=per_class)
