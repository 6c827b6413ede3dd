"""Images and videos from a trained StyleGAN2: an official pickle (TF1 StyleGAN2, StyleGAN2-ADA TF), one of our
snapshots, or a run directory (its newest valid snapshot).

  python -m stylegan2.generate --network=NET --seeds=0-7 --outdir=DIR [--truncation_psi=1.0]
                               [--noise_mode=const] [--class_idx=K] [--lod=L]
  python -m stylegan2.generate --network=NET --projected_w=projected_w.npz --outdir=DIR [--noise_mode=const]
  python -m stylegan2.generate --network=NET --seeds=0-3 --interpolate --outdir=DIR [--duration_sec=60]
                               [--mp4_fps=30] [--image_zoom=1] [--truncation_psi=1.0] [--gif | --png_frames]

As StyleGAN2-ADA's generate.py (ada-pytorch): one image per seed from z = RandomState(seed).randn(1, z_dim)
(float64, cast to float32), rendered by Gs with truncation psi and the noise mode, converted to uint8 by the ADA
rule (clip(x*127.5 + 128, 0, 255), truncated toward zero) and written as `seed%04d.png` (RGB, or L for one
channel). A conditional network needs --class_idx (its labels are that one-hot vector); an unconditional one
ignores it with a warning. ada-pytorch's spellings --trunc, --class, --noise-mode and --projected-w work too.

--projected_w: the ws of a .npz (key `w`, [N, num_ws, w_dim]: stylegan2.project's projected_w.npz), each
rendered by the synthesis network as `proj%02d.png`, as ada-pytorch's --projected-w: with --noise_mode's noise,
not the projector's optimized noise, so the image can differ from the projector's proj.png.

--interpolate: a video walking through the seeds' ws (truncated) in order and back to the first, linear in w
between consecutive seeds, each seed's span equally long; it loops, like pggan.generate's random walk. Frame 0
is the first seed's image. Written as `lerp.mp4` (H.264; needs the `video` extra: pip install -e ".[video]"),
`lerp.gif` (--gif) or frames `lerp%06d.png` (--png_frames).
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
from stylegan2.loading import NetworkLoadError, load_network
from stylegan2.networks import NOISE_MODES

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official StyleGAN2 / StyleGAN2-ADA pickle (.pkl or .pkl.xz), snapshot '
                    'directory, or run directory (its newest valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to write the images (created if missing).', flag_values=FLAGS)
flags.DEFINE_string('seeds', None, 'Seeds, e.g. "0-7" or "1,5,10-12".', flag_values=FLAGS)
flags.DEFINE_float('truncation_psi', 1.0, 'Truncation psi (1 = no truncation).', flag_values=FLAGS)
flags.DEFINE_enum('noise_mode', 'const', NOISE_MODES, 'Noise inputs: the stored buffers, zeros, or fresh random.',
                  flag_values=FLAGS)
flags.DEFINE_integer('class_idx', None, 'Class of a conditional network.', flag_values=FLAGS)
flags.DEFINE_float('lod', None, 'Level of detail of a growing network (configs a-d) to render at (default: its own '
                   'lod); images stay full size, as ProGAN\'s.', flag_values=FLAGS)

# Projected ws and interpolation videos (the video flags are pggan.generate's, from common/util/video.py).
flags.DEFINE_string('projected_w', None, 'Render the ws of this .npz (key w, [N, num_ws, w_dim]; stylegan2.project '
                    'writes projected_w.npz) as proj%02d.png, instead of seeds.', flag_values=FLAGS)
flags.DEFINE_bool('interpolate', False, 'Write a video walking through the seeds\' ws, back to the first, instead of '
                  'seed images.', flag_values=FLAGS)
video.define_interpolation_flags(FLAGS, minibatch_help='images per synthesis call')
# ada-pytorch's generate.py spellings.
for _alias, _name in (('trunc', 'truncation_psi'), ('class', 'class_idx'), ('noise-mode', 'noise_mode'),
                      ('projected-w', 'projected_w')):
    flags.DEFINE_alias(_alias, _name, flag_values=FLAGS)


def make_labels(Gs, num, class_idx=None):
    return image_utils.make_labels(Gs.c_dim, num, class_idx)


def seed_latents(seed, latent_size):
    return image_utils.seed_latents(seed, latent_size)


def check_lod(Gs, lod):
    """Raises ValueError unless Gs can render at `lod` (None = its own): 0 to log2(R) - 2 if it grows, else 0."""
    if lod is None or lod == 0:
        return
    if not hasattr(Gs.synthesis, 'lod'):
        raise ValueError(f'--lod={lod:g}: this network does not grow (configs e, f); it renders at lod 0 only')
    max_lod = Gs.synthesis.resolution_log2 - 2
    if not 0 <= lod <= max_lod:
        raise ValueError(f'--lod={lod:g}: this network renders at lod 0 (full {Gs.img_resolution} px) to {max_lod} '
                         f'(4 px)')


def generate_images(Gs, seeds, outdir, truncation_psi=1.0, noise_mode='const', class_idx=None, lod=None):
    """Writes `seed%04d.png` per seed into outdir; returns the paths written. Labels and lod are checked before
    anything is written."""
    check_lod(Gs, lod)
    labels = make_labels(Gs, 1, class_idx)
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for seed in tqdm(seeds, desc='Generating', unit='img', file=sys.stderr):
        images = Gs(seed_latents(seed, Gs.z_dim), labels, truncation_psi=truncation_psi, noise_mode=noise_mode,
                    lod=lod)
        path = os.path.join(outdir, f'seed{seed:04d}.png')
        image_utils.save_png(image_utils.to_uint8_ada(images)[0], path)
        print(f'Generated {path}')
        paths.append(path)
    return paths


def read_projected_w(path):
    """The `w` array of a .npz file (checked against a network by check_projected_w); ValueError otherwise."""
    try:
        data = np.load(path)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f'--projected_w={path}: not a readable .npz file ({e.__class__.__name__})') from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f'--projected_w={path}: a .npy array, expected a .npz holding "w"')
    with data:
        if 'w' not in data.files:
            raise ValueError(f'--projected_w={path}: no array "w" (it holds {", ".join(data.files) or "nothing"})')
        return np.asarray(data['w'], np.float32)


def check_projected_w(Gs, ws, path):
    if ws.ndim != 3 or ws.shape[1:] != (Gs.num_ws, Gs.w_dim) or not len(ws):
        raise ValueError(f'--projected_w={path}: w has shape {list(ws.shape)}, expected [N, num_ws, w_dim] = '
                         f'[N, {Gs.num_ws}, {Gs.w_dim}] for this network')


def generate_from_projected_w(Gs, ws, outdir, noise_mode='const'):
    """Writes `proj%02d.png` per w of ws [N, num_ws, w_dim] into outdir (ada-pytorch generate.py --projected-w:
    one synthesis call per w, ADA uint8 rule); returns the paths written."""
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for idx, w in enumerate(ws):
        paths.append(os.path.join(outdir, f'proj{idx:02d}.png'))
        image_utils.save_png(image_utils.to_uint8_ada(Gs.synthesis(w[None], noise_mode=noise_mode))[0], paths[-1])
        print(f'Generated {paths[-1]}')
    return paths


def seed_walk_ws(Gs, seeds, num_frames, labels, truncation_psi=1.0):
    """ws [num_frames, num_ws, w_dim] of the walk through the seeds' ws and back to the first: frame t lies at
    t * len(seeds) / num_frames along the loop, linear between the two seeds around it. Each seed's ws come from
    its own mapping call, as in generate_images, so a frame on a seed is that seed's ws exactly."""
    keys = np.concatenate([Gs.mapping(seed_latents(seed, Gs.z_dim), labels, truncation_psi=truncation_psi).numpy()
                           for seed in seeds])                                      # [K, num_ws, w_dim]
    position = np.arange(num_frames) * len(seeds) / num_frames
    index = np.floor(position).astype(int)
    frac = (position - index).astype(np.float32)[:, None, None]
    start, end = keys[index], keys[(index + 1) % len(seeds)]
    return start + (end - start) * frac


