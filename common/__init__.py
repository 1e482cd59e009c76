"""Plumbing shared by the three GAN variants: data, image grids, run directories, logging.

Nothing in here is part of an algorithm. Losses, penalties, clipping, networks and
optimizers live in each variant's own directory so that each one reads alone.
"""
import os

# TensorFlow prints a screenful of C++ start-up notes (oneDNN, CUDA probing) at
# INFO and WARNING level. Hide those unless the user asked for a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
