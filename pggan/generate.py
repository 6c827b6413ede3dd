"""Images and interpolation videos from a trained ProGAN: an official pickle, one of our snapshots, or a run
directory (its newest valid snapshot).

  python -m pggan.generate --network=NET --seeds=0-7 --outdir=DIR [--lod=L] [--grid [--grid_size=4x2]] [--class_idx=K]
  python -m pggan.generate --network=NET --interpolate --outdir=DIR [--duration_sec=60] [--smoothing_sec=1]
                           [--mp4_fps=30] [--grid_size=1x1] [--image_zoom=1] [--random_seed=1000]
                           [--gif | --png_frames]

Seeds: one image per seed from z = RandomState(seed).randn(1, latent_size), written as `seed%04d.png`
(--grid also writes them together as `grid.png`). Interpolation: official util_scripts.py
generate_interpolation_video, a random walk in z smoothed over time so that it loops, written as `lerp.mp4`
(H.264; needs the `video` extra: pip install -e ".[video]"), as one animated `lerp.gif` (--gif), or as frames
`lerp%06d.png` (--png_frames). Images are Gs's, converted to uint8 by the official ProGAN rule (x*127.5 + 127.5,
round half to even, saturate). A conditional network needs --class_idx (or --class): its labels are that
one-hot vector; an unconditional one gets empty labels.
"""
import os
import sys

import numpy as np
from absl import flags
from tqdm import tqdm

from common import families
from common.util import cli
from common.util import images as image_utils
from common.util import video
from pggan.loading import NetworkLoadError, load_network

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official ProGAN pickle, snapshot directory, or run directory (its newest '
                    'valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to write the images (created if missing).', flag_values=FLAGS)
flags.DEFINE_string('seeds', None, 'Seeds, e.g. "0-7" or "1,5,10-12".', flag_values=FLAGS)
flags.DEFINE_float('lod', None, 'Level of detail to render at (default: the network\'s own lod).', flag_values=FLAGS)
flags.DEFINE_bool('grid', False, 'Also write all seeds as one grid.png.', flag_values=FLAGS)
flags.DEFINE_string('grid_size', None, 'Grid as WxH (default: near-square for --grid, 1x1 for --interpolate).',
                    flag_values=FLAGS)
flags.DEFINE_integer('class_idx', None, 'Class of a conditional network.', flag_values=FLAGS)
flags.DEFINE_alias('class', 'class_idx', flag_values=FLAGS)  # ada-pytorch's spelling.
flags.DEFINE_bool('interpolate', False, 'Write a random interpolation video instead of seed images.',
                  flag_values=FLAGS)
flags.DEFINE_float('smoothing_sec', 1.0, 'Interpolation: std of the gaussian smoothing over time, in seconds.',
                   flag_values=FLAGS)
flags.DEFINE_integer('random_seed', 1000, 'Interpolation: seed of the latent sequence.', flag_values=FLAGS)
video.define_interpolation_flags(FLAGS, minibatch_help='images per Gs call')


def check_lod(Gs, lod):
    """Raises ValueError unless `lod` (None = the network's own) is one Gs can render at."""
    max_lod = Gs.resolution_log2 - 2
    if lod is not None and not 0 <= lod <= max_lod:
        raise ValueError(f'--lod={lod}: this network renders at lod 0 (full {2 ** Gs.resolution_log2} px) '
                         f'to {max_lod} (4 px)')


def make_labels(Gs, num, class_idx=None):
    return image_utils.make_labels(Gs.label_size, num, class_idx)


def seed_latents(seed, latent_size):
    return image_utils.seed_latents(seed, latent_size)


def generate_images(Gs, seeds, outdir, lod=None, class_idx=None, grid=False, grid_size=None):
    """Writes `seed%04d.png` per seed (and `grid.png` with `grid`) into outdir; returns the paths written."""
    check_lod(Gs, lod)
    labels = make_labels(Gs, 1, class_idx)
    os.makedirs(outdir, exist_ok=True)
    paths, images = [], []
    for seed in tqdm(seeds, desc='Generating', unit='img', file=sys.stderr):
        image = image_utils.to_uint8_progan(Gs(seed_latents(seed, Gs.latent_size), labels, lod=lod))[0]
        path = os.path.join(outdir, f'seed{seed:04d}.png')
        image_utils.save_png(image, path)
        print(f'Generated {path}')
        paths.append(path)
        images.append(image)
    if grid:
        path = os.path.join(outdir, 'grid.png')
        image_utils.save_png(image_utils.create_image_grid(np.stack(images), grid_size), path)
        print(f'Generated {path}')
        paths.append(path)
    return paths


