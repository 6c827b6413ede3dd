"""The metric formulas on known answers: Fréchet distance against the closed form, KID's unbiasedness, PR on
constructed manifolds, IS on constructed class probabilities, PPL's slerp / crop / outlier rejection, MS-SSIM
against the official code's algebra on constructed images, and feature statistics in streaming batches."""
import numpy as np
import pytest

from common.metrics import ms_ssim, perceptual_path_length as ppl
from common.metrics.frechet_inception_distance import frechet_distance
from common.metrics.inception_score import inception_score
from common.metrics.kernel_inception_distance import kernel_distance
from common.metrics.metric_main import parse_metric
from common.metrics.metric_utils import FeatureStats
from common.metrics.precision_recall import precision_recall


def test_frechet_distance_of_commuting_gaussians_equals_closed_form():
    # Diagonal covariances commute: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(s1) - sqrt(s2))^2.
    rnd = np.random.RandomState(0)
    mu1, mu2 = rnd.randn(16), rnd.randn(16)
    s1, s2 = rnd.uniform(0.1, 3, 16), rnd.uniform(0.1, 3, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_rotated_gaussian_equals_closed_form():
    # S2 = R S1 R^T with the same spectrum: for full-rank S1, S2 = S1 gives 0; for S2 = c^2 S1, (1 - c)^2 Tr(S1).
    rnd = np.random.RandomState(1)
    a = rnd.randn(12, 12)
    s1 = a @ a.T + 0.1 * np.eye(12)
    assert frechet_distance(np.zeros(12), s1, np.zeros(12), 4 * s1) == pytest.approx(np.trace(s1), rel=1e-7)
    assert abs(frechet_distance(np.ones(12), s1, np.ones(12), s1)) < 1e-8


def test_trace_of_sqrt_product_equals_official_scipy_sqrtm():
    import scipy.linalg
    from common.metrics.frechet_inception_distance import trace_sqrt_product
    rnd = np.random.RandomState(12)
    for rank in (40, 25):                       # Full rank and singular (fewer samples than dimensions).
        a, b = rnd.randn(40, rank), rnd.randn(40, rank) * 2
        s1, s2 = a @ a.T / rank, b @ b.T / rank
        official = np.real(np.trace(scipy.linalg.sqrtm(s1 @ s2, disp=False)[0]))
        assert trace_sqrt_product(s1, s2) == pytest.approx(official, rel=1e-6)


def test_fid_of_a_feature_set_against_itself_is_zero():
    feats = np.random.RandomState(2).randn(500, 32).astype(np.float32) @ np.random.RandomState(3).randn(32, 32)
    stats = FeatureStats(capture_mean_cov=True)
    stats.append(feats)
    mu, sigma = stats.get_mean_cov()
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)


def test_streamed_feature_stats_equal_numpy_mean_and_biased_covariance_and_stop_at_max_items(tmp_path):
    feats = np.random.RandomState(4).randn(103, 7).astype(np.float32)
    stats = FeatureStats(capture_all=True, capture_mean_cov=True, max_items=100)
    for i in range(0, 103, 16):
        stats.append(feats[i:i + 16])
    assert stats.num_items == 100 and stats.is_full()
    mu, sigma = stats.get_mean_cov()
    np.testing.assert_allclose(mu, feats[:100].mean(0), atol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(feats[:100].astype(np.float64), rowvar=False, bias=True), atol=1e-6)
    stats.save(str(tmp_path / 's.npz'))
    again = FeatureStats.load(str(tmp_path / 's.npz'), True, True)
    np.testing.assert_array_equal(again.get_all(), feats[:100])
    np.testing.assert_array_equal(again.get_mean_cov()[1], sigma)


def _mmd2_unbiased_full(x, y):
    """The textbook unbiased MMD^2 with the cubic kernel over whole sets (no subsets)."""
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = len(x)
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()


