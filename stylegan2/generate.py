"""Images from a trained StyleGAN2: an official pickle (TF1 StyleGAN2, StyleGAN2-ADA TF) or one of our snapshots.

  python -m stylegan2.generate --network=NET --seeds=0-7 --outdir=DIR [--truncation_psi=1.0]
                               [--noise_mode=const] [--class_idx=K] [--lod=L]

As StyleGAN2-ADA's generate.py (ada-pytorch): one image per seed from z = RandomState(seed).randn(1, z_dim)
(float64, cast to float32), rendered by Gs with truncation psi and the noise mode, converted to uint8 by the ADA
rule (clip(x*127.5 + 128, 0, 255), truncated toward zero) and written as `seed%04d.png` (RGB, or L for one
channel). A conditional network needs --class_idx (its labels are that one-hot vector); an unconditional one
ignores it with a warning.
"""
import os
import sys

from absl import flags
from tqdm import tqdm

from common import cli
from common import images as image_utils
from stylegan2.loading import NetworkLoadError, load_network
from stylegan2.networks import NOISE_MODES

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official StyleGAN2 / StyleGAN2-ADA pickle (.pkl or .pkl.xz) or snapshot '
                    'directory.', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to write the images (created if missing).', flag_values=FLAGS)
flags.DEFINE_string('seeds', None, 'Seeds, e.g. "0-7" or "1,5,10-12".', flag_values=FLAGS)
flags.DEFINE_float('truncation_psi', 1.0, 'Truncation psi (1 = no truncation).', flag_values=FLAGS)
flags.DEFINE_enum('noise_mode', 'const', NOISE_MODES, 'Noise inputs: the stored buffers, zeros, or fresh random.',
                  flag_values=FLAGS)
flags.DEFINE_integer('class_idx', None, 'Class of a conditional network.', flag_values=FLAGS)
flags.DEFINE_float('lod', None, 'Level of detail of a growing network (configs a-d) to render at (default: its own '
                   'lod); images stay full size, as ProGAN\'s.', flag_values=FLAGS)


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


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if F.seeds is None:
        raise ValueError('--seeds is required, e.g. --seeds=0-7')
    seeds = image_utils.parse_seeds(F.seeds)
    print(f'Loading network from "{F.network}"...')
    Gs = load_network(F.network).Gs
    generate_images(Gs, seeds, F.outdir, F.truncation_psi, F.noise_mode, F.class_idx, F.lod)


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
