"""Style-mixing matrix from a trained StyleGAN2 (StyleGAN2 paper figure 3; ada-pytorch style_mixing.py).

  python -m stylegan2.style_mixing --network=NET --rows=85,100,75 --cols=55,821,1789 --outdir=DIR
                                   [--styles=0-6] [--truncation_psi=1.0] [--noise_mode=const] [--class_idx=K]

Every seed's ws come from the mapping network with truncation (z = RandomState(seed).randn(z_dim)). For each row
seed and column seed, the row's ws with the layers listed in --styles taken from the column's ws are rendered.
Written, as the official tool writes them: `{seed}-{seed}.png` for every row and column seed (its own image),
`{row}-{col}.png` for every mix, and `grid.png`: a black top-left cell, the column seeds' images across the top,
and below it one row per row seed, starting with that seed's own image followed by its mixes.
Images are uint8 by the ADA rule (see stylegan2.generate). NET may also be a run directory (its newest valid
snapshot); ada-pytorch's spellings --trunc and --noise-mode work too, and --class as in its generate.py.
"""
import os
import sys

import numpy as np
from absl import flags

from common import families
from common.util import cli
from common.util import images as image_utils
from stylegan2.generate import make_labels
from stylegan2.loading import NetworkLoadError, load_network
from stylegan2.networks import NOISE_MODES

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official StyleGAN2 / StyleGAN2-ADA pickle (.pkl or .pkl.xz), snapshot '
                    'directory, or run directory (its newest valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to write the images (created if missing).', flag_values=FLAGS)
flags.DEFINE_string('rows', None, 'Seeds of the rows, e.g. "85,100,75".', flag_values=FLAGS)
flags.DEFINE_string('cols', None, 'Seeds of the columns, e.g. "55,821,1789".', flag_values=FLAGS)
flags.DEFINE_string('styles', '0-6', 'Style layers (indices into ws, 0 to num_ws - 1) taken from the column seed.',
                    flag_values=FLAGS)
flags.DEFINE_float('truncation_psi', 1.0, 'Truncation psi (1 = no truncation).', flag_values=FLAGS)
flags.DEFINE_enum('noise_mode', 'const', NOISE_MODES, 'Noise inputs: the stored buffers, zeros, or fresh random.',
                  flag_values=FLAGS)
flags.DEFINE_integer('class_idx', None, 'Class of a conditional network (the official tool has none).',
                     flag_values=FLAGS)
for _alias, _name in (('trunc', 'truncation_psi'), ('noise-mode', 'noise_mode'), ('class', 'class_idx')):
    flags.DEFINE_alias(_alias, _name, flag_values=FLAGS)  # ada-pytorch's spellings.


def check_styles(Gs, styles):
    if not styles or min(styles) < 0 or max(styles) >= Gs.num_ws:
        raise ValueError(f'--styles: layers {styles} are outside 0..{Gs.num_ws - 1} '
                         f'(this network has num_ws = {Gs.num_ws})')


def seed_ws(Gs, seeds, labels, truncation_psi=1.0):
    """{seed: ws [num_ws, w_dim]} from the mapping network with truncation, all seeds in one batch."""
    z = np.stack([np.random.RandomState(seed).randn(Gs.z_dim) for seed in seeds]).astype(np.float32)
    ws = Gs.mapping(z, np.repeat(labels, len(seeds), axis=0), truncation_psi=truncation_psi).numpy()
    return dict(zip(seeds, ws))


def mix_ws(row_ws, col_ws, styles):
    """The row's ws [num_ws, w_dim] with the layers `styles` taken from the column's ws."""
    ws = row_ws.copy()
    ws[styles] = col_ws[styles]
    return ws


def style_mixing_images(Gs, row_seeds, col_seeds, styles, truncation_psi=1.0, noise_mode='const', class_idx=None):
    """{(row_seed, col_seed): uint8 image [H, W, C]}: (s, s) is seed s's own image, (row, col) the mix."""
    check_styles(Gs, styles)
    labels = make_labels(Gs, 1, class_idx)
    all_seeds = list(dict.fromkeys(row_seeds + col_seeds))
    w_dict = seed_ws(Gs, all_seeds, labels, truncation_psi)

    def render(ws):
        return image_utils.to_uint8_ada(Gs.synthesis(np.stack(ws), noise_mode=noise_mode))

    image_dict = dict(zip([(seed, seed) for seed in all_seeds], render([w_dict[seed] for seed in all_seeds])))
    for row_seed in row_seeds:  # One synthesis call per row keeps memory bounded for large networks.
        mixes = render([mix_ws(w_dict[row_seed], w_dict[col_seed], styles) for col_seed in col_seeds])
        image_dict.update({(row_seed, col_seed): image for col_seed, image in zip(col_seeds, mixes)})
    return image_dict


def style_mixing_grid(image_dict, row_seeds, col_seeds):
    """The official layout: black top-left, column seeds' own images on top, then per row seed its own image
    followed by its mixes. -> uint8 [H * (rows + 1), W * (cols + 1), C]."""
    height, width, channels = next(iter(image_dict.values())).shape
    canvas = np.zeros([height * (len(row_seeds) + 1), width * (len(col_seeds) + 1), channels], np.uint8)
    for row_idx, row_seed in enumerate([None] + row_seeds):
        for col_idx, col_seed in enumerate([None] + col_seeds):
            if row_idx == 0 and col_idx == 0:
                continue
            if row_idx == 0:
                key = (col_seed, col_seed)
            elif col_idx == 0:
                key = (row_seed, row_seed)
            else:
                key = (row_seed, col_seed)
            canvas[height * row_idx:height * (row_idx + 1), width * col_idx:width * (col_idx + 1)] = image_dict[key]
    return canvas


def generate_style_mix(Gs, row_seeds, col_seeds, styles, outdir, truncation_psi=1.0, noise_mode='const',
                       class_idx=None):
    """Writes the images and grid.png into outdir (see the module docstring); returns the paths written."""
    image_dict = style_mixing_images(Gs, row_seeds, col_seeds, styles, truncation_psi, noise_mode, class_idx)
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for (row_seed, col_seed), image in image_dict.items():
        paths.append(os.path.join(outdir, f'{row_seed}-{col_seed}.png'))
        image_utils.save_png(image, paths[-1])
    paths.append(os.path.join(outdir, 'grid.png'))
    image_utils.save_png(style_mixing_grid(image_dict, row_seeds, col_seeds), paths[-1])
    print(f'Generated {len(paths) - 1} images and {paths[-1]}')
    return paths


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if F.rows is None or F.cols is None:
        raise ValueError('--rows and --cols are required, e.g. --rows=0-3 --cols=4-7')
    row_seeds = image_utils.parse_range(F.rows, what='rows', minimum=0, maximum=2 ** 32 - 1)
    col_seeds = image_utils.parse_range(F.cols, what='cols', minimum=0, maximum=2 ** 32 - 1)
    styles = image_utils.parse_range(F.styles, what='styles', minimum=0)
    Gs = families.load_tool_network(load_network, F.network, 'style_mixing').Gs
    generate_style_mix(Gs, row_seeds, col_seeds, styles, F.outdir, F.truncation_psi, F.noise_mode, F.class_idx)


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
