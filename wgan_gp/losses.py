"""WGAN-GP losses (Gulrajani et al. 2017, arXiv:1704.00028, Algorithm 1).

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x). The papers call the
discriminator the critic; the code calls it the discriminator in every variant.

WGAN-GP keeps the WGAN losses and replaces weight clipping with a soft constraint:
  random_interpolates  x_hat on straight lines between real and generated images
  gradient_penalty     E[(||grad D(x_hat)|| - 1)^2], added to the critic loss times lambda
The Wasserstein estimate logged during training is -discriminator_loss, without
the penalty.
"""
import tensorflow as tf

# Inside the square root of the gradient norm: keeps the norm's own gradient finite
# where grad D(x_hat) = 0 (for example, a constant critic).
NORM_EPSILON = 1e-12


def discriminator_loss(real_output, fake_output):
    """E[D(G(z))] - E[D(x)]: the first two terms of Alg. 1 line 7."""
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    """-E[D(G(z))] (Alg. 1 line 12)."""
    return -tf.reduce_mean(fake_output)


def random_interpolates(real_images, fake_images):
    """Alg. 1 lines 4 and 6: x_hat = eps*x + (1-eps)*x_tilde, eps ~ U[0, 1] per example.

    One eps per example, shaped [N, 1, 1, 1] so that it broadcasts over H, W and C:
    each x_hat lies on the segment between its own real and generated image.
    """
    batch_size = tf.shape(real_images)[0]
    eps = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0, dtype=real_images.dtype)
    return eps * real_images + (1.0 - eps) * fake_images


def gradient_penalty(discriminator, interpolates, output_scale=1.0):
    """Alg. 1 line 7, last term without lambda: E[(||grad_x_hat D(x_hat)||_2 - 1)^2].

    Args:
      discriminator: the critic, images [N, H, W, C] -> values [N, 1].
      interpolates: x_hat, [N, H, W, C].
      output_scale: D's outputs are multiplied by this before differentiating and the
        gradients divided by it after, in float32. Under float16 mixed precision the
        loss scale goes here, so that the penalty's own gradient does not underflow.
    Returns:
      (penalty, gradient_norms): a scalar and the per-example norms [N].
    The norm runs over all of an example's pixels and channels (axes 1, 2, 3),
    never over the batch: each example's gradient is constrained on its own.
    """
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        # Summing the outputs gives each example's gradient at once: example i's
        # output depends only on example i (which is why the critic has no BatchNorm).
        output_sum = tf.reduce_sum(tf.cast(discriminator(interpolates, training=True), tf.float32))
        scaled_sum = output_sum * output_scale
    gradients = tf.cast(tape.gradient(scaled_sum, interpolates), tf.float32) / output_scale
    gradient_norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + NORM_EPSILON)
    penalty = tf.reduce_mean(tf.square(gradient_norms - 1.0))
    return penalty, gradient_norms