def test_kid_with_one_full_subset_equals_textbook_unbiased_mmd():
    rnd = np.random.RandomState(5)
    x, y = rnd.randn(60, 8), rnd.randn(60, 8) + 0.3
    assert kernel_distance(y, x, num_subsets=1, max_subset_size=60, rnd=rnd) == pytest.approx(
        _mmd2_unbiased_full(x, y), rel=1e-10)


def test_kid_is_unbiased_for_samples_of_one_distribution():
    # The unbiased estimator averages to 0 for two samples of the same distribution (a biased one to > 0).
    rnd = np.random.RandomState(6)
    values = [kernel_distance(rnd.randn(40, 4), rnd.randn(40, 4), num_subsets=1, max_subset_size=40, rnd=rnd)
              for _ in range(300)]
    standard_error = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values)) < 3 * standard_error
    shifted = kernel_distance(rnd.randn(200, 4), rnd.randn(200, 4) + 1, num_subsets=10, max_subset_size=100, rnd=rnd)
    assert shifted > 20 * standard_error


def test_precision_recall_on_constructed_manifolds():
    # Reals on a grid; fakes: half on the grid's own points (inside), half far away (outside):
    # precision = 1/2. Every real is a fake-manifold member's neighbour only where fakes sit: recall = 50/100.
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    reals = np.concatenate([grid, np.zeros([100, 2])], axis=1)          # 100 points, spacing 1.
    inside = reals[::2] + 0.01                                          # 50 fakes next to every other real.
    outside = inside + 1000.0
    fakes = np.concatenate([inside, outside])
    precision, recall = precision_recall(reals, fakes, nhood_size=3, row_batch_size=37)
    assert precision == pytest.approx(0.5)
    # The fakes' manifold: two clusters each with spacing sqrt(2)..2 between members, radius of its 3rd
    # neighbour >= 2, so every real lies within some inside-fake's radius: recall 1.
    assert recall == pytest.approx(1.0)
    p_self, r_self = precision_recall(reals, reals, nhood_size=3)
    assert (p_self, r_self) == (1.0, 1.0)


def test_inception_score_of_constructed_probabilities():
    # Confident, uniformly spread predictions over K classes: IS = K; identical predictions: IS = 1.
    k = 10
    confident = np.full([1000, k], 1e-12)
    confident[np.arange(1000), np.arange(1000) % k] = 1.0
    mean, std = inception_score(confident / confident.sum(1, keepdims=True), num_splits=10)
    assert mean == pytest.approx(k, rel=1e-6) and std < 1e-6
    same = np.tile(np.random.RandomState(7).dirichlet(np.ones(k)), [100, 1])
    assert inception_score(same, num_splits=10)[0] == pytest.approx(1.0)


def test_slerp_keeps_unit_norm_and_constant_angular_speed():
    rnd = np.random.RandomState(8)
    a, b = rnd.randn(5, 16), rnd.randn(5, 16)
    ua, ub = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    angle = np.arccos(np.sum(ua * ub, 1))
    for t in (0.0, 0.25, 0.7, 1.0):
        p = ppl.slerp(a, b, np.full([5, 1], t))
        np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1, atol=1e-12)
        np.testing.assert_allclose(np.arccos(np.clip(np.sum(p * ua, 1), -1, 1)), t * angle, atol=1e-6)


def test_ppl_crop_takes_the_official_face_region_and_scales_to_0_255():
    images = np.linspace(-1, 1, 2 * 64 * 64).reshape(2, 64, 64, 1).astype(np.float32)
    out = ppl.crop_and_scale(images, crop=True, img_resolution=64).numpy()
    # Official: c = H // 8, rows [3c, 7c), columns [2c, 6c) of NCHW -> same rows/cols in NHWC.
    np.testing.assert_allclose(out[..., 0], (images[:, 24:56, 16:48, 0] + 1) * 127.5, rtol=1e-6)
    assert out.shape == (2, 32, 32, 3)
    big = np.random.RandomState(9).uniform(-1, 1, [1, 512, 512, 3]).astype(np.float32)
    down = ppl.crop_and_scale(big, crop=False, img_resolution=512).numpy()
    np.testing.assert_allclose(down, (big.reshape(1, 256, 2, 256, 2, 3).mean((2, 4)) + 1) * 127.5, rtol=1e-5)


