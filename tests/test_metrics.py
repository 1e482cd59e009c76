"""The metrics on inputs whose answers are known in closed form."""
import math

import numpy as np
import pytest

from common import metrics


def with_moments(rng, count, mean, covariance):
    """Samples whose empirical mean and covariance (ddof=1) are exactly `mean` and `covariance`."""
    x = rng.standard_normal((count, len(mean)))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(x, rowvar=False)))).T  # whiten
    return x @ np.linalg.cholesky(covariance).T + mean


def test_fd_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).standard_normal((500, 16)) * 3 + 1
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("rotate", [False, True])
def test_fd_between_gaussians_matches_the_closed_form(rotate):
    rng = np.random.default_rng(1)
    dimension = 6
    variances_a, variances_b = rng.uniform(0.2, 4.0, dimension), rng.uniform(0.2, 4.0, dimension)
    mean_a, mean_b = rng.standard_normal(dimension), rng.standard_normal(dimension)
    rotation = np.linalg.qr(rng.standard_normal((dimension, dimension)))[0] if rotate else np.eye(dimension)
    cov_a = rotation @ np.diag(variances_a) @ rotation.T
    cov_b = rotation @ np.diag(variances_b) @ rotation.T
    # Covariances with the same eigenvectors: Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) = sum (sqrt(a_i) - sqrt(b_i))^2.
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(variances_a) - np.sqrt(variances_b)) ** 2)
    a = with_moments(rng, 2000, mean_a, cov_a)
    b = with_moments(rng, 3000, mean_b, cov_b)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fd_of_one_dimensional_gaussians():
    rng = np.random.default_rng(2)
    a = with_moments(rng, 1000, np.array([0.0]), np.array([[1.0]]))
    b = with_moments(rng, 1000, np.array([3.0]), np.array([[4.0]]))
    assert metrics.frechet_distance(a, b) == pytest.approx(3.0**2 + (1.0 - 2.0) ** 2, rel=1e-6)


def test_fd_survives_rank_deficient_covariances():
    rng = np.random.default_rng(3)
    a = np.zeros((100, 10))
    a[:, :3] = rng.standard_normal((100, 3))  # 7 constant dimensions: a singular covariance
    b = a + 0.5
    value = metrics.frechet_distance(a, b)
    assert np.isfinite(value) and value == pytest.approx(10 * 0.25, rel=1e-5)


@pytest.mark.parametrize("counts", [(12, 30), (30, 12), (40, 40)])
def test_fd_with_fewer_samples_than_dimensions_equals_the_covariance_form(counts):
    # Below D samples FD takes the trace from the samples' own N x N products: the same
    # number as the D x D eigendecompositions, here computed from the covariances directly.
    rng = np.random.default_rng(5)
    dimension = 64
    a = rng.standard_normal((counts[0], dimension)) * rng.uniform(0.5, 3.0, dimension)
    b = rng.standard_normal((counts[1], dimension)) @ rng.standard_normal((dimension, dimension)) / 8 + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = metrics._sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    # The covariance form's own error: each of the D - N zero eigenvalues comes out as
    # round-off of order eps * ||C||, and its square root, up to sqrt(eps * ||C||), is summed.
    slack = 2 * dimension * np.sqrt(np.finfo(np.float64).eps * max(np.trace(cov_a), np.trace(cov_b)))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=0, abs=slack)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=slack)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2000, 32)), rng.standard_normal((2000, 32))
    same, same_std = metrics.kernel_inception_distance(a, b, subset_size=500, num_subsets=10)
    shifted, _ = metrics.kernel_inception_distance(a, b + 0.5, subset_size=500, num_subsets=10)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.05 and shifted > 20 * abs(same)


@pytest.mark.parametrize("classes", [2, 10])
def test_score_is_k_for_confident_predictions_spread_evenly(classes):
    confident = np.repeat(np.eye(classes), 7, axis=0)  # each class predicted with certainty, 7 times
    assert metrics.inception_score(confident) == pytest.approx(classes, rel=1e-6)


def test_score_is_1_for_a_constant_prediction():
    constant = np.tile([0.1, 0.2, 0.7], (50, 1))
    assert metrics.inception_score(constant) == pytest.approx(1.0, abs=1e-9)


def test_class_coverage():
    balanced = np.repeat(np.eye(10), 30, axis=0)
    assert metrics.class_coverage(balanced) == (10, pytest.approx(0.0, abs=1e-12))
    one_class = np.tile(np.eye(10)[3], (300, 1))
    assert metrics.class_coverage(one_class) == (1, pytest.approx(math.log(10)))
    # One class holds 15 of 915 samples, 1.6%: under half of its fair share of 10%.
    counts = [100] * 9 + [15]
    skewed = np.concatenate([np.tile(np.eye(10)[k], (count, 1)) for k, count in enumerate(counts)])
    assert metrics.class_coverage(skewed)[0] == 9


# ---- 2-D toy metrics ---------------------------------------------------------------------


def test_mode_coverage_counts_modes_reached_and_on_mode_samples():
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    std = 0.01
    on_modes = centres[[0] * 500 + [1] * 400 + [2] * 10] + std * rng.standard_normal((910, 2))
    off_modes = np.full((90, 2), 0.5)  # halfway between every pair: never within 3 std
    covered, high_quality = metrics.mode_coverage(np.concatenate([on_modes, off_modes]), centres, 3 * std)
    # Mode 2 holds 10 samples, below a tenth of the fair share 1000 / 4 = 250; mode 3 none.
    assert covered == 2
    # A 2-D Gaussian puts 1 - exp(-9/2) = 98.9% of its points within 3 std of its mean.
    assert high_quality == pytest.approx(0.91 * (1 - math.exp(-4.5)), abs=0.006)
    covered, _ = metrics.mode_coverage(centres[rng.integers(4, size=1000)], centres, 3 * std)
    assert covered == 4


def test_sliced_wasserstein_of_a_shift_is_the_mean_projected_shift():
    rng = np.random.default_rng(3)
    # A shift keeps the order of every projection, so each sorted gap is exactly <u, d> and
    # the distance does not depend on the number of points; 200 are enough to sort.
    points = rng.standard_normal((200, 2))
    assert metrics.sliced_wasserstein(points, points) == 0.0
    # Shifting every point by d moves each 1-D projection by <u, d>: the distance is
    # E_u |<u, d>| = ||d|| * 2 / pi for directions u uniform on the circle.
    shift = np.array([0.3, -0.4])  # ||d|| = 0.5
    distance = metrics.sliced_wasserstein(points, points + shift, num_projections=20000)
    assert distance == pytest.approx(0.5 * 2 / math.pi, rel=0.02)
    with pytest.raises(ValueError):
        metrics.sliced_wasserstein(points, points[:10])
