"""Exports StyleGAN2 networks (an official pickle or one of our snapshots) as a TensorFlow SavedModel, a TFLite
model or an official-format network pickle.

  python -m stylegan2.export --network=NET --outdir=DIR [--format=savedmodel] [--overwrite]
  python -m stylegan2.export --network=NET --outdir=DIR --format=tflite [--overwrite]
  python -m stylegan2.export --network=NET --outdir=DIR --format=pkl [--pkl_name=NAME.pkl] [--overwrite]

savedmodel: Gs as a SavedModel at DIR with three signatures (images NHWC float32 in about [-1, 1], not clipped):
  mapping(z [None, z_dim], c [None, c_dim], truncation_psi [])  ->  {'ws': [None, num_ws, w_dim]}
  synthesis(ws [None, num_ws, w_dim])                            ->  {'images': [None, R, R, C]}   noise 'const'
  generator(z, c, truncation_psi)                                ->  {'images': [None, R, R, C]}   noise 'const'
An unconditional network still takes c, of shape [N, 0]. With a tensor psi the truncation lerp always runs, so
psi = 1 can differ from no truncation by a float32 ulp. A growing network (configs a-d) renders at its stored lod.
The functions hold no custom gradients (common/export.py), so loading is quiet.

tflite: the same three signatures in one TFLite model DIR/NAME.tflite (NAME: the network's name, as for pkl),
weights frozen, TFLite builtin ops only; run it with tf.lite.Interpreter(...).get_signature_runner('generator').

pkl: the tuple (G, D, Gs) as the official TF1 code pickles it: instances of `dnnlib.tflib.network.Network`
whose state holds version, name, static_kwargs, components (mapping, synthesis), build_module_src,
build_func_name and variables [(official name, ndarray)] in the official layouts. A network with the
StyleGAN2-ADA label layout is written as StyleGAN2-ADA (TF) writes it (version 5, G_synthesis, D_main), any other
as TF1 StyleGAN2 (version 4, G_synthesis_stylegan2, D_stylegan2, with G's `lod`). Our stylegan2.load_network and
ada-pytorch's legacy.load_network_pkl read it. The official TF1 unpickler does not: it executes build_module_src,
and the source is not included (a placeholder says so). The file is DIR/NAME, NAME by default the network's own
name with .pkl (our snapshot `network-snapshot-000140` gives `network-snapshot-000140.pkl`, as the official
training loop names its pickles).

Output is written under a temporary name and renamed when complete; an existing DIR (savedmodel) or pickle is
refused unless --overwrite.
"""
import contextlib
import os
import pickle
import sys
import types

import numpy as np
import tensorflow as tf
from absl import flags

from common import families
from common.util import cli
from common.util import images as image_utils
from common.export import output_name, save_savedmodel, serving_function, serving_module, write_tflite
from stylegan2.loading import NetworkLoadError, load_network, network_variables

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official StyleGAN2 / StyleGAN2-ADA pickle (.pkl or .pkl.xz), snapshot '
                    'directory, or run directory (its newest valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'savedmodel: the SavedModel directory to create; pkl, tflite: the directory to '
                    'write the file into (created if missing).', flag_values=FLAGS)
flags.DEFINE_enum('format', 'savedmodel', ['savedmodel', 'pkl', 'tflite'], 'What to write.', flag_values=FLAGS)
flags.DEFINE_string('pkl_name', None, 'File name of the pickle (default: the network\'s name with .pkl).',
                    flag_values=FLAGS)
flags.DEFINE_bool('overwrite', False, 'Replace an existing SavedModel directory, pickle or TFLite file.',
                  flag_values=FLAGS)

# Pickle protocol 4: what the official TF1 StyleGAN2 wrote (pickle.HIGHEST_PROTOCOL on its Python 3.6/3.7), and
# readable there, unlike protocol 5.
PICKLE_PROTOCOL = 4
BUILD_MODULE_SRC = ('# Source code not included. Written by stylegan2/export.py of a TensorFlow 2 port from the '
                    'network variables alone.\n# Rebuild the network from static_kwargs with build_func_name of the '
                    'official code (training/networks_stylegan2.py\n# of NVlabs/stylegan2 or training/networks.py of '
                    'NVlabs/stylegan2-ada), e.g. with legacy.load_network_pkl of stylegan2-ada-pytorch.\n')


# ---------------------------------------------------------------------------------------------------------------
# SavedModel, TFLite

