"""Perceptual Path Length (StyleGAN, Karras et al. 2019), as ada-pytorch metrics/perceptual_path_length.py:
the LPIPS distance between images at t and t + epsilon along a path between two latents, divided by
epsilon^2; the mean after dropping values below the 1st and above the 99th percentile.

  space 'z': spherical interpolation of z; 'w': linear interpolation of the mapped w (StyleGAN2 only).
  sampling 'full': t ~ U(0, 1); 'end': t = 0.
  crop: the face crop, rows [3/8, 7/8) and columns [2/8, 6/8) of the image.
Both images of a pair get the same noise inputs (one draw per batch, as both official versions). Images
are box-downsampled by img_resolution // 256, ada-pytorch's factor (TF1 StyleGAN2 takes it from the cropped
height, which differs at 512 px and above with crop), then scaled to [0, 255] for VGG.
"""
import numpy as np
import tensorflow as tf

from common.metrics import metric_utils
from common.metrics.inception import FeatureNetError


def slerp(a, b, t):
    """Spherical interpolation of the directions of a and b [N, D] at t [N, 1] (the official slerp)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    d = np.sum(a * b, axis=-1, keepdims=True)
    p = t * np.arccos(np.clip(d, -1, 1))
    c = b - d * a
    c = c / np.linalg.norm(c, axis=-1, keepdims=True)
    d = a * np.cos(p) + c * np.sin(p)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def crop_and_scale(images, crop, img_resolution):
    """Synthesized images [N, H, W, C] in [-1, 1] -> the VGG input in [0, 255], RGB."""
    if crop:
        c = images.shape[1] // 8
        images = images[:, c * 3: c * 7, c * 2: c * 6, :]
    factor = img_resolution // 256
    if factor > 1:
        n, h, w, ch = images.shape
        images = tf.reduce_mean(tf.reshape(images, [n, h // factor, factor, w // factor, factor, ch]), axis=[2, 4])
    images = (images + 1) * (255 / 2)
    return tf.tile(images, [1, 1, 1, 3]) if images.shape[-1] == 1 else images


def filtered_mean(dist):
    """The official outlier rejection: mean of the values within the 1st..99th percentile."""
    lo = np.percentile(dist, 1, method='lower')
    hi = np.percentile(dist, 99, method='higher')
    return float(np.extract(np.logical_and(dist >= lo, dist <= hi), dist).mean())


def _endpoints(opts, rnd, z0, z1, t, c, space, epsilon):
    """The pair of images at t and t + epsilon, [2N, H, W, C] in [-1, 1] (first the N at t)."""
    sampler = opts.sampler
    cc = tf.constant(np.concatenate([c, c]), tf.float32)
    if sampler.mapping is None:
        if space == 'w':
            raise FeatureNetError('PPL in W needs a mapping network, which this generator has not (use a ppl_z* metric)')
        z = np.concatenate([slerp(z0, z1, t), slerp(z0, z1, t + epsilon)]).astype(np.float32)
        return sampler.generate(tf.constant(z), cc, 'random')
    if space == 'w':
        w0, w1 = np.split(np.asarray(sampler.mapping(tf.constant(np.concatenate([z0, z1]), tf.float32), cc),
                                     np.float64), 2)
        tt = t[:, :, None]
        ws = np.concatenate([w0 + (w1 - w0) * tt, w0 + (w1 - w0) * (tt + epsilon)])
    else:
        z = np.concatenate([slerp(z0, z1, t), slerp(z0, z1, t + epsilon)])
        ws = np.asarray(sampler.mapping(tf.constant(z, tf.float32), cc))
    return sampler.synthesis(ws, rnd)


def ppl_distances(opts, num_samples, epsilon, space, sampling, crop, batch_size=4):
    """The scaled LPIPS distance of `num_samples` pairs [num_samples]."""
    vgg = opts.nets.get('vgg16')
    rnd = np.random.RandomState(opts.seed)
    labels = opts.dataset().labels if opts.label_size else None
    resolution = opts.sampler.resolution
    dist = []
    with metric_utils.progress_bar(opts, num_samples, 'ppl sampling') as bar:
        for begin in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - begin)
            t = rnd.uniform(0, 1, [n, 1]) * (1 if sampling == 'full' else 0)
            z0, z1 = rnd.randn(n, opts.z_dim), rnd.randn(n, opts.z_dim)
            c = metric_utils.random_labels(opts, rnd, n, labels)
            images = crop_and_scale(_endpoints(opts, rnd, z0, z1, t, c, space, epsilon), crop, resolution)
            d = vgg(images[:n], images[n:]) / epsilon ** 2
            dist.append(d.numpy().astype(np.float64))
            bar.update(n)
    return np.concatenate(dist)


def compute_ppl(opts, num_samples, epsilon, space, sampling, crop):
    return filtered_mean(ppl_distances(opts, num_samples, epsilon, space, sampling, crop))
