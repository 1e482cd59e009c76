"""WGAN losses with the zero-centred penalty R1 (Mescheder et al. 2018, arXiv:1801.04406).

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x) (f_w(x) in WGAN, D_w(x) in WGAN-GP).

The critic maximizes E[D(x)] - E[D(G(z))], which for a 1-Lipschitz D estimates the
Wasserstein-1 distance between the data and the generator's distribution. The
Wasserstein estimate logged during training is therefore -discriminator_loss.
Instead of WGAN-GP's penalty on interpolates, one at the real samples keeps D flat there:
  zero_centred_penalty  E[||grad D(x)||_2^2] (R1, eq. 9), added to the loss times lambda
"""
import tensorflow as tf

NORM_EPSILON = 1e-12  # in the norm's square root: its gradient stays finite where grad D = 0


def discriminator_loss(real_output, fake_output):
    """E[D(G(z))] - E[D(x)]: minus the Wasserstein estimate (WGAN-GP Alg. 1 line 7, first terms)."""
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    """-E[D(G(z))] (Alg. 1 line 12, as a loss)."""
    return -tf.reduce_mean(fake_output)


def zero_centred_penalty(discriminator, samples):
    """E[||grad D(x)||_2^2] at x = samples, the real batch: R1 without gamma/2.

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
    return tf.reduce_mean(squared_norms), tf.sqrt(squared_norms + NORM_EPSILON)  # eq. 9
