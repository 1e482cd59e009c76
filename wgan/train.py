"""WGAN: Wasserstein GAN with weight clipping (Arjovsky et al. 2017, arXiv:1701.07875).

Implements Algorithm 1 of the paper. Each generator iteration runs n_critic critic
updates, each on a fresh real batch, with the loss
    f(G(z)) - f(x),
and after each update clips every critic weight to [-c, c]; then one generator
update on -f(G(z)). Both networks use RMSProp. The papers call the discriminator
the critic; the code calls it the discriminator, as in dcgan/ and wgan_gp/.

    python wgan/train.py --dataset mnist
    python wgan/train.py --dataset mnist_5k --train_steps 2000   # offline, bundled digits

Deviations from the paper: none. The official code's extra critic schedule (100
critic updates for the first 25 generator iterations and for every 500th) is off
by default, because Algorithm 1 does not have it; --official_critic_schedule turns it on.
"""
import os
import sys

if __package__ in (None, ""):  # run as `python wgan/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import data, runs  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
from wgan import losses, networks  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

runs.define_flags()  # --dataset, --data_dir, --image_size, --logdir, --seed, --*_every
flags.adopt_module_key_flags(runs)
flags.DEFINE_integer("train_steps", 200_000, "Generator iterations to train for (WGAN-GP code: 200000)", lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Images per batch, m in Algorithm 1 (paper: 64)", lower_bound=1)
flags.DEFINE_integer("n_critic", 5, "Critic updates per generator iteration (Algorithm 1: 5)", lower_bound=1)
flags.DEFINE_float("clip_value", 0.01, "Clip every critic weight to [-c, c] (Algorithm 1: c = 0.01)")
flags.DEFINE_float("learning_rate", 5e-5, "RMSProp step size alpha, both networks (Algorithm 1: 5e-5)", lower_bound=0.0)
flags.DEFINE_float(
    "beta1", 0.0, "RMSProp momentum, the counterpart of Adam's beta1 (paper: 0; Section 3 found momentum unstable)",
    lower_bound=0.0, upper_bound=1.0,
)
flags.DEFINE_bool("official_critic_schedule", False, "100 critic updates for the first 25 and every 500th generator iteration")
flags.register_validator("clip_value", lambda c: c > 0, "--clip_value must be positive")
FLAGS = flags.FLAGS


def make_optimizers(config):
    """RMSProp for G and for D, as Algorithm 1 specifies."""
    # The paper gives only the step size; rho = 0.9 is the TF default that the WGAN-GP
    # code's WGAN baselines used.
    return (
        keras.optimizers.RMSprop(config["learning_rate"], momentum=config["beta1"]),
        keras.optimizers.RMSprop(config["learning_rate"], momentum=config["beta1"]),
    )


def make_models(config):
    """G, D and their optimizers, as the paper specifies."""
    num_classes = config.get("num_classes", 0)  # set by --conditional
    generator = networks.make_generator(config["image_shape"], num_classes=num_classes)
    discriminator = networks.make_discriminator(config["image_shape"], num_classes=num_classes)
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
        """Alg. 1 lines 2-8: one critic update.

        real_images: [batch_size, H, W, C] in [-1, 1]; labels: their classes [batch_size],
        used only with --conditional, where G is asked for the same classes.
        """
        noise = tf.random.normal([batch_size, latent_dim])  # line 4: z ~ p(z)
        fake_images = generator(conditioned(noise, labels), training=True)  # g(z)
        with tf.GradientTape() as tape:
            real_output = discriminator(conditioned(real_images, labels), training=True)
            fake_output = discriminator(conditioned(fake_images, labels), training=True)
            critic_loss = losses.discriminator_loss(real_output, fake_output)
            loss = critic_loss  # line 5
            # Replicas' gradients are summed, so each replica's loss counts 1/replicas; the
            # float16 loss scale (if any) keeps small gradients from underflowing.
            scaled_loss = discriminator_optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, discriminator.trainable_variables)
        discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))  # line 6
        # ALGO: weight clipping keeps the critic in a compact set of K-Lipschitz functions.
        for weight in discriminator.trainable_variables:  # line 7: w = clip(w, -c, c)
            weight.assign(tf.clip_by_value(weight, -config["clip_value"], config["clip_value"]))
        return {
            "loss/discriminator": loss,
            "discriminator/real": tf.reduce_mean(real_output),
            "discriminator/fake": tf.reduce_mean(fake_output),
            "wasserstein_estimate": -critic_loss,
        }

    def generator_step():
        """Alg. 1 lines 9-11: one generator update."""
        noise = tf.random.normal([batch_size, latent_dim])  # line 9
        # --conditional: ask G for classes drawn uniformly (the labelled datasets are balanced).
        labels = tf.random.uniform([batch_size], 0, config["num_classes"], tf.int32) if config["conditional"] else None
        with tf.GradientTape() as tape:
            fake_images = generator(conditioned(noise, labels), training=True)
            fake_output = discriminator(conditioned(fake_images, labels), training=True)
            loss = losses.generator_loss(fake_output)  # line 10
            scaled_loss = generator_optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, generator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))  # line 11
        return {"loss/generator": loss}

    return (
        runs.distribute(strategy, discriminator_step, config["jit_compile"]),
        runs.distribute(strategy, generator_step, config["jit_compile"]),
    )


def critic_updates(step, config):
    """n_critic, or the official code's schedule: 100 while the critic is far from optimal."""
    done = step - 1  # generator iterations finished before this one (the official code's counter)
    if config["official_critic_schedule"] and (done < 25 or done % 500 == 0):
        return 100
    return config["n_critic"]


def train_iteration(real_batches, discriminator_step, generator_step, n_critic):
    """One generator iteration (Alg. 1 lines 2-11): n_critic critic updates, then one generator update."""
    for _ in range(n_critic):
        metrics = discriminator_step(*next(real_batches))  # line 3: a fresh real batch for every update
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
            n_critic = critic_updates(step, config)
            metrics = train_iteration(real_batches, discriminator_step, generator_step, n_critic)
            run.end_step(step, metrics)


def main(argv):
    if len(argv) > 1:
        raise runs.UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
    train(runs.config_from_flags(sys.modules[__name__], variant="wgan"))


if __name__ == "__main__":
    runs.run(main)
