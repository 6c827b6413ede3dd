"""`load_network`: official StyleGAN (v1, `G_style` / `D_basic`), StyleGAN2 (TF1, configs b-f) and
StyleGAN2-ADA (TF) pickles `(G, D, Gs)`, plain or xz-compressed, StyleGAN2-ADA (PyTorch) snapshots
`{G, D, G_ema, augment_pipe, training_set_kwargs}`, or our snapshots -> Keras G, D and Gs.

Official variables map one to one onto ours by name (`synthesis/8x8/Conv0_up/mod_weight` -> layer
`8x8.Conv0_up` of `G.synthesis`, variable `mod_weight`); every official variable must be used and every one
of ours set, with equal shapes. No code stored in a pickle is ever run: networks are rebuilt from their
`static_kwargs`, whose missing entries take the defaults of the code base that wrote the pickle.
ada-pytorch tensors map onto the same variables through a table of module names and layouts
(`synthesis.b8.conv0.affine.weight` [out, in] -> `synthesis/8x8/Conv0_up/mod_weight` [in, out]), checked the
same way, and the networks are rebuilt from the modules' `init_kwargs` with ada-pytorch's defaults.
"""
import os
import re

import numpy as np

from common.util.pickle_io import (NetworkLoadError, Networks, NetworkState, OtherFamilyError, PersistentModule,
                              assign_by_name, is_snapshot_dir, load_snapshot_networks, network_triple,
                              read_network_pickle)
from common.training.run_dir import resolve_network_path
from stylegan2.networks import Discriminator
from stylegan2.generator import Generator
from stylegan2.networks_progressive import StyleGANDiscriminator
from stylegan2.networks_stylegan import BasicDiscriminator, StyleGenerator
from stylegan2.options import NAME, TITLE




# The code base that built a network, told by its build functions: G_main exists in both StyleGAN2 code
# bases, so G is told by its synthesis component.
_SYNTHESIS_ORIGIN = {'G_synthesis_stylegan2': 'stylegan2', 'G_synthesis_stylegan_revised': 'stylegan2',
                     'G_synthesis': 'ada'}
_D_ORIGIN = {'D_stylegan2': 'stylegan2', 'D_main': 'ada', 'D_stylegan': 'stylegan2', 'D_basic': 'stylegan'}

# Official build function -> our class; also how snapshots name their networks (kwargs `func_name`).
NETWORK_CLASSES = {'G_main': Generator, 'G_style': StyleGenerator, 'D_stylegan2': Discriminator,
                   'D_main': Discriminator, 'D_stylegan': StyleGANDiscriminator, 'D_basic': BasicDiscriminator}

# Official defaults of StyleGAN2-ADA (TF) where they differ from TF1 StyleGAN2, whose defaults our
# constructors have. Read from training/networks.py of both repositories.
_ADA_DEFAULTS = {
    'G': dict(mapping_fmaps=None,       # None = dlatent_size (TF1 StyleGAN2: 512).
              fused_modconv=False),     # Same function either way; kept for the record.
    'D': dict(mbstd_group_size=None),   # None = whole minibatch (TF1 StyleGAN2: 4).
}

# ADA discriminator options that change the network and that we do not implement, with their off values.
_UNSUPPORTED_D = {'use_pagan': False, 'use_spectral_norm': False, 'score_max': 1, 'score_size': 1}

