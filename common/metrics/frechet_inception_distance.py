"""Fréchet Inception Distance (Heusel et al. 2017), as ada-pytorch metrics/frechet_inception_distance.py:
the Fréchet distance between Gaussians fitted to the Inception pool_3 features of reals and fakes."""
import numpy as np
import scipy.linalg

from common.metrics import metric_utils


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)); the real part, as the official code takes it."""
    m = np.square(mu1 - mu2).sum()
    s, _ = scipy.linalg.sqrtm(np.dot(sigma1, sigma2), disp=False)
    return float(np.real(m + np.trace(sigma1 + sigma2 - s * 2)))


def compute_fid(opts, max_real, num_gen):
    """max_real: reals used (None = all); num_gen: fakes."""
    mu_real, sigma_real = metric_utils.dataset_stats(opts, 'inception', max_items=max_real,
                                                     capture_mean_cov=True).get_mean_cov()
    mu_gen, sigma_gen = metric_utils.generator_stats(opts, 'inception', num_gen, capture_mean_cov=True).get_mean_cov()
    return frechet_distance(mu_gen, sigma_gen, mu_real, sigma_real)
