"""StyleGAN2-ADA (PyTorch) snapshots load into our networks without torch and without running anything stored in
them: G, D and G_ema compute what the official code computes on the same pickle, stylegan2.generate writes the
PNGs of the official generate.py, malicious pickles in that layout run nothing and are refused, and a tensor or
option the table does not know is an error naming it. Fixtures: tests/data/ada_pytorch/README.md."""
import contextlib
import os
import pickle
import sys
import types

import numpy as np
import PIL.Image
import pytest

from common.util.pickle_io import NetworkLoadError, load_official_pickle
from stylegan2 import export, generate
from stylegan2.loading import load_ada_pytorch, load_network

DATA = os.path.join(os.path.dirname(__file__), 'data', 'ada_pytorch')
FIXTURES = ['uncond_skip_resnet', 'cond_orig', 'fp16_resnet_skip']
TOL = 1e-4
# train.py's augpipe_specs['bgc'], the AugmentPipe kwargs of every fixture.
BGC = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1, lumaflip=1,
           hue=1, saturation=1)


def pkl(name):
    return os.path.join(DATA, f'{name}.pkl')


@pytest.fixture(scope='module')
def loaded():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_network(pkl(name)), dict(np.load(os.path.join(DATA, f'{name}_io.npz')))
        return cache[name]
    return get


def nchw(x):
    return np.transpose(np.asarray(x), [0, 3, 1, 2])


def nhwc(x):
    return np.transpose(x, [0, 2, 3, 1])


def inputs(nets, ref):
    """z and the random D images of the fixture script, drawn from the same seeds."""
    z = np.random.RandomState(int(ref['z_seed'])).randn(ref['ws'].shape[0], nets.Gs.z_dim).astype(np.float32)
    res, n = nets.Gs.img_resolution, ref['D_reals'].shape[0]
    images = np.random.RandomState(int(ref['images_seed'])).uniform(-1, 1, [n, 3, res, res]).astype(np.float32)
    return z, images


def close(ours, theirs, what):
    err = float(np.max(np.abs(np.asarray(ours, np.float32) - theirs)))
    assert np.shape(ours) == theirs.shape and err <= TOL, f'{what}: max |diff| {err:.2e}'


# ---------------------------------------------------------------------------------------------------------------
# Outputs against the official code.

@pytest.mark.parametrize('name', FIXTURES)
def test_mapping_matches_official_with_truncation_and_cutoff(loaded, name):
    nets, ref = loaded(name)
    z, _ = inputs(nets, ref)
    psi, cutoff = float(ref['psi']), int(ref['cutoff'])
    close(nets.Gs.mapping(z, ref['c']), ref['ws'], 'ws')
    close(nets.Gs.mapping(z, ref['c'], truncation_psi=psi), ref['ws_psi'], 'ws psi')
    close(nets.Gs.mapping(z, ref['c'], truncation_psi=psi, truncation_cutoff=cutoff), ref['ws_psi_cutoff'],
          'ws psi cutoff')


@pytest.mark.parametrize('name', FIXTURES)
def test_synthesis_matches_official_with_const_and_no_noise(loaded, name):
    nets, ref = loaded(name)
    for mode in ('const', 'none'):
        close(nchw(nets.Gs.synthesis(ref['ws'], noise_mode=mode)), ref[f'synthesis_{mode}'], mode)


@pytest.mark.parametrize('name', FIXTURES)
def test_G_and_G_ema_match_official(loaded, name):
    nets, ref = loaded(name)
    z, _ = inputs(nets, ref)
    close(nchw(nets.Gs(z, ref['c'], truncation_psi=float(ref['psi']), noise_mode='const')), ref['G_ema'], 'G_ema')
    close(nchw(nets.G(z, ref['c'], noise_mode='const')), ref['G'], 'G')
    assert np.abs(ref['G'] - ref['G_ema']).max() > 0.1  # Two different networks, each loaded from its own key.


@pytest.mark.parametrize('name', FIXTURES)
def test_D_logits_match_official(loaded, name):
    nets, ref = loaded(name)
    _, images = inputs(nets, ref)
    close(nets.D(nhwc(images), ref['c_d']), ref['D_reals'], 'D(reals)')
    close(nets.D(nhwc(ref['G_ema']), ref['c']), ref['D_fakes'], 'D(fakes)')


def test_mixed_precision_options_are_kept_and_computed_in_float32_with_the_clamp(loaded):
    nets, ref = loaded('fp16_resnet_skip')
    for net in (nets.G, nets.Gs, nets.D):
        assert (net.kwargs['num_fp16_res'], net.kwargs['conv_clamp'], net.kwargs['fp16_dtype']) == (2, 256, None)
    # The official outputs change this much without the clamp, so the match above depends on it.
    assert ref['clamp_effect_G_ema'] > 1 and ref['clamp_effect_D'] > 0.05


@pytest.mark.parametrize('name,seeds,psi,class_idx', [('uncond_skip_resnet', [0, 1, 2], 0.7, None),
                                                     ('cond_orig', [3, 7], 0.5, 1)])
