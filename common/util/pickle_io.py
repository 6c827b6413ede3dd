"""Reading official network pickles without running any code stored in them.

A TF pickle is a tuple of `Network` objects (ProGAN `tfutil.Network`, StyleGAN2
`dnnlib.tflib.network.Network`) whose state holds `static_kwargs`, `variables` [(name, ndarray)],
`build_func_name`, `build_module_src` (the source of the network code, which the official unpickler
executes) and, for StyleGAN2, `components`.

A StyleGAN2-ADA (PyTorch) snapshot is a dict (`G`, `D`, `G_ema`, `augment_pipe`, `training_set_kwargs`) of
`torch_utils.persistence` objects: each pickles as `_reconstruct_persistent_obj(meta)`, `meta` holding the
class name, the whole source of its module (which ada-pytorch executes) and the torch.nn.Module state
(`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, ...). Tensors pickle as `_rebuild_tensor_v2` /
`_rebuild_parameter` over `torch.storage._load_from_bytes(b)`, `b` a nested torch.save stream in torch's legacy
(non-zip) format: pickled header, a pickled persistent storage id, the storage keys, then the raw data.
Persistent objects become `PersistentModule`s and tensors float32 NumPy arrays; the source is never looked at.

The restricted unpickler below resolves only the handful of globals these files need; anything else is
refused before it can be imported or called.
"""
import codecs
import dataclasses
import io
import lzma
import pickle

import numpy as np


class NetworkLoadError(Exception):
    """A network file that cannot be used, with a one-line reason naming it."""


class OtherFamilyError(NetworkLoadError):
    """A network of the other model family: `family` is the package that loads it ('pggan' or 'stylegan2'; what
    users call it is the registry's, common.families.title)."""

    def __init__(self, message, family):
        super().__init__(message)
        self.family = family


@dataclasses.dataclass
class Networks:
    """What `load_network` returns: the trained G, D and the moving-average Gs (Keras models). ada-pytorch
    snapshots also record their augmentation probability `augment_p`, the AugmentPipe's constructor kwargs
    `augment_kwargs` and the dataset's `training_set_kwargs`; None where a file has none."""
    G: object
    D: object
    Gs: object
    source: str = ''
    augment_p: float = None
    augment_kwargs: dict = None
    training_set_kwargs: dict = None
    kwargs: dict = None             # {'G': ..., 'D': ...}: what G and D were built from, as snapshots record it.


def is_snapshot_dir(path):
    """True for one of our snapshot directories; NetworkLoadError for a missing path or another directory."""
    import os
    from common.util.snapshot import is_snapshot
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


# ---------------------------------------------------------------------------------------------------------------
# StyleGAN2-ADA (PyTorch): torch_utils.persistence objects and torch tensors, as plain data.

# The persistent classes of ada-pytorch's training/networks.py and training/augment.py; the only ones its
# snapshots hold.
ADA_PYTORCH_CLASSES = frozenset({
    'FullyConnectedLayer', 'Conv2dLayer', 'MappingNetwork', 'SynthesisLayer', 'ToRGBLayer', 'SynthesisBlock',
    'SynthesisNetwork', 'Generator', 'DiscriminatorBlock', 'MinibatchStdLayer', 'DiscriminatorEpilogue',
    'Discriminator', 'AugmentPipe'})
PERSISTENCE_VERSION = 6  # torch_utils/persistence.py `_version`; its loader accepts no other.


class PersistentModule:
    """Stand-in for an ada-pytorch persistent torch.nn.Module: its class name, constructor arguments, tensors
    (float32 ndarrays) and sub-modules. Nothing of the class itself (its pickled source) is kept."""

    def __init__(self, class_name, state):
        self.class_name = class_name
        self.init_args = tuple(state.get('_init_args') or ())
        self.init_kwargs = dict(state.get('_init_kwargs') or {})
        self.parameters = {k: v for k, v in state['_parameters'].items() if v is not None}
        self.buffers = {k: v for k, v in state['_buffers'].items() if v is not None}
        self.modules = {k: v for k, v in state['_modules'].items() if v is not None}

    def tensors(self, prefix=''):
        """{dotted name: ndarray} of all parameters and buffers, named as torch's state_dict names them
        (`synthesis.b8.conv0.affine.weight`)."""
        out = {prefix + k: v for k, v in {**self.parameters, **self.buffers}.items()}
        for name, module in self.modules.items():
            out.update(module.tensors(f'{prefix}{name}.'))
        return out

    def __repr__(self):
        return f'PersistentModule({self.class_name})'


