"""The ProGAN tools: uint8 conversion, grids, PNG writing and seed parsing (common/util/images.py), image and
interpolation generation (pggan/generate.py) and the SavedModel export (pggan/export.py).

The tools run in-process through their `run(argv)` (TensorFlow's import is slow); one test runs a real
`python -m pggan.generate` to check what a user sees on bad input.
"""
import os
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from common.util import images as image_utils
from pggan import export, generate, load_network

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'pggan')
CONFIG_A = os.path.join(DATA, 'config_A.pkl')  # Unconditional, 3 channels, 32 px, linear structure.
CONFIG_C = os.path.join(DATA, 'config_C.pkl')  # Conditional (4 classes), 1 channel, 16 px, linear.
CONFIG_D = os.path.join(DATA, 'config_D.pkl')  # Conditional (4 classes), 1 channel, 16 px, recursive.


@pytest.fixture(scope='module')
def Gs_A():
    return load_network(CONFIG_A).Gs


@pytest.fixture(scope='module')
def Gs_C():
    return load_network(CONFIG_C).Gs


def read_png(path):
    return np.asarray(PIL.Image.open(path))


def error_lines(text):
    return [line for line in text.splitlines() if line.startswith('error:')]


# ---------------------------------------------------------------------------------------------------------------
# float -> uint8

def landing_on(target):
    """A float32 x with x*127.5 + 127.5 == target exactly in float32 (found among x's neighbouring floats)."""
    x = np.float32((target - 127.5) / 127.5)
    for step in range(8):
        for c in (x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))):
            if c * np.float32(127.5) + np.float32(127.5) == np.float32(target):
                return c
        x = np.nextafter(x, np.float32(np.inf) if step % 2 else np.float32(-np.inf))
    raise AssertionError(f'no float32 lands on {target}')


def test_progan_uint8_rounds_half_to_even_and_saturates():
    halves = [0.5, 1.5, 2.5, 126.5, 127.5, 128.5, 253.5, 254.5]
    x = np.array([landing_on(t) for t in halves], np.float32)
    np.testing.assert_array_equal(image_utils.to_uint8_progan(x), [0, 2, 2, 126, 128, 128, 254, 254])
    beyond = np.array([-1.5, -1.0, 1.0, 1.01, 7.0, -np.inf, np.inf], np.float32)
    np.testing.assert_array_equal(image_utils.to_uint8_progan(beyond), [0, 0, 255, 255, 255, 0, 255])


def test_progan_uint8_equals_official_convert_to_pil_image_rule():
    x = np.random.RandomState(0).uniform(-1.2, 1.2, [4, 8, 8, 3]).astype(np.float32)
    scale = (np.float32(255) - np.float32(0)) / (np.float32(1) - np.float32(-1))  # misc.adjust_dynamic_range
    bias = np.float32(0) - np.float32(-1) * scale
    official = np.rint(x * scale + bias).clip(0, 255).astype(np.uint8)
    np.testing.assert_array_equal(image_utils.to_uint8_progan(x), official)
    np.testing.assert_array_equal(image_utils.to_uint8_progan(tf.constant(x)), official)  # Tensors too (training).


def test_ada_uint8_truncates_toward_zero_and_saturates():
    scaled = np.array([-0.5, 0.5, 0.99, 127.5, 128, 254.9, 255.5])  # x*127.5 + 128, up to float32 rounding.
    x = ((scaled - 128) / 127.5).astype(np.float32)
    np.testing.assert_array_equal(image_utils.to_uint8_ada(x), [0, 0, 0, 127, 128, 254, 255])
    assert image_utils.to_uint8_progan(np.float32(0)) == 128 and image_utils.to_uint8_progan(np.float32(-1)) == 0


# ---------------------------------------------------------------------------------------------------------------
# Seeds, grids, PNGs

@pytest.mark.parametrize('spec, seeds', [('0-3,7', [0, 1, 2, 3, 7]), ('5', [5]), (' 1 , 2-3 ', [1, 2, 3]),
                                         ('4-4,0', [4, 0]), ('4294967295', [2 ** 32 - 1])])
