"""Shared machinery of the metrics (ada-pytorch metrics/metric_utils.py): the options of one evaluation,
streaming feature statistics, reals from the dataset (cached per dataset and feature network), and fakes
from the generator.

Reals are read in dataset order, unshuffled and unmirrored (ada-pytorch's `_full` metrics: xflip off, all
images), as uint8; grayscale is tiled to RGB for the feature networks. Fakes are drawn as the official
metrics draw them: z ~ N(0, 1), labels of random dataset images, truncation psi 1, StyleGAN2 with random
noise inputs, converted to uint8 with the family's own rule (StyleGAN2-ADA: x*127.5 + 128 truncated;
ProGAN: x*127.5 + 127.5 rounded).
"""
import dataclasses
import hashlib
import os
import sys
from typing import Optional

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.util.files import save_atomic
from common.util.images import to_uint8_progan
from data.dataset import Dataset


@dataclasses.dataclass
class MetricOptions:
    sampler: object                         # The generator, as common.util.sampler.Sampler (its family's sampler(Gs)).
    data: str                               # TFRecord dataset directory of the reals.
    nets: object                            # detectors.FeatureNetworks.
    num_images: Optional[int] = None        # Overrides every metric's image / sample count (CPU smoke runs).
    cache_dir: Optional[str] = None         # Dataset statistics; None = $GAN_METRICS_CACHE or ~/.cache/gan-metrics.
    seed: int = 0                           # Latents, labels, noise and subsets.
    batch_size: int = 32                    # Images per feature-network call.
    progress: bool = True                   # tqdm bars.
    _dataset: object = dataclasses.field(default=None, init=False, repr=False)

    @property
    def label_size(self):
        return self.sampler.c_dim

    @property
    def z_dim(self):
        return self.sampler.z_dim

    def count(self, official):
        return int(self.num_images) if self.num_images else official

    def dataset(self):
        """The reals, opened once per evaluation (opening walks every record of every resolution). A dataset
        whose images are not the generator's shape is refused: every metric would compare unlike images."""
        if self._dataset is None:
            dataset = Dataset(self.data, max_label_size=self.label_size or 0, shuffle_mb=0, seed=self.seed)
            resolution, channels = self.sampler.resolution, self.sampler.channels
            if (dataset.resolution, dataset.num_channels) != (resolution, channels):
                raise ValueError(f'--data={self.data} holds {dataset.resolution}x{dataset.resolution}x'
                                 f'{dataset.num_channels} images, the network generates {resolution}x{resolution}x'
                                 f'{channels}: give the dataset the network was trained on')
            self._dataset = dataset
        return self._dataset


def default_cache_dir():
    return os.environ.get('GAN_METRICS_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'gan-metrics')


class FeatureStats:
    """Running statistics of feature vectors: all of them (`capture_all`) and/or their mean and covariance
    (`capture_mean_cov`, accumulated in float64 as ada-pytorch does), up to `max_items`."""

    def __init__(self, capture_all=False, capture_mean_cov=False, max_items=None):
        self.capture_all, self.capture_mean_cov, self.max_items = capture_all, capture_mean_cov, max_items
        self.num_items, self.all_features, self.raw_mean, self.raw_cov = 0, [], None, None

    def is_full(self):
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, x):
        x = np.asarray(x, np.float32)
        if self.max_items is not None:
            x = x[:max(self.max_items - self.num_items, 0)]
        if not len(x):
            return
        self.num_items += len(x)
        if self.capture_all:
            self.all_features.append(x)
        if self.capture_mean_cov:
            x64 = x.astype(np.float64)
            if self.raw_mean is None:
                self.raw_mean, self.raw_cov = np.zeros(x.shape[1]), np.zeros([x.shape[1]] * 2)
            self.raw_mean += x64.sum(axis=0)
            self.raw_cov += x64.T @ x64

    def get_all(self):
        return np.concatenate(self.all_features) if self.all_features else np.zeros([0, 0], np.float32)

    def get_mean_cov(self):
        """Mean and the biased covariance E[xx^T] - mu mu^T, as ada-pytorch."""
        mean = self.raw_mean / self.num_items
        return mean, self.raw_cov / self.num_items - np.outer(mean, mean)

    def save(self, path):
        arrays = {'num_items': np.int64(self.num_items)}
        if self.capture_all:
            arrays['all'] = self.get_all()
        if self.capture_mean_cov:
            arrays['raw_mean'], arrays['raw_cov'] = self.raw_mean, self.raw_cov
        save_atomic(path, lambda tmp: np.savez(tmp, **arrays), suffix='.npz')

    @classmethod
    def load(cls, path, capture_all, capture_mean_cov):
        with np.load(path) as f:
            stats = cls(capture_all, capture_mean_cov)
            stats.num_items = int(f['num_items'])
            if capture_all:
                stats.all_features = [f['all']]
            if capture_mean_cov:
                stats.raw_mean, stats.raw_cov = f['raw_mean'], f['raw_cov']
        return stats


