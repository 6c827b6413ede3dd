"""Exports a ProGAN generator (Gs of an official pickle or of our snapshot) as a TensorFlow SavedModel or a TFLite
model.

  python -m pggan.export --network=NET --outdir=DIR [--format=savedmodel] [--lod=L] [--overwrite]
  python -m pggan.export --network=NET --outdir=DIR --format=tflite [--lod=L] [--overwrite]

The SavedModel's `serving_default` signature maps
  latents [None, latent_size] float32, labels [None, label_size] float32  ->  {'images': [None, R, R, C] float32}
with images NHWC in [-1, 1] (not clipped, as Gs returns them). An unconditional network still takes `labels`,
of shape [N, 0]. The level of detail is not an input: it stays fixed at the network's lod when exported
(--lod sets it first), stored in the SavedModel and readable as `tf.saved_model.load(DIR).lod`. The function
holds no custom gradients (common/export.py), so loading is quiet.

tflite: the same signature in one TFLite model DIR/NAME.tflite (NAME: the network's file or directory name
without .pkl), weights and lod frozen, TFLite builtin ops only; run it with
tf.lite.Interpreter(...).get_signature_runner('serving_default').

Output is written under a temporary name and renamed when complete; an existing SavedModel directory or TFLite
file is refused unless --overwrite.
"""
import os
import sys

import tensorflow as tf
from absl import flags

from common import families
from common.util import cli
from common.export import output_name, save_savedmodel, serving_function, serving_module, write_tflite
from pggan.generate import check_lod
from pggan.loading import NetworkLoadError, load_network

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official ProGAN pickle, snapshot directory, or run directory (its newest '
                    'valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'savedmodel: the SavedModel directory to create; tflite: the directory to write '
                    'the file into (created if missing).', flag_values=FLAGS)
flags.DEFINE_enum('format', 'savedmodel', ['savedmodel', 'tflite'], 'What to write.', flag_values=FLAGS)
flags.DEFINE_float('lod', None, 'Level of detail to freeze (default: the network\'s own lod).', flag_values=FLAGS)
flags.DEFINE_bool('overwrite', False, 'Replace an existing SavedModel directory or TFLite file.', flag_values=FLAGS)


def _serving(Gs, lod):
    """(module, signatures): Gs behind the serving signature of the module docstring, at `lod` (None = keep),
    which is assigned to Gs.lod first; the module's `lod` is the variable Gs renders with, so loaders can read it."""
    check_lod(Gs, lod)
    if lod is not None:
        Gs.lod.assign(lod)

    def serve(latents, labels):
        return {'images': Gs(latents, labels)}
    signatures = {'serving_default': serving_function(serve, [
        tf.TensorSpec([None, Gs.latent_size], tf.float32, name='latents'),
        tf.TensorSpec([None, Gs.label_size], tf.float32, name='labels')])}
    module = serving_module(Gs, {'serve': signatures['serving_default']}, 'serving_generator', lod=Gs.lod.value)
    return module, signatures


def export_generator(Gs, outdir, lod=None, overwrite=False):
    """Writes Gs as a SavedModel at outdir (atomically); `lod` (None = keep) is assigned to Gs.lod first."""
    return save_savedmodel(*_serving(Gs, lod), outdir, overwrite)


def export_tflite(Gs, path, lod=None, overwrite=False):
    """Writes Gs as a TFLite model with the SavedModel's signature at `path` (atomically); `lod` as above."""
    return write_tflite(*_serving(Gs, lod), path, overwrite)


def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    tflite = F.format == 'tflite'
    target = os.path.join(F.outdir, output_name(F.network, '.tflite')) if tflite else F.outdir
    if os.path.lexists(target) and not F.overwrite:  # Before the slow load.
        raise ValueError(f'{target} already exists (pass --overwrite to replace it)')
    Gs = families.load_tool_network(load_network, F.network, 'export').Gs
    path = (export_tflite if tflite else export_generator)(Gs, target, F.lod, F.overwrite)
    print(f'Exported Gs ({2 ** Gs.resolution_log2} px, lod {float(Gs.lod.numpy()):g}, '
          f'latent_size {Gs.latent_size}, label_size {Gs.label_size}) as {"TFLite" if tflite else "a SavedModel"} '
          f'to {path}')


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
