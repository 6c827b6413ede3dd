"""Exports a ProGAN generator (Gs of an official pickle or of our snapshot) as a TensorFlow SavedModel.

  python -m pggan.export --network=NET --outdir=DIR [--lod=L] [--overwrite]

The SavedModel's `serving_default` signature maps
  latents [None, latent_size] float32, labels [None, label_size] float32  ->  {'images': [None, R, R, C] float32}
with images NHWC in [-1, 1] (not clipped, as Gs returns them). An unconditional network still takes `labels`,
of shape [N, 0]. The level of detail is not an input: it stays fixed at the network's lod when exported
(--lod sets it first), stored in the SavedModel and readable as `tf.saved_model.load(DIR).lod`.

The directory is written under a temporary name beside DIR and renamed when complete; an existing DIR is
refused unless --overwrite.
"""
import os
import sys

import tensorflow as tf
from absl import flags

from common import cli
from common.files import replace_dir_atomically
from pggan.generate import check_lod
from pggan.loading import NetworkLoadError, load_network

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official ProGAN pickle, snapshot directory, or run directory (its newest '
                    'valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'SavedModel directory to create.', flag_values=FLAGS)
flags.DEFINE_float('lod', None, 'Level of detail to freeze (default: the network\'s own lod).', flag_values=FLAGS)
flags.DEFINE_bool('overwrite', False, 'Replace an existing --outdir.', flag_values=FLAGS)


class ServingGenerator(tf.Module):
    """Gs behind a fixed serving signature (see the module docstring)."""

    def __init__(self, Gs):
        super().__init__(name='serving_generator')
        self.Gs = Gs
        self.lod = Gs.lod.value  # The tf.Variable Gs renders with; tracked here so that loaders can read it.
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, Gs.latent_size], tf.float32, name='latents'),
            tf.TensorSpec([None, Gs.label_size], tf.float32, name='labels')])

    def _serve(self, latents, labels):
        return {'images': self.Gs(latents, labels)}


def export_generator(Gs, outdir, lod=None, overwrite=False):
    """Writes Gs as a SavedModel at outdir (atomically); `lod` (None = keep) is assigned to Gs.lod first."""
    check_lod(Gs, lod)
    if lod is not None:
        Gs.lod.assign(lod)
    module = ServingGenerator(Gs)
    return replace_dir_atomically(
        lambda tmp: tf.saved_model.save(module, tmp, signatures={'serving_default': module.serve}), outdir, overwrite)


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if os.path.lexists(F.outdir) and not F.overwrite:  # Before the slow load.
        raise ValueError(f'{F.outdir} already exists (pass --overwrite to replace it)')
    Gs = cli.load_tool_network(load_network, F.network, 'export').Gs
    path = export_generator(Gs, F.outdir, F.lod, F.overwrite)
    print(f'Exported Gs ({2 ** Gs.resolution_log2} px, lod {float(Gs.lod.numpy()):g}, '
          f'latent_size {Gs.latent_size}, label_size {Gs.label_size}) to {path}')


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