def test_parse_seeds_expands_ranges_in_order(spec, seeds):
    assert image_utils.parse_seeds(spec) == seeds


@pytest.mark.parametrize('spec', ['', ' ', 'a', '3-1', '-1', '1-', '1,,2', '0-2x', '1.5', '4294967296', None])
def test_parse_seeds_refuses_bad_input_with_a_clear_message(spec):
    with pytest.raises(ValueError, match='seeds'):
        image_utils.parse_seeds(spec)


def test_parse_range_accepts_negative_ranges_and_bounds():
    assert image_utils.parse_range('-3--1,2') == [-3, -2, -1, 2]
    with pytest.raises(ValueError, match=r'classes: .* outside 0\.\.3'):
        image_utils.parse_range('2-4', what='classes', minimum=0, maximum=3)


def test_grid_places_images_row_major_in_official_near_square_layout():
    images = np.arange(1, 6, dtype=np.uint8)[:, None, None, None] * np.ones([5, 2, 3, 1], np.uint8)  # 5 of 2x3
    grid = image_utils.create_image_grid(images)  # gw = ceil(sqrt(5)) = 3, gh = 2
    assert grid.shape == (4, 9, 1)
    np.testing.assert_array_equal(grid[::2, ::3, 0], [[1, 2, 3], [4, 5, 0]])
    wide = image_utils.create_image_grid(images[..., 0], (5, 1))  # [N, H, W] in, [H, W] out
    np.testing.assert_array_equal(wide[0, ::3], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match='cannot hold 5'):
        image_utils.create_image_grid(images, (2, 2))


@pytest.mark.parametrize('shape, mode', [([5, 7], 'L'), ([5, 7, 1], 'L'), ([5, 7, 3], 'RGB'), ([5, 7, 4], 'RGBA')])
def test_save_png_round_trips_and_leaves_no_temp_file(tmp_path, shape, mode):
    image = np.random.RandomState(1).randint(0, 256, shape).astype(np.uint8)
    image_utils.save_png(image, tmp_path / 'a.png')
    assert os.listdir(tmp_path) == ['a.png']
    assert PIL.Image.open(tmp_path / 'a.png').mode == mode
    np.testing.assert_array_equal(read_png(tmp_path / 'a.png').reshape(shape), image)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    image_utils.save_png(np.zeros([4, 4], np.uint8), tmp_path / 'a.png')

    def write_half_then_fail(tmp):
        with open(tmp, 'wb') as f:
            f.write(b'\x89PNG half')
        raise OSError('disk full')
    with pytest.raises(OSError, match='disk full'):
        image_utils.save_atomic(tmp_path / 'a.png', write_half_then_fail)
    assert os.listdir(tmp_path) == ['a.png']
    np.testing.assert_array_equal(read_png(tmp_path / 'a.png'), np.zeros([4, 4], np.uint8))
    with pytest.raises(ValueError, match='uint8'):
        image_utils.save_png(np.zeros([4, 4], np.float32), tmp_path / 'b.png')


# ---------------------------------------------------------------------------------------------------------------
# generate: seeds

def test_seed_pngs_equal_uint8_of_Gs_on_randomstate_latents(tmp_path, Gs_A):
    assert generate.run(['generate', f'--network={CONFIG_A}', '--seeds=0-2', f'--outdir={tmp_path}', '--grid']) == 0
    assert sorted(os.listdir(tmp_path)) == ['grid.png', 'seed0000.png', 'seed0001.png', 'seed0002.png']
    expected = []
    for seed in range(3):
        z = np.random.RandomState(seed).randn(1, 32).astype(np.float32)
        expected.append(image_utils.to_uint8_progan(Gs_A(z))[0])
        np.testing.assert_array_equal(read_png(tmp_path / f'seed{seed:04d}.png'), expected[-1], err_msg=f'seed {seed}')
    assert expected[0].shape == (32, 32, 3) and not np.array_equal(expected[0], expected[1])
    np.testing.assert_array_equal(read_png(tmp_path / 'grid.png'), image_utils.create_image_grid(np.stack(expected)))


