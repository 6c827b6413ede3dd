"""Reading official network pickles without running any code stored in them.

An official pickle is a tuple of `Network` objects (ProGAN `tfutil.Network`, StyleGAN2
`dnnlib.tflib.network.Network`) whose state holds `static_kwargs`, `variables` [(name, ndarray)],
`build_func_name`, `build_module_src` (the source of the network code, which the official unpickler
executes) and, for StyleGAN2, `components`. The restricted unpickler below resolves only the handful of
globals these files need; anything else is refused before it can be imported or called.
"""
import codecs
import dataclasses
import io
import lzma
import pickle

import numpy as np


class NetworkLoadError(Exception):
    """A network file that cannot be used, with a one-line reason naming it."""


FAMILY_TITLES = {'pggan': 'Progressive GAN', 'stylegan2': 'StyleGAN2'}  # Snapshots' `model` -> what users call it.


class OtherFamilyError(NetworkLoadError):
    """A network of the other model family: `family` is the package that loads it ('pggan' or 'stylegan2')."""

    def __init__(self, message, family):
        super().__init__(message)
        self.family = family
        self.title = FAMILY_TITLES.get(family, family)


@dataclasses.dataclass
class Networks:
    """What `load_network` returns: the trained G, D and the moving-average Gs (Keras models)."""
    G: object
    D: object
    Gs: object
    source: str = ''


def is_snapshot_dir(path):
    """True for one of our snapshot directories; NetworkLoadError for a missing path or another directory."""
    import os
    from common.snapshot import is_snapshot
    if not os.path.exists(path):
        raise NetworkLoadError(f'{path}: no such network file or snapshot')
    if os.path.isdir(path):
        if not is_snapshot(path):
            raise NetworkLoadError(f'{path}: a directory but not a network snapshot (no networks.json)')
        return True
    return False


class PickleSecurityError(Exception):
    """The pickle asked for a global that official network pickles never contain."""


class NetworkState:
    """Stand-in for an official Network object: keeps its pickled state and nothing else."""

    def __setstate__(self, state):
        # The shape of the state is checked here, once, so that the loaders can rely on it.
        if not isinstance(state, dict):
            raise pickle.UnpicklingError('network state is not a dict')
        variables = state.get('variables', [])
        if not isinstance(variables, (list, tuple)) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], (np.ndarray, np.generic, float, int)) for p in variables):
            raise pickle.UnpicklingError('network variables are not a list of (name, array) pairs')
        for key, kind in (('static_kwargs', dict), ('components', dict), ('build_func_name', str), ('name', str)):
            if state.get(key) is not None and not isinstance(state[key], kind):
                raise pickle.UnpicklingError(f'network {key} is a {type(state[key]).__name__}, expected a {kind.__name__}')
        self.state = state

    @property
    def name(self):
        return self.state.get('name')

    @property
    def build_func_name(self):
        return self.state.get('build_func_name')

    @property
    def static_kwargs(self):
        return dict(self.state.get('static_kwargs') or {})

    @property
    def variables(self):
        return {str(k): np.asarray(v) for k, v in self.state.get('variables', [])}

    @property
    def components(self):
        return dict(self.state.get('components') or {})


