"""The projector (stylegan2/project.py): official schedules and noise regularizer, projection with the pixel
fallback, the VGG16 perceptual pickle format, and the command line."""
import contextlib
import io
import os
import pickle

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from common.metrics import vgg16 as V
from stylegan2 import project as P
from stylegan2.loading import load_network

NETWORK = os.path.join(os.path.dirname(__file__), 'data', 'stylegan2', 'sg2_uncond.pkl.xz')
TINY_FMAPS = (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 12, 12, 12)   # The VGG-16 pattern, with a few channels per layer.


@pytest.fixture(scope='module')
def Gs():
    return load_network(NETWORK).Gs


@pytest.fixture(scope='module')
def synthesized_target(Gs):
    """uint8 [32, 32, 3]: Gs's image of the w of z = RandomState(5).randn, with the stored noise."""
    ws = Gs.mapping(tf.constant(np.random.RandomState(5).randn(1, Gs.z_dim), tf.float32))
    return P.to_uint8_projector(Gs.synthesis(ws, noise_mode='const'))[0]


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = P.run(['project'] + argv)
    return rc, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Schedules and regularizer.

def test_learning_rate_and_w_noise_ramp_equal_official_formulas():
    options = P.ProjectorOptions(num_steps=1000)
    # t = 0: no learning yet; t = 0.025: half way up the linear ramp; t = 0.5: full rate; t = 0.875: half way
    # down the cosine ramp (0.5 - 0.5 cos(pi/2) = 0.5); last step: t = 0.999, ramp 0.5 - 0.5 cos(0.004 pi).
    expected_lr = {0: 0.0, 25: 0.05, 50: 0.1, 500: 0.1, 750: 0.1, 875: 0.05,
                   999: 0.1 * (0.5 - 0.5 * np.cos(0.004 * np.pi))}
    for step, lr in expected_lr.items():
        assert P.learning_rate(step, options) == pytest.approx(lr, rel=1e-12, abs=1e-15), step
    # w noise: w_std * 0.05 * max(0, 1 - t / 0.75)^2.
    w_std = 2.0
    expected_noise = {0: 0.1, 375: 0.1 * 0.25, 600: 0.1 * 0.2 ** 2, 750: 0.0, 999: 0.0}
    for step, scale in expected_noise.items():
        assert P.w_noise_scale(step, w_std, options) == pytest.approx(scale, rel=1e-12, abs=1e-15), step
    # Other num_steps scale the ramps: with 100 steps the rate peaks from step 5.
    short = P.ProjectorOptions(num_steps=100)
    assert P.learning_rate(4, short) == pytest.approx(0.08) and P.learning_rate(5, short) == pytest.approx(0.1)