def test_conditional_network_requires_class_idx(tmp_path, capsys):
    assert generate.run(['generate', f'--network={CONFIG_C}', '--seeds=0', f'--outdir={tmp_path}']) == 1
    assert error_lines(capsys.readouterr().err) == ['error: conditional network: pass --class_idx (0 to 3)']
    assert generate.run(['generate', f'--network={CONFIG_C}', '--seeds=0', f'--outdir={tmp_path}',
                         '--class_idx=4']) == 1
    assert 'the network has 4 classes' in error_lines(capsys.readouterr().err)[0]
    assert not os.listdir(tmp_path)


def test_class_idx_is_a_one_hot_label_and_lod_is_honoured(tmp_path, Gs_C):
    assert generate.run(['generate', f'--network={CONFIG_C}', '--seeds=7', f'--outdir={tmp_path}',
                         '--class_idx=2', '--lod=1.5']) == 0
    z = np.random.RandomState(7).randn(1, 16).astype(np.float32)
    expected = image_utils.to_uint8_progan(Gs_C(z, np.float32([[0, 0, 1, 0]]), lod=1.5))[0, :, :, 0]
    np.testing.assert_array_equal(read_png(tmp_path / 'seed0007.png'), expected)  # 1 channel -> mode L, [H, W]
    other_class = image_utils.to_uint8_progan(Gs_C(z, np.float32([[1, 0, 0, 0]]), lod=1.5))[0, :, :, 0]
    assert not np.array_equal(expected, other_class)


@pytest.mark.parametrize('network, args, message', [
    ('missing.pkl', ['--seeds=0-2'], 'missing.pkl: no such network'),
    (CONFIG_A, ['--seeds=3-1'], 'seeds'),
    (CONFIG_A, ['--seeds=0', '--lod=4'], 'lod 0 .* to 3'),
    (CONFIG_A, ['--seeds=0', '--lod=abc'], 'could not convert'),
    (CONFIG_A, ['--interpolate', '--seeds=0'], 'either --seeds or --interpolate'),
    (CONFIG_A, ['--seeds=0', '--seedz=1'], "Unknown command line flag 'seedz'"),
    (CONFIG_A, ['--seeds=0', '--grid_size=3'], 'WxH'),
])
def test_bad_input_is_one_error_line_and_status_1(tmp_path, capsys, network, args, message):
    network = os.path.join(tmp_path, network)  # The configs are absolute paths: join keeps them.
    assert generate.run(['generate', f'--network={network}', f'--outdir={tmp_path / "out"}'] + args) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert not (tmp_path / 'out').exists()


def test_a_file_that_is_not_a_progan_pickle_is_refused(tmp_path, capsys):
    (tmp_path / 'notes.pkl').write_text('not a pickle')
    assert generate.run(['generate', f'--network={tmp_path / "notes.pkl"}', '--seeds=0', f'--outdir={tmp_path}']) == 1
    assert error_lines(capsys.readouterr().err)[0].startswith(f'error: {tmp_path / "notes.pkl"}: not a readable')


def test_command_line_reports_missing_network_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'pggan.generate', f'--network={tmp_path / "missing.pkl"}',
                             '--seeds=0', f'--outdir={tmp_path / "out"}'], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'), timeout=120)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f'error: {tmp_path / "missing.pkl"}: no such network file or snapshot']
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------------------------------------------------------
# generate: interpolation

def test_gaussian_filter_wrap_equals_scipy_gaussian_filter():
    ndimage = pytest.importorskip('scipy.ndimage')
    # (10, 6.0) and (7, 30.0): kernels longer than the signal, which wrap around it more than once.
    for frames, sigma in [(50, 3.0), (10, 6.0), (7, 30.0), (60, 2.5), (20, 0.0)]:
        x = np.random.RandomState(frames).randn(frames, 2, 5).astype(np.float32)
        np.testing.assert_allclose(generate.gaussian_filter_wrap(x, sigma),
                                   ndimage.gaussian_filter(x, [sigma, 0, 0], mode='wrap'), rtol=0, atol=1e-6)


