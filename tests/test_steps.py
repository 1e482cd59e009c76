"""The training steps of every variant, line by line of its Algorithm box, in this process.

Each test builds a variant's own make_steps on networks whose answers are known (a
generator that outputs zeros, a critic D(x) = ||x||^2 / 2 whose gradient is x) and checks
one line of the paper's algorithm. Importing every train.py in one process is possible
because a train.py defines its flags only when it runs as a program.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import variants
from common import cli
from tests.helpers import VARIANTS, train_module

SHAPE = (2, 2, 1)  # tiny images: the known-answer networks below take any shape
BATCH = 4


def config_for(variant, **overrides):
    """The variant's paper defaults with a small batch, for hand-made networks."""
    return cli.default_config(train_module(variant), batch_size=BATCH,
                              conditional=False, jit_compile=False, **overrides)


def zero_generator():
    """G(z) = 0 for every z: every generated image is all zeros. Like every G, it takes
    [z, labels]; like every unconditional one, it reads no labels."""
    noise = keras.Input((8,))
    zeros = keras.layers.Dense(int(np.prod(SHAPE)), kernel_initializer="zeros", use_bias=False)(noise)
    return keras.Model([noise, keras.Input((), dtype="int32")], keras.layers.Reshape(SHAPE)(zeros))


def quadratic_critic():
    """D(x) = ||x||^2 / 2, so grad D(x) = x and ||grad D(x)|| = ||x||; it takes [x, labels] and
    reads no labels."""
    images = keras.Input(SHAPE)
    squares = keras.layers.Lambda(lambda x: tf.reshape(x * x, [-1, int(np.prod(SHAPE))]))(images)
    half = keras.initializers.Constant(0.5)
    output = keras.layers.Dense(1, kernel_initializer=half, use_bias=False)(squares)
    return keras.Model([images, keras.Input((), dtype="int32")], output)


def make_steps(variant, generator, discriminator, config, learning_rate=0.0, rng=None):
    """The variant's two steps with plain SGD (0: the weights stay put, the numbers are exact)."""
    return train_module(variant).make_steps(
        generator, discriminator, keras.optimizers.SGD(learning_rate), keras.optimizers.SGD(learning_rate),
        rng or tf.random.Generator.from_seed(0), config, tf.distribute.get_strategy(),
    )


class FixedEps:
    """Stands in for the run's tf.random.Generator: z as usual, every uniform draw (eps) 0.25."""

    def __init__(self):
        self.rng = tf.random.Generator.from_seed(0)

    def normal(self, shape, *args, **kwargs):
        return self.rng.normal(shape, *args, **kwargs)

    def uniform(self, shape, *args, **kwargs):
        return tf.fill(shape, 0.25)