def progress_bar(opts, total, desc):
    return tqdm(total=total, desc=desc, unit='img', dynamic_ncols=True, file=sys.stderr, disable=not opts.progress,
                leave=False)


def to_rgb(images_uint8):
    return np.repeat(images_uint8, 3, axis=-1) if images_uint8.shape[-1] == 1 else images_uint8


def iterate_reals(opts, max_items=None, batch_size=None):
    """Yields uint8 [n, R, R, C] batches of the dataset's first min(max_items, all) images, in order."""
    dataset = opts.dataset()
    batch_size = batch_size or opts.batch_size
    num = dataset.num_images if max_items is None else min(max_items, dataset.num_images)
    done = 0
    for images, _ in dataset.pipeline(dataset.resolution, batch_size):
        take = min(batch_size, num - done)
        yield to_uint8_progan(images.numpy()[:take])   # Exact inverse of the reader's [0, 255] -> [-1, 1].
        done += take
        if done >= num:
            return


def random_labels(opts, rnd, num, dataset_labels):
    """Labels of `num` random dataset images (ada-pytorch); zero-width without conditioning."""
    if not opts.label_size:
        return np.zeros([num, 0], np.float32)
    return dataset_labels[rnd.randint(len(dataset_labels), size=num)].astype(np.float32)


def iterate_fakes(opts, num, batch_size=None, seed_offset=0):
    """Yields uint8 generated batches, `num` images in all, from RandomState(opts.seed + seed_offset)."""
    rnd = np.random.RandomState(opts.seed + seed_offset)
    labels = opts.dataset().labels if opts.label_size else None
    batch_size = batch_size or opts.batch_size
    for begin in range(0, num, batch_size):
        n = min(batch_size, num - begin)
        z = rnd.randn(n, opts.z_dim).astype(np.float32)
        yield opts.sampler.sample(z, random_labels(opts, rnd, n, labels))


def compute_stats(opts, batches, total, detector, desc, capture_all=False, capture_mean_cov=False, probs=False):
    """Feature statistics of uint8 image batches under `detector` (an InceptionV3Features / VGG16Features);
    with `probs`, of the Inception classifier's softmax probabilities instead (IS)."""
    stats = FeatureStats(capture_all, capture_mean_cov, max_items=total)
    with progress_bar(opts, total, desc) as bar:
        for images in batches:
            features = detector.features(to_rgb(images))
            if probs:
                features = tf.nn.softmax(detector.logits(features))
            stats.append(features.numpy())
            bar.update(len(images))
    return stats


def dataset_stats(opts, kind, max_items=None, capture_all=False, capture_mean_cov=False):
    """Statistics of the reals under feature network `kind`, cached per dataset, feature network and options:
    the file name carries an md5 of them all (ada-pytorch's cache tag), so a change of any reuses nothing."""
    dataset = opts.dataset()
    num = dataset.num_images if max_items is None else min(max_items, dataset.num_images)
    key = dict(data=os.path.abspath(opts.data), resolution=dataset.resolution, dataset_images=dataset.num_images,
               num=num, detector=opts.nets.identity(kind), capture_all=capture_all, capture_mean_cov=capture_mean_cov)
    md5 = hashlib.md5(repr(sorted(key.items())).encode('utf-8')).hexdigest()
    cache_dir = opts.cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, f'{os.path.basename(os.path.abspath(opts.data))}-{kind}-{md5}.npz')
    if os.path.isfile(path):
        return FeatureStats.load(path, capture_all, capture_mean_cov)
    stats = compute_stats(opts, iterate_reals(opts, num), num, opts.nets.get(kind), f'{kind} reals',
                          capture_all=capture_all, capture_mean_cov=capture_mean_cov)
    os.makedirs(cache_dir, exist_ok=True)
    stats.save(path)
    return stats


def generator_stats(opts, kind, num, capture_all=False, capture_mean_cov=False, probs=False):
    return compute_stats(opts, iterate_fakes(opts, num), num, opts.nets.get(kind), f'{kind} fakes',
                         capture_all=capture_all, capture_mean_cov=capture_mean_cov, probs=probs)