def _serving(Gs):
    """(module, signatures): Gs behind the three signatures of the module docstring, which are also the
    module's attributes."""
    z = tf.TensorSpec([None, Gs.z_dim], tf.float32, name='z')
    c = tf.TensorSpec([None, Gs.c_dim], tf.float32, name='c')
    psi = tf.TensorSpec([], tf.float32, name='truncation_psi')
    ws = tf.TensorSpec([None, Gs.num_ws, Gs.w_dim], tf.float32, name='ws')

    def mapping(z, c, truncation_psi):
        return {'ws': Gs.mapping(z, c, truncation_psi=truncation_psi)}

    def synthesis(ws):
        return {'images': Gs.synthesis(ws, noise_mode='const')}

    def generator(z, c, truncation_psi):
        return {'images': Gs(z, c, truncation_psi=truncation_psi, noise_mode='const')}
    signatures = {'mapping': serving_function(mapping, [z, c, psi]), 'synthesis': serving_function(synthesis, [ws]),
                  'generator': serving_function(generator, [z, c, psi])}
    return serving_module(Gs, signatures, 'stylegan2_gs'), signatures


def export_savedmodel(Gs, outdir, overwrite=False):
    """Writes Gs as a SavedModel at outdir (atomically); returns its absolute path."""
    return save_savedmodel(*_serving(Gs), outdir, overwrite)


def export_tflite(Gs, path, overwrite=False):
    """Writes Gs as a TFLite model with the SavedModel's signatures at `path` (atomically); returns the path."""
    return write_tflite(*_serving(Gs), path, overwrite)


# ---------------------------------------------------------------------------------------------------------------
# Official pickle: static kwargs

_ABSENT = object()  # Not a kwarg of that code base.


def _dlatent_size(kw):
    return kw['dlatent_size']


def _latent_size(kw):
    return kw['latent_size']


def _d_nf0(kw):  # StyleGAN2-ADA D_main: mapping_fmaps None = nf(0).
    return int(np.clip(int(kw['fmap_base']), kw['fmap_min'], kw['fmap_max']))