def test_ppl_outlier_rejection_keeps_values_within_1st_and_99th_percentile():
    # 1000 values: the 1st percentile ('lower') is the 10th smallest, the 99th ('higher') the 10th largest,
    # so 5 outliers at either end are dropped.
    dist = np.concatenate([np.full(990, 2.0), np.full(5, 1e9), np.full(5, -5.0)])
    assert ppl.filtered_mean(dist) == 2.0
    dist = np.arange(1000.0)
    lo, hi = np.percentile(dist, 1, method='lower'), np.percentile(dist, 99, method='higher')
    assert ppl.filtered_mean(dist) == pytest.approx(dist[(dist >= lo) & (dist <= hi)].mean())


def _ssim_direct(a, b, c1=(0.01 * 255) ** 2, c2=(0.03 * 255) ** 2):
    """SSIM and cs of two constant images (where the window does not matter): luminance term only."""
    return (2 * a * b + c1) / (a * a + b * b + c1), 1.0


def test_msssim_of_identical_images_is_one_and_of_constant_images_follows_the_formula():
    rnd = np.random.RandomState(10)
    images = rnd.randint(0, 256, [4, 32, 32, 3]).astype(np.uint8)
    assert ms_ssim.msssim(images, images) == pytest.approx(1.0, abs=1e-5)
    # Constant images a, b: every level's cs = 1, ssim = the luminance term; result = l ** weight_of_last_level.
    a, b = np.full([2, 32, 32, 1], 100.0), np.full([2, 32, 32, 1], 180.0)
    l, _ = _ssim_direct(100.0, 180.0)
    # (float32 FFT convolutions, as the official code, leave variances of ~1e-3 instead of 0: hence 1e-4.)
    assert ms_ssim.msssim(a, b) == pytest.approx(l ** ms_ssim.WEIGHTS[-1], rel=1e-4)
    assert ms_ssim.msssim(a, a + 1) > ms_ssim.msssim(a, b)


def test_msssim_drops_as_noise_is_added():
    rnd = np.random.RandomState(11)
    base = rnd.uniform(0, 255, [2, 64, 64, 3])
    scores = [ms_ssim.msssim(base, np.clip(base + rnd.randn(*base.shape) * s, 0, 255)) for s in (5, 20, 80)]
    assert scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize('name, kind, settings', [
    ('fid50k_full', 'fid', dict(num=50000, full=True)),
    ('kid50k', 'kid', dict(num=50000, full=False)),
    ('pr50k3_full', 'pr', dict(num=50000, nhood_size=3, full=True)),
    ('is50k', 'is', dict(num=50000, full=False)),
    ('ppl2_wend', 'ppl', dict(num=50000, space='w', sampling='end', crop=False)),
    ('ppl_zfull', 'ppl', dict(num=50000, space='z', sampling='full', crop=True)),
    ('swd', 'swd', dict(num=16384)),
    ('msssim', 'msssim', dict(num=20000)),
    ('fid2k_full', 'fid', dict(num=2000, full=True)),
])
def test_official_metric_names_parse_to_the_official_settings(name, kind, settings):
    assert parse_metric(name) == (kind, settings)


@pytest.mark.parametrize('name', ['fid', 'ppl2_zfull', 'is50k_full', 'ls', 'fid50k_half'])
def test_unknown_metric_names_are_refused(name):
    from common.metrics.inception import FeatureNetError
    with pytest.raises(FeatureNetError, match=f'--metrics={name}: '):
        parse_metric(name)