# Keys of official static_kwargs (TF1 StyleGAN2 G_main / D_stylegan2 / D_stylegan, StyleGAN2-ADA TF G_main /
# D_main, StyleGAN G_style / D_basic) that our constructors do not take, and why dropping them is right. Any
# other unknown key is an error naming it (common.ops.layers.refuse_unknown).
IGNORED_OFFICIAL_KWARGS = {
    'truncation_psi': 'a sampling option: ours is an argument of the call (generate --trunc)',
    'truncation_cutoff': 'a sampling option: ours is an argument of the call',
    'truncation_psi_val': 'the validation-time truncation of TF1 G_main, a sampling option',
    'truncation_cutoff_val': 'the validation-time truncation cutoff, a sampling option',
    'return_dlatents': 'a TF1 graph output switch; ours return ws from G.mapping',
    'is_training': 'a TF1 graph-building switch (training-only ops); training is the loop\'s',
    'is_validation': 'a TF1 graph-building switch (validation truncation)',
    'is_template_graph': 'a TF1 graph-building switch',
    'components': 'the sub-networks, rebuilt from the pickle\'s own components',
    'mapping_func': 'always G_mapping in the published code; the synthesis function is read from its component',
    'dtype': 'float32 in the published networks; our precision is set by num_fp16_res / fp16_dtype',
    **{key: f'an ADA discriminator option we do not implement, checked to be off ({off!r}) first'
       for key, off in _UNSUPPORTED_D.items()},
}

_OTHER_FAMILIES = {
    'G_paper': 'a ProGAN pickle: load it with pggan.load_network',
    'D_paper': 'a ProGAN pickle: load it with pggan.load_network',
}



def _short(func_name):
    return str(func_name or '').split('.')[-1]


def _scoped_variables(model):
    """Layers own their official variables by name, or list them (`official_variables`) when they hold
    several sub-scopes (StyleGAN's `Noise/weight`, `StyleMod/weight`)."""
    table = {}
    for scope, layer in model.layers_by_scope.items():
        own = layer.official_variables() if hasattr(layer, 'official_variables') else {v.name: v for v in layer.weights}
        table.update({f'{scope}/{name}': var for name, var in own.items()})
    return table


def network_variables(net):
    """Official name -> our variable. Generator names are those of the pickle: own variables
    (`dlatent_avg`, and `lod` for growing networks), then `<component>/<name>` (`mapping/Dense0/weight`,
    `synthesis/noise3`). A growing G's `lod` is the synthesis network's: G_main and G_style copy theirs
    into it at every call, so the pickle's `synthesis/lod` is not read."""
    if isinstance(net, (Generator, StyleGenerator)):
        table = {'dlatent_avg': net.mapping.dlatent_avg}
        for key, component in (('mapping', net.mapping), ('synthesis', net.synthesis)):
            table.update({f'{key}/{name}': var for name, var in _scoped_variables(component).items()})
        table.update({f'synthesis/noise{i}': var for i, var in enumerate(net.synthesis.noise_buffers)})
        lod = getattr(net.synthesis, 'lod', None)
    else:
        table, lod = _scoped_variables(net), getattr(net, 'lod', None)
    if lod is not None:
        table['lod'] = lod
    return table


def _official_variables(state, where):
    variables = dict(state.variables)
    for key, component in state.components.items():
        if not isinstance(component, NetworkState):
            raise NetworkLoadError(f'{where}: component {key!r} is not a network')
        variables.update({f'{key}/{name}': value for name, value in component.variables.items()})
    return variables


def assign_official_variables(net, variables, where):
    """Sets every variable of `net` from `variables` (official name -> array), checked as described above.
    `lod` is skipped for networks that do not grow (TF1 StyleGAN2's G keeps one, always 0, which
    ada-pytorch's converter ignores too), and so is `synthesis/lod` (see network_variables)."""
    ours = network_variables(net)
    variables = {k: v for k, v in variables.items() if k != 'synthesis/lod' and (k != 'lod' or 'lod' in ours)}
    assign_by_name(ours, variables, where, 'the network built from its kwargs')


