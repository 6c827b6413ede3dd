"""`lod` through the whole StyleGAN-family generator, as ProGAN's Gs takes it: `Gs(z, c, lod=L)` for the growing
networks (G_style of config a, the revised synthesis of configs b-d), lod 0 only for configs e/f, and
`python -m stylegan2.generate --lod=L`. Fixtures: the official-code pickles of tests/data/stylegan2_ladder (see the
README there)."""
import os

import numpy as np
import PIL.Image
import pytest

from common.util import images as image_utils
from stylegan2 import generate, load_network
from stylegan2.generator import Generator

LADDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'stylegan2_ladder')


def nchw(x):
    return np.asarray(x).transpose(0, 3, 1, 2)


@pytest.fixture(scope='module', params=['v1', 'revised'])  # G_style (config a); G_main + revised synthesis (b-d).
def growing(request):
    name = request.param
    return (os.path.join(LADDER, f'{name}.pkl.xz'), load_network(os.path.join(LADDER, f'{name}.pkl.xz')).Gs,
            np.load(os.path.join(LADDER, f'{name}_io.npz')))


def test_Gs_at_each_lod_matches_the_official_synthesis_at_that_lod(growing):
    """Gs(z, lod=L) is the official synthesis network's output at L for ws = mapping(z) (lods 0, 0.5, 1, 1.5),
    and its stored lod (0) is left alone."""
    _, Gs, ref = growing
    for i, lod in enumerate(ref['lods']):
        np.testing.assert_allclose(nchw(Gs(ref['z'], None, noise_mode='const', lod=lod)), ref[f'img_lod{i}'],
                                   atol=2e-5, err_msg=f'lod {lod}')
    assert float(Gs.synthesis.lod.numpy()) == 0.0


def test_Gs_with_lod_and_truncation_equals_synthesis_of_the_truncated_mapping(growing):
    _, Gs, ref = growing
    z = ref['z']
    ws = Gs.mapping(z, None, truncation_psi=0.6)
    expected = Gs.synthesis(ws, noise_mode='const', lod=0.7).numpy()
    np.testing.assert_array_equal(Gs(z, None, truncation_psi=0.6, noise_mode='const', lod=0.7).numpy(), expected)
    assert np.abs(Gs(z, None, noise_mode='const', lod=0.7).numpy() - expected).max() > 1e-3  # psi applied.
    assert np.abs(Gs(z, None, truncation_psi=0.6, noise_mode='const').numpy() - expected).max() > 1e-3  # lod too.


def test_a_network_that_does_not_grow_renders_at_lod_0_only():
    """Configs e/f: lod 0 is what they render (the official G_main holds lod 0 for them), anything else is refused
    with a message naming the network (Gs) or the flag (generate)."""
    Gs = Generator(latent_size=8, dlatent_size=8, resolution=8, fmap_base=16, fmap_max=8, mapping_layers=1,
                   name='Gs')
    z = np.random.RandomState(0).randn(2, Gs.z_dim).astype(np.float32)
    np.testing.assert_array_equal(Gs(z, None, lod=0).numpy(), Gs(z, None).numpy())
    with pytest.raises(ValueError, match=r'lod=0\.5: Gs does not grow \(configs e, f: Synthesis\); it renders at '
                                         r'lod 0 only'):
        Gs(z, None, lod=0.5)
    generate.check_lod(Gs, 0.0)
    with pytest.raises(ValueError, match=r'^--lod=1: this network does not grow \(configs e, f\); it renders at lod '
                                         r'0 only$'):
        generate.check_lod(Gs, 1.0)


def test_generate_lod_writes_full_size_images_rendered_at_that_lod(tmp_path, growing):
    """As ProGAN's generate --lod: images keep the network's resolution; at lod 1 each 2x2 block is one pixel of
    the 8x8 level, upscaled (nearest)."""
    path, Gs, _ = growing
    assert generate.run(['generate', f'--network={path}', '--seeds=3', '--truncation_psi=0.7', '--lod=1',
                         f'--outdir={tmp_path}']) == 0
    image = np.asarray(PIL.Image.open(tmp_path / 'seed0003.png'))
    z = np.random.RandomState(3).randn(1, Gs.z_dim).astype(np.float32)
    expected = image_utils.to_uint8_ada(Gs(z, None, truncation_psi=0.7, noise_mode='const', lod=1.0))[0]
    assert image.shape == (16, 16, 3)
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_array_equal(image, image[::2, ::2].repeat(2, axis=0).repeat(2, axis=1))
    assert not np.array_equal(image, image_utils.to_uint8_ada(Gs(z, None, truncation_psi=0.7, noise_mode='const'))[0])


def test_generate_refuses_a_lod_beyond_4_px(growing):
    _, Gs, _ = growing
    generate.check_lod(Gs, 2.0)
    with pytest.raises(ValueError, match=r'^--lod=2\.5: this network renders at lod 0 \(full 16 px\) to 2 \(4 px\)$'):
        generate.check_lod(Gs, 2.5)