def test_generate_pngs_equal_official_generate_py(loaded, tmp_path, name, seeds, psi, class_idx):
    nets, _ = loaded(name)
    generate.generate_images(nets.Gs, seeds, str(tmp_path), truncation_psi=psi, noise_mode='const',
                             class_idx=class_idx)
    official = os.path.join(DATA, f'{name}_generate')
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(official))
    for file in os.listdir(official):
        ours = np.asarray(PIL.Image.open(tmp_path / file), np.int16)
        theirs = np.asarray(PIL.Image.open(os.path.join(official, file)), np.int16)
        diff = np.abs(ours - theirs)
        assert ours.shape == theirs.shape and diff.max() <= 1 and np.mean(diff > 0) <= 0.001, file


def test_snapshot_keeps_augment_p_augment_kwargs_and_training_set_kwargs_and_ignores_other_keys(loaded):
    assert 'progress' in load_official_pickle(pkl('cond_orig'))  # An extra key: ignored.
    nets, _ = loaded('cond_orig')
    assert nets.augment_p == np.float32(0.37) and nets.augment_kwargs == BGC
    assert nets.training_set_kwargs == dict(class_name='training.dataset.ImageFolderDataset', path='/data/tiny.zip',
                                            use_labels=True, max_size=100, xflip=False, resolution=16)
    tf_nets = load_network(os.path.join(os.path.dirname(DATA), 'stylegan2', 'sg2_uncond.pkl.xz'))
    assert (tf_nets.augment_p, tf_nets.augment_kwargs, tf_nets.training_set_kwargs) == (None, None, None)


def test_channels_and_label_widths_follow_ada_pytorch(loaded):
    nets, _ = loaded('cond_orig')  # channel_base 128, channel_max 8; z_dim 12, w_dim 16, layer_features 20.
    assert nets.Gs.kwargs['fmap_base'] == 64 and nets.Gs.kwargs['label_fmaps'] == 16  # Embed: w_dim, not z_dim.
    assert nets.Gs.mapping.layers_by_scope['Dense0'].units == 20
    # D's conditioning mapping has MappingNetwork's defaults (train.py passes none): 8 layers, lr 0.01, cmap 8.
    assert (nets.D.kwargs['mapping_layers'], nets.D.kwargs['mapping_lrmul'], nets.D.cmap_dim) == (8, 0.01, 8)


# ---------------------------------------------------------------------------------------------------------------
# Export: a loaded ada-pytorch network as an official TF pickle.

