"""Sliced Wasserstein Distance between two image sets (ProGAN paper, Section 5 and Appendix D).

A port of the official ProGAN `metrics/sliced_wasserstein.py` in numpy only. Every image is split into a
Laplacian pyramid (one level per resolution >= 16); from each level, 128 random 7x7 neighbourhoods per image
are taken as 147-component descriptors; each level's descriptors are normalized per channel, then compared
between the two sets with the sliced Wasserstein distance over 4 repeats of 128 random unit directions.
Reported values are x1e3, per resolution and their average, under the official names `SWDx1e3_<res>`.

Random numbers are drawn in the official order, from a given `np.random.RandomState` (or from numpy's
global RNG, as the official code does, when none is given):
  * `feed`: for each pyramid level, finest first, the patch x positions of the minibatch, then the y ones;
  * `end`:  for each level, finest first, and each direction repeat, one `randn(147, dirs_per_repeat)`.
So `RandomState(123)` passed where the official code called `np.random.seed(123)` reproduces its numbers.

Internally the images are NCHW float32, the official layout, because the descriptor component order
(channel, x, y; see `extract_descriptors`) is what the direction draws are matched against.
"""
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.util.images import to_uint8_progan
from data.dataset import Dataset

# cv2.pyrDown / pyrUp's 5x5 Gaussian is the outer product of this binomial row with itself.
_BINOMIAL_5 = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16.0


def _blur_axis(x, axis, weights):
    """1-D convolution along `axis` with symmetric `weights` and scipy.ndimage's mode='mirror' borders
    (= np.pad mode='reflect': the edge sample is not repeated). Float64 in and out."""
    r = len(weights) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    padded = np.pad(x, pad, mode='reflect')
    n = x.shape[axis]
    out = np.zeros(x.shape, np.float64)
    for k, w in enumerate(weights):
        out += w * padded.take(np.arange(k, k + n), axis=axis)
    return out


def _gaussian_blur(images, gain=1.0):
    """The official 5x5 Gaussian convolution (mode='mirror') of float32 [N, C, H, W], done separably.

    scipy.ndimage.convolve accumulates in float64 and rounds once to the input dtype; computing both passes in
    float64 and rounding once to float32 gives the same values (bit for bit on the reference fixture)."""
    x = images.astype(np.float64)
    x = _blur_axis(x, 2, _BINOMIAL_5 * gain)
    x = _blur_axis(x, 3, _BINOMIAL_5)
    return x.astype(np.float32)


def pyr_down(images):
    """cv2.pyrDown(): blur, then keep every second row and column. float32 [N, C, H, W] -> [N, C, H/2, W/2]."""
    return _gaussian_blur(images)[:, :, ::2, ::2]


def pyr_up(images):
    """cv2.pyrUp(): zero-interleave, then blur with 4x the gain. float32 [N, C, H, W] -> [N, C, 2H, 2W]."""
    n, c, h, w = images.shape
    sparse = np.zeros((n, c, h * 2, w * 2), np.float32)
    sparse[:, :, ::2, ::2] = images
    return _gaussian_blur(sparse, gain=4.0)


def laplacian_pyramid(images, num_levels):
    """uint8 or float [N, C, H, W] -> list of float32 levels, finest first; the last one is the low-pass rest."""
    pyramid = [np.asarray(images, np.float32)]
    for _ in range(1, num_levels):
        coarser = pyr_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyr_up(coarser)  # float32 subtraction, as in the official code.
        pyramid.append(coarser)
    return pyramid


def draw_patch_centers(num_images, height, width, nhood_size, nhoods_per_image, random_state):
    """Centers (x, y) of the random neighbourhoods, each [num_images * nhoods_per_image]; x drawn before y.

    Patch n belongs to image n // nhoods_per_image; centers keep the whole patch inside the image."""
    half = nhood_size // 2
    count = num_images * nhoods_per_image
    # The official draws have shape (N, 1, 1, 1); the stream of numbers is the same for a flat shape.
    x = random_state.randint(half, width - half, size=count)
    y = random_state.randint(half, height - half, size=count)
    return x, y


def extract_descriptors(level, x, y, nhood_size, nhoods_per_image):
    """The nhood_size^2 patches around (x, y) from float32 [N, C, H, W] -> [N * nhoods_per_image, C, k, k].

    Official quirk kept: a descriptor is indexed [patch, channel, x, y], i.e. each patch is transposed
    (its np.ogrid names the third axis x). The distance is the same up to the random directions, but the
    component order decides which direction component meets which pixel, hence the official numbers."""
    half = nhood_size // 2
    windows = np.lib.stride_tricks.sliding_window_view(level, (nhood_size, nhood_size), axis=(2, 3))
    image = np.arange(len(x)) // nhoods_per_image
    patches = windows[image, :, y - half, x - half]  # [patch, C, ky, kx]
    return np.ascontiguousarray(patches.transpose(0, 1, 3, 2))


