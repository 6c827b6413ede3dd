"""StyleGAN2 networks against the official TF1 code (fixtures made with NVlabs/stylegan2 and
NVlabs/stylegan2-ada, see tests/data/stylegan2/README.md), FIR resampling against a NumPy reference,
double backprop, snapshots and the official-pickle loader."""
import functools
import io as io_module
import lzma
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from common.util.pickle_io import SafeUnpickler
from common.ops.resample import conv_downsample_2d, downsample_2d, setup_kernel, upfirdn_2d, upsample_2d, upsample_conv_2d
from common.util.snapshot import save_snapshot
from stylegan2 import NetworkLoadError, load_network
from stylegan2.loading import network_variables
from stylegan2.networks import Discriminator
from stylegan2.generator import Generator

DATA = os.path.join(os.path.dirname(__file__), 'data', 'stylegan2')
FIXTURES = ['sg2_uncond', 'sg2_uncond_orig', 'sg2_uncond_resnet', 'ada_cond']
# README: TF1 float32 itself is ~2e-6 (images up to |9|) away from a float64 run; D outputs vary little,
# so keep their tolerance absolute.
ATOL_WS, ATOL_IMG, ATOL_D = 2e-6, 2e-5, 1e-6


def nchw(x):
    return np.transpose(np.asarray(x), [0, 3, 1, 2])


def nhwc(x):
    return np.transpose(np.asarray(x), [0, 2, 3, 1])


@functools.lru_cache(maxsize=None)
def load_fixture(name):
    """(networks, TF1 inputs and outputs); loaded once per session, tests must not change the networks."""
    return load_network(os.path.join(DATA, f'{name}.pkl.xz')), dict(np.load(os.path.join(DATA, f'{name}_io.npz')))


@pytest.fixture(params=FIXTURES)
def official(request):
    return (request.param, *load_fixture(request.param))


# ---------------------------------------------------------------------------------------------------------------
# Against the official TF1 outputs.

def test_mapping_ws_match_official_with_and_without_truncation(official):
    name, nets, io = official
    z, c = io['z'], io['c']
    np.testing.assert_allclose(nets.Gs.mapping(z, c), io['ws_psi1'], atol=ATOL_WS, rtol=0, err_msg=name)
    np.testing.assert_allclose(nets.Gs.mapping(z, c, truncation_psi=0.5), io['ws_psi05'], atol=ATOL_WS, rtol=0)
    np.testing.assert_allclose(nets.Gs.mapping(z, c, truncation_psi=0.5, truncation_cutoff=2), io['ws_psi05_cut2'],
                               atol=ATOL_WS, rtol=0)
    assert nets.Gs.num_ws == io['ws_psi1'].shape[1] == 8


def test_synthesis_from_ws_and_style_mixing_match_official(official):
    name, nets, io = official
    np.testing.assert_allclose(nchw(nets.Gs.synthesis(io['ws_psi1'], noise_mode='const')), io['synth_from_ws'],
                               atol=ATOL_IMG, rtol=0, err_msg=name)
    np.testing.assert_allclose(nchw(nets.Gs.synthesis(io['ws_mix'], noise_mode='const')), io['img_mix'],
                               atol=ATOL_IMG, rtol=0, err_msg=name)


def test_Gs_images_match_official_for_noise_modes_and_truncation(official):
    name, nets, io = official
    z, c = io['z'], io['c']
    cases = {'img_const_psi1': dict(truncation_psi=1.0),
             'img_const_psi05': dict(truncation_psi=0.5),
             'img_const_psi05_cut2': dict(truncation_psi=0.5, truncation_cutoff=2),
             'img_none_psi1': dict(noise_mode='none')}
    for key, kwargs in cases.items():
        np.testing.assert_allclose(nchw(nets.Gs(z, c, **kwargs)), io[key], atol=ATOL_IMG, rtol=0,
                                   err_msg=f'{name} {key}')


def test_G_is_loaded_apart_from_Gs_and_matches_official(official):
    name, nets, io = official
    np.testing.assert_allclose(nchw(nets.G(io['z'], io['c'])), io['G_img'], atol=ATOL_IMG, rtol=0, err_msg=name)


def test_D_matches_official(official):
    name, nets, io = official
    np.testing.assert_allclose(nets.D(nhwc(io['reals']), io['c']), io['D_out'], atol=ATOL_D, rtol=0, err_msg=name)


