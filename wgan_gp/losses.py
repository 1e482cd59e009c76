"""WGAN-GP losses (Gulrajani et al. 2017, arXiv:1704.00028, Algorithm 1), and two alternatives.

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x). The papers call the
discriminator the critic; the code calls it the discriminator in every variant.

WGAN-GP keeps the WGAN losses and replaces weight clipping with a soft constraint:
  random_interpolates  x_hat on straight lines between real and generated samples
  gradient_penalty     E[(||grad D(x_hat)|| - 1)^2], added to the critic loss times lambda
The Wasserstein estimate logged during training is E[D(x)] - E[D(G(z))], without
the penalty.

The alternatives (train.py's --penalty and --loss):
  zero_centred_penalty            E[||grad D(x)||^2] at real samples only (R1)
  discriminator_loss(hinge=True)  the hinge loss of SNGAN, SAGAN and BigGAN
"""
import tensorflow as tf

# Inside the square root of the gradient norm: keeps the norm's own gradient finite
# where grad D(x_hat) = 0 (for example, a constant critic).
NORM_EPSILON = 1e-12


def discriminator_loss(real_output, fake_output, hinge=False):
    """E[D(G(z))] - E[D(x)], the first two terms of Alg. 1 line 7.

    hinge=True: E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato
    et al. 2018, arXiv:1802.05957, eq. 16). The critic stops pushing a sample once
    it is past its margin (D(x) >= 1, D(G(z)) <= -1), so its values stay bounded
    without a Lipschitz constraint; the generator loss is the same -E[D(G(z))].
    """
    if hinge:
        return tf.reduce_mean(tf.nn.relu(1.0 - real_output)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_output))
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    """-E[D(G(z))] (Alg. 1 line 12); also the hinge loss's generator loss."""
    return -tf.reduce_mean(fake_output)


def random_interpolates(real_samples, fake_samples):
    """Alg. 1 lines 4 and 6: x_hat = eps*x + (1-eps)*x_tilde, eps ~ U[0, 1] per example.

    One eps per example, shaped [N, 1, 1, 1] for images [N, H, W, C] (or [N, 1] for
    points [N, 2]) so that it broadcasts over the rest: each x_hat lies on the segment
    between its own real and generated sample.
    """
    batch_size = tf.shape(real_samples)[0]
    eps = tf.random.uniform([batch_size] + [1] * (real_samples.shape.rank - 1), 0.0, 1.0, dtype=real_samples.dtype)
    return eps * real_samples + (1.0 - eps) * fake_samples


def input_gradients(discriminator, samples, output_scale=1.0):
    """grad_x D(x) for each example: float32, the shape of `samples` ([N, H, W, C] or [N, 2]).

    discriminator: samples -> values [N, 1] (a Keras model or any callable).
    output_scale: D's outputs are multiplied by this before differentiating and the
      gradients divided by it after, in float32. Under float16 mixed precision the
      loss scale goes here, so that the penalty's own gradient does not underflow.
    """
    with tf.GradientTape() as tape:
        tape.watch(samples)
        # Summing the outputs gives each example's gradient at once: example i's
        # output depends only on example i (which is why the critic has no BatchNorm).
        output_sum = tf.reduce_sum(tf.cast(discriminator(samples), tf.float32))
        scaled_sum = output_sum * output_scale
    return tf.cast(tape.gradient(scaled_sum, samples), tf.float32) / output_scale


def _squared_norms(gradients):
    """||g||^2 of each example, over all its pixels and channels, never over the batch."""
    return tf.reduce_sum(tf.square(gradients), axis=list(range(1, gradients.shape.rank)))


def gradient_penalty(discriminator, interpolates, output_scale=1.0):
    """Alg. 1 line 7, last term without lambda: E[(||grad_x_hat D(x_hat)||_2 - 1)^2].

    The one-centred penalty: it pulls the gradient norm towards 1 on the lines
    between real and generated samples, where the optimal critic has norm 1.
    Returns (penalty, gradient_norms): a scalar and the per-example norms [N].
    """
    gradients = input_gradients(discriminator, interpolates, output_scale)
    gradient_norms = tf.sqrt(_squared_norms(gradients) + NORM_EPSILON)
    penalty = tf.reduce_mean(tf.square(gradient_norms - 1.0))
    return penalty, gradient_norms


def zero_centred_penalty(discriminator, real_samples, output_scale=1.0):
    """E_x~P_r[||grad_x D(x)||^2]: the zero-centred penalty at real samples only.

    Mescheder et al. 2018 (arXiv:1801.04406), R1: gamma/2 * E[||grad D(x)||^2]. This
    function leaves out the 1/2, so lambda here is R1's gamma/2 (the paper's gamma = 10
    is --gp_lambda=5). A flat critic at the real samples makes each one a stationary
    point of D; in the energy view (energy -D) each real sample sits at the floor of
    a well that the generated samples roll into.
    Returns (penalty, gradient_norms): a scalar and the per-example norms [N].
    """
    squared_norms = _squared_norms(input_gradients(discriminator, real_samples, output_scale))
    return tf.reduce_mean(squared_norms), tf.sqrt(squared_norms + NORM_EPSILON)
