"""DCGAN: deep convolutional GAN (Radford et al. 2015, arXiv:1511.06434).

Trains the GAN of Goodfellow et al. 2014 (arXiv:1406.2661, Algorithm 1) with the DCGAN
networks and optimizer. Each generator iteration runs n_critic (k in the GAN paper; 1
here) discriminator updates, each on a fresh real batch, with the loss
    -log D(x) - log(1 - D(G(z))),
then one generator update on -log D(G(z)) (non-saturating, the default) or
log(1 - D(G(z))) (--g_loss=minimax). Both networks use Adam(2e-4, beta1 = 0.5).

Notation, one for every variant: D is the discriminator, which the WGAN papers call the
critic (f_w in WGAN, D_w in WGAN-GP); G the generator; x a real image; z the noise.

    python dcgan/train.py --dataset mnist
    python dcgan/train.py --dataset mnist_5k --train_steps 2000   # offline, bundled digits

Deviations from the paper: z ~ N(0, I) with 128 dimensions instead of U[-1, 1] with 100
(see dcgan/networks.py), so that all the variants share one generator.
"""
import os
import sys

if __package__ in (None, ""):  # run as `python dcgan/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import cli, data, devices, sampling, training_run  # noqa: E402  (first: quiets TF)
from dcgan import losses, networks  # noqa: E402
import variants  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402


def define_flags(flag_values):
    """The shared flags (common/cli.py), then the paper's hyperparameters with its defaults."""
    define = cli.define_flags(flag_values, __name__)
    define.integer("train_steps", 200_000, "Generator iterations (WGAN-GP code)", lower_bound=1)
    define.integer("batch_size", 128, "Images per batch (DCGAN paper: 128)", lower_bound=1)
    define.integer("n_critic", 1, "D updates per generator iteration (k, GAN paper)", lower_bound=1)
    define.enum("g_loss", "non_saturating", ["non_saturating", "minimax"], "GAN paper, Section 3")
    define.float("learning_rate", 2e-4, "Adam step size, G and D (DCGAN paper)", lower_bound=0)
    define.float("beta1", 0.5, "Adam beta1 (DCGAN paper)", lower_bound=0, upper_bound=1)


def make_optimizers(config):
    """Adam for G and for D, as the DCGAN paper specifies."""
    # beta2 0.999 and epsilon 1e-8: the DCGAN code's Adam (Keras' epsilon would be 1e-7).
    rate, beta1 = config["learning_rate"], config["beta1"]
    return tuple(keras.optimizers.Adam(rate, beta1, 0.999, 1e-8) for _ in range(2))


def make_models(config, image_shape, num_classes=0):
    """G, D and their optimizers, as the paper specifies, for images [H, W, C] (image_shape)
    and, with --conditional, num_classes classes."""
    generator = networks.make_generator(image_shape, num_classes=num_classes)
    discriminator = networks.make_discriminator(image_shape, num_classes)
    generator_optimizer, discriminator_optimizer = make_optimizers(config)
    # Under --mixed_precision=float16 both get a dynamic loss scale.
    precision = config["mixed_precision"]
    generator_optimizer = devices.for_precision(generator_optimizer, precision)
    discriminator_optimizer = devices.for_precision(discriminator_optimizer, precision)
    # Create the optimizers' state now: a checkpoint can then restore it, and the
    # steps do not create variables while they run on several replicas.
    generator_optimizer.build(generator.trainable_variables)
    discriminator_optimizer.build(discriminator.trainable_variables)
    return generator, discriminator, generator_optimizer, discriminator_optimizer