def test_outputs_agree_with_ada_pytorch_conversion(official):
    name, nets, io = official
    torch = np.load(os.path.join(DATA, f'{name}_torch.npz'))
    np.testing.assert_allclose(nets.Gs.mapping(io['z'], io['c']), torch['ws_psi1'], atol=ATOL_WS, rtol=0)
    np.testing.assert_allclose(nchw(nets.Gs(io['z'], io['c'])), torch['img_const_psi1'], atol=ATOL_IMG, rtol=0)
    np.testing.assert_allclose(nets.D(nhwc(io['reals']), io['c']), torch['D_out'], atol=ATOL_D, rtol=0)


def test_missing_kwargs_take_the_defaults_of_the_pickles_code_base(official):
    name, nets, _ = official
    if name.startswith('ada'):
        assert nets.G.kwargs['label_layout'] == nets.D.kwargs['label_layout'] == 'ada'
        assert nets.G.kwargs['mapping_fmaps'] is None      # ADA: dlatent_size; TF1 StyleGAN2 would be 512.
        assert nets.D.kwargs['mbstd_group_size'] is None   # ADA: whole minibatch; TF1 StyleGAN2 would be 4.
        assert 'LabelEmbed' in nets.G.mapping.layers_by_scope and 'LabelEmbed' in nets.D.layers_by_scope
    else:
        assert nets.G.kwargs['label_layout'] == nets.D.kwargs['label_layout'] == 'stylegan2'
        assert nets.D.kwargs['mbstd_group_size'] == 4


def test_noise_modes_const_is_deterministic_random_is_not_and_explicit_noise_overrides(official):
    _, nets, io = official
    ws = io['ws_psi1'][:2]
    a, b = nets.Gs.synthesis(ws, noise_mode='random'), nets.Gs.synthesis(ws, noise_mode='random')
    assert np.max(np.abs(a - b)) > 1e-3
    const = nets.Gs.synthesis(ws, noise_mode='const')
    np.testing.assert_array_equal(nets.Gs.synthesis(ws), const)
    assert nets.Gs.synthesis.noise_sizes == [4, 8, 8, 16, 16, 32, 32]
    buffers = [np.reshape(v.numpy(), [1, s, s, 1]) for v, s in zip(nets.Gs.synthesis.noise_buffers,
                                                                   nets.Gs.synthesis.noise_sizes)]
    np.testing.assert_array_equal(nets.Gs.synthesis(ws, noise_mode='none', noise=buffers), const)
    with pytest.raises(ValueError, match='noise_mode'):
        nets.Gs.synthesis(ws, noise_mode='fresh')


# ---------------------------------------------------------------------------------------------------------------
# FIR resampling against a NumPy reference of the official upfirdn_2d.

def np_upfirdn(x, k, up=1, down=1, pad0=0, pad1=0):
    """The official op, by its definition: insert zeros, pad/crop, true 2-D convolution, drop pixels. NHWC."""
    n, h, w, c = x.shape
    u = np.zeros([n, h * up, w * up, c], np.float64)
    u[:, ::up, ::up] = x
    u = np.pad(u, [(0, 0), (max(pad0, 0), max(pad1, 0)), (max(pad0, 0), max(pad1, 0)), (0, 0)])
    u = u[:, max(-pad0, 0):u.shape[1] - max(-pad1, 0), max(-pad0, 0):u.shape[2] - max(-pad1, 0)]
    kh, kw = k.shape
    oh, ow = u.shape[1] - kh + 1, u.shape[2] - kw + 1
    out = np.zeros([n, oh, ow, c])
    for i in range(kh):
        for j in range(kw):
            out += u[:, i:i + oh, j:j + ow] * k[kh - 1 - i, kw - 1 - j]
    return out[:, ::down, ::down]


