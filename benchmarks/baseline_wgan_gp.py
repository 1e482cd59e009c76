"""A yardstick for the speed of wgan_gp/train.py: the textbook TF2 WGAN-GP iteration.

The same networks (wgan_gp.networks' generator, and its critic's layers built with Keras'
own LeakyReLU; 28x28 by default), batch (64 by default), n_critic (5) and optimizer
(Adam 1e-4, 0, 0.9), written the way most TF2 tutorials write it: one tf.function per
update, the generator's forward pass inside the critic's tape, the penalty from a
nested tape, no tf.distribute, no loss scaling, and one fixed real batch (no input
pipeline). If wgan_gp/train.py's plumbing cost anything, this would be faster.

    python benchmarks/baseline_wgan_gp.py [--seconds 20] [--size 64] [--batch_size 64]

benchmarks/benchmark.py also runs it, in the same process as each wgan_gp row.
"""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from common import sampling  # noqa: E402  (first: quiets TensorFlow's start-up logging)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from wgan_gp import networks  # noqa: E402

BATCH, N_CRITIC, LAMBDA = 64, 5, 10.0


def textbook_critic(image_shape):
    """wgan_gp's critic (the same layers and initializers) as a tutorial builds it, with Keras' LeakyReLU."""
    initializer = keras.initializers.RandomNormal(0.0, 0.02)
    model = keras.Sequential([keras.Input(image_shape)])
    for width in reversed(networks.WIDTHS[image_shape[0]]):
        model.add(keras.layers.Conv2D(width, 5, 2, "same", kernel_initializer=initializer))
        model.add(keras.layers.LeakyReLU(0.2))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(1, kernel_initializer=initializer, dtype="float32"))
    return model


def textbook_iteration(image_shape=(28, 28, 1), batch_size=BATCH):
    """One textbook WGAN-GP iteration (N_CRITIC critic updates, one generator update) as a callable."""
    generator = sampling.label_free(networks.make_generator(image_shape))  # noise -> images
    critic = textbook_critic(image_shape)
    generator_optimizer = keras.optimizers.Adam(1e-4, 0.0, 0.9)
    critic_optimizer = keras.optimizers.Adam(1e-4, 0.0, 0.9)
    real = tf.random.uniform([batch_size, *image_shape], -1, 1)

    @tf.function
    def critic_step(real):
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal([batch_size, networks.LATENT_DIM]), training=True)
            eps = tf.random.uniform([batch_size, 1, 1, 1])
            mixed = eps * real + (1 - eps) * fake
            with tf.GradientTape() as inner:
                inner.watch(mixed)
                mixed_output = critic(mixed, training=True)
            slopes = tf.norm(tf.reshape(inner.gradient(mixed_output, mixed), [batch_size, -1]), axis=1)
            loss = (tf.reduce_mean(critic(fake, training=True)) - tf.reduce_mean(critic(real, training=True))
                    + LAMBDA * tf.reduce_mean((slopes - 1.0) ** 2))
        critic_optimizer.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
        return loss

    @tf.function
    def generator_step():
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal([batch_size, networks.LATENT_DIM]), training=True)
            loss = -tf.reduce_mean(critic(fake, training=True))
        generator_optimizer.apply_gradients(
            zip(tape.gradient(loss, generator.trainable_variables), generator.trainable_variables)
        )
        return loss

    def iteration():
        for _ in range(N_CRITIC):
            critic_step(real)
        return generator_step()

    return iteration


def iterations_per_second(iteration, seconds):
    """Warms up (tracing), then runs whole iterations for `seconds` (at least 3)."""
    for _ in range(2):
        iteration().numpy()
    count, began = 0, time.perf_counter()
    while count < 3 or time.perf_counter() - began < seconds:
        iteration().numpy()
        count += 1
    return count / (time.perf_counter() - began)


def main():
    parser = arguments.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=arguments.seconds, default=20.0)
    parser.add_argument("--size", type=int, default=28, choices=[28, 32, 64])
    parser.add_argument("--batch_size", type=arguments.count, default=BATCH)
    args = parser.parse_args()
    shape = {28: (28, 28, 1), 32: (32, 32, 3), 64: (64, 64, 3)}[args.size]
    rate = iterations_per_second(textbook_iteration(shape, args.batch_size), args.seconds)
    print(f"textbook WGAN-GP, {args.size}x{args.size}, batch {args.batch_size}, n_critic {N_CRITIC}: "
          f"{rate:.3f} generator iterations/s")


if __name__ == "__main__":
    main()