def official_kwargs(state, kind, where):
    """Our constructor kwargs for an official network state; kind 'G' or 'D'."""
    func = _short(state.build_func_name)
    if func in _OTHER_FAMILIES:
        raise OtherFamilyError(f'{where}: {_OTHER_FAMILIES[func]}', 'pggan')
    if kind == 'G':
        synthesis = state.components.get('synthesis')
        synthesis_func = _short(synthesis.build_func_name) if isinstance(synthesis, NetworkState) else None
        origin = _SYNTHESIS_ORIGIN.get(synthesis_func) if func == 'G_main' else None
        if func == 'G_style' and synthesis_func == 'G_synthesis':
            origin = 'stylegan'
        if origin is None:
            raise NetworkLoadError(f'{where}: generator built by {func!r} with synthesis {synthesis_func!r}; '
                                   f'expected G_main with {" or ".join(_SYNTHESIS_ORIGIN)}, or G_style with G_synthesis')
    else:
        origin = _D_ORIGIN.get(func)
        if origin is None:
            raise NetworkLoadError(f'{where}: discriminator built by {func!r}, expected {" or ".join(_D_ORIGIN)}')
    if kind == 'D':
        for key, off in _UNSUPPORTED_D.items():
            if state.static_kwargs.get(key, off) != off:
                raise NetworkLoadError(f'{where}: discriminator option {key}={state.static_kwargs[key]!r} is not supported')
    kwargs = dict(_ADA_DEFAULTS[kind]) if origin == 'ada' else {}
    kwargs.update({k: v for k, v in state.static_kwargs.items() if k not in IGNORED_OFFICIAL_KWARGS})
    kwargs['func_name'] = func
    if origin == 'stylegan':
        return kwargs
    if func != 'D_stylegan':  # Configs b-d's D has no label layout to choose.
        kwargs['label_layout'] = origin
    if kwargs.get('num_fp16_res'):
        # Kept for the record (export writes it back), computed in float32: inference and metrics on official
        # networks stay float32-exact, as ada-pytorch with force_fp32. Training sets its own precision.
        kwargs['fp16_dtype'] = None
    if synthesis_func_of(state, kind) == 'G_synthesis_stylegan_revised':
        kwargs['synthesis_func'] = 'G_synthesis_stylegan_revised'
    if kind == 'D':
        if origin == 'stylegan2' and kwargs.get('mbstd_group_size', 4) <= 1:
            kwargs['mbstd_num_features'] = 0  # TF1 StyleGAN2 disables the layer for group sizes <= 1.
    return kwargs


def synthesis_func_of(state, kind):
    synthesis = state.components.get('synthesis') if kind == 'G' else None
    return _short(synthesis.build_func_name) if isinstance(synthesis, NetworkState) else None


def build_network(kwargs, name):
    """Our network from kwargs that name its official build function (`func_name`, default G_main / D_stylegan2)."""
    kwargs = dict(kwargs)
    func = kwargs.pop('func_name', 'G_main' if name in ('G', 'Gs') else 'D_stylegan2')
    return NETWORK_CLASSES[func](name=name, **kwargs)


def _from_state(state, kind, where, name):
    if not isinstance(state, NetworkState):
        raise NetworkLoadError(f'{where}: network {name} is not a network state')
    kwargs = official_kwargs(state, kind, f'{where} [{name}]')
    try:
        net = build_network(kwargs, name)
    except (TypeError, ValueError) as e:
        raise NetworkLoadError(f'{where} [{name}]: cannot build the network from its kwargs ({e})')
    assign_official_variables(net, _official_variables(state, f'{where} [{name}]'), f'{where} [{name}]')
    return net, kwargs


def load_network(path):
    """Loads StyleGAN2 networks from an official `.pkl` (TF1 StyleGAN2, StyleGAN2-ADA TF or PyTorch, optionally
    xz-compressed), one of our snapshot directories, or a run directory (its newest valid snapshot).
    Raises NetworkLoadError."""
    path = resolve_network_path(os.fspath(path))
    if is_snapshot_dir(path):
        return _load_snapshot(path)
    obj = read_network_pickle(path)
    if isinstance(obj, dict):
        return load_ada_pytorch(obj, path)
    obj = network_triple(obj, path, also=' or a StyleGAN2-ADA (PyTorch) dict with G, D and G_ema')
    (G, G_kwargs), (D, D_kwargs), (Gs, _) = (_from_state(obj[0], 'G', path, 'G'), _from_state(obj[1], 'D', path, 'D'),
                                             _from_state(obj[2], 'G', path, 'Gs'))
    return Networks(G, D, Gs, path, kwargs={'G': G_kwargs, 'D': D_kwargs})


