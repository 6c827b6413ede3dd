"""`load_network`: official ProGAN pickles `(G, D, Gs)` or our snapshots -> Keras G, D, Gs.

Official variables map one to one onto our layers by name (`8x8/Conv0_up/weight` -> layer `8x8.Conv0_up`,
variable `weight`); every official variable must be used and every one of ours set, with equal shapes.
"""
from common.util.pickle_io import (NetworkLoadError, Networks, NetworkState, OtherFamilyError, assign_by_name,
                              is_snapshot_dir, load_snapshot_networks, read_network_triple)
from common.training.run_dir import resolve_network_path
from pggan.networks import D_paper, G_paper
from pggan.options import NAME, TITLE


def network_variables(net):
    """Official name -> our variable, for every variable of G_paper / D_paper."""
    table = {'lod': net.lod}
    for scope, layer in net.layers_by_scope.items():
        table[f'{scope}/weight'] = layer.weight
        if getattr(layer, 'use_bias', False):
            table[f'{scope}/bias'] = layer.bias
    return table


def assign_official_variables(net, variables, where):
    ours = network_variables(net)
    if 'lod' not in variables:
        del ours['lod']
    assign_by_name(ours, variables, where, 'the network built from its kwargs')


_BUILDERS = {'G_paper': G_paper, 'D_paper': D_paper}


# Keys of official G_paper / D_paper static_kwargs that our constructors do not take, and why that is right.
# Any other unknown key is an error (common.ops.layers.refuse_unknown).
IGNORED_OFFICIAL_KWARGS = {
    'dtype': 'float32 in the published code and networks; ours compute in float32',
    'is_template_graph': 'a TF1 graph-building switch (it picked the structure, set explicitly below)',
}


def _from_state(state: NetworkState, expected, where, name):
    func = str(state.build_func_name or '').split('.')[-1]
    if func != expected:
        raise NetworkLoadError(f'{where}: network {name} was built by {state.build_func_name!r}, expected {expected} '
                               f'(is this a ProGAN pickle?)')
    kwargs = {k: v for k, v in state.static_kwargs.items() if k not in IGNORED_OFFICIAL_KWARGS}
    kwargs.setdefault('structure', 'recursive')  # Official None = recursive for evaluation.
    if kwargs['structure'] is None:
        kwargs['structure'] = 'recursive'
    try:
        net = _BUILDERS[func](name=name, **kwargs)
    except (TypeError, ValueError) as e:
        raise NetworkLoadError(f'{where}: cannot build {func} from its kwargs ({e})')
    assign_official_variables(net, state.variables, f'{where} [{name}]')
    return net


def load_network(path):
    """Loads ProGAN networks from an official `.pkl`, one of our snapshot directories, or a run directory (its
    newest valid snapshot)."""
    path = resolve_network_path(path)
    if is_snapshot_dir(path):
        return _load_snapshot(path)
    obj = read_network_triple(path)
    if any(n.state.get('version') != 2 for n in obj):
        raise OtherFamilyError(f'{path}: network state version {obj[0].state.get("version")}, expected 2 '
                               f'(ProGAN tfutil.Network; StyleGAN2 pickles load with stylegan2.load_network)',
                               'stylegan2')
    G = _from_state(obj[0], 'G_paper', path, 'G')
    D = _from_state(obj[1], 'D_paper', path, 'D')
    Gs = _from_state(obj[2], 'G_paper', path, 'Gs')
    return Networks(G, D, Gs, path, kwargs={'G': G.get_config(), 'D': D.get_config()})


def build_networks(kwargs):
    return G_paper(name='G', **kwargs['G']), D_paper(name='D', **kwargs['D']), G_paper(name='Gs', **kwargs['G'])


def _load_snapshot(path):
    return load_snapshot_networks(path, NAME, TITLE, build_networks)
