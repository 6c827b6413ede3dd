"""common.ops.augment: StyleGAN2-ADA's augmentation pipe against ada-pytorch's outputs (tests/data/augment), its
second derivative against finite differences, its random draws against the official distributions, and its
determinism in and out of XLA."""
import json
import os

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from common.ops.augment import AUGPIPE_SPECS, AugmentPipe

REF = np.load(os.path.join(os.path.dirname(__file__), 'data', 'augment', 'augment_ref.npz'))
CASES = json.loads(str(REF['cases_json']))
SEED = tf.constant([7, 11])


def _pipe(kwargs, p, dtype=None):
    pipe = AugmentPipe(**kwargs, **({'dtype': dtype} if dtype else {}))
    pipe.p.assign(p)
    return pipe


def test_presets_equal_official_augpipe_specs():
    assert AUGPIPE_SPECS == json.loads(str(REF['specs_json']))


@pytest.mark.parametrize('name', sorted({c['name'] for c in CASES}))
def test_pipe_matches_official_in_debug_mode(name):
    """Every deterministic preset, each transform alone, non-default strengths ('custom') and the whole pipe at
    p = 0 in random mode (bgcfnc), at the recorded debug percentiles, on RGB and luma images."""
    cases = [c for c in CASES if c['name'] == name]
    assert cases
    for case in cases:
        x = REF['input/' + case['input']]
        y = _pipe(case['kwargs'], case['p'])(tf.constant(x), seed=SEED, debug_percentile=case['debug_percentile'])
        np.testing.assert_allclose(y.numpy(), REF[case['key']], rtol=0, atol=1e-4, err_msg=case['key'])


def test_every_deterministic_preset_has_official_vectors_at_several_percentiles():
    for name in ['blit', 'geom', 'color', 'filter', 'cutout', 'bg', 'bgc', 'bgcf']:
        for channels in ['rgb', 'gray']:
            qs = {c['debug_percentile'] for c in CASES if c['name'] == name and c['input'].startswith(channels)}
            assert len(qs) >= 4, (name, channels, qs)


@pytest.mark.parametrize('name', sorted(AUGPIPE_SPECS))
def test_p0_is_the_identity(name):
    """With every gate shut the pipe still pads, upsamples, resamples and downsamples (the official does
    too); sym6 is orthogonal, so that round trip is the identity up to float rounding."""
    for channels in ['rgb_large', 'gray_large']:
        x = REF['input/' + channels]
        y = _pipe(AUGPIPE_SPECS[name], 0.0)(tf.constant(x), seed=SEED)
        np.testing.assert_allclose(y.numpy(), x, rtol=0, atol=1e-5, err_msg=channels)


def test_r1_through_the_pipe_matches_finite_differences():
    """R1 = |d D(pipe(x)) / dx|^2 with a small non-linear D: its derivatives with respect to D's weights and
    to x (the double backward through the pipe that ada-pytorch's grid_sample_gradfix exists for) equal
    central differences in float64, in random mode with every transform group on."""
    rng = np.random.RandomState(0)
    x = tf.constant(rng.uniform(-1, 1, [2, 24, 24, 3]))
    weight = tf.constant(rng.randn(24 * 24 * 3, 3) / 20)
    pipe = _pipe(AUGPIPE_SPECS['bgcfnc'], 0.7, dtype='float64')

    def r1(x, weight):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(tf.tanh(tf.reshape(pipe(x, seed=SEED), [2, -1]) @ weight) * [1.0, -2.0, 0.5])
        return tf.reduce_sum(tf.square(tape.gradient(score, x)))

    with tf.GradientTape() as tape:
        tape.watch([x, weight])
        penalty = r1(x, weight)
    grad_x, grad_w = tape.gradient(penalty, [x, weight])
    assert float(penalty) > 0
    eps = 1e-5
    for name, value, grad in [('x', x, grad_x), ('weight', weight, grad_w)]:
        flat = tf.reshape(grad, [-1]).numpy()
        for index in [int(np.argmax(np.abs(flat)))] + list(rng.choice(flat.size, 3, replace=False)):
            step = tf.reshape(tf.one_hot(index, flat.size, dtype=tf.float64) * eps, value.shape)
            args = lambda v: (v, weight) if name == 'x' else (x, v)  # noqa: E731
            numeric = (float(r1(*args(value + step))) - float(r1(*args(value - step)))) / (2 * eps)
            assert abs(numeric - flat[index]) <= 1e-6 * np.max(np.abs(flat)), (name, index, numeric, flat[index])


def test_same_seed_gives_the_same_augmentation_and_another_seed_another():
    x = tf.constant(REF['input/rgb_large'])
    pipe = _pipe(AUGPIPE_SPECS['bgcfnc'], 0.5)
    a, b = pipe(x, seed=SEED), pipe(x, seed=tf.constant([7, 11], tf.int64))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.max(np.abs(a.numpy() - pipe(x, seed=tf.constant([7, 12])).numpy())) > 0.1
    # A transform's draws do not depend on which other transforms are on.
    alone = AugmentPipe(xfrac=1, saturation=1).draw_parameters(64, SEED)
    together = AugmentPipe.from_preset('bgc').draw_parameters(64, SEED)
    for key in alone:
        np.testing.assert_array_equal(alone[key].numpy(), together[key].numpy(), err_msg=key)