def _reconstruct_persistent_obj(meta):
    """torch_utils.persistence._reconstruct_persistent_obj without its exec of meta['module_src']."""
    if not isinstance(meta, dict) or meta.get('type') != 'class':
        raise pickle.UnpicklingError('persistent object meta is not a dict of type "class"')
    name = meta.get('class_name')
    if name not in ADA_PYTORCH_CLASSES:
        raise PickleSecurityError(f'refusing persistent class {str(name)[:80]!r}: ada-pytorch network pickles hold '
                                  f'only the classes of its training/networks.py and training/augment.py')
    if meta.get('version') != PERSISTENCE_VERSION:
        raise pickle.UnpicklingError(f'persistent {name} has version {meta.get("version")!r}, '
                                     f'expected {PERSISTENCE_VERSION}')
    state = meta.get('state')
    kinds = {'_parameters': np.ndarray, '_buffers': np.ndarray, '_modules': PersistentModule}
    if not isinstance(state, dict) or not all(isinstance(state.get(k), dict) for k in kinds):
        raise pickle.UnpicklingError(f'persistent {name} state is not a torch module state')
    for key, kind in kinds.items():
        for item, value in state[key].items():
            if not isinstance(item, str) or not (value is None or isinstance(value, kind)):
                raise pickle.UnpicklingError(f'persistent {name} {key}[{item!r}] is a {type(value).__name__}')
    if not isinstance(state.get('_init_kwargs', {}), dict) or not isinstance(state.get('_init_args', ()), tuple):
        raise pickle.UnpicklingError(f'persistent {name} init arguments are not a tuple and a dict')
    return PersistentModule(name, state)


class TorchStorage:
    """A torch storage read from its legacy torch.save stream: a flat little-endian array."""

    def __init__(self, array):
        self.array = array


# torch.save's legacy format (torch/serialization.py `_legacy_save`), which storages always use when pickled.
TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
TORCH_LEGACY_PROTOCOL = 1001
TORCH_STORAGE_DTYPES = {'FloatStorage': np.dtype('<f4')}  # The only storage type network snapshots hold.


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


class _StorageUnpickler(pickle.Unpickler):
    """The pickles inside a nested torch.save stream: storage type names and a persistent storage id."""

    def find_class(self, module, name):
        if module == 'torch' and name in TORCH_STORAGE_DTYPES:
            return _StorageType(TORCH_STORAGE_DTYPES[name])
        raise PickleSecurityError(f'refusing to load global {module}.{name} in a tensor storage: network '
                                  f'pickles hold only {", ".join("torch." + k for k in TORCH_STORAGE_DTYPES)}')

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, numel, view_metadata): torch's legacy persistent_id.
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == 'storage' and isinstance(pid[1], _StorageType)
                and isinstance(pid[2], str) and isinstance(pid[4], int) and pid[4] >= 0 and pid[5] is None):
            raise pickle.UnpicklingError(f'unexpected persistent id in a tensor storage: {str(pid)[:80]}')
        return pid


