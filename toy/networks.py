"""Fully connected generator and critic for the toy sets (WGAN-GP's gan_toy.py).

Both are three ReLU layers of 512 units and a linear output layer, as in the
official toy script (DIM = 512); no normalization in either. The generator maps
noise z ~ N(0, I) to points. Every variant trains these same networks on the toy
sets, with its own losses, steps and optimizers (toy/train.py); the figure scripts
also use them for 1-D data (dimensions=1) and deeper critics (depth=12). Like the image
networks, both take [inputs, labels]; the toy sets have no classes, so neither reads the
labels (common.sampling.label_free gives the model without them, for plots).
The ReLU layers start from He-uniform weights, U[-sqrt(6 / fan_in), sqrt(6 / fan_in)],
as the official code's ReLU layers do ('he' initialization); the output layers keep
Keras' default (Glorot-uniform).
"""
import keras
from keras import layers

LATENT_DIM = 2  # gan_toy.py feeds 2-D noise
WIDTH = 512  # gan_toy.py: DIM = 512
DEPTH = 3  # ReLU layers before the output layer


def make_generator(latent_dim=LATENT_DIM, width=WIDTH, depth=DEPTH, dimensions=2):
    """G: [noise [N, latent_dim], labels [N] (unread)] -> points [N, dimensions], unbounded."""
    noise = keras.Input((latent_dim,), name="noise")
    x = noise
    for _ in range(depth):
        x = layers.Dense(width, activation="relu", kernel_initializer="he_uniform")(x)
    labels = keras.Input((), dtype="int32", name="labels")
    return keras.Model([noise, labels], layers.Dense(dimensions)(x), name="generator")


def make_discriminator(width=WIDTH, depth=DEPTH, spectral_norm=False, dimensions=2):
    """D: [points [N, dimensions], labels [N] (unread)] -> values [N, 1] (logits for DCGAN,
    critic values otherwise).

    spectral_norm: every layer spectrally normalized, as sngan/networks.py does.
    """

    def spectral(layer):
        return layers.SpectralNormalization(layer) if spectral_norm else layer

    points = keras.Input((dimensions,), name="points")
    x = points
    for _ in range(depth):
        x = spectral(layers.Dense(width, activation="relu", kernel_initializer="he_uniform"))(x)
    labels = keras.Input((), dtype="int32", name="labels")
    return keras.Model([points, labels], spectral(layers.Dense(1))(x), name="discriminator")