def interpolation_frames(Gs, ws, noise_mode='const', image_zoom=1, minibatch_size=8):
    """Yields uint8 RGB frames [R*zoom, R*zoom, 3], one per w of ws [num_frames, num_ws, w_dim]."""
    for begin in range(0, len(ws), minibatch_size):
        images = image_utils.to_uint8_ada(Gs.synthesis(ws[begin:begin + minibatch_size], noise_mode=noise_mode))
        for image in images:
            yield video.video_frame(image, image_zoom)


def generate_interpolation_video(Gs, seeds, outdir, duration_sec=60.0, mp4_fps=30, truncation_psi=1.0,
                                 noise_mode='const', class_idx=None, image_zoom=1, minibatch_size=8, fmt='mp4'):
    """Writes the seed walk (seed_walk_ws) into outdir as `lerp.mp4`, `lerp.gif` or `lerp%06d.png` (fmt 'mp4',
    'gif' or 'png'), playing at mp4_fps; returns the paths written."""
    num_frames = video.frame_count(duration_sec, mp4_fps, image_zoom, minibatch_size)
    ws = seed_walk_ws(Gs, seeds, num_frames, make_labels(Gs, 1, class_idx), truncation_psi)
    frames = tqdm(interpolation_frames(Gs, ws, noise_mode, image_zoom, minibatch_size), total=num_frames,
                  desc='frames', unit='frame', leave=False)
    paths = video.write_video(frames, outdir, 'lerp', mp4_fps, fmt)
    print(f'Generated {video.describe(paths, fmt)} ({num_frames} frames)')
    return paths


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if F.seeds is None and F.projected_w is None:
        raise ValueError('--seeds is required, e.g. --seeds=0-7 (or --projected_w=FILE)')
    if F.interpolate and F.projected_w is not None:
        raise ValueError('pass either --projected_w or --interpolate')
    seeds = None if F.seeds is None else image_utils.parse_seeds(F.seeds)
    fmt = video.video_format(F.gif, F.png_frames) if F.interpolate else None
    ws = None if F.projected_w is None else read_projected_w(F.projected_w)    # Before the slow load.
    Gs = families.load_tool_network(load_network, F.network, 'generate').Gs
    if ws is not None:
        if seeds is not None:
            print('warning: --seeds is ignored with --projected_w', file=sys.stderr)
        check_projected_w(Gs, ws, F.projected_w)
        generate_from_projected_w(Gs, ws, F.outdir, F.noise_mode)
    elif F.interpolate:
        generate_interpolation_video(Gs, seeds, F.outdir, F.duration_sec, F.mp4_fps, F.truncation_psi, F.noise_mode,
                                     F.class_idx, F.image_zoom, F.minibatch_size, fmt)
    else:
        generate_images(Gs, seeds, F.outdir, F.truncation_psi, F.noise_mode, F.class_idx, F.lod)


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
