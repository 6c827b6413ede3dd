"""Improved precision and recall (Kynkäänniemi et al. 2019), as ada-pytorch metrics/precision_recall.py:
a sample is inside a set's manifold if it lies within the distance of some set member to that member's
k-th nearest neighbour (k = nhood_size, the member itself not counted). Precision: fakes inside the reals'
manifold; recall: reals inside the fakes'. Features are VGG-16 fc2, held in float16 as there; the radii are
compared in float16 too."""
import numpy as np

from common.metrics import metric_utils


def _distances(rows, cols):
    """Euclidean distances [len(rows), len(cols)] in float32 (torch.cdist)."""
    d2 = (np.square(rows).sum(1)[:, None] - 2 * rows @ cols.T + np.square(cols).sum(1)[None, :])
    return np.sqrt(np.maximum(d2, 0))


def manifold_precision(manifold, probes, nhood_size, row_batch_size=1000):
    """Fraction of `probes` inside the k-NN manifold of `manifold` (both [N, D])."""
    manifold = manifold.astype(np.float16).astype(np.float32)
    probes = probes.astype(np.float16).astype(np.float32)
    kth = np.concatenate([np.partition(_distances(manifold[i:i + row_batch_size], manifold), nhood_size, axis=1)
                          [:, nhood_size] for i in range(0, len(manifold), row_batch_size)]).astype(np.float16)
    inside = [(_distances(probes[i:i + row_batch_size], manifold).astype(np.float16) <= kth[None, :]).any(axis=1)
              for i in range(0, len(probes), row_batch_size)]
    return float(np.concatenate(inside).astype(np.float32).mean())


def precision_recall(real_features, gen_features, nhood_size, row_batch_size=1000):
    return (manifold_precision(real_features, gen_features, nhood_size, row_batch_size),
            manifold_precision(gen_features, real_features, nhood_size, row_batch_size))


def compute_pr(opts, max_real, num_gen, nhood_size):
    """Row batches of 1000 instead of the official 10000 bound the CPU memory; the result does not depend on it."""
    real = metric_utils.dataset_stats(opts, 'vgg16_features', max_items=max_real, capture_all=True).get_all()
    gen = metric_utils.generator_stats(opts, 'vgg16_features', num_gen, capture_all=True).get_all()
    return precision_recall(real, gen, nhood_size)
