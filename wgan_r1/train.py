"""WGAN with the zero-centred penalty at real samples, R1 (Mescheder et al. 2018, arXiv:1801.04406).

Beyond the three papers; a sibling of wgan_gp/, whose Algorithm 1 it follows with one
change: the critic loss is
    D(G(z)) - D(x) + lambda * ||grad D(x)||_2^2,
the penalty taken at the real samples only and centred on 0, not 1. In the energy
view (energy -D) each real sample then sits at the flat floor of a well that the
generated samples roll into. R1 is gamma/2 * E||grad D(x)||^2, so lambda = gamma/2.
The comments keep WGAN-GP's Algorithm 1 line numbers; lines 4 and 6 lose x_hat.

Notation, one for every variant: D is the discriminator, which the WGAN papers call the
critic (f_w in WGAN, D_w in WGAN-GP); G the generator; x a real image; z the noise.

    python wgan_r1/train.py --dataset mnist
    python wgan_r1/train.py --dataset mnist_5k --train_steps 2000   # offline, bundled digits

Deviations from the paper: the R1 paper pairs the penalty with the non-saturating loss;
here it replaces WGAN-GP's penalty and everything else is wgan_gp/'s, so that the diff
shows the penalty alone. lambda 5 is gamma/2 for gamma = 10, the official configs'
reg_param; the official code multiplies E||grad D(x)||^2 by reg_param itself (lambda 10).
"""
import os
import sys

if __package__ in (None, ""):  # run as `python wgan_r1/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import cli, data, devices, sampling, training_run  # noqa: E402  (first: quiets TF)
from wgan_r1 import losses, networks  # noqa: E402
import variants  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402


def define_flags(flag_values):
    """The shared flags (common/cli.py), then the paper's hyperparameters with its defaults."""
    define = cli.define_flags(flag_values, __name__)
    define.integer("train_steps", 200_000, "Generator iterations (WGAN-GP code)", lower_bound=1)
    define.integer("batch_size", 64, "Images per batch, m (Alg. 1; gan_cifar.py)", lower_bound=1)
    define.integer("n_critic", 5, "Critic updates per generator iteration (Alg. 1)", lower_bound=1)
    define.float("gp_lambda", 5.0, "lambda, R1's gamma/2 (R1 code: gamma 10)", lower_bound=0)
    define.enum("optimizer", "adam", ["adam", "rmsprop"], "Alg. 1's adam, or rmsprop (Fig. 3)")
    define.float("learning_rate", 1e-4, "Step size alpha, G and D (Alg. 1)", lower_bound=0)
    define.float("beta1", 0.0, "Adam beta1 (Alg. 1; gan_cifar: 0.5)", lower_bound=0, upper_bound=1)
    define.float("beta2", 0.9, "Adam beta2 (Alg. 1)", lower_bound=0, upper_bound=1)
    define.enum("critic_norm", "none", ["none", "layer"], "none: gan_cifar.py; layer: paper Sec. 4")


def make_optimizers(config):
    """Adam for G and D (Alg. 1); rmsprop: WGAN's (Fig. 3), beta1 its momentum, beta2 its rho."""
    rate, beta1, beta2 = config["learning_rate"], config["beta1"], config["beta2"]
    if config["optimizer"] == "rmsprop":  # (rate, rho, momentum, epsilon), TF1's epsilon 1e-10
        return tuple(keras.optimizers.RMSprop(rate, beta2, beta1, 1e-10) for _ in range(2))
    return tuple(keras.optimizers.Adam(rate, beta1, beta2, 1e-8) for _ in range(2))  # TF1's eps


def make_models(config, image_shape, num_classes=0):
    """G, D and their optimizers, as the paper specifies, for images [H, W, C] (image_shape)
    and, with --conditional, num_classes classes."""
    generator = networks.make_generator(image_shape, num_classes=num_classes)
    discriminator = networks.make_discriminator(image_shape, num_classes, config["critic_norm"])
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
        """Alg. 1 lines 3-9: one critic update.

        real_images: [batch_size, H, W, C] in [-1, 1]; labels: their classes [batch_size],
        read only with --conditional, where G is asked for the same classes.
        """
        noise = rng.normal([batch_size, latent_dim])  # line 4: z ~ p(z)
        fake_images = generator([noise, labels], training=True)  # line 5: x_tilde = G(z)
        with tf.GradientTape() as tape:
            real_output = discriminator([real_images, labels], training=True)
            fake_output = discriminator([fake_images, labels], training=True)
            critic_loss = losses.discriminator_loss(real_output, fake_output)
            # ALGO: the penalty is taken at the real samples, not at interpolates.
            critic = lambda images: discriminator([images, labels], training=True)
            critic = devices.loss_scaled(critic, discriminator_optimizer)  # PLUMBING
            penalty, gradient_norms = losses.zero_centred_penalty(critic, real_images)
            loss = critic_loss + config["gp_lambda"] * penalty  # line 7
            devices.minimize(discriminator, discriminator_optimizer, tape, loss)  # PLUMBING
        return {
            "loss/discriminator": loss,
            "discriminator/real": tf.reduce_mean(real_output),
            "discriminator/fake": tf.reduce_mean(fake_output),
            "wasserstein_estimate": -critic_loss,
            "gradient_penalty": penalty,
            "gradient_norm": tf.reduce_mean(gradient_norms),
        }

    def generator_step():
        """Alg. 1 lines 11-12: one generator update."""
        noise = rng.normal([batch_size, latent_dim])  # line 11: z ~ p(z)
        labels = sampling.random_labels(rng, batch_size, num_classes)  # --conditional's classes
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            fake_output = discriminator([fake_images, labels], training=True)
            loss = losses.generator_loss(fake_output)  # line 12
            devices.minimize(generator, generator_optimizer, tape, loss)  # PLUMBING
        return {"loss/generator": loss}

    return (
        devices.distribute(strategy, discriminator_step, config["jit_compile"]),
        devices.distribute(strategy, generator_step, config["jit_compile"]),
    )


def critic_updates(iteration, config):
    """Critic updates in generator iteration `iteration`: n_critic (Alg. 1 line 2)."""
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
