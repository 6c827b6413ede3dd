"""MS-SSIM (Wang et al. 2003) as the ProGAN paper reports it (tkarras/progressive_growing_of_gans
metrics/ms_ssim.py): the mean MS-SSIM of consecutive pairs of generated images (0-1, 2-3, ...), a measure
of diversity (lower = more diverse). Per level: SSIM terms under an 11-tap Gaussian window (sigma 1.5,
both shrunk to the image size), then 2x2 box downsampling; five levels with the paper's weights."""
import numpy as np
from scipy import signal

from common.metrics import metric_utils

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)   # The paper's (they do not sum to 1, as in MATLAB).


def _gaussian_window(size, sigma):
    """MATLAB fspecial('gaussian') as the official _FSpecialGauss."""
    radius, offset = size // 2, 0.5 if size % 2 == 0 else 0.0
    stop = radius + 1 - (1 if size % 2 == 0 else 0)
    x, y = np.mgrid[offset - radius:stop, offset - radius:stop]
    g = np.exp(-((x ** 2 + y ** 2) / (2.0 * sigma ** 2)))
    return g / g.sum()


def _ssim_and_cs(img1, img2, max_val=255, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Mean SSIM and contrast-structure term per image of float32 [N, H, W, C]."""
    _, height, width, _ = img1.shape
    size = min(filter_size, height, width)
    sigma = size * filter_sigma / filter_size
    window = np.reshape(_gaussian_window(size, sigma), (1, size, size, 1))
    blur = lambda x: signal.fftconvolve(x, window, mode='valid')  # noqa: E731
    mu1, mu2 = blur(img1), blur(img2)
    mu11, mu22, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma11, sigma22, sigma12 = blur(img1 * img1) - mu11, blur(img2 * img2) - mu22, blur(img1 * img2) - mu12
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    v1, v2 = 2.0 * sigma12 + c2, sigma11 + sigma22 + c2
    ssim = np.mean(((2.0 * mu12 + c1) * v1) / ((mu11 + mu22 + c1) * v2), axis=(1, 2, 3))
    return ssim, np.mean(v1 / v2, axis=(1, 2, 3))


def _downsample(img):
    return (img[:, 0::2, 0::2, :] + img[:, 1::2, 0::2, :] + img[:, 0::2, 1::2, :] + img[:, 1::2, 1::2, :]) * 0.25


def msssim(img1, img2, weights=WEIGHTS):
    """Mean MS-SSIM of image pairs: uint8 or float [N, H, W, C] in [0, 255] each."""
    if img1.shape != img2.shape or img1.ndim != 4:
        raise ValueError(f'msssim: expected two [N, H, W, C] batches of one shape, got {img1.shape}, {img2.shape}')
    weights = np.asarray(weights)
    im1, im2 = img1.astype(np.float32), img2.astype(np.float32)
    mssim, mcs = [], []
    for _ in range(weights.size):
        ssim, cs = _ssim_and_cs(im1, im2)
        mssim.append(ssim)
        mcs.append(cs)
        im1, im2 = _downsample(im1), _downsample(im2)
    mssim, mcs = np.clip(np.asarray(mssim), 0.0, np.inf), np.clip(np.asarray(mcs), 0.0, np.inf)  # No NaNs.
    return float(np.mean(np.prod(mcs[:-1, :] ** weights[:-1, np.newaxis], axis=0) * (mssim[-1, :] ** weights[-1])))


def compute_msssim(opts, num_images):
    """Mean over num_images // 2 pairs of fakes, fed in minibatches and weighted by pairs as the official API.
    Grayscale is tiled to RGB first, as the official util_scripts does."""
    total, pairs = 0.0, 0
    with metric_utils.progress_bar(opts, num_images, 'msssim fakes') as bar:
        for images in metric_utils.iterate_fakes(opts, num_images - num_images % 2, batch_size=64):
            images = metric_utils.to_rgb(images)
            total += msssim(images[0::2], images[1::2]) * (len(images) // 2)
            pairs += len(images) // 2
            bar.update(len(images))
    return total / pairs