def gaussian_filter_wrap(x, sigma, axis=0, truncate=4.0):
    """scipy.ndimage.gaussian_filter1d(x, sigma, axis, mode='wrap', truncate=truncate) in numpy: correlation with
    the normalized gaussian exp(-t^2 / (2 sigma^2)), t = -r..r, r = int(truncate*sigma + 0.5), the signal taken
    as periodic along `axis` (also when r exceeds its length). Accumulates in float64, returns x's dtype."""
    x = np.asarray(x)
    if sigma <= 1e-15:  # scipy.ndimage.gaussian_filter leaves such axes alone.
        return x.copy()
    radius = int(truncate * float(sigma) + 0.5)
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / float(sigma) ** 2 * taps.astype(np.float64) ** 2)
    kernel /= kernel.sum()
    x64 = x.astype(np.float64)
    out = np.zeros_like(x64)
    for tap, weight in zip(taps, kernel):
        out += weight * np.roll(x64, -tap, axis=axis)  # out[i] += w[t] * x[(i + t) mod n]
    return out.astype(x.dtype)


def interpolation_latents(num_frames, num_images, latent_size, smoothing_frames, random_seed=1000):
    """z [num_frames, num_images, latent_size] of util_scripts.generate_interpolation_video: white gaussian noise
    smoothed over time (periodic, so the sequence loops) with std `smoothing_frames`, then scaled to unit RMS."""
    random_state = np.random.RandomState(random_seed)
    all_latents = random_state.randn(num_frames, num_images, latent_size).astype(np.float32)
    all_latents = gaussian_filter_wrap(all_latents, smoothing_frames, axis=0)
    all_latents /= np.sqrt(np.mean(np.square(all_latents)))
    return all_latents


def interpolation_frames(Gs, all_latents, labels, grid_size=(1, 1), image_zoom=1, lod=None, minibatch_size=8):
    """Yields uint8 RGB frames [H, W, 3], one per row of all_latents [num_frames, gw*gh, latent_size];
    every image gets the label row labels [1, label_size]."""
    num_frames, num_images = all_latents.shape[:2]
    flat = all_latents.reshape(num_frames * num_images, -1)
    pending = []
    for begin in range(0, len(flat), minibatch_size):
        batch = flat[begin:begin + minibatch_size]
        pending.extend(image_utils.to_uint8_progan(Gs(batch, np.repeat(labels, len(batch), axis=0), lod=lod)))
        while len(pending) >= num_images:
            frame = image_utils.create_image_grid(np.stack(pending[:num_images]), grid_size)
            del pending[:num_images]
            yield video.video_frame(frame, image_zoom)


def generate_interpolation_video(Gs, outdir, grid_size=(1, 1), image_zoom=1, duration_sec=60.0, smoothing_sec=1.0,
                                 mp4_fps=30, random_seed=1000, minibatch_size=8, lod=None, class_idx=None, fmt='mp4'):
    """Writes the official random-interpolation sequence into outdir as `lerp.mp4`, `lerp.gif` or `lerp%06d.png`
    (fmt 'mp4', 'gif' or 'png'; see common/util/video.py), playing at mp4_fps; returns the paths written."""
    check_lod(Gs, lod)
    num_frames = video.frame_count(duration_sec, mp4_fps, image_zoom, minibatch_size)
    grid_w, grid_h = grid_size
    labels = make_labels(Gs, 1, class_idx)
    all_latents = interpolation_latents(num_frames, grid_w * grid_h, Gs.latent_size, smoothing_sec * mp4_fps,
                                        random_seed)
    frames = interpolation_frames(Gs, all_latents, labels, grid_size, image_zoom, lod, minibatch_size)
    frames = tqdm(frames, total=num_frames, desc='frames', unit='frame', leave=False)
    paths = video.write_video(frames, outdir, 'lerp', mp4_fps, fmt)
    print(f'Generated {video.describe(paths, fmt)} ({num_frames} frames)')
    return paths


def _parse_grid_size(spec):
    try:
        grid_w, grid_h = (int(v) for v in spec.lower().split('x'))
    except ValueError:
        raise ValueError(f'--grid_size={spec}: expected WxH, e.g. 4x2') from None
    if grid_w < 1 or grid_h < 1:
        raise ValueError(f'--grid_size={spec}: both sizes must be at least 1')
    return grid_w, grid_h


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if F.interpolate == (F.seeds is not None):
        raise ValueError('pass either --seeds or --interpolate')
    seeds = None if F.interpolate else image_utils.parse_seeds(F.seeds)
    grid_size = None if F.grid_size is None else _parse_grid_size(F.grid_size)
    fmt = video.video_format(F.gif, F.png_frames) if F.interpolate else None
    Gs = families.load_tool_network(load_network, F.network, 'generate').Gs
    if F.interpolate:
        generate_interpolation_video(Gs, F.outdir, grid_size or (1, 1), F.image_zoom, F.duration_sec,
                                     F.smoothing_sec, F.mp4_fps, F.random_seed, F.minibatch_size, F.lod,
                                     F.class_idx, fmt)
    else:
        generate_images(Gs, seeds, F.outdir, F.lod, F.class_idx, F.grid, grid_size)


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
