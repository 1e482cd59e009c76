"""Plumbing shared by the three GAN variants: data, image grids, run directories, logging.

Nothing in here is part of an algorithm. Losses, penalties, clipping, networks and
optimizers live in each variant's own directory so that each one reads alone.

Importing it imports TensorFlow without its routine C++ start-up notes (common/startup.py).
"""
from common import startup

startup.import_tensorflow_quietly()
