"""WGAN-GP: Wasserstein GAN with gradient penalty (Gulrajani et al. 2017, arXiv:1704.00028).

Implements Algorithm 1 of the paper. Each generator iteration runs n_critic critic
updates, each on a fresh real batch, with the loss
    D(x_tilde) - D(x) + lambda * (||grad D(x_hat)||_2 - 1)^2,
    x_tilde = G(z), x_hat = eps*x + (1-eps)*x_tilde, eps ~ U[0, 1] per example,
then one generator update on -D(G(z)). Both networks use Adam. The papers call
the discriminator the critic; the code calls it the discriminator, as in dcgan/ and wgan/.

    python wgan_gp/train.py --dataset mnist
    python wgan_gp/train.py --dataset mnist_5k --train_steps 2000   # offline, bundled digits

Deviations from the paper:
  - Adam's beta1 is Algorithm 1's 0; the official code used 0.5 (--beta1=0.5).
  - The critic has no normalization by default, as in the official MNIST and CIFAR-10
    code; --critic_norm=layer gives the layer normalization the paper recommends.

Options beyond the paper, off by default (see wgan_gp/README.md):
  --penalty=zero_centred  lambda * E||grad D(x)||^2 at real samples (R1, arXiv:1801.04406)
  --loss=hinge            the hinge loss of SNGAN, SAGAN and BigGAN
  --spectral_norm         spectral normalization of every critic layer (arXiv:1802.05957)
  --conditional           class-conditional G and D (one-hot label; projection critic)
  --optimizer=rmsprop     WGAN's optimizer instead of Adam (the paper's Figure 3 compares both)
"""
import os
import sys

if __package__ in (None, ""):  # run as `python wgan_gp/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import data, runs  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
from wgan_gp import losses, networks  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

