"""Sliced Wasserstein Distance against the official ProGAN `metrics/sliced_wasserstein.py` (fixture made with
tkarras/progressive_growing_of_gans, see tests/data/pggan/README.md, "Fixture 4: SWD"), and its properties."""
import os

import numpy as np
import pytest

from common.metrics import sliced_wasserstein as swd_lib
from common.metrics.sliced_wasserstein import SWD, sliced_wasserstein_distance

DATA = os.path.join(os.path.dirname(__file__), 'data', 'pggan')
RTOL = 1e-5  # Measured: within 2e-6 absolute (1 float32 ulp) of the official x1e3 values.


@pytest.fixture(scope='module')
def ref():
    return dict(np.load(os.path.join(DATA, 'swd_ref.npz')))


def run_pass(swd, mode, images, feed_seed, end_seed=123):
    """One pass as the fixture was made: begin, seed, one feed of all images, seed, end."""
    swd.begin(mode)
    swd.feed(mode, images, random_state=np.random.RandomState(feed_seed))
    return swd.end(mode, random_state=np.random.RandomState(end_seed))


def values(result):
    return np.array(list(result.values()))


def nhwc(x):
    return np.ascontiguousarray(np.transpose(x, [0, 2, 3, 1]))


def test_swd_equals_official_at_every_level_and_average(ref):
    swd = SWD(32, layout='NCHW')
    assert swd.metric_names == list(ref['metric_names'])
    np.testing.assert_array_equal(values(run_pass(swd, 'reals', ref['images_A'], 123)), ref['swd_A_vs_A'])
    np.testing.assert_allclose(values(run_pass(swd, 'fakes', ref['images_B'], 123)), ref['swd_A_vs_B'], rtol=RTOL)
    np.testing.assert_allclose(values(run_pass(swd, 'fakes', ref['images_A'], 124)), ref['swd_A_vs_A_patchseed124'],
                               rtol=RTOL)


def test_global_numpy_rng_is_used_as_official_when_no_random_state_is_given(ref):
    saved = np.random.get_state()
    try:
        swd = SWD(32, layout='NHWC')
        for mode, images in (('reals', ref['images_A']), ('fakes', ref['images_B'])):
            swd.begin(mode)
            np.random.seed(123)
            swd.feed(mode, nhwc(images))
            np.random.seed(123)
            result = swd.end(mode)
    finally:
        np.random.set_state(saved)
    np.testing.assert_allclose(values(result), ref['swd_A_vs_B'], rtol=RTOL)


def test_laplacian_pyramid_equals_official(ref):
    pyramid = swd_lib.laplacian_pyramid(ref['images_A'][:2], 2)
    for level, ours in enumerate(pyramid):
        np.testing.assert_allclose(ours, ref['laplacian_A_first2_level%d' % level], rtol=0, atol=1e-5)


def blur_2d_mirror(images, kernel):
    """Direct 2-D form of scipy.ndimage.convolve(mode='mirror') with a symmetric 5x5 kernel, float64."""
    padded = np.pad(images.astype(np.float64), [(0, 0), (0, 0), (2, 2), (2, 2)], mode='reflect')
    h, w = images.shape[2:]
    return sum(kernel[i, j] * padded[:, :, i:i + h, j:j + w] for i in range(5) for j in range(5))


def test_separable_pyramid_filters_equal_the_2d_gaussian_convolution():
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    images = np.random.RandomState(0).uniform(-300, 300, [2, 3, 16, 16]).astype(np.float32)
    down = blur_2d_mirror(images, kernel).astype(np.float32)[:, :, ::2, ::2]
    np.testing.assert_allclose(swd_lib.pyr_down(images), down, rtol=0, atol=1e-5)
    sparse = np.zeros([2, 3, 32, 32], np.float32)
    sparse[:, :, ::2, ::2] = images
    up = blur_2d_mirror(sparse, kernel * 4.0).astype(np.float32)
    np.testing.assert_allclose(swd_lib.pyr_up(images), up, rtol=0, atol=1e-5)


def test_patch_positions_and_finalized_descriptors_equal_official(ref):
    rng = np.random.RandomState(123)
    pyramid = swd_lib.laplacian_pyramid(ref['images_A'], 2)
    descriptors = []
    for level, (image_level, res) in enumerate(zip(pyramid, [32, 16])):
        x, y = swd_lib.draw_patch_centers(64, res, res, 7, 128, rng)
        np.testing.assert_array_equal(np.stack([x, y], 1)[:256], ref['patch_xy_seed123_level%d_first2' % level])
        descriptors.append(swd_lib.extract_descriptors(image_level, x, y, 7, 128))
    np.testing.assert_allclose(np.mean(descriptors[0], axis=(0, 2, 3)), ref['finalize_mean_A_level0'], atol=1e-5)
    np.testing.assert_allclose(np.std(descriptors[0], axis=(0, 2, 3)), ref['finalize_std_A_level0'], rtol=1e-5)
    final = swd_lib.finalize_descriptors(descriptors[0])
    assert final.shape == (64 * 128, 147) and final.dtype == np.float32
    np.testing.assert_allclose(final[:256], ref['desc_A_level0_final_first2'], rtol=0, atol=1e-5)


