"""WGAN losses (Arjovsky et al. 2017, arXiv:1701.07875, Algorithm 1).

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x) (f_w(x) in WGAN, D_w(x) in WGAN-GP).

The critic maximizes E[D(x)] - E[D(G(z))], which for a 1-Lipschitz D estimates the
Wasserstein-1 distance between the data and the generator's distribution. The
Wasserstein estimate logged during training is therefore -discriminator_loss.
"""
import tensorflow as tf


def discriminator_loss(real_output, fake_output):
    """E[D(G(z))] - E[D(x)]: minus the Wasserstein estimate (Alg. 1 line 5, as a loss)."""
    return tf.reduce_mean(fake_output) - tf.reduce_mean(real_output)


def generator_loss(fake_output):
    """-E[D(G(z))] (Alg. 1 line 10, as a loss)."""
    return -tf.reduce_mean(fake_output)