def real_batch(seed=0, low=1.0, high=3.0):
    """Real images with norms well away from 0 and 1, so that every point tells apart."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(low, high, (BATCH, *SHAPE)) * rng.choice([-1.0, 1.0], (BATCH, *SHAPE))
    return images.astype(np.float32), np.zeros(BATCH, np.int32)


def norms(images):
    return np.sqrt((images.reshape(len(images), -1) ** 2).sum(axis=1))


def metrics_of(step, *args):
    return {key: float(value) for key, value in step(*args).items()}


# ---- every variant: the loop of Algorithm 1 ------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_critic_update_draws_a_fresh_real_batch(variant):
    # WGAN Alg. 1 line 3, WGAN-GP line 4, GAN Alg. 1 "sample a minibatch": a new real batch
    # for every critic update, then one generator update.
    calls = []
    batches = iter((index, -index) for index in range(100))  # (images, labels)

    def discriminator_step(images, labels):
        calls.append(images)
        return {"loss/discriminator": 0.0}

    def generator_step():
        calls.append("G")
        return {"loss/generator": 0.0}

    train = train_module(variant)
    for _ in range(2):
        metrics = train.train_iteration(batches, discriminator_step, generator_step, 3)
    assert calls == [0, 1, 2, "G", 3, 4, 5, "G"]
    assert sorted(metrics) == ["loss/discriminator", "loss/generator"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_generator_iteration_runs_n_critic_updates(variant):
    config = config_for(variant)
    expected = 1 if variant == "dcgan" else 5  # k = 1 (DCGAN); n_critic = 5 (the WGAN papers)
    assert [train_module(variant).critic_updates(step, config) for step in (1, 2, 1000)] == [expected] * 3


def test_a_generator_update_moves_g_and_leaves_d_alone():
    # Alg. 1's last lines: the generator step differentiates -D(G(z)) with respect to G only.
    noise = keras.Input((8,))
    images = keras.layers.Reshape(SHAPE)(keras.layers.Dense(int(np.prod(SHAPE)))(noise))
    generator = keras.Model([noise, keras.Input((), dtype="int32")], images)
    critic = quadratic_critic()
    before = [w.numpy().copy() for w in generator.weights], [w.numpy().copy() for w in critic.weights]
    _, generator_step = make_steps("wgan_gp", generator, critic, config_for("wgan_gp"), learning_rate=0.1)
    loss = metrics_of(generator_step)["loss/generator"]
    assert loss < 0  # -E[D(G(z))] with D >= 0
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before[0], generator.weights))
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before[1], critic.weights))


# ---- DCGAN ----------------------------------------------------------------------------------


def test_dcgan_critic_loss_is_the_cross_entropy_of_the_logits():
    real, labels = real_batch()
    metrics = metrics_of(make_steps("dcgan", zero_generator(), quadratic_critic(), config_for("dcgan"))[0],
                         real, labels)
    logits = 0.5 * norms(real) ** 2  # D at the fakes is 0: log 2 each
    expected = np.mean(np.log1p(np.exp(-logits))) + np.log(2.0)
    assert metrics["loss/discriminator"] == pytest.approx(expected, rel=1e-5)
    assert "wasserstein_estimate" not in metrics


# ---- WGAN -----------------------------------------------------------------------------------


def test_wgan_clips_every_critic_weight_after_each_update():
    # Alg. 1 line 7: w = clip(w, -c, c), after the RMSProp update of line 6.
    train = train_module("wgan")
    config = config_for("wgan")
    generator = variants.module("wgan", "networks").make_generator((28, 28, 1))
    discriminator = variants.module("wgan", "networks").make_discriminator((28, 28, 1))
    before = max(float(np.abs(w.numpy()).max()) for w in discriminator.trainable_variables)
    # A huge step size: without clipping the weights would leave [-c, c] by far.
    d_step, _ = train.make_steps(generator, discriminator, keras.optimizers.RMSprop(0.5),
                                 keras.optimizers.RMSprop(0.5), tf.random.Generator.from_seed(0), config,
                                 tf.distribute.get_strategy())
    d_step(tf.random.uniform([BATCH, 28, 28, 1], -1, 1), tf.zeros([BATCH], tf.int32))
    weights = np.concatenate([w.numpy().ravel() for w in discriminator.trainable_variables])
    assert before > 0.01, "the initial weights should start outside [-c, c]"
    assert np.abs(weights).max() <= 0.01 + 1e-7
    assert np.sum(np.isclose(np.abs(weights), 0.01)) > weights.size // 10  # many pushed to +-c


def test_wgan_critic_loss_is_minus_the_wasserstein_estimate():
    # Alg. 1 line 5 as a loss: D(G(z)) - D(x); the estimate logged is E[D(x)] - E[D(G(z))].
    real, labels = real_batch()
    metrics = metrics_of(make_steps("wgan", zero_generator(), quadratic_critic(), config_for("wgan"))[0],
                         real, labels)
    expected = np.mean(0.5 * norms(real) ** 2)
    assert metrics["wasserstein_estimate"] == pytest.approx(expected, rel=1e-5)
    assert metrics["loss/discriminator"] == pytest.approx(-expected, rel=1e-5)


def test_wgan_official_critic_schedule():
    train = train_module("wgan")
    plain, official = config_for("wgan"), config_for("wgan", official_critic_schedule=True)
    steps = [1, 25, 26, 27, 500, 501, 502, 1001]
    assert [train.critic_updates(step, plain) for step in steps] == [5] * 8
    # The official code counts finished generator iterations: 100 for the first 25, then every 500th.
    assert [train.critic_updates(step, official) for step in steps] == [100, 100, 5, 5, 5, 100, 5, 100]


# ---- WGAN-GP --------------------------------------------------------------------------------


def test_wgan_gp_critic_loss_adds_lambda_times_the_penalty():
    # Alg. 1 line 7: D(x_tilde) - D(x) + lambda * (||grad D(x_hat)|| - 1)^2.
    real, labels = real_batch()
    config = config_for("wgan_gp", gp_lambda=10.0)
    metrics = metrics_of(make_steps("wgan_gp", zero_generator(), quadratic_critic(), config)[0], real, labels)
    expected = -metrics["wasserstein_estimate"] + 10.0 * metrics["gradient_penalty"]
    assert metrics["loss/discriminator"] == pytest.approx(expected, rel=1e-5)
    assert metrics["gradient_penalty"] > 0.1  # the penalty term is really in there


def test_wgan_gp_penalty_is_taken_at_the_interpolates():
    # Alg. 1 lines 4 and 6: x_hat = eps*x + (1-eps)*x_tilde. With eps fixed at 0.25 and
    # x_tilde = 0, x_hat = x/4, and grad D(x_hat) = x_hat: its norm is ||x||/4 -- not ||x||
    # (the real samples) and not 0 (the fakes).
    real, labels = real_batch()
    steps = make_steps("wgan_gp", zero_generator(), quadratic_critic(), config_for("wgan_gp"), rng=FixedEps())
    metrics = metrics_of(steps[0], real, labels)
    at_interpolates = norms(real) / 4
    assert metrics["gradient_norm"] == pytest.approx(np.mean(at_interpolates), rel=1e-5)
    assert metrics["gradient_penalty"] == pytest.approx(np.mean((at_interpolates - 1) ** 2), rel=1e-5)


def test_wgan_gp_optimizer_flag_picks_adam_or_rmsprop_with_the_given_moments():
    train = train_module("wgan_gp")
    settings = {"learning_rate": 5e-5, "beta1": 0.25, "beta2": 0.8}
    for optimizer in train.make_optimizers(config_for("wgan_gp", optimizer="adam", **settings)):
        assert type(optimizer).__name__ == "Adam"
        assert optimizer.beta_1 == 0.25 and optimizer.beta_2 == pytest.approx(0.8)
    for optimizer in train.make_optimizers(config_for("wgan_gp", optimizer="rmsprop", **settings)):
        assert type(optimizer).__name__ == "RMSprop"
        assert optimizer.momentum == 0.25 and optimizer.rho == pytest.approx(0.8)
        assert float(optimizer.learning_rate) == pytest.approx(5e-5)
    assert type(train.make_optimizers(config_for("wgan_gp"))[0]).__name__ == "Adam"  # Algorithm 1's


# ---- the siblings: sngan/ and wgan_r1/ -------------------------------------------------------


def test_wgan_r1_penalty_is_taken_at_the_real_samples_only():
    # G(z) = 0 and grad D(x) = x: the gradient is zero at the fakes, eps * x at interpolates,
    # and x at the real samples, where the zero-centred penalty belongs.
    real, labels = real_batch()
    config = config_for("wgan_r1", gp_lambda=1.0)
    metrics = metrics_of(make_steps("wgan_r1", zero_generator(), quadratic_critic(), config)[0], real, labels)
    assert metrics["gradient_norm"] == pytest.approx(norms(real).mean(), rel=1e-5)
    assert metrics["gradient_penalty"] == pytest.approx((norms(real) ** 2).mean(), rel=1e-5)
    expected = -metrics["wasserstein_estimate"] + metrics["gradient_penalty"]
    assert metrics["loss/discriminator"] == pytest.approx(expected, rel=1e-5)


def test_sngan_critic_loss_is_the_hinge_loss_and_the_estimate_is_still_the_mean_gap():
    # Half the real samples past the margin (D(x) >= 1), half inside it.
    real, labels = real_batch(low=0.1, high=0.9)
    real[:2] *= 4.0
    metrics = metrics_of(make_steps("sngan", zero_generator(), quadratic_critic(), config_for("sngan"))[0],
                         real, labels)
    real_values = 0.5 * norms(real) ** 2
    assert (real_values >= 1).sum() == 2
    hinge = np.mean(np.maximum(0.0, 1.0 - real_values)) + 1.0  # D(G(z)) = 0: max(0, 1 + 0) = 1
    assert metrics["loss/discriminator"] == pytest.approx(hinge, rel=1e-5)
    assert metrics["wasserstein_estimate"] == pytest.approx(real_values.mean(), rel=1e-5)