def build_networks(kwargs):
    """G, D, Gs from snapshot kwargs {'G': Generator kwargs, 'D': Discriminator kwargs}."""
    return build_network(kwargs['G'], 'G'), build_network(kwargs['D'], 'D'), build_network(kwargs['G'], 'Gs')


def _load_snapshot(path):
    return load_snapshot_networks(path, NAME, TITLE, build_networks)


# ---------------------------------------------------------------------------------------------------------------
# StyleGAN2-ADA (PyTorch) snapshots: training/networks.py modules -> the same networks.

# Our layer scope (the official TF name) -> (ada-pytorch module, layout of its `weight`). legacy.py flips the
# kernels of the upsampling layers when it converts TF pickles (their transposed convolution is a flipped
# correlation); the inverse is the same flip.
_ADA_PYTORCH_SCOPES = {
    'G': [
        (r'mapping/Dense(\d+)', 'mapping.fc{}', 'dense'),
        (r'mapping/LabelEmbed', 'mapping.embed', 'dense'),
        (r'synthesis/4x4/Const', 'synthesis.b4', None),
        (r'synthesis/4x4/Conv', 'synthesis.b4.conv1', 'conv'),
        (r'synthesis/(\d+)x\d+/Conv0_up', 'synthesis.b{}.conv0', 'conv_flipped'),
        (r'synthesis/(\d+)x\d+/Conv1', 'synthesis.b{}.conv1', 'conv'),
        (r'synthesis/(\d+)x\d+/ToRGB', 'synthesis.b{}.torgb', 'conv'),
        (r'synthesis/(\d+)x\d+/Skip', 'synthesis.b{}.skip', 'conv_flipped'),
    ],
    'D': [
        (r'(\d+)x\d+/FromRGB', 'b{}.fromrgb', 'conv'),
        (r'(\d+)x\d+/Conv0', 'b{}.conv0', 'conv'),
        (r'(\d+)x\d+/Conv1_down', 'b{}.conv1', 'conv'),
        (r'(\d+)x\d+/Skip', 'b{}.skip', 'conv'),
        (r'4x4/Conv', 'b4.conv', 'conv'),
        (r'4x4/Dense0', 'b4.fc', 'dense'),
        (r'Output', 'b4.out', 'dense'),
        (r'LabelEmbed', 'mapping.embed', 'dense'),
        (r'Mapping(\d+)', 'mapping.fc{}', 'dense'),
    ],
}
# Our variable of a layer -> (ada-pytorch tensor of its module, layout); 'weight' has the layer's layout above.
_ADA_PYTORCH_VARIABLES = {
    'weight': ('weight', None),
    'bias': ('bias', 'same'),
    'noise_strength': ('noise_strength', 'same'),
    'mod_weight': ('affine.weight', 'dense'),
    'mod_bias': ('affine.bias', 'minus_one'),
    'const': ('const', 'batch'),
}
# ada-pytorch layout -> ours.
_ADA_PYTORCH_LAYOUTS = {
    'same': lambda x: x,
    'dense': lambda x: x.T,                                          # [out, in] -> [in, out].
    'conv': lambda x: x.transpose(2, 3, 1, 0),                       # OIHW -> HWIO.
    'conv_flipped': lambda x: x.transpose(2, 3, 1, 0)[::-1, ::-1],
    'minus_one': lambda x: x - 1,      # The affine bias is initialized to 1 there; our modulation adds the 1.
    'batch': lambda x: x[None],        # const [C, 4, 4] -> [1, C, 4, 4].
    'batch2': lambda x: x[None, None],  # noise_const [R, R] -> [1, 1, R, R].
}
# Tensors with no variable of ours: the resampling filters, rebuilt from `resample_filter` in init_kwargs.
_ADA_PYTORCH_DERIVED = re.compile(r'(.+\.)?resample_filter')