def test_xla_gives_the_eager_result():
    """One compiled function: a debug percentile and random mode with noise; the random mode draws the same
    numbers under XLA (the uniforms are made from Philox integers, which XLA and TF's kernels share)."""
    x = tf.constant(REF['input/rgb_large'])
    pipe = _pipe(AUGPIPE_SPECS['bgcfnc'], 0.5)
    run = lambda x, seed, q: (pipe(x, seed=seed), pipe(x, seed=seed, debug_percentile=q))  # noqa: E731
    compiled = tf.function(run, jit_compile=True)(x, SEED, tf.constant(0.3))
    for ours, eager in zip(compiled, run(x, SEED, 0.3)):
        assert np.max(np.abs(eager.numpy() - x.numpy())) > 0.1  # Not the identity.
        np.testing.assert_allclose(ours.numpy(), eager.numpy(), rtol=0, atol=1e-5)


def test_random_parameters_follow_official_distributions():
    """Each parameter differs from its identity with the official probability, and then follows the official
    distribution (Kolmogorov-Smirnov against scipy's), at p = 0.6 over 20000 images."""
    p, n = 0.6, 20000
    pipe = _pipe(AUGPIPE_SPECS['bgcfnc'], p)
    params = {k: v.numpy() for k, v in pipe.draw_parameters(n, tf.constant([3, 5])).items()}
    p_rot = 1 - np.sqrt(1 - p)
    uniform = lambda a: scipy.stats.uniform(-a, 2 * a).cdf  # noqa: E731
    normal = lambda s: scipy.stats.norm(0, s).cdf  # noqa: E731
    checks = {  # name: (identity, probability of a change, transform of the changed values, their CDF)
        'xint': (0, p, None, uniform(0.125)), 'scale': (1, p, np.log2, normal(0.2)),
        'rotate_pre': (0, p_rot, None, uniform(np.pi)), 'rotate_post': (0, p_rot, None, uniform(np.pi)),
        'aniso': (1, p, np.log2, normal(0.2)), 'xfrac': (0, p, None, normal(0.125)),
        'brightness': (0, p, None, normal(0.2)), 'contrast': (1, p, np.log2, normal(0.5)),
        'hue': (0, p, None, uniform(np.pi)), 'saturation': (1, p, np.log2, normal(1.0)),
        'imgfilter': (1, p, np.log2, normal(1.0)), 'noise_sigma': (0, p, None, scipy.stats.halfnorm(0, 0.1).cdf),
        'cutout_size': (0, p, None, None), 'xflip': (0, p / 2, None, None), 'lumaflip': (0, p / 2, None, None),
        'rotate90': (0, p * 3 / 4, None, None), 'cutout_center': (None, 1, None, scipy.stats.uniform(0, 1).cdf)}
    assert set(checks) == set(params)
    for name, (identity, probability, transform, cdf) in checks.items():
        values = params[name]
        columns = values.reshape(n, -1).T
        for column in columns:
            changed = column != identity
            assert abs(changed.mean() - probability) <= 5 * np.sqrt(probability * (1 - probability) / n), name
            if cdf is not None:
                sample = column[changed] if transform is None else transform(column[changed])
                assert scipy.stats.kstest(sample, cdf).pvalue > 1e-3, name
    assert set(np.unique(params['rotate90'])) == {0, 1, 2, 3}
    assert set(np.unique(params['cutout_size'])) == {0, 0.5}
    # xint and xfrac draw x and y independently; the gate is shared.
    assert abs(np.corrcoef(params['xfrac'][params['xfrac'][:, 0] != 0].T)[0, 1]) < 0.05
    np.testing.assert_array_equal(params['xint'][:, 0] == 0, params['xint'][:, 1] == 0)


def test_unknown_preset_is_refused_with_the_valid_names():
    with pytest.raises(ValueError) as error:
        AugmentPipe.from_preset('bgcx')
    message = str(error.value)
    assert '\n' not in message and "'bgcx'" in message
    assert all(name in message for name in AUGPIPE_SPECS)


def test_bad_images_and_missing_seed_are_refused():
    pipe = AugmentPipe.from_preset('bgcf')
    with pytest.raises(ValueError, match=r'\[N, H, W, 3\]'):
        pipe(tf.zeros([2, 24, 24, 2]), seed=SEED)
    with pytest.raises(ValueError, match='seed is required'):
        pipe(tf.zeros([2, 24, 24, 3]))
    with pytest.raises(ValueError, match='expected sides above 21 pixels'):
        pipe(tf.zeros([2, 16, 16, 3]), seed=SEED)


def test_checkpoint_restores_p_and_config_round_trips(tmp_path):
    pipe = AugmentPipe.from_preset('bgc', hue_max=0.5)
    pipe.p.assign(0.37)
    path = tf.train.Checkpoint(augment_pipe=pipe).write(str(tmp_path / 'ckpt'))
    restored = AugmentPipe.from_config(pipe.get_config())
    assert float(restored.p) == 1.0  # ada-pytorch's initial value.
    tf.train.Checkpoint(augment_pipe=restored).read(path).assert_consumed()
    assert float(restored.p) == pytest.approx(0.37)
    assert restored.get_config() == pipe.get_config() and restored.hue_max == 0.5
    assert [v.name for v in pipe.non_trainable_weights] == ['p'] and not pipe.trainable_weights
