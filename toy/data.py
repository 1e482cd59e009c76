"""The 2-D toy distributions of the WGAN-GP paper, built as its official gan_toy.py builds them.

  8gaussians   8 Gaussians on a circle of radius 2 (std 0.02), all divided by 1.414
  25gaussians  a 5x5 grid of Gaussians at -4, -2, 0, 2, 4 (std 0.05), divided by 2.828
  swissroll    a Swiss roll (sklearn's make_swiss_roll, noise 0.25), columns 0 and 2, / 7.5
The divisions bring each set to roughly unit standard deviation. `centres`, `STD` and
`MODE_RADIUS` describe the mixtures' modes for mode coverage (common.metrics.mode_coverage).
"""
import math

import numpy as np

NAMES = ("8gaussians", "25gaussians", "swissroll")
SCALE = {"8gaussians": 1.414, "25gaussians": 2.828, "swissroll": 7.5}  # gan_toy.py's divisors
# Standard deviation of each mixture component per coordinate, after the division.
STD = {"8gaussians": 0.02 / 1.414, "25gaussians": 0.05 / 2.828}
# How near a mode a sample must be for the mode to count as reached: about a fifth of the
# distance between neighbouring modes (1.08 in 8gaussians, 0.71 in 25gaussians), so no
# sample is near two modes; 7-10 standard deviations, which a generator reaches long
# before it matches the modes' tiny widths.
MODE_RADIUS = 0.15


def centres(name):
    """The mixture's component means [K, 2], after the division; None for the Swiss roll."""
    if name == "8gaussians":
        diagonal = 1.0 / math.sqrt(2.0)
        unit = [(1, 0), (-1, 0), (0, 1), (0, -1), (diagonal, diagonal), (diagonal, -diagonal),
                (-diagonal, diagonal), (-diagonal, -diagonal)]
        return 2.0 * np.array(unit) / SCALE[name]
    if name == "25gaussians":
        return np.array([(2.0 * x, 2.0 * y) for x in range(-2, 3) for y in range(-2, 3)]) / SCALE[name]
    if name == "swissroll":
        return None
    raise ValueError(f"unknown toy dataset {name!r}; choose one of {', '.join(NAMES)}")


def sample(name, count, rng):
    """`count` points [count, 2] float32 of the named distribution, drawn with the NumPy Generator `rng`."""
    if name == "swissroll":
        # make_swiss_roll: t ~ 1.5 pi (1 + 2 U[0, 1]); the roll is (t cos t, t sin t) plus
        # N(0, 0.25^2) noise on each coordinate (its third, "height" coordinate is dropped).
        t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=count))
        points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) + 0.25 * rng.standard_normal((count, 2))
        return (points / SCALE[name]).astype(np.float32)
    means = centres(name)
    chosen = means[rng.integers(len(means), size=count)]
    return (chosen + STD[name] * rng.standard_normal((count, 2))).astype(np.float32)


def batches(name, batch_size, seed):
    """An endless iterator of (points [batch_size, 2], labels [batch_size]) batches.

    The labels are all 0: the trainers' steps take (samples, labels) pairs, and the
    toy sets are unlabelled.
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros(batch_size, np.int32)
    while True:
        yield sample(name, batch_size, rng), labels
