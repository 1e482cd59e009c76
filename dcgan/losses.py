"""DCGAN losses: the GAN value function of Goodfellow et al. 2014 (arXiv:1406.2661), on logits.

Every variant's losses.py has the same two functions with the same arguments:
  discriminator_loss(real_output, fake_output) -> scalar, minimized by D
  generator_loss(fake_output)                  -> scalar, minimized by G
Here the outputs are logits: D(x) = sigmoid(logit) is the probability that x is real.
Working on logits keeps log(sigmoid) accurate where the sigmoid saturates.
"""
import tensorflow as tf


def _cross_entropy(labels, logits):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def discriminator_loss(real_output, fake_output):
    """-E[log D(x)] - E[log(1 - D(G(z)))]: D ascends the value function V(D, G)."""
    real_loss = _cross_entropy(tf.ones_like(real_output), real_output)  # -E[log D(x)]
    fake_loss = _cross_entropy(tf.zeros_like(fake_output), fake_output)  # -E[log(1 - D(G(z)))]
    return real_loss + fake_loss


def generator_loss(fake_output, minimax=False):
    """Non-saturating -E[log D(G(z))] (default), or the minimax E[log(1 - D(G(z)))].

    Both push D(G(z)) towards 1. The minimax form is the one in V(D, G), but its
    gradient vanishes while D confidently rejects the samples (early training);
    the GAN paper, Section 3, proposes the non-saturating form for that reason.
    """
    if minimax:
        return -_cross_entropy(tf.zeros_like(fake_output), fake_output)  # E[log(1 - D(G(z)))]
    return _cross_entropy(tf.ones_like(fake_output), fake_output)  # -E[log D(G(z))]