runs.define_flags()  # --dataset, --data_dir, --image_size, --logdir, --seed, --*_every
flags.adopt_module_key_flags(runs)
flags.DEFINE_integer("train_steps", 200_000, "Generator iterations to train for (WGAN-GP code: 200000)", lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Images per batch, m in Algorithm 1 (paper: 64)", lower_bound=1)
flags.DEFINE_integer("n_critic", 5, "Critic updates per generator iteration (Algorithm 1: 5)", lower_bound=1)
flags.DEFINE_float("gp_lambda", 10.0, "Gradient penalty coefficient lambda (Algorithm 1: 10)", lower_bound=0.0)
flags.DEFINE_enum(
    "optimizer", "adam", ["adam", "rmsprop"],
    "adam: Algorithm 1's. rmsprop: WGAN's optimizer, to separate the penalty's effect from Adam's (paper, Figure 3)",
)
flags.DEFINE_float("learning_rate", 1e-4, "Step size alpha, both networks (Algorithm 1: 1e-4)", lower_bound=0.0)
flags.DEFINE_float(
    "beta1", 0.0, "Adam beta1 (Algorithm 1: 0; the official code: 0.5); with rmsprop, its momentum",
    lower_bound=0.0, upper_bound=1.0,
)
flags.DEFINE_float("beta2", 0.9, "Adam beta2 (Algorithm 1: 0.9); with rmsprop, the average's decay rho", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("critic_norm", "none", ["none", "layer"], "Critic normalization; never BatchNorm (paper, Section 4)")
flags.DEFINE_enum(
    "penalty", "one_centred", ["one_centred", "zero_centred", "none"],
    "one_centred: (||grad D(x_hat)|| - 1)^2 on interpolates (Algorithm 1); zero_centred: ||grad D(x)||^2 on real samples",
)
flags.DEFINE_enum("loss", "wasserstein", ["wasserstein", "hinge"], "Critic loss: Algorithm 1's, or the hinge loss")
flags.DEFINE_bool("spectral_norm", False, "Spectral normalization of the critic's layers (Miyato et al. 2018)")
FLAGS = flags.FLAGS


def make_optimizers(config):
    """Adam for G and for D, as Algorithm 1 specifies, or RMSProp with --optimizer=rmsprop."""
    # A config built by hand (a test, another script) may leave the key out: Adam, as in the paper.
    if config.get("optimizer", "adam") == "rmsprop":
        return tuple(
            keras.optimizers.RMSprop(config["learning_rate"], rho=config["beta2"], momentum=config["beta1"])
            for _ in range(2)
        )
    return tuple(keras.optimizers.Adam(config["learning_rate"], config["beta1"], config["beta2"]) for _ in range(2))


def make_models(config):
    """G, D and their optimizers, as the paper specifies."""
    num_classes = config.get("num_classes", 0)  # set by --conditional
    generator = networks.make_generator(config["image_shape"], num_classes=num_classes)
    discriminator = networks.make_discriminator(
        config["image_shape"], config["critic_norm"], config["spectral_norm"], num_classes
    )
    generator_optimizer, discriminator_optimizer = make_optimizers(config)
    # Under --mixed_precision=float16 both get a dynamic loss scale.
    generator_optimizer = runs.for_precision(generator_optimizer, config)
    discriminator_optimizer = runs.for_precision(discriminator_optimizer, config)
    # Create the optimizers' state now: a checkpoint can then restore it, and the
    # steps do not create variables while they run on several replicas.
    generator_optimizer.build(generator.trainable_variables)
    discriminator_optimizer.build(discriminator.trainable_variables)
    return generator, discriminator, generator_optimizer, discriminator_optimizer


def make_steps(generator, discriminator, generator_optimizer, discriminator_optimizer, config, strategy):
    """The two updates of Algorithm 1, each traced once into a tf.function that runs on every replica."""
    replicas = strategy.num_replicas_in_sync
    batch_size, latent_dim = runs.replica_batch_size(config, strategy), runs.latent_dim(generator)

    def conditioned(inputs, labels):  # --conditional: G and D also take the class labels
        return [inputs, labels] if config["conditional"] else inputs

    def discriminator_step(real_images, labels):
        """Alg. 1 lines 3-9: one critic update.

        real_images: [batch_size, H, W, C] in [-1, 1]; labels: their classes [batch_size],
        used only with --conditional, where G is asked for the same classes.
        """
        noise = tf.random.normal([batch_size, latent_dim])  # line 4: z ~ p(z)
        fake_images = generator(conditioned(noise, labels), training=True)  # line 5: x_tilde = G(z)

        def critic(images):
            return discriminator(conditioned(images, labels), training=True)

        with tf.GradientTape() as tape:
            real_output, fake_output = critic(real_images), critic(fake_images)
            critic_loss = losses.discriminator_loss(real_output, fake_output, hinge=config["loss"] == "hinge")
            # ALGO: the gradient penalty replaces WGAN's weight clipping.
            output_scale = discriminator_optimizer.scale_loss(1.0)  # float16's loss scale, or 1
            if config["penalty"] == "one_centred":
                interpolates = losses.random_interpolates(real_images, fake_images)  # lines 4 and 6
                penalty, gradient_norms = losses.gradient_penalty(critic, interpolates, output_scale)
            elif config["penalty"] == "zero_centred":
                penalty, gradient_norms = losses.zero_centred_penalty(critic, real_images, output_scale)
            else:
                penalty, gradient_norms = tf.constant(0.0), tf.zeros([batch_size])
            loss = critic_loss + config["gp_lambda"] * penalty  # line 7
            # Replicas' gradients are summed, so each replica's loss counts 1/replicas; the
            # float16 loss scale (if any) keeps small gradients from underflowing.
            scaled_loss = discriminator_optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, discriminator.trainable_variables)
        discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))  # line 9
        return {
            "loss/discriminator": loss,
            "discriminator/real": tf.reduce_mean(real_output),
            "discriminator/fake": tf.reduce_mean(fake_output),
            "wasserstein_estimate": tf.reduce_mean(real_output) - tf.reduce_mean(fake_output),
            "gradient_penalty": penalty,
            "gradient_norm": tf.reduce_mean(gradient_norms),
        }

    def generator_step():
        """Alg. 1 lines 11-12: one generator update."""
        noise = tf.random.normal([batch_size, latent_dim])  # line 11
        # --conditional: ask G for classes drawn uniformly (the labelled datasets are balanced).
        labels = tf.random.uniform([batch_size], 0, config["num_classes"], tf.int32) if config["conditional"] else None
        with tf.GradientTape() as tape:
            fake_images = generator(conditioned(noise, labels), training=True)
            fake_output = discriminator(conditioned(fake_images, labels), training=True)
            loss = losses.generator_loss(fake_output)
            scaled_loss = generator_optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, generator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))  # line 12
        return {"loss/generator": loss}

    return (
        runs.distribute(strategy, discriminator_step, config["jit_compile"]),
        runs.distribute(strategy, generator_step, config["jit_compile"]),
    )


def train_iteration(real_batches, discriminator_step, generator_step, n_critic):
    """One generator iteration (Alg. 1 lines 2-12): n_critic critic updates, then one generator update."""
    for _ in range(n_critic):
        metrics = discriminator_step(*next(real_batches))  # line 4: a fresh real batch for every update
    return {**metrics, **generator_step()}


def train(config):
    strategy = runs.make_strategy(config["strategy"])  # before any other TensorFlow work
    dataset = data.load_dataset(config["dataset"], config["data_dir"], config["image_size"])
    config = {**config, **data.run_settings(dataset, config["conditional"])}
    runs.seed_everything(config["seed"])
    runs.set_precision(config)
    real_batches = data.make_batches(dataset.images, dataset.labels, config["batch_size"], config["seed"], strategy)

    with strategy.scope():  # variables mirrored on every replica
        models = make_models(config)
    discriminator_step, generator_step = make_steps(*models, config, strategy)

    with runs.Run(config, *models, strategy) as run:
        for step in run.steps():
            metrics = train_iteration(real_batches, discriminator_step, generator_step, config["n_critic"])
            run.end_step(step, metrics)


def main(argv):
    if len(argv) > 1:
        raise runs.UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
    train(runs.config_from_flags(sys.modules[__name__], variant="wgan_gp"))


if __name__ == "__main__":
    runs.run(main)
