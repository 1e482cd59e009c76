"""Random numbers: every update draws its own z and eps; a seed reproduces a run, another seed does not.

Each variant trains a few iterations in this process, as its command does, with G and D
wrapped so that they record what the updates feed them: the noise z of every generator
call, and for WGAN-GP the critic's inputs, from which each interpolate's eps is read back.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import VARIANTS, metrics_rows, small_networks, train_in_process, train_module

ITERATIONS = 3
N_CRITIC = 2
BATCH = 8  # tests/helpers.py: TINY


@pytest.fixture(autouse=True, scope="module")
def small():
    """Small stand-in networks (tests/helpers.py: small_networks): the random numbers are drawn
    by each variant's steps, not by its networks."""
    with small_networks():
        yield


class Record(keras.layers.Layer):
    """Identity layer that keeps a copy of each batch it sees while training (up to `capacity`)."""

    def __init__(self, capacity, shape, **kwargs):
        super().__init__(**kwargs)
        self.seen = self.add_weight(shape=(capacity, *shape), initializer="zeros", trainable=False, name="seen")
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count")

    def call(self, inputs, training=None):
        if training:  # the sample grids call G with training=False; the updates with True
            self.seen.assign(tf.tensor_scatter_nd_update(self.seen.value, [[self.count.value]], inputs[None]))
            self.count.assign_add(1)
        return inputs

    def batches(self):
        return self.seen.numpy()[: int(self.count.numpy())]


def recording(model, capacity):
    """(model wrapped so that its first inputs, z or images, are recorded, the Record layer).

    Like the model, the wrapper takes [inputs, labels]."""
    inputs, labels = keras.Input(model.inputs[0].shape[1:]), keras.Input((), dtype="int32")
    record = Record(capacity, (BATCH, *inputs.shape[1:]))
    return keras.Model([inputs, labels], model([record(inputs), labels])), record


def train_recorded(variant, logdir, monkeypatch, *argv):
    """Trains ITERATIONS iterations with G (and D) recording; returns (G's records, D's records)."""
    module = train_module(variant)
    make_models = module.make_models
    records = {}

    def make_recording_models(config, *image_shape_and_classes):
        generator, discriminator, *optimizers = make_models(config, *image_shape_and_classes)
        generator, records["generator"] = recording(generator, 64)
        discriminator, records["discriminator"] = recording(discriminator, 64)
        for model, optimizer in zip((generator, discriminator), optimizers):  # the wrapped models' variables
            optimizer.build(model.trainable_variables)
        return (generator, discriminator, *optimizers)

    monkeypatch.setattr(module, "make_models", make_recording_models)
    train_in_process(variant, logdir, f"--train_steps={ITERATIONS}", f"--n_critic={N_CRITIC}", "--log_every=1",
                     "--sample_every=1000", "--checkpoint_every=1000", *argv)
    return records["generator"].batches(), records["discriminator"].batches()


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    """recorded_run(variant): (G's records, D's records, metrics.csv rows) of the variant's
    train_recorded run, trained once for this module and shared by the tests that read it."""
    runs = {}

    def run(variant):
        if variant not in runs:
            logdir = tmp_path_factory.mktemp(variant) / "run"
            with pytest.MonkeyPatch.context() as monkeypatch:
                records = train_recorded(variant, logdir, monkeypatch)
            runs[variant] = (*records, metrics_rows(logdir))
        return runs[variant]

    return run


def assert_all_rows_differ(batches, what):
    rows = batches.reshape(-1, int(np.prod(batches.shape[2:])))
    unique = np.unique(rows, axis=0)
    assert len(unique) == len(rows), f"{len(rows) - len(unique)} of {len(rows)} {what} repeat an earlier draw"


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_two_updates_draw_the_same_noise(variant, recorded_run):
    noise, _, _ = recorded_run(variant)
    assert noise.shape == (ITERATIONS * (N_CRITIC + 1), BATCH, 128)  # one G call per update
    assert_all_rows_differ(noise, "noise vectors z")
    # Each z ~ N(0, I): the batch mean is within 6 standard errors of 0.
    assert abs(noise.mean()) < 6 / np.sqrt(noise.size)


def test_every_critic_update_draws_its_own_interpolation_weights(recorded_run):
    _, inputs, _ = recorded_run("wgan_gp")
    # Per iteration: N_CRITIC critic updates (D sees x, G(z), x_hat), then G's update (D sees G(z)).
    per_iteration = 3 * N_CRITIC + 1
    assert len(inputs) == ITERATIONS * per_iteration
    eps = []
    for iteration in range(ITERATIONS):
        for update in range(N_CRITIC):
            real, fake, x_hat = inputs[iteration * per_iteration + 3 * update: iteration * per_iteration + 3 * update + 3]
            gap = real - fake
            usable = np.abs(gap) > 0.1  # x_hat - G(z) = eps * (x - G(z)), read where x - G(z) is not tiny
            ratio = np.where(usable, (x_hat - fake) / np.where(usable, gap, 1.0), np.nan)
            eps.append(np.nanmedian(ratio.reshape(BATCH, -1), axis=1))
    eps = np.stack(eps)  # [updates, BATCH]
    assert np.all((eps > -1e-3) & (eps < 1 + 1e-3))  # U[0, 1]
    assert_all_rows_differ(eps[:, None, :], "critic updates' eps")


def test_the_same_seed_reproduces_a_run_and_another_seed_does_not(tmp_path, recorded_run):
    def losses(rows):
        return [{key: value for key, value in row.items() if key.startswith(("loss", "gradient", "wasserstein"))}
                for row in rows]

    def trained(name, *argv):  # a run of its own, as recorded_run's are trained
        with pytest.MonkeyPatch.context() as monkeypatch:
            train_recorded("wgan_gp", tmp_path / name, monkeypatch, *argv)
        return metrics_rows(tmp_path / name)

    first = losses(recorded_run("wgan_gp")[2])  # the run the tests above read
    assert losses(trained("again")) == first
    assert losses(trained("other", "--seed=1")) != first