def ada_pytorch_name(name, kind):
    """(ada-pytorch tensor name, layout) of our variable `name` (official TF name) of a G or D (`kind`)."""
    if kind == 'G' and name == 'dlatent_avg':
        return 'mapping.w_avg', 'same'
    noise = re.fullmatch(r'synthesis/noise(\d+)', name) if kind == 'G' else None
    if noise:  # noise<k> belongs to the k-th conv layer: conv0 (odd k) or conv1 (even k) of block 2^((k+5)//2).
        k = int(noise.group(1))
        return f'synthesis.b{2 ** ((k + 5) // 2)}.conv{1 - k % 2}.noise_const', 'batch2'
    scope, _, variable = name.rpartition('/')
    for pattern, module, weight_layout in _ADA_PYTORCH_SCOPES[kind]:
        match = re.fullmatch(pattern, scope)
        if match and variable in _ADA_PYTORCH_VARIABLES:
            tensor, layout = _ADA_PYTORCH_VARIABLES[variable]
            return f'{module.format(*match.groups())}.{tensor}', layout or weight_layout
    raise ValueError(f'no ada-pytorch name for our variable {name}')


def assign_ada_pytorch_tensors(net, kind, tensors, where):
    """Sets every variable of `net` from `tensors` ({ada-pytorch name: ndarray}, as PersistentModule.tensors):
    the names (derived filters aside) must be exactly those of the table and the shapes equal."""
    table = {}
    for name, var in network_variables(net).items():
        torch_name, layout = ada_pytorch_name(name, kind)
        table[torch_name] = (var, _ADA_PYTORCH_LAYOUTS[layout])
    theirs = {name: table[name][1](value) if name in table else value
              for name, value in tensors.items() if not _ADA_PYTORCH_DERIVED.fullmatch(name)}
    assign_by_name({name: var for name, (var, _) in table.items()}, theirs, where,
                   'the network built from its init_kwargs')


def _subset(kwargs, known, what, where):
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise NetworkLoadError(f'{where}: {what} has options this loader does not know: {unknown}')
    return kwargs


def _fmap_base(channel_base):
    """ada-pytorch's channels min(channel_base // res, channel_max) are our nf(log2(res) - 1) =
    min(int(fmap_base / 2^(log2(res) - 1)), fmap_max) with fmap_base = channel_base / 2."""
    return channel_base // 2 if channel_base % 2 == 0 else channel_base / 2


def _precision(num_fp16_res):
    # As for TF pickles: kept for the record (export writes it back), computed in float32, as ada-pytorch with
    # force_fp32=True.
    return dict(num_fp16_res=num_fp16_res, fp16_dtype=None) if num_fp16_res else {}


# Memory-layout and training-only options: no effect on the function a network computes.
_ADA_PYTORCH_IGNORED = ('channels_last', 'fp16_channels_last', 'freeze_layers')


