"""Inception Score (Salimans et al. 2016), as ada-pytorch metrics/inception_score.py: exp of the mean KL
divergence between each image's class probabilities and their marginal, per split; mean and std over the
splits. Probabilities come from the Inception classifier without its output bias (`no_output_bias`)."""
import numpy as np

from common.metrics import metric_utils
from common.metrics.inception import FeatureNetError


def inception_score(probs, num_splits):
    scores = []
    for i in range(num_splits):
        part = probs[i * len(probs) // num_splits: (i + 1) * len(probs) // num_splits].astype(np.float64)
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def compute_is(opts, num_gen, num_splits):
    if not opts.nets.get('inception').has_classifier:
        raise FeatureNetError('IS needs the Inception classifier: inception_v3_softmax.pkl (official) or the Keras '
                              'InceptionV3 .h5 with its top; inception_v3_features.pkl has none')
    probs = metric_utils.generator_stats(opts, 'inception', num_gen, capture_all=True, probs=True).get_all()
    return inception_score(probs, num_splits)
