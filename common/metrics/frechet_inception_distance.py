"""Fréchet Inception Distance (Heusel et al. 2017), as ada-pytorch metrics/frechet_inception_distance.py:
the Fréchet distance between Gaussians fitted to the Inception pool_3 features of reals and fakes."""
import numpy as np

from common.metrics import metric_utils


def trace_sqrt_product(sigma1, sigma2):
    """Tr((S1 S2)^(1/2)) for covariances S1, S2: the sum of the square roots of the eigenvalues of S1 S2, which
    are those of the symmetric S1^(1/2) S2 S1^(1/2). The official code takes the trace of
    scipy.linalg.sqrtm(S1 S2) (real part); this gives the same number to rounding (tested) with two
    symmetric eigendecompositions, ~20x faster at 2048 dimensions on a CPU (Schur-based sqrtm takes minutes)."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.maximum(w, 0))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sum(np.sqrt(np.maximum(eig, 0))))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))."""
    m = np.square(mu1 - mu2).sum()
    return float(m + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def compute_fid(opts, max_real, num_gen):
    """max_real: reals used (None = all); num_gen: fakes."""
    mu_real, sigma_real = metric_utils.dataset_stats(opts, 'inception', max_items=max_real,
                                                     capture_mean_cov=True).get_mean_cov()
    mu_gen, sigma_gen = metric_utils.generator_stats(opts, 'inception', num_gen, capture_mean_cov=True).get_mean_cov()
    return frechet_distance(mu_gen, sigma_gen, mu_real, sigma_real)