def np_conv_transpose(x, w, stride):
    """Transposed convolution by its definition (scatter each input pixel times the kernel). w [kh, kw, out, in]."""
    n, h, wd, _ = x.shape
    kh, kw = w.shape[:2]
    out = np.zeros([n, (h - 1) * stride + kh, (wd - 1) * stride + kw, w.shape[2]])
    for i in range(h):
        for j in range(wd):
            out[:, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum('nc,hwoc->nhwo', x[:, i, j], w)
    return out


def np_conv_valid(x, w, stride=1):
    kh, kw = w.shape[:2]
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros([x.shape[0], oh, ow, w.shape[3]])
    for i in range(kh):
        for j in range(kw):
            window = x[:, i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride]
            out += np.einsum('nhwc,co->nhwo', window, w[i, j])
    return out


def test_fir_filter_of_a_delta_is_the_kernel():
    k = np.arange(1, 10, dtype=np.float32).reshape(3, 3)  # Asymmetric: an accidental flip would show.
    delta = np.ones([1, 1, 1, 2], np.float32)
    out = upfirdn_2d(tf.constant(delta), k, pad0=2, pad1=2)
    np.testing.assert_array_equal(out[0, :, :, 0], k)
    np.testing.assert_array_equal(out[0, :, :, 1], k)


@pytest.mark.parametrize('xla', [False, True], ids=['depthwise', 'xla-slices'])
@pytest.mark.parametrize('kernel', [[1, 3, 3, 1], [1, 2, 1], None, [[1, 2, 0], [0, 3, 1], [1, 0, 4]],
                                    np.outer([1, 2, 4], [3, 1, 0.5])])  # Non-separable; separable, asymmetric.
def test_upsample_and_downsample_match_numpy_upfirdn(kernel, xla):
    x = np.random.RandomState(0).randn(2, 6, 6, 3).astype(np.float32)
    k2 = setup_kernel([1, 1] if kernel is None else kernel)
    p = k2.shape[0] - 2
    # Under XLA separable kernels run as shifted slices instead of a depthwise convolution.
    run = (lambda f: tf.function(f, jit_compile=True)()) if xla else (lambda f: f())
    np.testing.assert_allclose(run(lambda: upsample_2d(x, kernel)),
                               np_upfirdn(x, k2 * 4, up=2, pad0=(p + 1) // 2 + 1, pad1=p // 2), atol=1e-5)
    np.testing.assert_allclose(run(lambda: downsample_2d(x, kernel)),
                               np_upfirdn(x, k2, down=2, pad0=(p + 1) // 2, pad1=p // 2), atol=1e-5)
    np.testing.assert_allclose(run(lambda: upfirdn_2d(x, k2, up=2, down=1, pad0=-1, pad1=3)),
                               np_upfirdn(x, k2, 2, 1, -1, 3), atol=1e-5)  # Cropping.


def test_box_kernel_resampling_is_nearest_upsampling_and_average_pooling():
    x = np.random.RandomState(1).randn(2, 4, 4, 3).astype(np.float32)
    np.testing.assert_allclose(upsample_2d(x, None), x.repeat(2, axis=1).repeat(2, axis=2), atol=1e-6)
    np.testing.assert_allclose(downsample_2d(x, None), x.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4)), atol=1e-6)
    ones = np.ones([1, 8, 8, 1], np.float32)  # Unit-sum kernels keep constants (away from the zero padding).
    np.testing.assert_allclose(upsample_2d(ones)[:, 2:-2, 2:-2], 1, atol=1e-6)
    np.testing.assert_allclose(downsample_2d(ones)[:, 1:-1, 1:-1], 1, atol=1e-6)


@pytest.mark.parametrize('conv_size', [3, 1])
def test_fused_up_and_down_convolutions_match_numpy_and_resample_then_conv(conv_size):
    rng = np.random.RandomState(2)
    x = rng.randn(2, 6, 6, 3).astype(np.float32)
    w = rng.randn(conv_size, conv_size, 3, 5).astype(np.float32)
    k = setup_kernel([1, 3, 3, 1])
    # Official upsample_conv_2d: transposed conv with the flipped kernel, then the FIR filter padded once.
    p = (4 - 2) - (conv_size - 1)
    ref_up = np_upfirdn(np_conv_transpose(x, np.transpose(w[::-1, ::-1], [0, 1, 3, 2]), 2), k * 4,
                        pad0=(p + 1) // 2 + 1, pad1=p // 2 + 1)
    up = upsample_conv_2d(x, w)
    np.testing.assert_allclose(up, ref_up, atol=1e-4)
    p = (4 - 2) + (conv_size - 1)
    down = conv_downsample_2d(x, w)
    np.testing.assert_allclose(down, np_conv_valid(np_upfirdn(x, k, pad0=(p + 1) // 2, pad1=p // 2), w, 2), atol=1e-4)
    # The same functions as resampling and a 'SAME' convolution, except at the border (padded once, not twice).
    b = (conv_size - 1) // 2
    sep_up = tf.nn.conv2d(upsample_2d(x), w, 1, 'SAME')
    sep_down = downsample_2d(tf.nn.conv2d(x, w, 1, 'SAME'))
    inside = lambda t: np.asarray(t)[:, b:t.shape[1] - b, b:t.shape[2] - b]
    np.testing.assert_allclose(inside(up), inside(sep_up), atol=1e-4)
    np.testing.assert_allclose(inside(down), inside(sep_down), atol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Double backprop (R1, path length) on small fresh networks.

SMALL = dict(resolution=8, fmap_base=64, fmap_max=16, num_channels=3)  # One resampling block: every op kind.


def _all_finite_and_weights_nonzero(grads, variables):
    """Biases behind the last nonlinearity may have no second-order path (lrelu is piecewise linear: the
    official fused_bias_act also declares its second derivative zero), so None counts as zero for them."""
    grads = [np.zeros(v.shape) if g is None else np.asarray(g) for g, v in zip(grads, variables)]
    assert all(np.all(np.isfinite(g)) for g in grads)
    zero = [v.path for g, v in zip(grads, variables) if not np.any(g) and not v.path.endswith('bias')]
    assert not zero, zero
    return grads


def _check_against_finite_difference(penalty_fn, grads, variables, seed, eps=1e-3):
    """<grad, d> equals the central difference of the penalty along a random direction d. Used with a smooth
    activation: with lrelu, kinks crossed by the perturbation swamp the difference."""
    rng = np.random.RandomState(seed)
    directions = [np.asarray(rng.randn(*v.shape), np.float32) for v in variables]
    analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, directions))
    saved = [v.numpy() for v in variables]
    values = []
    for sign in (1, -1):
        for v, s, d in zip(variables, saved, directions):
            v.assign(s + sign * eps * d)
        values.append(float(penalty_fn()))
    for v, s in zip(variables, saved):
        v.assign(s)
    np.testing.assert_allclose((values[0] - values[1]) / (2 * eps), analytic, rtol=1e-2)


@pytest.mark.parametrize('architecture,label_layout', [('resnet', 'ada'), ('skip', 'stylegan2')])
def test_r1_penalty_through_D_is_twice_differentiable_and_correct(architecture, label_layout):
    rng = np.random.RandomState(3)
    reals = tf.constant(rng.uniform(-1, 1, [4, 8, 8, 3]).astype(np.float32))
    c = tf.constant(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
    for nonlinearity in ('lrelu', 'swish'):
        D = Discriminator(label_size=3, architecture=architecture, label_layout=label_layout, nonlinearity=nonlinearity,
                          **SMALL)

        def r1():
            with tf.GradientTape() as inner:
                inner.watch(reals)
                scores = tf.reduce_sum(D(reals, c))
            return tf.reduce_sum(tf.square(inner.gradient(scores, reals)))
        with tf.GradientTape() as outer:
            penalty = r1()
        grads = _all_finite_and_weights_nonzero(outer.gradient(penalty, D.trainable_variables), D.trainable_variables)
        if nonlinearity == 'swish':
            _check_against_finite_difference(r1, grads, D.trainable_variables, seed=4)


@pytest.mark.parametrize('architecture', ['skip', 'resnet'])
def test_path_length_penalty_through_synthesis_is_twice_differentiable_and_correct(architecture):
    for nonlinearity in ('lrelu', 'swish'):
        G = Generator(latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16, architecture=architecture,
                      nonlinearity=nonlinearity, **SMALL)
        for v in G.synthesis.trainable_variables:  # Non-zero noise strengths and biases, as after some training.
            if 'bias' in v.path or 'noise_strength' in v.path:
                v.assign(np.full(v.shape, 0.1, np.float32))
        ws = G.mapping(tf.random.stateless_normal([2, 16], seed=[5, 0]))
        pl_noise = tf.random.stateless_normal([2, 8, 8, 3], seed=[6, 0]) / 16.0

        def path_length_penalty():
            with tf.GradientTape() as inner:
                inner.watch(ws)
                out = tf.reduce_sum(G.synthesis(ws, noise_mode='const') * pl_noise)
            pl_lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(inner.gradient(out, ws)), axis=2), axis=1))
            return tf.reduce_mean(tf.square(pl_lengths - 0.5))
        variables = G.synthesis.trainable_variables
        with tf.GradientTape() as outer:
            penalty = path_length_penalty()
        grads = _all_finite_and_weights_nonzero(outer.gradient(penalty, variables), variables)
        if nonlinearity == 'swish':
            _check_against_finite_difference(path_length_penalty, grads, variables, seed=7)


# ---------------------------------------------------------------------------------------------------------------
# Mapping details that the fixtures do not pin.

def test_dlatent_avg_update_is_official_lerp():
    G = Generator(latent_size=8, dlatent_size=8, mapping_layers=1, resolution=8, fmap_base=32, fmap_max=8)
    G.mapping.dlatent_avg.assign(np.ones(8, np.float32))
    G.mapping.update_w_avg(np.zeros(8, np.float32), beta=0.995)
    np.testing.assert_allclose(G.mapping.dlatent_avg.numpy(), 0.995, rtol=1e-6)
    ws = G.mapping(np.random.RandomState(0).randn(5, 8))  # Official: the batch mean of ws[:, 0].
    expected = np.mean(ws[:, 0], axis=0) + (G.mapping.dlatent_avg.numpy() - np.mean(ws[:, 0], axis=0)) * 0.5
    G.mapping.update_w_avg(ws, beta=0.5)
    np.testing.assert_allclose(G.mapping.dlatent_avg.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not G.mapping.dlatent_avg.trainable


def test_unconditional_networks_accept_missing_labels():
    nets, io = load_fixture('sg2_uncond')
    np.testing.assert_array_equal(nets.Gs(io['z']), nets.Gs(io['z'], io['c']))
    np.testing.assert_array_equal(nets.D(nhwc(io['reals'])), nets.D(nhwc(io['reals']), io['c']))
    assert (nets.Gs.z_dim, nets.Gs.w_dim, nets.Gs.c_dim, nets.Gs.num_ws) == (64, 64, 0, 8)


def test_stylegan2_label_concat_mapping_equals_numpy_formula():
    """No official fixture has TF1 StyleGAN2 labels (ada-pytorch cannot convert them); this pins the formula
    of G_mapping: concat(z, c @ LabelConcat) -> normalize -> dense layers with lrmul and lrelu * sqrt(2)."""
    G = Generator(latent_size=8, label_size=3, dlatent_size=6, mapping_layers=2, mapping_fmaps=5, resolution=8,
                  fmap_base=32, fmap_max=8)
    rng = np.random.RandomState(4)
    for v in G.mapping.trainable_variables:
        v.assign(rng.randn(*v.shape).astype(np.float32))
    z, c = rng.randn(3, 8).astype(np.float32), np.eye(3, dtype=np.float32)
    names = network_variables(G)
    x = np.concatenate([z, c @ names['mapping/LabelConcat/weight'].numpy()], axis=1)
    x = x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True) + 1e-8)
    for i in range(2):
        w, b = names[f'mapping/Dense{i}/weight'].numpy(), names[f'mapping/Dense{i}/bias'].numpy()
        x = x @ (w * 0.01 / np.sqrt(w.shape[0])) + b * 0.01
        x = np.where(x > 0, x, 0.2 * x) * np.sqrt(2)
    np.testing.assert_allclose(G.mapping(z, c)[:, 0], x, rtol=1e-5, atol=1e-6)
    assert G.mapping(z, c).shape == (3, G.num_ws, 6)


# ---------------------------------------------------------------------------------------------------------------
# Snapshots and the loader's refusals.

def test_snapshot_round_trip_reproduces_outputs_exactly(tmp_path):
    nets, io = load_fixture('ada_cond')  # Conditional, skip G, resnet D: every kind of variable.
    path = save_snapshot(str(tmp_path / 'network-snapshot-000000'), 'stylegan2',
                         {'G': nets.G.kwargs, 'D': nets.D.kwargs}, {'G': nets.G, 'D': nets.D, 'Gs': nets.Gs})
    loaded = load_network(path)
    for net in ('G', 'D', 'Gs'):
        ours, theirs = network_variables(getattr(nets, net)), network_variables(getattr(loaded, net))
        assert sorted(ours) == sorted(theirs)
        for key in ours:
            np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), err_msg=f'{net} {key}')
    z, c = io['z'], io['c']
    np.testing.assert_array_equal(loaded.Gs(z, c, truncation_psi=0.5), nets.Gs(z, c, truncation_psi=0.5))
    np.testing.assert_array_equal(loaded.G(z, c), nets.G(z, c))
    np.testing.assert_array_equal(loaded.D(nhwc(io['reals']), c), nets.D(nhwc(io['reals']), c))


def test_pickle_that_imports_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'ran'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))
    for compress in (False, True):
        data = pickle.dumps(Evil())
        path = tmp_path / ('evil.pkl.xz' if compress else 'evil.pkl')
        path.write_bytes(lzma.compress(data) if compress else data)
        with pytest.raises(NetworkLoadError, match='refusing to load global'):
            load_network(str(path))
    assert not marker.exists()