def finalize_descriptors(descriptors):
    """Concatenate per-minibatch [n, C, k, k] descriptors and normalize every channel to zero mean and unit
    std over all patches and pixels (float32 statistics, as official). -> float32 [N, C * k * k]."""
    desc = np.concatenate(descriptors, axis=0) if isinstance(descriptors, list) else descriptors
    desc -= np.mean(desc, axis=(0, 2, 3), keepdims=True)
    desc /= np.std(desc, axis=(0, 2, 3), keepdims=True)
    return desc.reshape(len(desc), -1)


def draw_directions(num_components, num_directions, random_state):
    """Random unit directions, float32 [num_components, num_directions]: normalized in float64, then cast."""
    dirs = random_state.randn(num_components, num_directions)
    dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
    return dirs.astype(np.float32)


def sliced_wasserstein(desc_a, desc_b, dir_repeats, dirs_per_repeat, random_state):
    """Mean over repeats of the mean |sorted projection of A - sorted projection of B| over neighbourhoods and
    directions. desc_a, desc_b: float32 [N, D] with the same N. Returns a float32 scalar (not x1e3)."""
    assert desc_a.ndim == 2 and desc_a.shape == desc_b.shape, (desc_a.shape, desc_b.shape)
    per_repeat = []
    for _ in range(dir_repeats):
        dirs = draw_directions(desc_a.shape[1], dirs_per_repeat, random_state)
        if desc_a is desc_b:
            per_repeat.append(np.float32(0))  # Identical sorted projections: exactly 0, but the draws still count.
            continue
        # [direction, N]: the transpose of the official layout, so that each direction sorts a contiguous row
        # (sorting took 6x less time at 2048 images). Same values up to float32 rounding of the products.
        proj_a = dirs.T @ desc_a.T
        proj_b = dirs.T @ desc_b.T
        proj_a.sort(axis=1)  # In place: these are 128 x N float32, N = images * nhoods_per_image.
        proj_b.sort(axis=1)
        per_repeat.append(np.mean(np.abs(proj_a - proj_b)))
    return np.mean(per_repeat)


def metric_names(resolution):
    return ['SWDx1e3_%d' % res for res in _resolutions(resolution)] + ['SWDx1e3_avg']


def _resolutions(resolution):
    """Full resolution and its halvings down to 16: the levels the official metric evaluates."""
    res, out = int(resolution), []
    while res >= 16:
        out.append(res)
        res //= 2
    return out


def _to_nchw_rgb(images, layout):
    """uint8 NHWC or NCHW, 1 or 3 channels -> NCHW, 3 channels (grayscale tiled, as util_scripts does)."""
    images = np.asarray(images)
    assert images.ndim == 4, images.shape
    if layout == 'NHWC':
        images = images.transpose(0, 3, 1, 2)
    elif layout != 'NCHW':
        raise ValueError("layout must be 'NHWC' or 'NCHW', got %r" % (layout,))
    if images.shape[1] == 1:
        images = np.tile(images, [1, 3, 1, 1])
    if images.shape[1] != 3:
        raise ValueError('SWD needs 1 or 3 channels, got images of shape %s (%s)' % (images.shape, layout))
    return images