def official_interpolation_latents(num_frames, num_images, latent_size, sigma, random_seed):
    """util_scripts.generate_interpolation_video's latents, with scipy as the official code."""
    ndimage = pytest.importorskip('scipy.ndimage')
    all_latents = np.random.RandomState(random_seed).randn(num_frames, num_images, latent_size).astype(np.float32)
    all_latents = ndimage.gaussian_filter(all_latents, [sigma, 0, 0], mode='wrap')
    return all_latents / np.sqrt(np.mean(np.square(all_latents)))


def test_interpolation_gif_has_one_frame_per_time_step(tmp_path):
    assert generate.run(['generate', f'--network={CONFIG_C}', '--interpolate', '--duration_sec=1.5', '--mp4_fps=6',
                         '--smoothing_sec=0.25', '--grid_size=2x1', '--image_zoom=2', '--class_idx=1', '--gif',
                         f'--outdir={tmp_path}']) == 0
    assert os.listdir(tmp_path) == ['lerp.gif']
    gif = PIL.Image.open(tmp_path / 'lerp.gif')
    assert gif.n_frames == 9 and gif.size == (2 * 16 * 2, 16 * 2)
    assert gif.info['loop'] == 0


def test_interpolation_frames_are_Gs_of_the_official_smoothed_latents(tmp_path, Gs_A):
    assert generate.run(['generate', f'--network={CONFIG_A}', '--interpolate', '--duration_sec=0.5', '--mp4_fps=8',
                         '--smoothing_sec=0.5', '--grid_size=1x2', '--random_seed=3', '--png_frames',
                         f'--outdir={tmp_path}']) == 0
    assert sorted(os.listdir(tmp_path)) == [f'lerp{i:06d}.png' for i in range(4)]
    latents = official_interpolation_latents(4, 2, 32, 0.5 * 8, random_seed=3)
    for i in range(4):
        expected = image_utils.create_image_grid(image_utils.to_uint8_progan(Gs_A(latents[i])), (1, 2))
        frame = read_png(tmp_path / f'lerp{i:06d}.png')
        assert frame.shape == (64, 32, 3)
        # Minibatches of 8 images vs 2 here: float results may differ in the last bit, so allow one level.
        assert np.abs(frame.astype(int) - expected).max() <= 1 and np.mean(frame == expected) > 0.99


# ---------------------------------------------------------------------------------------------------------------
# export

def test_savedmodel_serving_signature_equals_Gs_at_the_frozen_lod(tmp_path, capsys):
    outdir = tmp_path / 'gs_saved'
    assert export.run(['export', f'--network={CONFIG_D}', f'--outdir={outdir}', '--lod=1.25']) == 0
    assert os.listdir(tmp_path) == ['gs_saved']  # No temporary directory left behind.
    loaded = tf.saved_model.load(str(outdir))
    serve = loaded.signatures['serving_default']
    assert float(loaded.lod.numpy()) == 1.25
    assert serve.structured_input_signature[1]['latents'].shape.as_list() == [None, 16]
    assert serve.structured_input_signature[1]['labels'].shape.as_list() == [None, 4]

    Gs = load_network(CONFIG_D).Gs
    z = np.random.RandomState(5).randn(6, 16).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 2, 1]]
    images = serve(latents=tf.constant(z), labels=tf.constant(labels))['images']
    assert images.shape == (6, 16, 16, 1) and images.dtype == tf.float32
    np.testing.assert_allclose(images, Gs(z, labels, lod=1.25), atol=1e-5, rtol=0)
    assert np.abs(Gs(z, labels, lod=0.0) - images).max() > 1e-3  # The lod really is 1.25, not the pickle's 0.

    assert export.run(['export', f'--network={CONFIG_D}', f'--outdir={outdir}']) == 1
    assert error_lines(capsys.readouterr().err) == [f'error: {outdir} already exists (pass --overwrite to replace it)']
    assert export.run(['export', f'--network={CONFIG_D}', f'--outdir={outdir}', '--overwrite']) == 0
    assert os.listdir(tmp_path) == ['gs_saved']
    assert float(tf.saved_model.load(str(outdir)).lod.numpy()) == 0.0