def test_progan_pickle_is_refused_with_a_pointer_to_the_progan_loader():
    with pytest.raises(NetworkLoadError, match=r'ProGAN pickle: load it with pggan\.load_network'):
        load_network(os.path.join(os.path.dirname(DATA), 'pggan', 'config_A.pkl'))


def test_unreadable_or_foreign_files_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(NetworkLoadError, match='no such network file'):
        load_network(str(tmp_path / 'missing.pkl'))
    garbage = tmp_path / 'garbage.pkl.xz'
    garbage.write_bytes(b'\xfd7zXZ\x00 truncated')
    with pytest.raises(NetworkLoadError, match='not a readable network pickle'):
        load_network(str(garbage))
    plain = tmp_path / 'dict.pkl'
    plain.write_bytes(pickle.dumps({'a': 1}))
    with pytest.raises(NetworkLoadError, match=r'expected an official pickle holding the tuple \(G, D, Gs\)'):
        load_network(str(plain))
    (tmp_path / 'dir').mkdir()
    with pytest.raises(NetworkLoadError, match='not a network snapshot'):
        load_network(str(tmp_path / 'dir'))
    (tmp_path / 'dir' / 'networks.json').write_text('{"format": 1, "model": "pggan", "kwargs": {}}')
    with pytest.raises(NetworkLoadError, match=r'a pggan snapshot, not StyleGAN2: load it with pggan\.load_network'):
        load_network(str(tmp_path / 'dir'))