class SWD:
    """Streaming SWD with the official metric API: `begin(mode)`, `feed(mode, minibatch)` any number of times,
    `end(mode)` -> {'SWDx1e3_<res>': ..., 'SWDx1e3_avg': ...}.

    As in the official code, a 'reals' (or 'warmup') pass stores its descriptors as the reference and reports
    the set against itself (zeros); a later 'fakes' pass is compared with the stored reals. Only descriptors
    are kept (per level: images * nhoods_per_image * 147 float32), never the images.

        swd = SWD(resolution=32)
        swd.begin('reals'); [swd.feed('reals', x) for x in real_batches]; swd.end('reals')
        swd.begin('fakes'); [swd.feed('fakes', x) for x in fake_batches]; print(swd.end('fakes'))
    """

    def __init__(self, resolution, layout='NHWC', random_state=None,
                 nhood_size=7, nhoods_per_image=128, dir_repeats=4, dirs_per_repeat=128):
        self.resolutions = _resolutions(resolution)  # Pyramid levels, finest first; resolution must be >= 16.
        if not self.resolutions:
            raise ValueError('SWD needs images of at least 16x16, got resolution %s' % resolution)
        self.layout = layout                      # 'NHWC' or 'NCHW' for the uint8 minibatches fed in.
        self.random_state = random_state          # np.random.RandomState, or None for numpy's global RNG.
        self.nhood_size = nhood_size              # Side of the square neighbourhoods (descriptors).
        self.nhoods_per_image = nhoods_per_image  # Neighbourhoods drawn per image and pyramid level.
        self.dir_repeats = dir_repeats            # Independent sets of random directions, averaged.
        self.dirs_per_repeat = dirs_per_repeat    # Random directions in each set.
        self.metric_names = metric_names(resolution)
        self.desc_real = None
        self._descriptors = None

    def _rng(self, random_state):
        # np.random itself has randint/randn bound to the global RandomState: the official behaviour.
        rng = random_state if random_state is not None else self.random_state
        return rng if rng is not None else np.random

    def begin(self, mode):
        assert mode in ('warmup', 'reals', 'fakes'), mode
        self._descriptors = [[] for _ in self.resolutions]

    def feed(self, mode, minibatch, random_state=None):
        """minibatch: uint8 [n, H, W, C] or [n, C, H, W] (self.layout), C = 1 or 3."""
        images = _to_nchw_rgb(minibatch, self.layout)
        rng = self._rng(random_state)
        for level, descriptors in zip(laplacian_pyramid(images, len(self.resolutions)), self._descriptors):
            x, y = draw_patch_centers(len(level), level.shape[2], level.shape[3],
                                      self.nhood_size, self.nhoods_per_image, rng)
            descriptors.append(extract_descriptors(level, x, y, self.nhood_size, self.nhoods_per_image))

    def end(self, mode, random_state=None):
        rng = self._rng(random_state)
        desc = [finalize_descriptors(d) for d in self._descriptors]
        self._descriptors = None
        if mode in ('warmup', 'reals'):
            self.desc_real = desc
        if self.desc_real is None:
            raise RuntimeError("SWD.end('fakes') needs a 'reals' pass first")
        dist = [sliced_wasserstein(real, fake, self.dir_repeats, self.dirs_per_repeat, rng) * 1e3
                for real, fake in zip(self.desc_real, desc)]
        values = dist + [np.mean(dist)]  # float32 arithmetic, as official.
        return {name: float(value) for name, value in zip(self.metric_names, values)}


def sliced_wasserstein_distance(reals, fakes, random_state=None, layout='NHWC', minibatch_size=None, **kwargs):
    """SWD x1e3 between two uint8 image sets, [N, H, W, C] or [N, C, H, W] (`layout`), C = 1 or 3.

    Runs the official evaluation sequence, one RNG throughout: feed reals by minibatches, end('reals'), feed
    fakes, end('fakes'). minibatch_size defaults to util_scripts' clip(8192 // H, 4, 256); it matters because
    patch positions are drawn per minibatch. kwargs go to SWD (nhood_size, nhoods_per_image, ...).
    Returns {'SWDx1e3_<res>': value, ..., 'SWDx1e3_avg': value}."""
    height = reals.shape[1] if layout == 'NHWC' else reals.shape[2]
    if minibatch_size is None:
        minibatch_size = int(np.clip(8192 // height, 4, 256))
    swd = SWD(height, layout=layout, random_state=random_state, **kwargs)
    for mode, images in (('reals', reals), ('fakes', fakes)):
        swd.begin(mode)
        for begin in range(0, len(images), minibatch_size):
            swd.feed(mode, images[begin:begin + minibatch_size])
        result = swd.end(mode)
    return result


def swd_of_generator(sampler, data, num_images, seed=1000, noise='random', minibatch=64):
    """SWD (x1e3 per level and average) between `num_images` reals and fakes, as the official util_scripts:
    reals unshuffled from the dataset at full resolution, fakes from `sampler` (common/util/sampler.py) on N(0, 1)
    latents with the reals' labels, both converted with ProGAN's uint8 rule (the metric's own)."""
    dataset = Dataset(data, max_label_size=sampler.c_dim, shuffle_mb=0, seed=seed)
    num_images = min(num_images, dataset.num_images)
    reals, fakes = [], []
    rnd = np.random.RandomState(seed)
    batches = dataset.pipeline(dataset.resolution, minibatch).take((num_images + minibatch - 1) // minibatch)
    for images, labels in tqdm(batches, total=(num_images + minibatch - 1) // minibatch, desc='SWD', unit='batch'):
        reals.append(to_uint8_progan(images.numpy()))
        latents = tf.constant(rnd.randn(images.shape[0], sampler.z_dim).astype(np.float32))
        fakes.append(to_uint8_progan(sampler.generate(latents, labels, noise).numpy()))
    reals, fakes = np.concatenate(reals)[:num_images], np.concatenate(fakes)[:num_images]
    return sliced_wasserstein_distance(reals, fakes, random_state=np.random.RandomState(seed), layout='NHWC')
