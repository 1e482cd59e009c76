"""WGAN-GP losses (Gulrajani et al. 2017, arXiv:1704.00028, Algorithm 1).

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x) (f_w(x) in WGAN, D_w(x) in WGAN-GP).

The critic maximizes E[D(x)] - E[D(G(z))], which for a 1-Lipschitz D estimates the
Wasserstein-1 distance between the data and the generator's distribution. The
Wasserstein estimate logged during training is therefore -discriminator_loss.
Instead of WGAN's weight clipping, a penalty keeps D's gradient norm near 1:
  random_interpolates  x_hat between each real and generated sample
  gradient_penalty     E[(||grad D(x_hat)||_2 - 1)^2], added to the loss times lambda
"""
import tensorflow as tf

NORM_EPSILON = 1e-12  # in the norm's square root: its gradient stays finite where grad D = 0


def discriminator_loss(real_output, fake_output):
    """E[D(G(z))] - E[D(x)]: minus the Wasserstein estimate (Alg. 1 line 7, first terms)."""
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    """-E[D(G(z))] (Alg. 1 line 12, as a loss)."""
    return -tf.reduce_mean(fake_output)


def random_interpolates(real_samples, fake_samples, rng):
    """Alg. 1 lines 4 and 6: x_hat = eps*x + (1-eps)*G(z), one eps ~ U[0, 1] per example.

    eps is [N, 1, 1, 1] for images [N, H, W, C] ([N, 1] for points [N, 2]): each x_hat lies
    between its own real and generated sample. rng: the run's tf.random.Generator.
    """
    shape = [tf.shape(real_samples)[0]] + [1] * (real_samples.shape.rank - 1)
    eps = rng.uniform(shape, 0.0, 1.0, dtype=real_samples.dtype)
    return eps * real_samples + (1.0 - eps) * fake_samples


def gradient_penalty(discriminator, samples):
    """Alg. 1 line 7, last term without lambda: E[(||grad D(x_hat)||_2 - 1)^2] at x_hat = samples.

    discriminator: a callable, samples [N, ...] -> values [N, 1] (under float16, the step
    passes one that keeps small gradients from underflowing: common/devices.py, loss_scaled).
    Returns (penalty: a scalar, gradient_norms: [N], each over one example, never the batch).
    """
    with tf.GradientTape() as tape:
        tape.watch(samples)
        # Output i depends on example i only (no BatchNorm): the sum's gradient is per example.
        output_sum = tf.reduce_sum(tf.cast(discriminator(samples), tf.float32))
    gradients = tf.cast(tape.gradient(output_sum, samples), tf.float32)  # grad D, per example
    squared_norms = tf.reduce_sum(tf.square(gradients), axis=list(range(1, gradients.shape.rank)))
    gradient_norms = tf.sqrt(squared_norms + NORM_EPSILON)
    return tf.reduce_mean(tf.square(gradient_norms - 1.0)), gradient_norms