def ada_pytorch_generator_kwargs(kw, where):
    """Our Generator kwargs for the init_kwargs of an ada-pytorch `Generator` (its defaults where absent)."""
    kw = _subset(kw, ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels', 'mapping_kwargs',
                      'synthesis_kwargs'), 'Generator', where)
    mapping = _subset(kw.get('mapping_kwargs'), ('num_layers', 'embed_features', 'layer_features', 'activation',
                                                 'lr_multiplier', 'w_avg_beta'), 'mapping_kwargs', where)
    synthesis = _subset(kw.get('synthesis_kwargs'), ('channel_base', 'channel_max', 'num_fp16_res', 'architecture',
                                                     'resample_filter', 'conv_clamp', 'use_noise', 'activation',
                                                     'kernel_size') + _ADA_PYTORCH_IGNORED,
                        'synthesis_kwargs', where)
    if synthesis.get('kernel_size', 3) != 3:
        raise NetworkLoadError(f'{where}: kernel_size={synthesis["kernel_size"]} is not supported (3 only)')
    if mapping.get('w_avg_beta', 0.995) is None:
        raise NetworkLoadError(f'{where}: w_avg_beta=None (a mapping without w_avg) is not supported')
    missing = [k for k in ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels') if k not in kw]
    if missing:
        raise NetworkLoadError(f'{where}: Generator init_kwargs lack {missing}')
    embed = mapping.get('embed_features')
    return dict(
        func_name='G_main', latent_size=kw['z_dim'], label_size=kw['c_dim'], dlatent_size=kw['w_dim'],
        num_channels=kw['img_channels'], resolution=kw['img_resolution'],
        mapping_layers=mapping.get('num_layers', 8), mapping_fmaps=mapping.get('layer_features'),
        mapping_lrmul=mapping.get('lr_multiplier', 0.01), mapping_nonlinearity=mapping.get('activation', 'lrelu'),
        label_layout='ada', label_fmaps=(embed if embed is not None else kw['w_dim']) if kw['c_dim'] else None,
        dlatent_avg_beta=mapping.get('w_avg_beta', 0.995),
        fmap_base=_fmap_base(synthesis.get('channel_base', 32768)), fmap_max=synthesis.get('channel_max', 512),
        architecture=synthesis.get('architecture', 'skip'), nonlinearity=synthesis.get('activation', 'lrelu'),
        resample_kernel=list(synthesis.get('resample_filter', [1, 3, 3, 1])),
        use_noise=synthesis.get('use_noise', True), conv_clamp=synthesis.get('conv_clamp'),
        **_precision(synthesis.get('num_fp16_res', 0)))


def ada_pytorch_discriminator_kwargs(kw, where):
    """Our Discriminator kwargs for the init_kwargs of an ada-pytorch `Discriminator`."""
    kw = _subset(kw, ('c_dim', 'img_resolution', 'img_channels', 'architecture', 'channel_base', 'channel_max',
                      'num_fp16_res', 'conv_clamp', 'cmap_dim', 'block_kwargs', 'mapping_kwargs', 'epilogue_kwargs'),
                 'Discriminator', where)
    block = _subset(kw.get('block_kwargs'), ('activation', 'resample_filter') + _ADA_PYTORCH_IGNORED,
                    'block_kwargs', where)
    mapping = _subset(kw.get('mapping_kwargs'), ('num_layers', 'embed_features', 'layer_features', 'activation',
                                                 'lr_multiplier'), 'mapping_kwargs', where)
    epilogue = _subset(kw.get('epilogue_kwargs'), ('mbstd_group_size', 'mbstd_num_channels', 'activation'),
                       'epilogue_kwargs', where)
    missing = [k for k in ('c_dim', 'img_resolution', 'img_channels') if k not in kw]
    if missing:
        raise NetworkLoadError(f'{where}: Discriminator init_kwargs lack {missing}')
    base, cmax, c_dim = kw.get('channel_base', 32768), kw.get('channel_max', 512), kw['c_dim']
    act = block.get('activation', 'lrelu')
    # Where ours has one option for what ada-pytorch sets apart, the two must agree.
    if min(base // 4, cmax) != min(int(_fmap_base(base)), cmax):
        raise NetworkLoadError(f'{where}: channel_base={base} < 4 * channel_max={cmax} is not supported (its 4x4 '
                               f'dense layer has channel_base // 4 features, the TF layout '
                               f'min(channel_base // 2, max))')
    if epilogue.get('activation', 'lrelu') != act:
        raise NetworkLoadError(f'{where}: epilogue activation {epilogue["activation"]!r} differs from the blocks\' '
                               f'{act!r}; not supported')
    label = {}
    if c_dim:
        cmap_dim = kw.get('cmap_dim') if kw.get('cmap_dim') is not None else min(base // 4, cmax)
        layers = mapping.get('num_layers', 8)
        for key in ('embed_features', 'layer_features'):
            if mapping.get(key) not in (None, cmap_dim):
                raise NetworkLoadError(f'{where}: mapping {key}={mapping[key]} differs from cmap_dim={cmap_dim}; '
                                       f'not supported')
        if layers and mapping.get('activation', 'lrelu') != act:
            raise NetworkLoadError(f'{where}: mapping activation {mapping["activation"]!r} differs from the '
                                   f'blocks\' {act!r}; not supported')
        label = dict(mapping_layers=layers, mapping_fmaps=cmap_dim, mapping_lrmul=mapping.get('lr_multiplier', 0.01))
    return dict(
        func_name='D_main', num_channels=kw['img_channels'], resolution=kw['img_resolution'], label_size=c_dim,
        fmap_base=_fmap_base(base), fmap_max=cmax, architecture=kw.get('architecture', 'resnet'), nonlinearity=act,
        mbstd_group_size=epilogue.get('mbstd_group_size', 4),
        mbstd_num_features=epilogue.get('mbstd_num_channels', 1),
        resample_kernel=list(block.get('resample_filter', [1, 3, 3, 1])), label_layout='ada', **label,
        conv_clamp=kw.get('conv_clamp'), **_precision(kw.get('num_fp16_res', 0)))


_ADA_PYTORCH_NETWORKS = {  # Snapshot key -> (our name, kind, ada-pytorch class, kwargs).
    'G': ('G', 'G', 'Generator', ada_pytorch_generator_kwargs),
    'D': ('D', 'D', 'Discriminator', ada_pytorch_discriminator_kwargs),
    'G_ema': ('Gs', 'G', 'Generator', ada_pytorch_generator_kwargs),
}


def load_ada_pytorch(data, path):
    """Networks from an unpickled ada-pytorch snapshot dict (common.util.pickle_io: PersistentModule values). Its
    other keys (e.g. 'progress') are ignored."""
    bad = [key for key, (_, _, cls, _) in _ADA_PYTORCH_NETWORKS.items()
           if not (isinstance(data.get(key), PersistentModule) and data[key].class_name == cls)]
    if bad:
        raise NetworkLoadError(f'{path}: expected an official pickle holding the tuple (G, D, Gs) of networks or a '
                               f'StyleGAN2-ADA (PyTorch) dict with G, D and G_ema (missing or not networks: {bad})')
    all_kwargs = {key: kwargs_of(data[key].init_kwargs, f'{path} [{key}]')  # All checked before any is built.
                  for key, (_, _, _, kwargs_of) in _ADA_PYTORCH_NETWORKS.items()}
    nets = {}
    for key, (name, kind, _, _) in _ADA_PYTORCH_NETWORKS.items():
        where, kwargs = f'{path} [{key}]', all_kwargs[key]
        try:
            net = build_network(kwargs, name)
        except (TypeError, ValueError) as e:
            raise NetworkLoadError(f'{where}: cannot build the network from its init_kwargs ({e})')
        assign_ada_pytorch_tensors(net, kind, data[key].tensors(), where)
        nets[name] = net
    pipe = data.get('augment_pipe')
    augment_p = augment_kwargs = None
    if isinstance(pipe, PersistentModule) and pipe.class_name == 'AugmentPipe':
        augment_p = float(np.asarray(pipe.buffers['p'])) if 'p' in pipe.buffers else None
        augment_kwargs = dict(pipe.init_kwargs)
    elif pipe is not None:
        raise NetworkLoadError(f'{path}: augment_pipe is not an AugmentPipe')
    tsk = data.get('training_set_kwargs')
    if tsk is not None and not isinstance(tsk, dict):
        raise NetworkLoadError(f'{path}: training_set_kwargs is a {type(tsk).__name__}, expected a dict')
    return Networks(nets['G'], nets['D'], nets['Gs'], path, augment_p=augment_p, augment_kwargs=augment_kwargs,
                    training_set_kwargs=dict(tsk) if tsk is not None else None,
                    kwargs={'G': all_kwargs['G'], 'D': all_kwargs['D']})
