"""StyleGAN (v1) and revised-synthesis networks against the official code, and the config table against the
official run_training.py. Fixtures (tests/data/stylegan2_ladder/README.md): official-format pickles of
small seeded networks built with the official TF1 code, with their outputs at lods 0, 0.5, 1 and 1.5."""
import json
import os

import numpy as np
import pytest

from stylegan2 import load_network
from stylegan2.generate import generate_images
from stylegan2.networks_stylegan import StyleGenerator
from stylegan2.style_mixing import generate_style_mix, seed_ws
from common.util import images as image_utils

DATA = os.path.join(os.path.dirname(__file__), 'data', 'stylegan2_ladder')
FIXTURES = ['v1', 'v1_fused', 'revised']  # G_style + D_basic (fused_scale auto / True); G_main revised + D_stylegan.


@pytest.fixture(scope='module', params=FIXTURES)
def official(request):
    name = request.param
    return name, load_network(os.path.join(DATA, f'{name}.pkl.xz')), np.load(os.path.join(DATA, f'{name}_io.npz'))


def nchw(x):
    return np.asarray(x).transpose(0, 3, 1, 2)


def test_fade_in_at_every_lod_matches_official(official):
    """Both of our structures (all levels with lerp_clip; training's static level) equal the official
    recursive structure at integer and fractional lods, for Gs and D."""
    _, nets, ref = official
    ws = nets.Gs.mapping(ref['z'], None)
    np.testing.assert_array_equal(ws.numpy(), ref['ws'])
    reals = ref['reals'].transpose(0, 2, 3, 1)
    for i, lod in enumerate(ref['lods']):
        level = int(np.floor(lod))
        for kwargs in ({}, {'level': level}):
            img = nets.Gs.synthesis(ws, noise_mode='const', lod=lod, **kwargs)
            np.testing.assert_allclose(nchw(img), ref[f'img_lod{i}'], atol=2e-5, err_msg=f'G lod {lod} {kwargs}')
            np.testing.assert_allclose(nets.D(reals, None, lod=lod, **kwargs).numpy(), ref[f'D_lod{i}'], atol=2e-6,
                                       err_msg=f'D lod {lod} {kwargs}')


def test_truncation_style_mixing_and_G_match_official(official):
    _, nets, ref = official
    img = nets.Gs(ref['z'], None, truncation_psi=0.5, truncation_cutoff=3, noise_mode='const')
    np.testing.assert_allclose(nchw(img), ref['img_psi05_cut3'], atol=2e-5)
    np.testing.assert_allclose(nchw(nets.Gs.synthesis(ref['ws_mix'], noise_mode='const')), ref['img_mix'], atol=2e-5)
    np.testing.assert_allclose(nchw(nets.G(ref['z'], None, noise_mode='const')), ref['G_img'], atol=2e-5)


def test_pickle_lod_is_loaded_and_stored_code_never_runs():
    """Loading uses the restricted unpickler (no build_module_src runs: the fixtures hold a placeholder that is
    not even Python) and reads G's and D's `lod` (0 in these pickles) into the growing networks."""
    nets = load_network(os.path.join(DATA, 'v1.pkl.xz'))
    assert isinstance(nets.Gs, StyleGenerator)
    assert float(nets.Gs.synthesis.lod.numpy()) == 0.0 and float(nets.D.lod.numpy()) == 0.0


def test_v1_truncation_defaults_to_the_first_8_layers_and_none_disables_it():
    """G_style: truncation_cutoff 8 by default; an explicit None turns truncation off (official semantics)."""
    Gs = load_network(os.path.join(DATA, 'v1.pkl.xz')).Gs
    z = np.random.RandomState(0).randn(2, Gs.z_dim).astype(np.float32)
    plain = Gs.mapping(z, None).numpy()
    avg = Gs.mapping.dlatent_avg.numpy()
    np.testing.assert_allclose(Gs.mapping(z, None, truncation_psi=0.5).numpy(), avg + (plain - avg) * 0.5, atol=1e-6)
    np.testing.assert_array_equal(Gs.mapping(z, None, truncation_psi=0.5, truncation_cutoff=None).numpy(), plain)