def _d_legacy_cmap_dim(kw):  # ada-pytorch Discriminator: cmap_dim None = channels at 4x4 = min(fmap_base // 2, max).
    return min(int(kw['fmap_base']) * 2 // 4, kw['fmap_max'])


# kwarg -> (TF1 StyleGAN2 default, StyleGAN2-ADA default, default legacy.py assumes when absent). A callable
# computes a default from our kwargs. _ABSENT in the first column: TF1 StyleGAN2 lacks the option, so only its
# off value (the ADA default) can be written as TF1 StyleGAN2; in the last: legacy.py refuses the kwarg.
# Read from G_main / G_mapping / G_synthesis(_stylegan2), D_stylegan2 / D_main and legacy.convert_tf_*.
_G_DEFAULTS = {
    'resolution': (1024, 1024, 1024),
    'num_channels': (3, 3, 3),
    'label_size': (0, 0, 0),
    'fmap_base': (16384, 16384, 16384),
    'fmap_decay': (1.0, 1.0, _ABSENT),
    'fmap_min': (1, 1, _ABSENT),
    'fmap_max': (512, 512, 512),
    'fmap_const': (_ABSENT, None, _ABSENT),
    'latent_size': (512, 512, 512),
    'dlatent_size': (512, 512, 512),
    'mapping_fmaps': (512, _dlatent_size, _dlatent_size),
    'mapping_layers': (8, 8, 8),
    'mapping_lrmul': (0.01, 0.01, 0.01),
    'mapping_nonlinearity': ('lrelu', 'lrelu', 'lrelu'),
    'normalize_latents': (True, True, _ABSENT),
    'label_fmaps': (_ABSENT, _latent_size, _dlatent_size),
    'architecture': ('skip', 'skip', 'skip'),
    'nonlinearity': ('lrelu', 'lrelu', 'lrelu'),
    'resample_kernel': ([1, 3, 3, 1], [1, 3, 3, 1], [1, 3, 3, 1]),
    'use_noise': (_ABSENT, True, True),
    'conv_clamp': (_ABSENT, None, None),
    'num_fp16_res': (_ABSENT, 0, 0),
    'dlatent_avg_beta': (0.995, 0.995, _ABSENT),
    'style_mixing_prob': (0.9, 0.9, 0.9),
}
_D_DEFAULTS = {
    'resolution': (1024, 1024, 1024),
    'num_channels': (3, 3, 3),
    'label_size': (0, 0, 0),
    'fmap_base': (16384, 16384, 16384),
    'fmap_decay': (1.0, 1.0, _ABSENT),
    'fmap_min': (1, 1, _ABSENT),
    'fmap_max': (512, 512, 512),
    'architecture': ('resnet', 'resnet', 'resnet'),
    'nonlinearity': ('lrelu', 'lrelu', 'lrelu'),
    'mbstd_group_size': (4, None, None),
    'mbstd_num_features': (1, 1, 1),
    'resample_kernel': ([1, 3, 3, 1], [1, 3, 3, 1], [1, 3, 3, 1]),
    'mapping_layers': (_ABSENT, 0, 0),
    'mapping_fmaps': (_ABSENT, _d_nf0, _d_legacy_cmap_dim),
    'mapping_lrmul': (_ABSENT, 0.1, 0.1),
    'conv_clamp': (_ABSENT, None, None),
    'num_fp16_res': (_ABSENT, 0, 0),
}
# Our value of a kwarg whose None means a computed value (ours follow StyleGAN2-ADA there).
_FP16 = {'num_fp16_res': lambda kw: kw.get('num_fp16_res', 0)}  # Recorded by float16 networks only.
_G_VALUES = {**_FP16, 'mapping_fmaps': lambda kw: kw['mapping_fmaps'] if kw['mapping_fmaps'] is not None else kw['dlatent_size'],
             'label_fmaps': lambda kw: kw['label_fmaps'] if kw['label_fmaps'] is not None else kw['latent_size']}
_D_VALUES = {**_FP16, 'mapping_fmaps': lambda kw: kw['mapping_fmaps'] if kw['mapping_fmaps'] is not None else _d_nf0(kw)}
# Kwargs that only matter for ADA label embeddings: skipped otherwise.
_ADA_LABEL_ONLY = {'G': ('label_fmaps',), 'D': ('mapping_layers', 'mapping_fmaps', 'mapping_lrmul')}
# Always written, as the official training loop always passes them (from the dataset).
_ALWAYS = ('resolution', 'num_channels', 'label_size')
# Our kwargs that are not written: fused_modconv (the same function either way; legacy.py refuses it),
# randomize_noise (a run-time default, not part of the network), label_layout (told by build_func_name),
# fp16_dtype (ours: the official code always uses float16 for num_fp16_res).
_NOT_WRITTEN = ('fused_modconv', 'randomize_noise', 'label_layout', 'fp16_dtype')


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def official_static_kwargs(net, kind):
    """(static_kwargs, refused): the official kwargs of our Generator (kind 'G') or Discriminator ('D').

    A kwarg is written when the network's value differs from the official default of its code base (so the
    official code builds the same network), or from what legacy.py assumes when it is absent (so ada-pytorch
    does too), or when it is one of _ALWAYS. `refused` lists written kwargs that legacy.py refuses.
    Raises ValueError for an option that TF1 StyleGAN2 cannot express.
    """
    kw = {key: _plain(value) for key, value in net.kwargs.items()}
    ada = kw['label_layout'] == 'ada'
    table, values = (_G_DEFAULTS, _G_VALUES) if kind == 'G' else (_D_DEFAULTS, _D_VALUES)
    unknown = sorted(set(kw) - set(table) - set(_NOT_WRITTEN))
    if unknown:
        raise ValueError(f'{net.name}: no official kwarg known for {unknown}')
    out, refused = {}, []
    for key, defaults in table.items():
        if key in _ADA_LABEL_ONLY[kind] and not (ada and kw['label_size']):
            continue
        value = values[key](kw) if key in values else kw[key]
        official, legacy = (d(kw) if callable(d) else d for d in (defaults[1 if ada else 0], defaults[2]))
        if official is _ABSENT:  # A StyleGAN2-ADA option, written as TF1 StyleGAN2: only its off value fits.
            off = defaults[1](kw) if callable(defaults[1]) else defaults[1]
            if value != off:
                raise ValueError(f'{net.name}: {key}={value!r} cannot be written as a TF1 StyleGAN2 pickle '
                                 f'(an option of StyleGAN2-ADA only; labels in the StyleGAN2 layout)')
            continue
        if key in _ALWAYS or value != official or (legacy is not _ABSENT and value != legacy):
            out[key] = value
            if legacy is _ABSENT:
                refused.append(key)
    return out, refused


# ---------------------------------------------------------------------------------------------------------------
# Official pickle: network states

class _OfficialNetwork:
    """Pickles as `dnnlib.tflib.network.Network` with the given state (see official_network_class)."""

    def __init__(self, state):
        self.state = state

    def __getstate__(self):
        return self.state


_OfficialNetwork.__module__ = 'dnnlib.tflib.network'
_OfficialNetwork.__qualname__ = _OfficialNetwork.__name__ = 'Network'


@contextlib.contextmanager
def official_network_class():
    """Registers stand-in modules `dnnlib`, `dnnlib.tflib`, `dnnlib.tflib.network` (holding _OfficialNetwork as
    `Network`) for the duration of the block, so that pickle can name the official class without dnnlib
    installed; whatever those names held before is put back afterwards."""
    names = ('dnnlib', 'dnnlib.tflib', 'dnnlib.tflib.network')
    saved = {name: sys.modules[name] for name in names if name in sys.modules}
    stubs = {name: types.ModuleType(name) for name in names}
    stubs['dnnlib'].tflib = stubs['dnnlib.tflib']
    stubs['dnnlib.tflib'].network = stubs['dnnlib.tflib.network']
    stubs['dnnlib.tflib.network'].Network = _OfficialNetwork
    sys.modules.update(stubs)
    try:
        yield _OfficialNetwork
    finally:
        for name in names:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                sys.modules.pop(name, None)


def _array(var):
    value = np.asarray(var.numpy(), np.float32)
    return np.float32(value) if value.ndim == 0 else np.ascontiguousarray(value)  # As tflib.run returns them.


def _state(origin, name, static_kwargs, components, build_func_name, variables, io_shapes):
    state = dict(version=4 if origin == 'stylegan2' else 5, name=name, static_kwargs=dict(static_kwargs),
                 components=components, build_module_src=BUILD_MODULE_SRC, build_func_name=build_func_name,
                 variables=variables)
    if origin == 'ada':  # StyleGAN2-ADA's version 5 also records the inputs and outputs.
        inputs, outputs = io_shapes
        state.update(input_shapes=[shape for _, shape in inputs], output_shapes=[shape for _, shape in outputs],
                     input_names=[name for name, _ in inputs], output_names=[name for name, _ in outputs])
    return state


def generator_state(G, name):
    """Our Generator -> official G_main network state with synthesis and mapping components."""
    origin = G.kwargs['label_layout']
    static_kwargs, _ = official_static_kwargs(G, 'G')
    values = {key: _array(var) for key, var in network_variables(G).items()}
    synthesis = [(key[len('synthesis/'):], value) for key, value in values.items() if key.startswith('synthesis/')]
    synthesis.sort(key=lambda item: not item[0].startswith('noise'))  # The official order: noise buffers first.
    mapping = [(key[len('mapping/'):], value) for key, value in values.items() if key.startswith('mapping/')]
    own = ([('lod', np.float32(0))] if origin == 'stylegan2' else []) + [('dlatent_avg', values['dlatent_avg'])]
    z, c = ('latents_in', [None, G.z_dim]), ('labels_in', [None, G.c_dim])
    ws = [None, G.num_ws, G.w_dim]
    images = ('images_out', [None, G.img_channels, G.img_resolution, G.img_resolution])  # NCHW, as official.
    synthesis_func = 'G_synthesis_stylegan2' if origin == 'stylegan2' else 'G_synthesis'
    components = {
        'synthesis': _OfficialNetwork(_state(
            origin, 'G_synthesis', static_kwargs, {}, synthesis_func, synthesis, ([('dlatents_in', ws)], [images]))),
        'mapping': _OfficialNetwork(_state(
            origin, 'G_mapping', {'dlatent_broadcast': G.num_ws, **static_kwargs}, {}, 'G_mapping', mapping,
            ([z, c], [('dlatents_out', ws)]))),
    }
    return _state(origin, name, static_kwargs, components, 'G_main', own, ([z, c], [images]))


def discriminator_state(D, name='D'):
    """Our Discriminator -> official D_stylegan2 / D_main network state."""
    origin = D.kwargs['label_layout']
    static_kwargs, _ = official_static_kwargs(D, 'D')
    variables = [(key, _array(var)) for key, var in network_variables(D).items()]
    res = D.kwargs['resolution']
    inputs = [('images_in', [None, D.num_channels, res, res]), ('labels_in', [None, D.c_dim])]
    return _state(origin, name, static_kwargs, {}, 'D_stylegan2' if origin == 'stylegan2' else 'D_main', variables,
                  (inputs, [('scores_out', [None, 1])]))


def legacy_refused_kwargs(nets):
    """Kwargs the pickle of `nets` will hold that ada-pytorch's legacy.py refuses, as 'G: key' strings."""
    return [f'{name}: {key}' for name, net, kind in (('G', nets.G, 'G'), ('D', nets.D, 'D'), ('Gs', nets.Gs, 'G'))
            for key in official_static_kwargs(net, kind)[1]]


def _require_stylegan2_layout(nets):
    """The pickle writer knows G_main + G_synthesis_stylegan2 / D_stylegan2 (configs e, f) and the ADA layout;
    the networks of configs a-d (G_style, the revised synthesis, D_basic, D_stylegan) would come out wrong."""
    from stylegan2.networks import Discriminator, Synthesis
    from stylegan2.generator import Generator
    for name, net in (('G', nets.G), ('D', nets.D), ('Gs', nets.Gs)):
        if not ((type(net) is Generator and type(net.synthesis) is Synthesis) or type(net) is Discriminator):
            kind = type(net.synthesis if type(net) is Generator else net).__name__
            raise ValueError(f'{name} is a {kind} (configs a-d): writing it as an official pickle is not supported '
                             f'yet; --format=savedmodel exports its Gs, and our snapshots keep it whole')


def write_official_pickle(nets, path, overwrite=False):
    """Writes (G, D, Gs) of `nets` to `path` in the official pickle layout (atomically); returns the path."""
    if os.path.lexists(path) and not overwrite:
        raise ValueError(f'{path} already exists (pass --overwrite to replace it)')
    if os.path.isdir(path):
        raise ValueError(f'{path} is a directory; refusing to replace it')
    _require_stylegan2_layout(nets)
    with official_network_class():
        states = (generator_state(nets.G, 'G'), discriminator_state(nets.D, 'D'), generator_state(nets.Gs, 'Gs'))
        data = pickle.dumps(tuple(_OfficialNetwork(state) for state in states), protocol=PICKLE_PROTOCOL)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(tmp):
        with open(tmp, 'wb') as f:
            f.write(data)
    image_utils.save_atomic(path, write, suffix='.pkl')
    return path


def official_pickle_name(network):
    """network-snapshot-000140/ -> network-snapshot-000140.pkl; foo.pkl.xz -> foo.pkl."""
    return output_name(network, '.pkl')


# ---------------------------------------------------------------------------------------------------------------

def main():
    F = FLAGS
    if not F.network or not F.outdir:
        raise ValueError('--network and --outdir are required (see --help)')
    if F.format != 'pkl' and F.pkl_name:
        raise ValueError('--pkl_name is for --format=pkl')
    if F.format == 'savedmodel':
        target = F.outdir
    elif F.format == 'tflite':
        target = os.path.join(F.outdir, output_name(F.network, '.tflite'))
    else:
        if F.pkl_name is not None and (not F.pkl_name.strip() or os.path.basename(F.pkl_name) != F.pkl_name):
            raise ValueError(f'--pkl_name={F.pkl_name!r}: expected a file name, without a directory')
        target = os.path.join(F.outdir, F.pkl_name or official_pickle_name(F.network))
    if os.path.lexists(target) and not F.overwrite:  # Before the slow load.
        raise ValueError(f'{target} already exists (pass --overwrite to replace it)')
    nets = families.load_tool_network(load_network, F.network, 'export')
    Gs = nets.Gs
    if F.format in ('savedmodel', 'tflite'):
        export, kind = (export_savedmodel, 'a SavedModel') if F.format == 'savedmodel' else (export_tflite, 'TFLite')
        path = export(Gs, target, F.overwrite)
        print(f'Exported Gs ({Gs.img_resolution} px, z_dim {Gs.z_dim}, c_dim {Gs.c_dim}, num_ws {Gs.num_ws}) '
              f'as {kind} with signatures mapping, synthesis, generator to {path}')
        return
    refused = legacy_refused_kwargs(nets)
    path = write_official_pickle(nets, target, F.overwrite)
    print(f'Exported (G, D, Gs) as an official network pickle to {path}')
    if refused:
        print(f'warning: ada-pytorch\'s legacy.load_network_pkl will refuse kwargs {refused} of this pickle',
              file=sys.stderr)


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
