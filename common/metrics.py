"""Sample-quality metrics on features and class probabilities. NumPy only, no flags.

  frechet_distance(a, b)              FD between Gaussians fitted to two feature sets [N, D]
  kernel_inception_distance(a, b)     unbiased MMD^2 with the cubic polynomial kernel
  inception_score(probabilities)      exp(E_x KL(p(y|x) || p(y))) for class probabilities [N, K]
  class_coverage(probabilities)       classes holding a fair share of the samples, KL from uniform
  mode_coverage(samples, centres, r)  2-D mixtures: modes reached and the share of samples near one
  sliced_wasserstein(a, b)            mean 1-D Wasserstein-1 distance over random projections

With InceptionV3 features these are FID, KID and the Inception Score; with the
repo's own digit classifier (common/classifier.py) they are "classifier FD",
"classifier KID" and "classifier score", on a different and smaller scale.
All take float arrays and compute in float64.
"""
import numpy as np

# A class "holds a fair share" when it has at least half of the samples it would
# have under a uniform class distribution.
FAIR_SHARE = 0.5


def _sqrt_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix.

    Uses an eigendecomposition and clips the tiny negative eigenvalues that
    round-off gives a rank-deficient covariance; unlike a general matrix square
    root, this never returns complex values.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(C_a) + Tr(C_b) - 2 Tr((C_a C_b)^(1/2)).

    features_a [N_a, D], features_b [N_b, D]: one row per image (N >= 2); returns a float >= 0
    in squared feature units. Tr((C_a C_b)^(1/2)) = Tr((C_a^(1/2) C_b C_a^(1/2))^(1/2)), and
    the matrix inside is symmetric positive semi-definite, so both roots are taken by
    _sqrt_psd: two D x D eigendecompositions. With fewer images than dimensions (a small
    folder against InceptionV3's D = 2048) the same trace is the sum of the singular values
    of the N_b x N_a matrix B A^T / sqrt((N_a - 1)(N_b - 1)), A and B the centred features
    (C_a C_b has the nonzero eigenvalues of (B A^T)(B A^T)^T scaled so), which is cheaper.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    if min(len(a), len(b)) < a.shape[1]:
        centred_a, centred_b = a - mean_a, b - mean_b
        scale_a, scale_b = len(a) - 1, len(b) - 1
        trace_a, trace_b = np.sum(centred_a**2) / scale_a, np.sum(centred_b**2) / scale_b
        singular_values = np.linalg.svd(centred_b @ centred_a.T, compute_uv=False)
        trace_root = singular_values.sum() / np.sqrt(scale_a * scale_b)
    else:
        cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
        root_a = _sqrt_psd(cov_a)
        middle = root_a @ cov_b @ root_a
        eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
        trace_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
        trace_a, trace_b = np.trace(cov_a), np.trace(cov_b)
    distance = np.sum((mean_a - mean_b) ** 2) + trace_a + trace_b - 2.0 * trace_root
    return float(max(distance, 0.0))


def _polynomial_mmd2(x, y):
    """Unbiased MMD^2 with k(u, v) = (<u, v> / D + 1)^3 (Binkowski et al. 2018, arXiv:1801.01401)."""
    dimension = x.shape[1]
    k_xx = (x @ x.T / dimension + 1.0) ** 3
    k_yy = (y @ y.T / dimension + 1.0) ** 3
    k_xy = (x @ y.T / dimension + 1.0) ** 3
    m, n = len(x), len(y)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))  # the diagonal k(x_i, x_i) is left out
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return term_xx + term_yy - 2.0 * k_xy.mean()


def kernel_inception_distance(features_a, features_b, subset_size=1000, num_subsets=10, seed=0):
    """The mean (and standard deviation) of the unbiased MMD^2 over random subsets.

    Unbiased: its expectation is 0 when both sets come from one distribution, so
    it can come out slightly negative. Subsets keep the kernel matrices small.
    Returns (mean, std).
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        _polynomial_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def inception_score(probabilities, eps=1e-12):
    """exp(E_x KL(p(y|x) || p(y))), with p(y) the mean prediction. Between 1 and K."""
    p = np.asarray(probabilities, np.float64)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def class_coverage(probabilities):
    """(classes covered, KL(class histogram || uniform)) for predictions [N, K].

    A class is covered when at least FAIR_SHARE * N / K samples are predicted to
    be of it. The KL is 0 for perfectly balanced classes and log K for one class.
    """
    p = np.asarray(probabilities)
    count, classes = p.shape
    histogram = np.bincount(p.argmax(axis=1), minlength=classes) / count
    covered = int(np.sum(histogram >= FAIR_SHARE / classes))
    nonzero = histogram[histogram > 0]
    return covered, float(np.sum(nonzero * np.log(nonzero * classes)))


# A mode is covered when at least this fraction of its fair share of samples (N / modes)
# lies near it: a mode that the generator reaches, even if it gives it less mass than
# the data does.
MODE_SHARE = 0.1


def mode_coverage(samples, centres, radius):
    """For 2-D mixtures: (modes covered, fraction of samples near a mode).

    samples [N, 2]; centres [K, 2]. A sample is near a mode when it lies within
    `radius` of its nearest centre; a mode is covered when at least MODE_SHARE * N / K
    samples are near it.
    """
    samples, centres = np.asarray(samples, np.float64), np.asarray(centres, np.float64)
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    near = distances[np.arange(len(samples)), nearest] < radius
    counts = np.bincount(nearest[near], minlength=len(centres))
    return int(np.sum(counts >= MODE_SHARE * len(samples) / len(centres))), float(near.mean())


def sliced_wasserstein(samples_a, samples_b, num_projections=256, seed=0):
    """The sliced 1-Wasserstein distance between two equal-size point sets [N, D].

    The mean over random unit directions of the exact 1-D Wasserstein-1 distance
    between the projected sets (the mean gap between their sorted projections); in
    the data's own units.
    """
    samples_a, samples_b = np.asarray(samples_a, np.float64), np.asarray(samples_b, np.float64)
    if samples_a.shape != samples_b.shape:
        raise ValueError(f"need sets of one shape, not {samples_a.shape} and {samples_b.shape}")
    directions = np.random.default_rng(seed).standard_normal((samples_a.shape[1], num_projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    projected_a, projected_b = np.sort(samples_a @ directions, axis=0), np.sort(samples_b @ directions, axis=0)
    return float(np.mean(np.abs(projected_a - projected_b)))
