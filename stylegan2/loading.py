"""`load_network`: official StyleGAN (v1, `G_style` / `D_basic`), StyleGAN2 (TF1, configs b-f) and
StyleGAN2-ADA (TF) pickles `(G, D, Gs)`, plain or xz-compressed, or our snapshots -> Keras G, D and Gs.

Official variables map one to one onto ours by name (`synthesis/8x8/Conv0_up/mod_weight` -> layer
`8x8.Conv0_up` of `G.synthesis`, variable `mod_weight`); every official variable must be used and every one
of ours set, with equal shapes. No code stored in a pickle is ever run: networks are rebuilt from their
`static_kwargs`, whose missing entries take the defaults of the code base that wrote the pickle.
"""
import os

from common.pickle_io import (NetworkLoadError, Networks, NetworkState, OtherFamilyError, assign_by_name,
                              is_snapshot_dir, load_snapshot_networks, read_network_triple)
from common.run_dir import resolve_network_path
from stylegan2.networks import Discriminator, Generator
from stylegan2.networks_progressive import StyleGANDiscriminator
from stylegan2.networks_stylegan import BasicDiscriminator, StyleGenerator




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
    kwargs = dict(_ADA_DEFAULTS[kind]) if origin == 'ada' else {}
    kwargs.update(state.static_kwargs)
    kwargs['func_name'] = func
    if origin == 'stylegan':
        return kwargs
    kwargs['label_layout'] = origin
    if kwargs.get('num_fp16_res'):
        # Kept for the record (export writes it back), computed in float32: inference and metrics on official
        # networks stay float32-exact, as ada-pytorch with force_fp32. Training sets its own precision.
        kwargs['fp16_dtype'] = None
    if synthesis_func_of(state, kind) == 'G_synthesis_stylegan_revised':
        kwargs['synthesis_func'] = 'G_synthesis_stylegan_revised'
    if kind == 'D':
        for key, off in _UNSUPPORTED_D.items():
            if kwargs.get(key, off) != off:
                raise NetworkLoadError(f'{where}: discriminator option {key}={kwargs[key]!r} is not supported')
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
    return net


def load_network(path):
    """Loads StyleGAN2 networks from an official `.pkl` (TF1 StyleGAN2 or StyleGAN2-ADA TF, optionally
    xz-compressed), one of our snapshot directories, or a run directory (its newest valid snapshot).
    Raises NetworkLoadError."""
    path = resolve_network_path(os.fspath(path))
    if is_snapshot_dir(path):
        return _load_snapshot(path)
    obj = read_network_triple(path)
    G = _from_state(obj[0], 'G', path, 'G')
    D = _from_state(obj[1], 'D', path, 'D')
    Gs = _from_state(obj[2], 'G', path, 'Gs')
    return Networks(G, D, Gs, path)


def build_networks(kwargs):
    """G, D, Gs from snapshot kwargs {'G': Generator kwargs, 'D': Discriminator kwargs}."""
    return build_network(kwargs['G'], 'G'), build_network(kwargs['D'], 'D'), build_network(kwargs['G'], 'Gs')


def _load_snapshot(path):
    return load_snapshot_networks(path, 'stylegan2', build_networks)
