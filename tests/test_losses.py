"""The math of every variant's losses, on inputs whose answers are known in closed form."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import devices
from dcgan import losses as dcgan_losses
from sngan import losses as sngan_losses
from wgan import losses as wgan_losses
from wgan_gp import losses as wgan_gp_losses
from wgan_r1 import losses as wgan_r1_losses


def softplus(x):
    return np.log1p(np.exp(x))


# ---- DCGAN: cross-entropy on logits ---------------------------------------------------


def test_dcgan_losses_at_zero_logits_are_log_2():
    zeros = tf.zeros([5, 1])
    assert float(dcgan_losses.discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert float(dcgan_losses.generator_loss(zeros)) == pytest.approx(math.log(2), rel=1e-6)
    assert float(dcgan_losses.generator_loss(zeros, minimax=True)) == pytest.approx(-math.log(2), rel=1e-6)


def test_dcgan_losses_on_known_logits():
    real = np.array([[3.0], [0.5], [-1.0]], np.float32)
    fake = np.array([[-2.0], [1.5], [0.0]], np.float32)
    # -log sigmoid(l) = softplus(-l);  -log(1 - sigmoid(l)) = softplus(l)
    expected_d = softplus(-real).mean() + softplus(fake).mean()
    expected_non_saturating = softplus(-fake).mean()  # -E log D(G(z))
    expected_minimax = -softplus(fake).mean()  # E log(1 - D(G(z)))
    assert float(dcgan_losses.discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-5)
    assert float(dcgan_losses.generator_loss(fake)) == pytest.approx(expected_non_saturating, rel=1e-5)
    assert float(dcgan_losses.generator_loss(fake, minimax=True)) == pytest.approx(expected_minimax, rel=1e-5)


def test_minimax_generator_loss_saturates_where_non_saturating_does_not():
    # A discriminator that confidently rejects a sample (logit -10): the minimax
    # loss's gradient nearly vanishes, the non-saturating one stays near -1.
    logits = tf.constant([[-10.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        minimax = dcgan_losses.generator_loss(logits, minimax=True)
        non_saturating = dcgan_losses.generator_loss(logits)
    assert abs(float(tape.gradient(minimax, logits)[0, 0])) < 1e-4
    assert float(tape.gradient(non_saturating, logits)[0, 0]) == pytest.approx(-1.0, abs=1e-4)


# ---- WGAN and WGAN-GP: critic values ----------------------------------------------------


@pytest.mark.parametrize("losses", [wgan_losses, wgan_gp_losses, wgan_r1_losses], ids=["wgan", "wgan_gp", "wgan_r1"])
def test_wasserstein_losses_on_known_values(losses):
    real = np.array([[2.0], [4.0], [6.0]], np.float32)  # mean 4
    fake = np.array([[-1.0], [1.0], [3.0], [5.0]], np.float32)  # mean 2
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(2.0 - 4.0)
    assert float(losses.generator_loss(fake)) == pytest.approx(-2.0)


# ---- WGAN-GP: interpolates and the penalty -----------------------------------------------


def test_interpolates_use_one_uniform_eps_per_example():
    rng = tf.random.Generator.from_seed(1)
    count = 4096
    real, fake = tf.ones([count, 3, 3, 2]), tf.zeros([count, 3, 3, 2])
    eps = wgan_gp_losses.random_interpolates(real, fake, rng).numpy()  # x_hat = eps*1 + (1-eps)*0
    per_example = eps.reshape(count, -1)
    assert np.all(per_example.max(axis=1) == per_example.min(axis=1)), "eps must be one value per example"
    values = per_example[:, 0]
    assert values.min() >= 0.0 and values.max() <= 1.0
    # U[0, 1]: mean 1/2, standard deviation 1/sqrt(12); a normal or a constant fails these.
    assert values.mean() == pytest.approx(0.5, abs=0.03)
    assert values.std() == pytest.approx(1 / math.sqrt(12), abs=0.02)
    assert np.histogram(values, bins=4, range=(0, 1))[0].min() > 0.2 * count


def test_interpolates_lie_between_their_own_real_and_fake_image():
    rng = tf.random.Generator.from_seed(2)
    real = rng.normal([16, 4, 4, 3])
    fake = rng.normal([16, 4, 4, 3])
    x_hat = wgan_gp_losses.random_interpolates(real, fake, rng)
    # Solve x_hat = eps*real + (1-eps)*fake for eps, pixel by pixel.
    eps = ((x_hat - fake) / (real - fake)).numpy().reshape(16, -1)
    np.testing.assert_allclose(eps, eps[:, :1].repeat(eps.shape[1], axis=1), atol=1e-4)


def linear_critic(image_shape, w):
    """f(x) = <w, x>, as a Keras model."""
    images = keras.Input(image_shape)
    output = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(images))
    model = keras.Model(images, output)
    model.layers[-1].kernel.assign(np.reshape(w, (-1, 1)).astype(np.float32))
    return model


@pytest.mark.parametrize("scale", [0.25, 1.0, 3.7])
def test_penalty_of_a_linear_critic_is_norm_minus_one_squared(scale):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(4 * 4 * 2)
    w *= scale / np.linalg.norm(w)
    critic = linear_critic((4, 4, 2), w)
    interpolates = tf.constant(rng.standard_normal((8, 4, 4, 2)), tf.float32)
    penalty, norms = wgan_gp_losses.gradient_penalty(critic, interpolates)
    # grad_x <w, x> = w for every example: each example's norm is ||w||, not the
    # norm over the whole batch (which would be sqrt(8) * ||w||).
    np.testing.assert_allclose(norms.numpy(), np.full(8, scale), rtol=1e-5)
    assert float(penalty) == pytest.approx((scale - 1.0) ** 2, rel=1e-4, abs=1e-10)


def test_penalty_and_its_gradient_are_finite_for_a_constant_critic():
    critic = linear_critic((4, 4, 1), np.zeros(16))  # f(x) = 0: grad_x f = 0 everywhere
    interpolates = tf.random.normal([6, 4, 4, 1])
    with tf.GradientTape() as tape:
        penalty, norms = wgan_gp_losses.gradient_penalty(critic, interpolates)
    gradients = tape.gradient(penalty, critic.trainable_variables)
    assert np.isfinite(float(penalty)) and float(penalty) == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.isfinite(norms.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_penalty_scale_keeps_a_float16_inner_gradient_from_underflowing():
    # f(x) = 1.4e-4 * <w, x> with w = 1.4e-4 everywhere: each input gradient is 2e-8,
    # below what float16 can hold, while every factor on its own is a normal float16.
    def penalty_norms(policy, loss_scale):
        keras.mixed_precision.set_global_policy(policy)
        try:
            images = keras.Input((64, 64, 3))
            value = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(1.4e-4))(
                keras.layers.Flatten()(images)
            )
            critic = keras.Model(images, keras.layers.Rescaling(1.4e-4)(value))
            interpolates = tf.random.stateless_uniform([2, 64, 64, 3], seed=[1, 2])
            optimizer = keras.optimizers.SGD()
            if loss_scale:  # the step's float16 optimizer (devices.for_precision), at this scale
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=loss_scale)
            scaled = devices.loss_scaled(critic, optimizer)
            return wgan_gp_losses.gradient_penalty(scaled, interpolates)[1].numpy()
        finally:
            keras.mixed_precision.set_global_policy("float32")

    reference = penalty_norms("float32", None)
    # The scale is a power of two: in float32 (no underflow) the scaled gradient is the same, bit for bit.
    np.testing.assert_array_equal(penalty_norms("float32", 2.0**15), reference)
    np.testing.assert_allclose(penalty_norms("mixed_float16", 2.0**15), reference, rtol=0.02)
    assert np.all(penalty_norms("mixed_float16", None) < 0.7 * reference)  # unscaled: the gradient is lost


# ---- The siblings: the zero-centred penalty (wgan_r1/) and the hinge loss (sngan/) --------


@pytest.mark.parametrize("scale", [0.25, 1.0, 3.7])
def test_zero_centred_penalty_of_a_linear_critic_is_the_squared_norm(scale):
    rng = np.random.default_rng(3)
    w = rng.standard_normal(4 * 4 * 2)
    w *= scale / np.linalg.norm(w)
    critic = linear_critic((4, 4, 2), w)
    real = tf.constant(rng.standard_normal((8, 4, 4, 2)), tf.float32)
    penalty, norms = wgan_r1_losses.zero_centred_penalty(critic, real)
    np.testing.assert_allclose(norms.numpy(), np.full(8, scale), rtol=1e-5)
    assert float(penalty) == pytest.approx(scale**2, rel=1e-5)  # ||w||^2: no 1/2, no "- 1"


def test_zero_centred_penalty_is_taken_at_the_points_it_is_given():
    # f(x) = ||x||^2 / 2 has grad f(x) = x: the penalty is the mean of ||x||^2 over the
    # given points, so it tells real points from fakes or interpolates.
    points = keras.Input((3,))
    critic = keras.Model(points, keras.layers.Lambda(lambda x: 0.5 * tf.reduce_sum(x * x, axis=1, keepdims=True))(points))
    real = tf.constant([[1.0, 2.0, 2.0], [0.0, 0.0, 4.0]])  # norms 3 and 4
    penalty, norms = wgan_r1_losses.zero_centred_penalty(critic, real)
    np.testing.assert_allclose(norms.numpy(), [3.0, 4.0], rtol=1e-6)
    assert float(penalty) == pytest.approx((9.0 + 16.0) / 2)


def test_penalties_accept_points_as_well_as_images():
    # The toy experiments feed 2-D points [N, 2]: one eps per point, norms per point.
    rng = tf.random.Generator.from_seed(4)
    real, fake = tf.ones([512, 2]), tf.zeros([512, 2])
    x_hat = wgan_gp_losses.random_interpolates(real, fake, rng).numpy()
    assert x_hat.shape == (512, 2) and np.all(x_hat[:, 0] == x_hat[:, 1])
    assert len(np.unique(x_hat[:, 0])) > 500
    critic = linear_critic((2,), np.array([3.0, 4.0]))
    penalty, norms = wgan_gp_losses.gradient_penalty(critic, tf.constant(x_hat))
    np.testing.assert_allclose(norms.numpy(), 5.0, rtol=1e-6)
    assert float(penalty) == pytest.approx(16.0, rel=1e-5)
    penalty, norms = wgan_r1_losses.zero_centred_penalty(critic, real)
    assert norms.shape == (512,) and float(penalty) == pytest.approx(25.0, rel=1e-5)


def test_hinge_losses_on_known_values():
    real = np.array([[2.0], [0.5], [-1.0]], np.float32)  # max(0, 1 - D): 0, 0.5, 2
    fake = np.array([[-2.0], [0.5], [3.0]], np.float32)  # max(0, 1 + D): 0, 1.5, 4
    expected = (0.0 + 0.5 + 2.0) / 3 + (0.0 + 1.5 + 4.0) / 3
    assert float(sngan_losses.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)
    assert float(sngan_losses.generator_loss(fake)) == pytest.approx(-0.5)  # -E[D(G(z))]


def test_hinge_loss_ignores_samples_past_the_margin():
    real = tf.constant([[1.5], [0.2]])  # the first is past the margin D(x) >= 1
    fake = tf.constant([[-3.0], [-0.2]])  # the first is past the margin D(G(z)) <= -1
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([real, fake])
        loss = sngan_losses.discriminator_loss(real, fake)
    np.testing.assert_allclose(tape.gradient(loss, real).numpy().ravel(), [0.0, -0.5])
    np.testing.assert_allclose(tape.gradient(loss, fake).numpy().ravel(), [0.0, 0.5])
