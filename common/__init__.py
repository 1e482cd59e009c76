"""Plumbing shared by the three GAN variants: data, image grids, run directories, logging.

Nothing in here is part of an algorithm. Losses, penalties, clipping, networks and
optimizers live in each variant's own directory so that each one reads alone.

Importing it imports TensorFlow without its routine C++ start-up notes (common/startup.py).
Every command imports it first, so a Ctrl-C from here on, TensorFlow's import included (the
first seconds of a command), ends in one line with exit status 130, not a traceback.
"""
import arguments

arguments.end_in_one_line()
with arguments.interrupts_kept():  # a Ctrl-C that lands in a C extension's import is not lost
    from common import startup

    startup.import_tensorflow_quietly()
