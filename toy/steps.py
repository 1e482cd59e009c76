"""A variant's own optimizers and steps, for networks other than its image networks."""
import tensorflow as tf

from common import devices


def make_steps(train_module, generator, discriminator, config):
    """(discriminator_step, generator_step) from train_module.make_optimizers and train_module.make_steps.

    train_module: a variant's train module (variants.module(name, "train")); the
    optimizers are built here, as each make_models builds them for the image networks.
    Every update draws its z (and eps) from one tf.random.Generator seeded with
    config["seed"] (devices.make_rng), so no two updates see the same numbers.
    """
    generator_optimizer, discriminator_optimizer = train_module.make_optimizers(config)
    generator_optimizer.build(generator.trainable_variables)
    discriminator_optimizer.build(discriminator.trainable_variables)
    rng = devices.make_rng(config["seed"])
    return train_module.make_steps(generator, discriminator, generator_optimizer, discriminator_optimizer, rng, config,
                            tf.distribute.get_strategy())