class EasyDict(dict):
    """dnnlib.EasyDict as found in StyleGAN2 static_kwargs: plain data."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def _numpy_globals():
    out = {('numpy', 'ndarray'): np.ndarray, ('numpy', 'dtype'): np.dtype}
    try:
        from numpy._core import multiarray  # NumPy 2.
    except ImportError:  # pragma: no cover
        from numpy.core import multiarray
    from numpy._core import numeric
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        out[(mod, '_reconstruct')] = multiarray._reconstruct
        out[(mod, 'scalar')] = multiarray.scalar
    for mod in ('numpy.core.numeric', 'numpy._core.numeric'):  # Protocol-5 array pickles (NumPy >= 1.16).
        out[(mod, '_frombuffer')] = numeric._frombuffer
    return out


def _latin1_bytes(text, encoding='latin1'):
    if encoding not in ('latin1', 'latin-1'):
        raise PickleSecurityError(f'refusing _codecs.encode with encoding {encoding!r} (pickles use latin1 for bytes)')
    return codecs.encode(text, encoding)


_ALLOWED = {
    ('tfutil', 'Network'): NetworkState,                    # ProGAN.
    ('dnnlib.tflib.network', 'Network'): NetworkState,      # StyleGAN2, StyleGAN2-ADA (TF).
    ('dnnlib.util', 'EasyDict'): EasyDict,
    ('dnnlib', 'EasyDict'): EasyDict,
    ('collections', 'OrderedDict'): dict,
    ('_codecs', 'encode'): _latin1_bytes,                   # How protocol-2 pickles spell bytes.
    **_numpy_globals(),
}


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise PickleSecurityError(f'refusing to load global {module}.{name}: official network pickles '
                                      f'need only Network state and NumPy arrays')
        return target


XZ_MAGIC = b'\xfd7zXZ\x00'


def load_official_pickle(path):
    """Returns the unpickled object (xz-compressed or not) with every Network replaced by a `NetworkState`.

    Raises OSError, PickleSecurityError, or ValueError for a file that is not a readable pickle.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        if data.startswith(XZ_MAGIC):
            data = lzma.decompress(data)
        return SafeUnpickler(io.BytesIO(data)).load()
    except PickleSecurityError as e:
        raise PickleSecurityError(f'{path}: {e}') from None
    except Exception as e:  # Damaged bytes fail in many ways (EOFError, OverflowError, LZMAError, ...): all mean this.
        raise ValueError(f'{path}: not a readable network pickle ({e.__class__.__name__}: {str(e)[:100]})') from None


def assign_by_name(ours, theirs, where, what, error=NetworkLoadError):
    """Sets every variable of `ours` ({official name: variable}) from `theirs` ({official name: array}): the
    names must be the same sets and the shapes equal, else `error` naming `where` and `what` network."""
    missing, unknown = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or unknown:
        raise error(f'{where}: variables do not match {what} (missing {missing[:5]}, unexpected {unknown[:5]})')
    bad = [f'{n} {list(np.shape(v))} (expected {list(ours[n].shape)})' for n, v in theirs.items()
           if tuple(np.shape(v)) != tuple(ours[n].shape)]
    if bad:
        raise error(f'{where}: variable shapes do not match {what}: {", ".join(bad[:3])}')
    for name, value in theirs.items():
        ours[name].assign(np.asarray(value, np.float32))


def read_network_pickle(path):
    """load_official_pickle, with every failure as one NetworkLoadError naming the file."""
    try:
        return load_official_pickle(path)
    except (OSError, ValueError, PickleSecurityError) as e:
        raise NetworkLoadError(str(e) if str(path) in str(e) else f'{path}: {e}') from None


def read_network_triple(path):
    """The (G, D, Gs) network states of an official pickle; NetworkLoadError for anything else."""
    obj = read_network_pickle(path)
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(n, NetworkState) for n in obj)):
        raise NetworkLoadError(f'{path}: expected an official pickle holding the tuple (G, D, Gs) of networks')
    return obj


def load_snapshot_networks(path, model, build_networks):
    """G, D, Gs of `model` ('pggan' | 'stylegan2') from one of our snapshot directories, checksums verified."""
    from common.snapshot import SnapshotError, read_snapshot_meta, restore_snapshot, verify_snapshot
    try:
        meta = read_snapshot_meta(verify_snapshot(path))
        if meta['model'] != model:
            raise OtherFamilyError(f'{path}: a {meta["model"]} snapshot, not {FAMILY_TITLES.get(model, model)}: '
                                   f'load it with {meta["model"]}.load_network', meta['model'])
        try:
            G, D, Gs = build_networks(meta['kwargs'])
        except (TypeError, ValueError, KeyError) as e:
            raise NetworkLoadError(f'{path}: networks.json holds arguments the {model} networks do not take ({e})')
        restore_snapshot(path, {'G': G, 'D': D, 'Gs': Gs})
    except (SnapshotError, OSError) as e:
        raise NetworkLoadError(str(e)) from None
    return Networks(G, D, Gs, path)