def test_generate_and_style_mixing_run_on_a_v1_pickle(tmp_path):
    """The tools take G_style networks: generate writes one image per seed; a style mix is the row seed's ws
    with the chosen layers taken from the column seed, rendered by the v1 synthesis network."""
    Gs = load_network(os.path.join(DATA, 'v1.pkl.xz')).Gs
    paths = generate_images(Gs, [0, 1], str(tmp_path / 'gen'), truncation_psi=0.7)
    assert [os.path.basename(p) for p in paths] == ['seed0000.png', 'seed0001.png']
    paths = generate_style_mix(Gs, [0], [2], [0, 1], str(tmp_path / 'mix'), truncation_psi=1.0)
    assert os.path.basename(paths[-1]) == 'grid.png' and len(paths) == 4
    ws = seed_ws(Gs, [0, 2], np.zeros([1, 0], np.float32))
    mixed = np.concatenate([ws[2][:2], ws[0][2:]])
    expected = image_utils.to_uint8_ada(Gs.synthesis(mixed[None], noise_mode='const'))[0]
    from PIL import Image
    np.testing.assert_array_equal(np.asarray(Image.open(os.path.join(str(tmp_path / 'mix'), '0-2.png'))), expected)


# ---- The config table against the official run_training.py (settings recorded by calling its run()).

def _our_options(config):
    from absl import flags
    from absl.testing import flagsaver
    import train
    if not flags.FLAGS.is_parsed():
        flags.FLAGS(['train'])
    with flagsaver.flagsaver(model='stylegan2', config=config, data='unused'):
        return train.build_options()[0]


@pytest.mark.parametrize('config', ['config-a', 'config-b', 'config-c', 'config-d', 'config-e', 'config-f'])
def test_config_table_matches_official_run_training(config):
    """What each config switches on: networks (build functions and fmap_base), losses (path length or not,
    R1 gamma), lazy regularization and the progressive schedule, as official run_training.py sets them."""
    with open(os.path.join(DATA, 'run_training_configs.json')) as f:
        official = json.load(f)[config]
    opts = _our_options(config)
    short = lambda name: name.split('.')[-1]  # noqa: E731
    G_func = short(official['G_args']['func_name'])
    assert opts.G_kwargs.get('func_name', 'G_main') == G_func
    assert opts.G_kwargs.get('synthesis_func', 'G_synthesis_stylegan2') == \
        official['G_args'].get('synthesis_func', 'G_synthesis_stylegan2')
    assert opts.D_kwargs.get('func_name', 'D_stylegan2') == short(official['D_args']['func_name'])
    # G_style / D_basic defaults are 8192; G_main / D_stylegan2's 16384 (config-f).
    default_fmap = 8192 if G_func == 'G_style' else 16 << 10
    assert opts.G_kwargs['fmap_base'] == official['G_args'].get('fmap_base', default_fmap)
    assert opts.D_kwargs['fmap_base'] == official['D_args'].get('fmap_base', default_fmap)
    assert opts.G_loss.get('func_name', 'G_logistic_ns_pathreg') == short(official['G_loss_args']['func_name'])
    assert opts.D_loss['gamma'] == official['D_loss_args']['gamma']
    assert opts.lazy_regularization == official['train'].get('lazy_regularization', True)
    for key, value in official['sched_args'].items():
        ours = getattr(opts.sched, key)
        assert (ours == {int(k): v for k, v in value.items()}) if isinstance(value, dict) else ours == value, key
    assert opts.G_opt == official['G_opt_args'] and opts.D_opt == official['D_opt_args']


def test_official_pickle_export_refuses_configs_a_to_d_instead_of_writing_a_wrong_file(official, tmp_path):
    from stylegan2.export import write_official_pickle
    name, nets, _ = official
    kind = 'StyleGenerator' if name.startswith('v1') else 'RevisedSynthesis'
    with pytest.raises(ValueError, match=f'G is a {kind} \\(configs a-d\\): writing it as an official pickle is not '
                                         'supported yet'):
        write_official_pickle(nets, str(tmp_path / 'out.pkl'))
    assert not os.listdir(tmp_path)