def _numpy_noise_regularization(noises_nchw):
    """The official TF1 graph (projector.py) in NumPy, on [1, 1, s, s] maps."""
    reg = 0.0
    for v in noises_nchw:
        v = v.astype(np.float64)
        sz = v.shape[2]
        while True:
            reg += np.mean(v * np.roll(v, 1, axis=3)) ** 2 + np.mean(v * np.roll(v, 1, axis=2)) ** 2
            if sz <= 8:
                break
            v = v.reshape(1, 1, sz // 2, 2, sz // 2, 2).mean(axis=(3, 5))
            sz //= 2
    return reg


def test_noise_regularizer_equals_numpy_reference():
    rng = np.random.RandomState(0)
    # Correlated maps (a smoothed ramp plus noise), so that every scale contributes.
    noises = []
    for s in (4, 8, 8, 16, 32, 64):
        ramp = np.linspace(-1, 1, s)[None, None, :, None] * np.linspace(0, 2, s)[None, None, None, :]
        noises.append((ramp + 0.3 * rng.randn(1, 1, s, s)).astype(np.float32))
    ours = P.noise_regularization([tf.constant(n.transpose(0, 2, 3, 1)) for n in noises])
    np.testing.assert_allclose(float(ours), _numpy_noise_regularization(noises), rtol=1e-5)


def test_noise_normalization_gives_zero_mean_unit_variance():
    var = tf.Variable(np.random.RandomState(1).randn(1, 16, 16, 1).astype(np.float32) * 3 + 2)
    P.normalize_noise([var])
    assert abs(float(tf.reduce_mean(var))) < 1e-6
    assert float(tf.reduce_mean(tf.square(var))) == pytest.approx(1.0, rel=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Projection.

def test_projecting_a_synthesized_image_reduces_the_distance_substantially(Gs, synthesized_target):
    distance = P.PixelDistance()
    projection = P.project(Gs, synthesized_target, distance, P.ProjectorOptions(num_steps=100), seed=303)
    assert projection.w_steps.shape == (100, Gs.w_dim) and np.all(np.isfinite(projection.losses))
    assert projection.dists[-1] < 0.25 * projection.dists[0]

    def image_distance(w, noise):
        synth = (P.synthesize(Gs, w, noise) + 1) * 127.5
        target = tf.constant(synthesized_target[None], tf.float32)
        return float(distance.distance(distance.features(synth), distance.features(target))[0])
    w_avg, _ = P.compute_w_stats(Gs, 10000)
    start = image_distance(w_avg[:, 0], [np.random.RandomState(303).randn(1, s, s, 1).astype(np.float32)
                                         for s in Gs.synthesis.noise_sizes])
    final = image_distance(projection.w_steps[-1:], projection.noise)
    assert final < 0.25 * start


# ---------------------------------------------------------------------------------------------------------
# The VGG16 perceptual pickle.

def _official_pickle(state, Network):
    """Pickle bytes in the layout of vgg16_zhang_perceptual.pkl: the state dict of one
    dnnlib.tflib.network.Network."""
    return pickle.dumps(Network(state), protocol=4)  # misc.save_pkl: HIGHEST_PROTOCOL of Python 3.6.


def _tiny_vgg16_variables(seed=0):
    """Random variables with the official names and shape pattern, in their official order."""
    rng = np.random.RandomState(seed)
    variables, fmaps_in = [], 3
    for i, fmaps in enumerate(TINY_FMAPS, start=1):
        variables.append((f'conv{i}/conv{i}', (rng.randn(3, 3, fmaps_in, fmaps) * np.sqrt(2 / (9 * fmaps_in)))
                          .astype(np.float32)))
        variables.append((f'conv{i}/bias{i}', (rng.randn(fmaps) * 0.1).astype(np.float32)))
        fmaps_in = fmaps
    stage_fmaps = [TINY_FMAPS[i - 1] for i in np.cumsum(V.VGG16_STAGES)]
    for k, fmaps in enumerate(stage_fmaps):
        variables.append((f'perceptual_weight_{k}', rng.uniform(0, 1, [1, 1, fmaps, 1]).astype(np.float32)))
    return variables


def _write_vgg16_pickle(path, variables, network_class, build_func_name='lpips_network'):
    state = dict(version=3, name='vgg16_perceptual_distance', static_kwargs={}, components={},
                 build_module_src='# official source omitted', build_func_name=build_func_name,
                 variables=variables)
    path.write_bytes(_official_pickle(state, network_class))
    return str(path)


def _numpy_lpips(variables, images_a, images_b):
    """lpips_network of the official pickle source, in NumPy (NHWC, float64), for images in [0, 255]."""
    v = dict(variables)
    x = np.concatenate([images_a, images_b]).astype(np.float64) / 255
    x = (x - np.array(V.VGG_MEAN)) / np.array(V.VGG_STD)
    features, conv = [], 1
    for stage, num_convs in enumerate(V.VGG16_STAGES):
        if stage:
            n, h, w, c = x.shape  # 2x2 max-pool, stride 2 (sizes stay even here, so SAME = VALID).
            x = x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
        for _ in range(num_convs):
            kernel, bias = v[f'conv{conv}/conv{conv}'], v[f'conv{conv}/bias{conv}']
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            h, w = x.shape[1:3]
            x = sum(padded[:, dy:dy + h, dx:dx + w] @ kernel[dy, dx] for dy in range(3) for dx in range(3))
            x = np.maximum(x + bias, 0)
            conv += 1
        features.append(x / (np.sqrt(np.sum(x ** 2, axis=-1, keepdims=True)) + 1e-10))
    num = len(images_a)
    return sum(np.mean(np.square(f[:num] - f[num:]) @ v[f'perceptual_weight_{k}'][0, 0], axis=(1, 2, 3))
               for k, f in enumerate(features))


def test_vgg16_perceptual_pickle_round_trip_matches_numpy_lpips(tmp_path, official_network_class):
    variables = _tiny_vgg16_variables()
    model = V.load_vgg16_perceptual(_write_vgg16_pickle(tmp_path / 'vgg.pkl', variables, official_network_class))
    assert model.conv_fmaps == TINY_FMAPS
    ours = model.official_variables()
    assert list(ours) == [name for name, _ in variables]
    for name, value in variables:
        np.testing.assert_array_equal(ours[name].numpy(), value)
    rng = np.random.RandomState(1)
    images_a = rng.uniform(0, 255, [3, 16, 16, 3]).astype(np.float32)
    images_b = np.clip(images_a + rng.randn(3, 16, 16, 3) * 40, 0, 255).astype(np.float32)
    expected = _numpy_lpips(variables, images_a, images_b)
    np.testing.assert_allclose(model(tf.constant(images_a), tf.constant(images_b)).numpy(), expected, rtol=2e-4)
    np.testing.assert_allclose(model(tf.constant(images_a), tf.constant(images_a)).numpy(), 0, atol=1e-7)


def test_vgg16_pickle_with_wrong_variables_is_refused(tmp_path, official_network_class):
    variables = _tiny_vgg16_variables()
    without_weight = [(n, v) for n, v in variables if n != 'perceptual_weight_3']
    with pytest.raises(V.PerceptualLoadError, match=r"missing \['perceptual_weight_3'\]"):
        V.load_vgg16_perceptual(_write_vgg16_pickle(tmp_path / 'a.pkl', without_weight, official_network_class))
    other = _write_vgg16_pickle(tmp_path / 'b.pkl', variables, official_network_class, build_func_name='G_main')
    with pytest.raises(V.PerceptualLoadError, match='expected lpips_network'):
        V.load_vgg16_perceptual(other)


# ---------------------------------------------------------------------------------------------------------
# Command line.

@pytest.fixture(scope='module')
def target_png(tmp_path_factory, synthesized_target):
    path = tmp_path_factory.mktemp('target') / 'target.png'
    PIL.Image.fromarray(synthesized_target).resize((48, 40), PIL.Image.Resampling.BICUBIC).save(path)  # Not square.
    return str(path)


@pytest.fixture(scope='module')
def cli_without_vgg16(tmp_path_factory, target_png):
    outdir = tmp_path_factory.mktemp('proj')
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(P.VGG16_ENV, raising=False)
        rc, out, err = _run_cli([f'--network={NETWORK}', f'--target={target_png}', f'--outdir={outdir}',
                                 '--num_steps=12', '--save_video', '--gif', '--save_steps'])
    return rc, out, err, str(outdir)


def test_cli_without_vgg16_prints_one_notice_naming_flag_env_and_download(cli_without_vgg16):
    rc, _, err, _ = cli_without_vgg16
    assert rc == 0
    notices = [line for line in err.splitlines() if line.startswith('notice:')]
    assert len(notices) == 1
    for needle in ('--vgg16', P.VGG16_ENV, 'vgg16_zhang_perceptual.pkl', 'pixel MSE'):
        assert needle in notices[0]


def test_cli_writes_target_projection_w_and_progress(cli_without_vgg16, Gs):
    rc, _, _, outdir = cli_without_vgg16
    assert rc == 0
    for name in ('target.png', 'proj.png', 'projected_w.npz', 'projected_noise.npz', 'proj.gif',
                 'steps/step0001.png', 'steps/step0012.png'):
        assert os.path.isfile(os.path.join(outdir, name)), name
    assert PIL.Image.open(os.path.join(outdir, 'proj.png')).size == (32, 32)
    assert PIL.Image.open(os.path.join(outdir, 'steps/step0012.png')).size == (64, 32)
    assert PIL.Image.open(os.path.join(outdir, 'proj.gif')).n_frames == 12
    w = np.load(os.path.join(outdir, 'projected_w.npz'))['w']
    assert w.shape == (1, Gs.num_ws, Gs.w_dim) and np.all(w == w[:, :1])
    noise = np.load(os.path.join(outdir, 'projected_noise.npz'))
    assert [noise[f'noise{i}'].shape for i in range(len(noise.files))] == [
        (1, 1, s, s) for s in Gs.synthesis.noise_sizes]


def test_projection_with_a_vgg16_pickle_runs_lpips(tmp_path, official_network_class, Gs, synthesized_target):
    vgg = V.load_vgg16_perceptual(_write_vgg16_pickle(tmp_path / 'vgg.pkl', _tiny_vgg16_variables(), official_network_class))
    projection = P.project(Gs, synthesized_target, vgg, P.ProjectorOptions(num_steps=3, w_avg_samples=1000))
    assert np.all(np.isfinite(projection.losses)) and np.all(projection.dists > 0)
    assert np.all(np.isfinite(projection.w_steps)) and not np.array_equal(projection.w_steps[0], projection.w_steps[-1])


def test_vgg16_path_comes_from_the_flag_then_the_environment(tmp_path, monkeypatch):
    flag_file, env_file = tmp_path / 'flag.pkl', tmp_path / 'env.pkl'
    flag_file.write_bytes(b'')
    env_file.write_bytes(b'')
    monkeypatch.delenv(P.VGG16_ENV, raising=False)
    assert P.resolve_vgg16_path(None) is None
    monkeypatch.setenv(P.VGG16_ENV, str(env_file))
    assert P.resolve_vgg16_path(None) == str(env_file)
    assert P.resolve_vgg16_path(str(flag_file)) == str(flag_file)
    monkeypatch.setenv(P.VGG16_ENV, str(tmp_path / 'gone.pkl'))
    with pytest.raises(ValueError, match=rf'^\${P.VGG16_ENV}=.*gone.pkl: no such file$'):
        P.resolve_vgg16_path(None)


def test_bad_target_file_is_one_error_line(tmp_path):
    bad = tmp_path / 'target.png'
    bad.write_bytes(b'not an image at all')
    rc, _, err = _run_cli([f'--network={NETWORK}', f'--target={bad}', f'--outdir={tmp_path / "out"}'])
    assert rc == 1
    assert err.splitlines() == [f'error: --target={bad}: not a readable image (UnidentifiedImageError)']
    assert not os.path.exists(tmp_path / 'out')


def test_missing_vgg16_file_is_one_error_line(tmp_path, target_png):
    rc, _, err = _run_cli([f'--network={NETWORK}', f'--target={target_png}', f'--outdir={tmp_path}',
                           f'--vgg16={tmp_path / "nope.pkl"}'])
    assert rc == 1
    assert err.splitlines() == [f'error: --vgg16={tmp_path / "nope.pkl"}: no such file']