def make_steps(generator, discriminator, generator_optimizer, discriminator_optimizer, rng, config,
               strategy, num_classes=0):
    """The two updates of Algorithm 1, each traced once into a tf.function run on every replica.

    rng: the run's tf.random.Generator (devices.make_rng), from which every update draws
    its own z (and eps, and labels): no two updates see the same numbers. num_classes: with
    --conditional, the classes G is asked for (0: G and D read no labels). A line marked
    PLUMBING is not in the paper: what several replicas and float16 need (common/devices.py).
    """
    batch_size = devices.replica_batch_size(config["batch_size"], strategy)
    latent_dim = sampling.latent_dim(generator)

    def discriminator_step(real_images, labels):
        """Alg. 1, inner loop: one discriminator update.

        real_images: [batch_size, H, W, C] in [-1, 1]; labels: their classes [batch_size],
        read only with --conditional, where G is asked for the same classes.
        """
        noise = rng.normal([batch_size, latent_dim])  # z ~ p_g(z)
        fake_images = generator([noise, labels], training=True)  # G(z)
        with tf.GradientTape() as tape:
            real_output = discriminator([real_images, labels], training=True)
            fake_output = discriminator([fake_images, labels], training=True)
            loss = losses.discriminator_loss(real_output, fake_output)  # ascend V(D, G)
            devices.minimize(discriminator, discriminator_optimizer, tape, loss)  # PLUMBING
        return {
            "loss/discriminator": loss,
            "discriminator/real": tf.reduce_mean(real_output),
            "discriminator/fake": tf.reduce_mean(fake_output),
        }

    def generator_step():
        """Alg. 1, after the inner loop: one generator update."""
        noise = rng.normal([batch_size, latent_dim])  # z ~ p_g(z)
        labels = sampling.random_labels(rng, batch_size, num_classes)  # --conditional's classes
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            fake_output = discriminator([fake_images, labels], training=True)
            loss = losses.generator_loss(fake_output, minimax=config["g_loss"] == "minimax")
            devices.minimize(generator, generator_optimizer, tape, loss)  # PLUMBING
        return {"loss/generator": loss}

    return (
        devices.distribute(strategy, discriminator_step, config["jit_compile"]),
        devices.distribute(strategy, generator_step, config["jit_compile"]),
    )


def critic_updates(iteration, config):
    """Discriminator updates in generator iteration `iteration`: n_critic, k in Alg. 1."""
    return config["n_critic"]


def train_iteration(real_batches, discriminator_step, generator_step, n_critic):
    """One generator iteration: n_critic critic updates, then one generator update."""
    for _ in range(n_critic):
        metrics = discriminator_step(*next(real_batches))  # a fresh real batch for every update
    return {**metrics, **generator_step()}


def train(config):
    strategy = devices.make_strategy(config["strategy"])  # before any other TensorFlow work
    dataset = data.load_training_data(config, strategy)  # on resume, the data the run recorded
    facts = data.run_facts(dataset, config["conditional"])  # what the run learns at start
    devices.seed_everything(config["seed"], strategy)  # each worker its own random numbers
    devices.set_precision(config["mixed_precision"])
    real_batches = data.make_batches(dataset, config["batch_size"], config["seed"], strategy)
    with strategy.scope():  # variables mirrored on every replica
        models = make_models(config, facts.image_shape, facts.num_classes)
        rng = devices.make_rng(config["seed"])  # every z, eps and label the steps draw
    discriminator_step, generator_step = make_steps(*models, rng, config, strategy,
                                                    facts.num_classes)

    # The checkpoint also keeps the data's position and the random numbers' state.
    variant = variants.get(config["variant"])  # what the plumbing needs to know of this variant
    with training_run.TrainingRun(config, *models, strategy, variant=variant, facts=facts,
                                  real_batches=real_batches, random_generator=rng) as run:
        for iteration in run.iterations():
            n_critic = critic_updates(iteration, config)
            metrics = train_iteration(real_batches, discriminator_step, generator_step, n_critic)
            run.end_iteration(iteration, metrics)


def main(argv):
    train(cli.config_from_flags(flags.FLAGS, sys.modules[__name__]))


if __name__ == "__main__":
    define_flags(flags.FLAGS)
    cli.run_command(main)