def test_exported_official_pickle_reloads_to_the_same_outputs(loaded, tmp_path):
    nets, ref = loaded('cond_orig')
    path = export.write_official_pickle(nets, str(tmp_path / 'cond.pkl'))
    again = load_network(path)
    z, images = inputs(nets, ref)
    np.testing.assert_allclose(again.Gs(z, ref['c'], truncation_psi=0.5), nets.Gs(z, ref['c'], truncation_psi=0.5),
                               atol=1e-6, rtol=0)
    np.testing.assert_allclose(again.G(z, ref['c']), nets.G(z, ref['c']), atol=1e-6, rtol=0)
    np.testing.assert_allclose(again.D(nhwc(images), ref['c_d']), nets.D(nhwc(images), ref['c_d']), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# Names and options outside the table.

def test_missing_unknown_or_misshapen_tensors_are_errors_naming_them():
    data = load_official_pickle(pkl('cond_orig'))
    del data['G'].modules['mapping'].modules['fc1'].parameters['bias']
    data['G'].modules['synthesis'].modules['b8'].buffers['extra'] = np.zeros(3, np.float32)
    with pytest.raises(NetworkLoadError, match=r"cond_orig\.pkl \[G\]: variables do not match .*missing "
                                               r"\['mapping\.fc1\.bias'\], unexpected \['synthesis\.b8\.extra'\]"):
        load_ada_pytorch(data, pkl('cond_orig'))
    data = load_official_pickle(pkl('cond_orig'))
    conv = data['G'].modules['synthesis'].modules['b8'].modules['conv1'].parameters
    conv['weight'] = conv['weight'][:, :4]
    with pytest.raises(NetworkLoadError, match=r'\[G\]: variable shapes do not match .*synthesis\.b8\.conv1\.'
                                               r'weight \[3, 3, 4, 8\] \(expected \[3, 3, 8, 8\]\)'):
        load_ada_pytorch(data, pkl('cond_orig'))


def test_unknown_or_unsupported_init_kwargs_are_errors_naming_them():
    data = load_official_pickle(pkl('uncond_skip_resnet'))
    data['G'].init_kwargs['synthesis_kwargs']['magic'] = 1
    with pytest.raises(NetworkLoadError, match=r"\[G\]: synthesis_kwargs has options this loader does not know: "
                                               r"\['magic'\]"):
        load_ada_pytorch(data, 'x.pkl')
    data = load_official_pickle(pkl('uncond_skip_resnet'))
    data['D'].init_kwargs['epilogue_kwargs']['activation'] = 'relu'
    with pytest.raises(NetworkLoadError, match=r"\[D\]: epilogue activation 'relu' differs from the blocks' 'lrelu'"):
        load_ada_pytorch(data, 'x.pkl')


def test_snapshot_without_its_networks_is_an_error_naming_them():
    data = load_official_pickle(pkl('cond_orig'))
    del data['G_ema']
    data['D'] = data['augment_pipe']
    with pytest.raises(NetworkLoadError, match=r"StyleGAN2-ADA \(PyTorch\) dict with G, D and G_ema \(missing or "
                                               r"not networks: \['D', 'G_ema'\]\)"):
        load_ada_pytorch(data, 'x.pkl')


# ---------------------------------------------------------------------------------------------------------------
# Malicious pickles in the ada-pytorch layout.

def plant(raw, old, new):
    """Replaces the protocol-3 string `old` (opcode BINUNICODE) of a pickle by `new`. Protocol 3 has no frames,
    so only the string's own length prefix changes."""
    enc = lambda s: b'X' + len(s.encode()).to_bytes(4, 'little') + s.encode()  # noqa: E731
    assert raw.count(enc(old)) == 1
    return raw.replace(enc(old), enc(new))


PLACEHOLDER = '# Official source omitted from this fixture (tests/data/ada_pytorch/README.md).\n'


def test_planted_module_source_in_a_real_snapshot_never_runs(tmp_path, loaded):
    marker = tmp_path / 'pwned'
    raw = open(pkl('fp16_resnet_skip'), 'rb').read()  # Protocol 3, as Python 3.7 writes it.
    path = tmp_path / 'planted.pkl'
    path.write_bytes(plant(raw, PLACEHOLDER, f'open({str(marker)!r}, "w").write("pwned")\n'))
    nets = load_network(str(path))  # The tensors are fine: it loads, and the source ada-pytorch would exec never runs.
    ref_nets, ref = loaded('fp16_resnet_skip')
    z, _ = inputs(nets, ref)
    np.testing.assert_array_equal(nets.Gs(z), ref_nets.Gs(z))
    assert not marker.exists()


def test_unknown_persistent_class_is_refused_with_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / 'pwned'
    raw = open(pkl('fp16_resnet_skip'), 'rb').read()
    raw = plant(raw, PLACEHOLDER, f'open({str(marker)!r}, "w").write("pwned")\nclass Backdoor: pass\n')
    path = tmp_path / 'backdoor.pkl'
    path.write_bytes(plant(raw, 'AugmentPipe', 'Backdoor'))
    with pytest.raises(NetworkLoadError) as e:
        load_network(str(path))
    assert str(e.value) == (f"{path}: refusing persistent class 'Backdoor': ada-pytorch network pickles hold only "
                            f"the classes of its training/networks.py and training/augment.py")
    assert not marker.exists()


class _Call:
    """Pickles as a call of `func(*args)`."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@contextlib.contextmanager
def stand_in_globals(functions):
    """Importable stand-ins {'module.name': function} for the time of a pickle.dumps, so that test pickles can
    name ada-pytorch's and torch's functions without either installed (Keras looks for a real torch in
    sys.modules, so the stand-in modules are removed again right after)."""
    added = []
    for qualified, func in functions.items():
        parts = qualified.split('.')
        for i in range(1, len(parts)):
            name = '.'.join(parts[:i])
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
            assert name in added, f'{name} is a real module here'
        func.__module__, func.__qualname__ = '.'.join(parts[:-1]), parts[-1]
        setattr(sys.modules[func.__module__], parts[-1], func)
    try:
        yield
    finally:
        for name in added:
            del sys.modules[name]


def _storage_stream(pid_object):
    """A nested torch.save legacy stream whose storage id pickle is `pid_object`."""
    header = [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}]
    return b''.join(pickle.dumps(x, protocol=2) for x in header) + pickle.dumps(pid_object, protocol=2)


def test_os_system_in_the_snapshot_or_a_tensor_storage_is_refused_with_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / 'pwned'
    system = _Call(os.system, f'touch {marker}')

    def _load_from_bytes(b):
        pass

    def _reconstruct_persistent_obj(meta):
        pass
    with stand_in_globals({'torch.storage._load_from_bytes': _load_from_bytes,
                           'torch_utils.persistence._reconstruct_persistent_obj': _reconstruct_persistent_obj}):
        snapshot = pickle.dumps({'training_set_kwargs': {}, 'G': system, 'D': None, 'G_ema': None})
        in_state = pickle.dumps({'G': _Call(_reconstruct_persistent_obj, dict(
            type='class', version=6, module_src='', class_name='Generator',
            state=dict(_parameters={}, _buffers={}, _modules={}, _init_kwargs={'z_dim': system})))})
        in_storage = pickle.dumps({'G': _Call(_load_from_bytes, _storage_stream(system))})
    for what, data in (('snapshot', snapshot), ('module state', in_state), ('storage', in_storage)):
        path = tmp_path / f'evil_{what.replace(" ", "_")}.pkl'
        path.write_bytes(data)
        with pytest.raises(NetworkLoadError) as e:
            load_network(str(path))
        line = str(e.value)
        assert line.startswith(f'{path}: refusing to load global posix.system') and '\n' not in line, line
        assert not marker.exists()
