"""Kernel Inception Distance (Binkowski et al. 2018), as ada-pytorch metrics/kernel_inception_distance.py:
the unbiased estimate of the squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 on
Inception features, averaged over `num_subsets` random subsets of `max_subset_size` of each set."""
import numpy as np

from common.metrics import metric_utils


def kernel_distance(real_features, gen_features, num_subsets, max_subset_size, rnd):
    """The official estimator; `rnd` (np.random.RandomState) draws the subsets without replacement."""
    n = real_features.shape[1]
    m = min(min(real_features.shape[0], gen_features.shape[0]), max_subset_size)
    t = 0
    for _ in range(num_subsets):
        x = gen_features[rnd.choice(gen_features.shape[0], m, replace=False)].astype(np.float64)
        y = real_features[rnd.choice(real_features.shape[0], m, replace=False)].astype(np.float64)
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


def compute_kid(opts, max_real, num_gen, num_subsets, max_subset_size):
    real = metric_utils.dataset_stats(opts, 'inception', max_items=max_real, capture_all=True).get_all()
    gen = metric_utils.generator_stats(opts, 'inception', num_gen, capture_all=True).get_all()
    return kernel_distance(real, gen, num_subsets, max_subset_size, np.random.RandomState(opts.seed))