def test_per_repeat_distances_equal_official(ref):
    def finalized(images):
        rng = np.random.RandomState(123)
        out = []
        for level in swd_lib.laplacian_pyramid(images, 2):
            x, y = swd_lib.draw_patch_centers(64, level.shape[2], level.shape[3], 7, 128, rng)
            out.append(swd_lib.finalize_descriptors(swd_lib.extract_descriptors(level, x, y, 7, 128)))
        return out
    desc_a, desc_b = finalized(ref['images_A']), finalized(ref['images_B'])
    rng = np.random.RandomState(123)
    per_repeat = [[swd_lib.sliced_wasserstein(a, b, 1, 128, rng) for _ in range(4)] for a, b in zip(desc_a, desc_b)]
    np.testing.assert_allclose(per_repeat, ref['per_repeat_A_vs_B_level'], rtol=RTOL)


def test_set_against_itself_with_same_patches_is_zero(ref):
    swd = SWD(32, layout='NCHW')
    run_pass(swd, 'reals', ref['images_A'][:16], 7)
    assert all(v == 0 for v in run_pass(swd, 'fakes', ref['images_A'][:16], 7, end_seed=8).values())


def test_swd_is_symmetric_for_same_patches_and_directions(ref):
    a_vs_b, b_vs_a = SWD(32, layout='NCHW'), SWD(32, layout='NCHW')
    a, b = ref['images_A'][:16], ref['images_B'][:16]
    run_pass(a_vs_b, 'reals', a, 5)
    run_pass(b_vs_a, 'reals', b, 5)
    np.testing.assert_allclose(values(run_pass(a_vs_b, 'fakes', b, 5, end_seed=6)),
                               values(run_pass(b_vs_a, 'fakes', a, 5, end_seed=6)), rtol=1e-6)


def test_larger_brightness_shift_gives_larger_swd(ref):
    reals = ref['images_A'][:16]
    swd = SWD(32, layout='NCHW')
    run_pass(swd, 'reals', reals, 1)
    results = []
    for shift in (0, 8, 32):
        # Shift only the lower half of each image: a uniform shift is removed by the per-channel normalization.
        # Same patch positions as the reals, so that shift 0 is exactly 0 and only the shift moves the distance.
        fakes = reals.astype(np.int32)
        fakes[:, :, 16:] += shift
        results.append(run_pass(swd, 'fakes', np.clip(fakes, 0, 255).astype(np.uint8), 1))
    for level in swd.metric_names:
        none, small, large = (r[level] for r in results)
        assert none == 0 < small < large, (level, none, small, large)


def test_grayscale_equals_its_rgb_tiling(ref):
    gray_a, gray_b = nhwc(ref['images_A'][:32, :1]), nhwc(ref['images_B'][:32, :1])
    rgb_a, rgb_b = np.tile(gray_a, [1, 1, 1, 3]), np.tile(gray_b, [1, 1, 1, 3])
    gray = sliced_wasserstein_distance(gray_a, gray_b, np.random.RandomState(3))
    rgb = sliced_wasserstein_distance(rgb_a, rgb_b, np.random.RandomState(3))
    assert gray == rgb and gray['SWDx1e3_avg'] > 0


def test_nhwc_and_nchw_layouts_agree(ref):
    a, b = ref['images_A'][:16], ref['images_B'][:16]
    assert (sliced_wasserstein_distance(a, b, np.random.RandomState(4), layout='NCHW')
            == sliced_wasserstein_distance(nhwc(a), nhwc(b), np.random.RandomState(4), layout='NHWC'))


def test_streaming_minibatches_equal_one_shot(ref):
    reals, fakes = nhwc(ref['images_A'][:16]), nhwc(ref['images_B'][:16])
    one_shot = sliced_wasserstein_distance(reals, fakes, np.random.RandomState(9), minibatch_size=8)
    swd = SWD(32, random_state=np.random.RandomState(9))
    for mode, images in (('reals', reals), ('fakes', fakes)):
        swd.begin(mode)
        for begin in range(0, 16, 8):
            swd.feed(mode, images[begin:begin + 8])
        streamed = swd.end(mode)
    assert streamed == one_shot
    # Minibatching changes only which patches are drawn (per minibatch, as official), not the statistic.
    whole = sliced_wasserstein_distance(reals, fakes, np.random.RandomState(9))
    np.testing.assert_allclose(values(streamed), values(whole), rtol=0.15)


def test_rejects_unsupported_inputs():
    with pytest.raises(ValueError, match='at least 16x16'):
        SWD(8)
    with pytest.raises(ValueError, match='1 or 3 channels'):
        SWD(32).feed('reals', np.zeros([2, 32, 32, 2], np.uint8))
