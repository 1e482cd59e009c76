"""SNGAN generator and critic (Miyato et al. 2018, arXiv:1802.05957).

The networks are DCGAN's (see dcgan/networks.py) with a spectrally normalized critic:
every convolution and dense layer divides its kernel by the kernel's largest singular
value, estimated by one power iteration per training call, so each layer is
1-Lipschitz, and so is the critic (LeakyReLU is too). The critic has no BatchNorm.

One architecture per image size, all from the papers' own code:
  28x28 (MNIST, Fashion-MNIST)  the official WGAN-GP MNIST nets (gan_mnist.py, DIM = 64)
  32x32 (CIFAR-10)              the official WGAN-GP CIFAR-10 nets (gan_cifar.py, DIM = 128)
  64x64 (image folders)         the DCGAN paper's Figure 1 nets (1024 -> 128 filters)
Every convolution is 5x5 with stride 2 and "same" padding, so each block halves
(critic) or doubles (generator) the side, starting from 4x4.

DCGAN's guidelines, kept here: strided convolutions; BatchNorm in the generator
except on its output; ReLU in the generator with tanh on its output; LeakyReLU(0.2)
in the critic; weights from N(0, 0.02). Why: this critic has no BatchNorm.

Deviations from the paper: the DCGAN nets; Keras' layer normalizes the kernel in place.
"""
import keras
import tensorflow as tf
from keras import layers

LATENT_DIM = 128  # size of z, as in the official WGAN-GP scripts

# Channels of the generator's 4x4 projection and of each upsampling block; the
# discriminator uses the same widths in reverse order.
WIDTHS = {
    28: (256, 128, 64),  # gan_mnist.py: 4*DIM, 2*DIM, DIM with DIM = 64
    32: (512, 256, 128),  # gan_cifar.py: 4*DIM, 2*DIM, DIM with DIM = 128
    64: (1024, 512, 256, 128),  # DCGAN paper, Figure 1
}


def weight_init():
    return keras.initializers.RandomNormal(0.0, 0.02)  # DCGAN paper, Section 4


@tf.custom_gradient
def leaky_relu(x):
    """LeakyReLU(0.2), whose gradient TensorFlow does not differentiate again in x.

    The function and its gradient are Keras' LeakyReLU's. The second derivative in x is
    zero (the slope is piecewise constant), but with Keras' layer a critic that is
    differentiated twice (a gradient penalty) still back-propagates those zeros through
    every layer: 15% of the FLOPs of a WGAN-GP critic update (README, Speed). Here the
    slope is a constant to the tape inside the gradient. The same in every variant, so that
    the diffs between variants show only what the papers change.

    The slope is read from the output y, not from x: y > 0 exactly where x > 0 (0.2 > 0),
    so the gradient is the same number, and x then feeds only this op. Read from x, the
    gradient kept a second use of the convolution's BiasAdd, and Grappler's remapper,
    fusing Conv2D + BiasAdd + LeakyRelu into one op, failed on the whole critic step
    ("remapper failed: ... fanout 'LeakyReluGrad_3' exist for missing node").
    """
    outputs = tf.nn.leaky_relu(x, 0.2)

    def gradient(upstream):  # Keras' own gradient op, with the slope's sign held constant
        slope_sign = tf.stop_gradient(outputs)
        return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=slope_sign, alpha=0.2)

    return outputs, gradient


def batch_norm():
    # momentum 0.9 (Keras default 0.99) so that the moving averages, which the
    # sample grids use, follow the fast-changing GAN statistics. synchronized: with
    # several devices (--strategy), normalize over the global batch, not each device's.
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)


def make_generator(image_shape, latent_dim=LATENT_DIM, num_classes=0):
    """G: [noise [N, latent_dim], labels int [N]] -> images [N, H, W, C] in [-1, 1].

    The labels are read only with num_classes > 0 (--conditional): G then reads z
    concatenated with the label's one-hot code (Mirza & Osindero 2014, arXiv:1411.1784).
    """
    size, _, channels = image_shape
    widths = WIDTHS[size]
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((), dtype="int32", name="labels")
    x = noise
    if num_classes:
        one_hot = layers.CategoryEncoding(num_classes, "one_hot")(labels)
        x = layers.Concatenate()([noise, one_hot])
    x = layers.Dense(4 * 4 * widths[0], use_bias=False, kernel_initializer=weight_init())(x)
    x = layers.Reshape((4, 4, widths[0]))(x)
    x = layers.ReLU()(batch_norm()(x))
    for width in widths[1:]:
        x = layers.Conv2DTranspose(width, 5, 2, "same", use_bias=False,
                                   kernel_initializer=weight_init())(x)
        x = layers.ReLU()(batch_norm()(x))
        if size == 28 and x.shape[1] == 8:
            x = layers.Cropping2D(((0, 1), (0, 1)))(x)  # 8x8 -> 7x7, as gan_mnist.py does
    x = layers.Conv2DTranspose(channels, 5, 2, "same", kernel_initializer=weight_init())(x)
    # No BatchNorm on the output; float32 under mixed precision.
    images = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model([noise, labels], images, name="generator")


def make_discriminator(image_shape, num_classes=0):
    """D, the critic: images [N, H, W, C] in [-1, 1] -> f_w(x) [N, 1], unbounded (WGAN eq. 3).

    D takes [images, labels int [N]]; it reads the labels only with num_classes > 0
    (--conditional; see below).
    """
    images = keras.Input(image_shape, name="images")
    x = images
    for width in reversed(WIDTHS[image_shape[0]]):
        # ALGO: spectral normalization; why: it replaces WGAN's clipping and BatchNorm.
        convolution = layers.Conv2D(width, 5, 2, "same", kernel_initializer=weight_init())
        x = layers.SpectralNormalization(convolution)(x)
        x = layers.Activation(leaky_relu)(x)
    features = layers.Flatten()(x)
    dense = layers.Dense(1, kernel_initializer=weight_init(), dtype="float32")
    output = layers.SpectralNormalization(dense, dtype="float32")(features)  # float32, as in wgan/
    labels = keras.Input((), dtype="int32", name="labels")
    if not num_classes:  # the labels go unread. Keras lists an unread input just before the
        # last layer: one without weights keeps the checkpoints' layout of a D without labels.
        output = layers.Identity(dtype="float32")(output)
        return keras.Model([images, labels], output, name="discriminator")  # why: D(x), not logits
    # --conditional: the projection discriminator (Miyato & Koyama 2018, arXiv:1802.05637),
    # D(x, y) = w . phi(x) + b + <embed(y), phi(x)>, phi(x) = the flattened features.
    # why: embed(y) = one_hot(y) V, so that V is spectrally normalized too, as in that paper.
    embedding = layers.Dense(features.shape[-1], use_bias=False, kernel_initializer=weight_init())
    one_hot = layers.CategoryEncoding(num_classes, "one_hot")(labels)
    label_embedding = layers.SpectralNormalization(embedding)(one_hot)
    projection = layers.Dot(axes=1, dtype="float32")([label_embedding, features])
    output = layers.Add(dtype="float32")([output, projection])
    return keras.Model([images, labels], output, name="discriminator")  # why: D(x), not logits
