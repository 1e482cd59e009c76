"""SNGAN's hinge loss (Miyato et al. 2018, arXiv:1802.05957, eq. 16; Lim & Ye 2017).

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are unbounded critic values D(x) (f_w(x) in WGAN, D_w(x) in WGAN-GP).

The critic pushes D(x) up to 1 and D(G(z)) down to -1 and stops pushing a sample once
it is past that margin, so its values stay bounded; the generator loss is WGAN's. The
Wasserstein estimate logged during training is E[D(x)] - E[D(G(z))], not this loss.
"""
import tensorflow as tf


def discriminator_loss(real_output, fake_output):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]: the hinge loss."""
    real_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_output))  # E[max(0, 1 - D(x))]
    fake_loss = tf.reduce_mean(tf.nn.relu(1.0 + fake_output))  # E[max(0, 1 + D(G(z)))]
    return real_loss + fake_loss


def generator_loss(fake_output):
    """-E[D(G(z))], as in WGAN."""
    return -tf.reduce_mean(fake_output)
