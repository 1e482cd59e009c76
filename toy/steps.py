"""A variant's own optimizers and steps, for networks other than its image networks."""
import tensorflow as tf


def make_steps(train, generator, discriminator, config):
    """(discriminator_step, generator_step) from train.make_optimizers and train.make_steps.

    train: a variant's train module (dcgan.train, wgan.train or wgan_gp.train); the
    optimizers are built here, as each make_models builds them for the image networks.
    """
    generator_optimizer, discriminator_optimizer = train.make_optimizers(config)
    generator_optimizer.build(generator.trainable_variables)
    discriminator_optimizer.build(discriminator.trainable_variables)
    return train.make_steps(generator, discriminator, generator_optimizer, discriminator_optimizer, config,
                            tf.distribute.get_strategy())