def _load_from_bytes(data):
    """torch.storage._load_from_bytes: one storage from its legacy torch.save stream, as a TorchStorage."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError('tensor storage is not bytes')
    f = io.BytesIO(data)
    if data[:4] == b'PK\x03\x04':
        raise pickle.UnpicklingError('tensor storage is a torch zip archive; pickled storages use the legacy format')
    header = [_StorageUnpickler(f).load() for _ in range(3)]
    if header[0] != TORCH_LEGACY_MAGIC or header[1] != TORCH_LEGACY_PROTOCOL or not isinstance(header[2], dict):
        raise pickle.UnpicklingError('tensor storage is not a torch.save legacy stream')
    if not header[2].get('little_endian', False):
        raise pickle.UnpicklingError('tensor storage was written big-endian')
    pid = _StorageUnpickler(f).load()
    keys = _StorageUnpickler(f).load()
    if not isinstance(pid, tuple) or keys != [pid[2]]:
        raise pickle.UnpicklingError('tensor storage stream does not hold exactly one storage')
    dtype, numel = pid[1].dtype, pid[4]
    size = f.read(8)
    if len(size) != 8 or int.from_bytes(size, 'little') != numel:
        raise pickle.UnpicklingError('tensor storage size does not match its header')
    raw = f.read(numel * dtype.itemsize)
    if len(raw) != numel * dtype.itemsize or f.read(1):
        raise pickle.UnpicklingError('tensor storage data has the wrong length')
    return TorchStorage(np.frombuffer(raw, dtype))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """torch._utils._rebuild_tensor_v2 -> a float32 ndarray (a copy: the view's strides are in elements)."""
    if not isinstance(storage, TorchStorage):
        raise pickle.UnpicklingError('tensor without a storage')
    size, stride = tuple(size), tuple(stride)
    if not (isinstance(storage_offset, int) and storage_offset >= 0 and len(size) == len(stride)
            and all(isinstance(n, int) and n >= 0 for n in size + stride)):
        raise pickle.UnpicklingError(f'tensor of size {size} and stride {stride} is malformed')
    flat = storage.array
    if int(np.prod(size, dtype=object)) > max(flat.size, 1):  # Networks hold no broadcast (zero-stride) tensors.
        raise pickle.UnpicklingError(f'tensor of size {size} is larger than its storage of {flat.size} elements')
    if all(size):
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise pickle.UnpicklingError(f'tensor of size {size} lies outside its storage of {flat.size} elements')
        view = np.lib.stride_tricks.as_strided(flat[storage_offset:], size, [s * flat.itemsize for s in stride],
                                               writeable=False)
    else:
        view = np.zeros(size, flat.dtype)
    return np.array(view, np.float32)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """torch._utils._rebuild_parameter: the tensor itself."""
    if not isinstance(data, np.ndarray):
        raise pickle.UnpicklingError('parameter without a tensor')
    return data


# ---------------------------------------------------------------------------------------------------------------

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
    ('builtins', 'set'): set,                               # How protocol-3 pickles spell sets (torch modules).
    ('torch_utils.persistence', '_reconstruct_persistent_obj'): _reconstruct_persistent_obj,  # ada-pytorch.
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch.storage', '_load_from_bytes'): _load_from_bytes,
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


def network_triple(obj, path, also=''):
    """`obj`, an unpickled official TF pickle, as its (G, D, Gs) network states; NetworkLoadError for anything
    else (`also` names other layouts the caller would have accepted)."""
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(n, NetworkState) for n in obj)):
        raise NetworkLoadError(f'{path}: expected an official pickle holding the tuple (G, D, Gs) of networks{also}')
    return obj


def read_network_triple(path):
    """The (G, D, Gs) network states of an official TF pickle; NetworkLoadError for anything else."""
    return network_triple(read_network_pickle(path), path)


def load_snapshot_networks(path, model, title, build_networks):
    """G, D, Gs of `model` ('pggan' | 'stylegan2', called `title`) from one of our snapshot directories,
    checksums verified."""
    from common.util.snapshot import SnapshotError, read_snapshot_meta, restore_snapshot, verify_snapshot
    try:
        meta = read_snapshot_meta(verify_snapshot(path))
        if meta['model'] != model:
            raise OtherFamilyError(f'{path}: a {meta["model"]} snapshot, not {title}: '
                                   f'load it with {meta["model"]}.load_network', meta['model'])
        try:
            G, D, Gs = build_networks(meta['kwargs'])
        except (TypeError, ValueError, KeyError) as e:
            raise NetworkLoadError(f'{path}: networks.json holds arguments the {model} networks do not take ({e})')
        restore_snapshot(path, {'G': G, 'D': D, 'Gs': Gs})
    except (SnapshotError, OSError) as e:
        raise NetworkLoadError(str(e)) from None
    return Networks(G, D, Gs, path, kwargs=meta['kwargs'])