def _official_pickle(states, Network):
    """Pickle bytes in the official layout: each state dict wrapped in a dnnlib.tflib.network.Network."""
    def wrap(state):
        state = dict(state)
        state['components'] = {k: wrap(v) for k, v in state.get('components', {}).items()}
        return Network(state)
    return pickle.dumps(tuple(wrap(s) for s in states), protocol=pickle.HIGHEST_PROTOCOL)


def _fixture_states(name):
    with open(os.path.join(DATA, f'{name}.pkl.xz'), 'rb') as f:
        nets = SafeUnpickler(io_module.BytesIO(lzma.decompress(f.read()))).load()

    def plain(net):
        state = dict(net.state)
        state['components'] = {k: plain(v) for k, v in net.components.items()}
        return state
    return [plain(n) for n in nets]


def test_missing_unknown_or_misshapen_variables_are_listed(tmp_path, official_network_class):
    G, D, Gs = _fixture_states('sg2_uncond')
    D_bad = dict(D, variables=[(k, v) for k, v in D['variables'] if k != '4x4/Dense0/bias']
                 + [('Extra/weight', np.zeros(3))])
    path = tmp_path / 'bad_names.pkl'
    path.write_bytes(_official_pickle([G, D_bad, Gs], official_network_class))
    with pytest.raises(NetworkLoadError, match=r"\[D\]: variables do not match .*missing \['4x4/Dense0/bias'\], "
                                               r"unexpected \['Extra/weight'\]"):
        load_network(str(path))
    D_shape = dict(D, variables=[(k, v[:, :32] if k == '4x4/Dense0/weight' else v) for k, v in D['variables']])
    path = tmp_path / 'bad_shape.pkl'
    path.write_bytes(_official_pickle([G, D_shape, Gs], official_network_class))
    with pytest.raises(NetworkLoadError, match=r'4x4/Dense0/weight \[1024, 32\] \(expected \[1024, 64\]\)'):
        load_network(str(path))  # G loaded from the same re-pickled states: the failures are the edits alone.
