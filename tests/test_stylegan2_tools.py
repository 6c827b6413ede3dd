"""The StyleGAN2 tools: seed images (stylegan2/generate.py), the style-mixing matrix (stylegan2/style_mixing.py),
and the SavedModel and official-pickle exports (stylegan2/export.py), against the official fixtures in
tests/data/stylegan2 (see the README there).

The tools run in-process through their `run(argv)` (TensorFlow's import is slow); two tests run a real
`python -m ...` to check what a user sees on bad input.
"""
import io
import lzma
import os
import pickle
import pickletools
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from common.util import images as image_utils
from common.util.pickle_io import SafeUnpickler
from stylegan2 import export, generate, load_network, style_mixing
from stylegan2.networks import Discriminator
from stylegan2.generator import Generator

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'stylegan2')
SG2_UNCOND = os.path.join(DATA, 'sg2_uncond.pkl.xz')  # TF1 StyleGAN2, unconditional, 32 px, num_ws 8.
ADA_COND = os.path.join(DATA, 'ada_cond.pkl.xz')      # StyleGAN2-ADA (TF), 3 classes, 32 px, num_ws 8.
NO_LABELS = np.zeros([1, 0], np.float32)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def sg2_uncond():
    return load_network(SG2_UNCOND)


@pytest.fixture(scope='module')
def ada_cond():
    return load_network(ADA_COND)


def read_png(path):
    return np.asarray(PIL.Image.open(path))


def error_lines(text):
    return [line for line in text.splitlines() if line.startswith('error:')]


def seed_z(seed, z_dim=64):
    return np.random.RandomState(seed).randn(1, z_dim).astype(np.float32)


def assert_close_uint8(actual, expected, what=''):
    """The issue's criterion for images from two implementations: off by at most 1, in at most 0.1% of values."""
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 1e-3 * diff.size, \
        f'{what}: max diff {diff.max()}, {np.count_nonzero(diff)} of {diff.size} values differ'


# ---------------------------------------------------------------------------------------------------------------
# generate

def test_seed_pngs_equal_ada_pytorch_generate_for_seeds_0_to_3(tmp_path):
    assert generate.run(['generate', f'--network={SG2_UNCOND}', '--seeds=0-3', '--truncation_psi=1',
                         '--noise_mode=const', f'--outdir={tmp_path}']) == 0
    assert sorted(os.listdir(tmp_path)) == [f'seed{s:04d}.png' for s in range(4)]
    fixture = np.load(os.path.join(DATA, 'sg2_uncond_generate_seeds0-3.npz'))
    assert list(fixture['seeds']) == [0, 1, 2, 3]
    for idx, seed in enumerate(fixture['seeds']):
        assert PIL.Image.open(tmp_path / f'seed{seed:04d}.png').mode == 'RGB'
        png = read_png(tmp_path / f'seed{seed:04d}.png')
        assert_close_uint8(png, fixture['images_uint8_nhwc'][idx], f'seed {seed}')


def test_truncation_and_noise_mode_reach_the_images(tmp_path, sg2_uncond):
    Gs = sg2_uncond.Gs
    generate.generate_images(Gs, [5], tmp_path / 'a', truncation_psi=0.5, noise_mode='none')
    expected = image_utils.to_uint8_ada(Gs(seed_z(5), NO_LABELS, truncation_psi=0.5, noise_mode='none'))[0]
    np.testing.assert_array_equal(read_png(tmp_path / 'a' / 'seed0005.png'), expected)
    plain = image_utils.to_uint8_ada(Gs(seed_z(5), NO_LABELS, noise_mode='const'))[0]
    assert not np.array_equal(expected, plain)


def test_conditional_network_requires_class_idx_and_honours_it(tmp_path, capsys, ada_cond):
    outdir = tmp_path / 'out'
    assert generate.run(['generate', f'--network={ADA_COND}', '--seeds=0', f'--outdir={outdir}']) == 1
    assert error_lines(capsys.readouterr().err) == ['error: conditional network: pass --class_idx (0 to 2)']
    assert not outdir.exists()
    Gs = ada_cond.Gs
    with pytest.raises(ValueError, match='3 classes'):
        generate.generate_images(Gs, [0], outdir, class_idx=3)
    assert not outdir.exists()
    images = []
    for class_idx in range(3):
        generate.generate_images(Gs, [0], outdir / str(class_idx), class_idx=class_idx)
        images.append(read_png(outdir / str(class_idx) / 'seed0000.png'))
        label = np.eye(3, dtype=np.float32)[[class_idx]]
        np.testing.assert_array_equal(images[-1], image_utils.to_uint8_ada(Gs(seed_z(0), label, noise_mode='const'))[0])
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])


def test_unconditional_network_ignores_class_idx_with_a_warning(tmp_path, capsys, sg2_uncond):
    generate.generate_images(sg2_uncond.Gs, [1], tmp_path / 'a', class_idx=2)
    assert 'warning: --class_idx ignored' in capsys.readouterr().err
    generate.generate_images(sg2_uncond.Gs, [1], tmp_path / 'b')
    np.testing.assert_array_equal(read_png(tmp_path / 'a' / 'seed0001.png'), read_png(tmp_path / 'b' / 'seed0001.png'))


def test_single_channel_network_writes_grayscale_pngs(tmp_path):
    Gs = Generator(latent_size=8, dlatent_size=8, num_channels=1, resolution=8, mapping_layers=1, fmap_base=32,
                   fmap_max=8, name='Gs')
    generate.generate_images(Gs, [0], tmp_path)
    assert PIL.Image.open(tmp_path / 'seed0000.png').mode == 'L'
    expected = image_utils.to_uint8_ada(Gs(seed_z(0, 8)))[0, :, :, 0]
    np.testing.assert_array_equal(read_png(tmp_path / 'seed0000.png'), expected)


# ---------------------------------------------------------------------------------------------------------------
# style_mixing

def test_style_mixing_writes_official_files_grid_and_mixes_from_constructed_ws(tmp_path, sg2_uncond):
    assert style_mixing.run(['style_mixing', f'--network={SG2_UNCOND}', '--rows=0-3', '--cols=4-7', '--styles=4-7',
                             '--truncation_psi=1.0', '--noise_mode=const', f'--outdir={tmp_path}']) == 0
    rows, cols = [0, 1, 2, 3], [4, 5, 6, 7]
    expected_files = {f'{s}-{s}.png' for s in rows + cols} | {f'{r}-{c}.png' for r in rows for c in cols} | {'grid.png'}
    assert set(os.listdir(tmp_path)) == expected_files
    png = {name[:-4]: read_png(tmp_path / name) for name in expected_files}

    # Grid: black top-left, column seeds' own images on top, each row: the row seed's own image, then its mixes.
    grid, size = png['grid'], 32
    assert grid.shape == (size * 5, size * 5, 3)
    cell = lambda i, j: grid[i * size:(i + 1) * size, j * size:(j + 1) * size]  # noqa: E731
    assert not cell(0, 0).any()
    for j, col in enumerate(cols, 1):
        np.testing.assert_array_equal(cell(0, j), png[f'{col}-{col}'])
    for i, row in enumerate(rows, 1):
        np.testing.assert_array_equal(cell(i, 0), png[f'{row}-{row}'])
        for j, col in enumerate(cols, 1):
            np.testing.assert_array_equal(cell(i, j), png[f'{row}-{col}'])

    # A mix is the synthesis of the row's ws with layers 4..7 from the column's ws (up to batch-size rounding).
    Gs = sg2_uncond.Gs
    ws = {seed: Gs.mapping(seed_z(seed), NO_LABELS).numpy()[0] for seed in rows + cols}
    for row, col in [(0, 4), (3, 7), (2, 5)]:
        mixed = np.concatenate([ws[row][:4], ws[col][4:]])[None]
        expected = image_utils.to_uint8_ada(Gs.synthesis(mixed, noise_mode='const'))[0]
        assert_close_uint8(png[f'{row}-{col}'], expected, f'{row}-{col}')
        assert not np.array_equal(png[f'{row}-{col}'], png[f'{row}-{row}'])
        assert not np.array_equal(png[f'{row}-{col}'], png[f'{col}-{col}'])
    np.testing.assert_array_equal(png['0-0'], image_utils.to_uint8_ada(Gs(seed_z(0), NO_LABELS, noise_mode='const'))[0])


def test_mixing_every_style_gives_the_column_image(sg2_uncond):
    images = style_mixing.style_mixing_images(sg2_uncond.Gs, [1], [2], list(range(8)))
    np.testing.assert_array_equal(images[(1, 2)], images[(2, 2)])


# ---------------------------------------------------------------------------------------------------------------
# export: SavedModel

def test_savedmodel_signatures_equal_keras_outputs(tmp_path, ada_cond):
    outdir = tmp_path / 'saved'
    assert export.run(['export', f'--network={ADA_COND}', f'--outdir={outdir}']) == 0
    assert sorted(os.listdir(tmp_path)) == ['saved']  # No temporary directory left behind.
    model = tf.saved_model.load(str(outdir))
    assert sorted(model.signatures) == ['generator', 'mapping', 'synthesis']
    Gs = ada_cond.Gs
    z = np.random.RandomState(0).randn(4, 64).astype(np.float32)
    c = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    psi = tf.constant(0.5)
    ws = model.signatures['mapping'](z=tf.constant(z), c=tf.constant(c), truncation_psi=psi)['ws']
    np.testing.assert_allclose(ws, Gs.mapping(z, c, truncation_psi=0.5), atol=1e-5, rtol=0)
    images = model.signatures['synthesis'](ws=ws)['images']
    assert images.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(images, Gs.synthesis(ws, noise_mode='const'), atol=1e-5, rtol=0)
    for value in (0.5, 1.0):
        images = model.signatures['generator'](z=tf.constant(z), c=tf.constant(c), truncation_psi=tf.constant(value))
        np.testing.assert_allclose(images['images'], Gs(z, c, truncation_psi=value, noise_mode='const'), atol=1e-5,
                                   rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# export: official pickle

def read_states(path):
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.xz'):
        data = lzma.decompress(data)
    return SafeUnpickler(io.BytesIO(data)).load()


def official_variables(state, prefix=''):
    """[(pickle path, array)] of a network and its components, in pickle order (`mapping/Dense0/weight`)."""
    out = [(prefix + name, value) for name, value in state.state['variables']]
    for key, component in state.state.get('components', {}).items():
        out += official_variables(component, prefix + key + '/')
    return out


def assert_same_state_fields(ours, theirs, where=''):
    """The same fields, equal except for static_kwargs, variables and the source (checked elsewhere), recursively
    through the components: version, name, build_func_name, and for StyleGAN2-ADA input/output shapes and names."""
    assert sorted(ours.state) == sorted(theirs.state), where
    for key in set(theirs.state) - {'static_kwargs', 'variables', 'components', 'build_module_src'}:
        assert ours.state[key] == theirs.state[key], f'{where}{key}'
    assert 'not included' in ours.state['build_module_src']
    assert list(ours.components) == list(theirs.components), where
    for key, component in theirs.components.items():
        assert_same_state_fields(ours.components[key], component, f'{where}{key}/')


@pytest.mark.parametrize('source', [SG2_UNCOND, ADA_COND], ids=['sg2_uncond', 'ada_cond'])
def test_pickle_export_round_trips_outputs_and_official_variables(tmp_path, source, request):
    nets = request.getfixturevalue(os.path.basename(source)[:-len('.pkl.xz')])
    path = export.write_official_pickle(nets, str(tmp_path / 'network-final.pkl'))
    assert os.listdir(tmp_path) == ['network-final.pkl']

    # Official layout: the source's variables (names, order, shapes, dtypes, values) and state fields.
    for ours, theirs in zip(read_states(path), read_states(source)):
        assert_same_state_fields(ours, theirs)
        ours_vars, theirs_vars = official_variables(ours), official_variables(theirs)
        assert [name for name, _ in ours_vars] == [name for name, _ in theirs_vars]
        for (name, a), (_, b) in zip(ours_vars, theirs_vars):
            assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape, name
            np.testing.assert_array_equal(a, b, err_msg=name)

    # Read back by our loader: the same kwargs and bit-identical outputs of G, Gs and D.
    back = load_network(path)
    z = np.random.RandomState(0).randn(4, 64).astype(np.float32)
    c = np.eye(nets.G.c_dim, dtype=np.float32)[[0, 1, 2, 0]] if nets.G.c_dim else np.zeros([4, 0], np.float32)
    for name in ('G', 'Gs'):
        assert getattr(back, name).kwargs == getattr(nets, name).kwargs
        np.testing.assert_array_equal(getattr(back, name)(z, c), getattr(nets, name)(z, c), err_msg=name)
    assert back.D.kwargs == nets.D.kwargs
    reals = np.random.RandomState(2).uniform(-1, 1, [4, 32, 32, 3]).astype(np.float32)
    np.testing.assert_array_equal(back.D(reals, c), nets.D(reals, c))


def test_pickle_names_only_the_official_class_and_numpy_and_leaves_no_stub(tmp_path, sg2_uncond):
    path = export.write_official_pickle(sg2_uncond, str(tmp_path / 'a.pkl'))
    with open(path, 'rb') as f:
        data = f.read()
    strings = {arg for op, arg, _ in pickletools.genops(data) if op.name in ('SHORT_BINUNICODE', 'BINUNICODE')}
    modules = {s for s in strings if s.startswith(('dnnlib', 'numpy'))}
    assert modules <= {'dnnlib.tflib.network', 'numpy._core.multiarray', 'numpy.core.multiarray', 'numpy'}
    assert 'dnnlib.tflib.network' in modules and data[1] == export.PICKLE_PROTOCOL
    assert not any(name == 'dnnlib' or name.startswith('dnnlib.') for name in sys.modules)
    with pytest.raises(ModuleNotFoundError):  # Without the stub, the class cannot be resolved: only state is needed.
        pickle.loads(data)


def test_pickle_kwargs_say_what_the_official_code_and_legacy_py_would_assume_differently():
    # TF1 StyleGAN2 D: mbstd_group_size defaults to 4, legacy.py assumes None (whole minibatch): written.
    D = Discriminator(resolution=8, fmap_base=32, fmap_max=8, name='D')
    kwargs, refused = export.official_static_kwargs(D, 'D')
    assert kwargs == {'resolution': 8, 'num_channels': 3, 'label_size': 0, 'fmap_base': 32, 'fmap_max': 8,
                      'mbstd_group_size': 4} and refused == []
    # TF1 StyleGAN2 G: mapping_fmaps defaults to 512, legacy.py assumes dlatent_size: written; fused_modconv never.
    G = Generator(latent_size=8, dlatent_size=8, resolution=8, mapping_layers=2, fmap_base=32, fmap_max=8,
                  mapping_fmaps=512, fused_modconv=False)
    kwargs, _ = export.official_static_kwargs(G, 'G')
    assert kwargs['mapping_fmaps'] == 512 and 'fused_modconv' not in kwargs and 'label_layout' not in kwargs
    # ADA label embedding: None means latent_size in the official code, dlatent_size in legacy.py.
    G = Generator(latent_size=8, dlatent_size=16, label_size=2, label_layout='ada', resolution=8, mapping_layers=1,
                  fmap_base=32, fmap_max=8, mapping_fmaps=None)
    assert export.official_static_kwargs(G, 'G')[0]['label_fmaps'] == 8
    # Options the official code knows but legacy.py refuses are written and reported.
    G = Generator(latent_size=8, dlatent_size=8, resolution=8, mapping_layers=1, fmap_base=32, fmap_max=8,
                  fmap_min=4)
    assert export.official_static_kwargs(G, 'G')[1] == ['fmap_min']
    # A StyleGAN2-ADA-only option cannot be written as TF1 StyleGAN2.
    G = Generator(latent_size=8, dlatent_size=8, resolution=8, mapping_layers=1, fmap_base=32, fmap_max=8,
                  conv_clamp=256)
    with pytest.raises(ValueError, match='conv_clamp=256 cannot be written as a TF1 StyleGAN2 pickle'):
        export.official_static_kwargs(G, 'G')


def test_pickle_export_cli_names_the_file_after_the_network_and_refuses_to_overwrite(tmp_path, capsys):
    assert export.run(['export', f'--network={SG2_UNCOND}', f'--outdir={tmp_path}', '--format=pkl']) == 0
    assert os.listdir(tmp_path) == ['sg2_uncond.pkl']
    before = (tmp_path / 'sg2_uncond.pkl').read_bytes()
    capsys.readouterr()
    assert export.run(['export', f'--network={SG2_UNCOND}', f'--outdir={tmp_path}', '--format=pkl']) == 1
    assert error_lines(capsys.readouterr().err) == [f'error: {tmp_path}/sg2_uncond.pkl already exists '
                                                    f'(pass --overwrite to replace it)']
    assert (tmp_path / 'sg2_uncond.pkl').read_bytes() == before
    assert export.official_pickle_name('/runs/00001/network-snapshot-000140/') == 'network-snapshot-000140.pkl'


# ---------------------------------------------------------------------------------------------------------------
# Bad input

BAD_INPUT = {
    'missing network': (generate, ['--network={tmp}/missing.pkl', '--seeds=0', '--outdir={out}'], 'no such network'),
    'bad seeds': (generate, [f'--network={SG2_UNCOND}', '--seeds=3-1', '--outdir={out}'], 'seeds'),
    'no seeds': (generate, [f'--network={SG2_UNCOND}', '--outdir={out}'], '--seeds is required'),
    'bad noise mode': (generate, [f'--network={SG2_UNCOND}', '--seeds=0', '--noise_mode=fixed', '--outdir={out}'],
                       'noise_mode'),
    'styles out of range': (style_mixing, [f'--network={SG2_UNCOND}', '--rows=0', '--cols=1', '--styles=4-8',
                                           '--outdir={out}'], r'outside 0\.\.7'),
    'bad rows': (style_mixing, [f'--network={SG2_UNCOND}', '--rows=a', '--cols=1', '--outdir={out}'], 'rows'),
    'existing outdir': (export, [f'--network={SG2_UNCOND}', '--outdir={existing}'], 'already exists'),
    'pkl name with a directory': (export, [f'--network={SG2_UNCOND}', '--outdir={out}', '--format=pkl',
                                           '--pkl_name=a/b.pkl'], 'expected a file name'),
}


@pytest.mark.parametrize('case', list(BAD_INPUT))
def test_bad_input_prints_one_error_line_exits_1_and_writes_nothing(tmp_path, capsys, case):
    tool, args, message = BAD_INPUT[case]
    (tmp_path / 'existing').mkdir()
    (tmp_path / 'existing' / 'keep').write_text('old')
    argv = [a.format(tmp=tmp_path, out=tmp_path / 'out', existing=tmp_path / 'existing') for a in args]
    assert tool.run(['tool'] + argv) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert sorted(os.listdir(tmp_path)) == ['existing'] and os.listdir(tmp_path / 'existing') == ['keep']


@pytest.mark.parametrize('module, args', [
    ('stylegan2.generate', ['--network=/nonexistent/net.pkl', '--seeds=0-3']),
    ('stylegan2.export', [f'--network={SG2_UNCOND}', '--format=onnx']),
])
def test_command_line_shows_one_error_line_and_exit_status_1(tmp_path, module, args):
    result = subprocess.run([sys.executable, '-m', module, f'--outdir={tmp_path}/out'] + args, cwd=REPO,
                            capture_output=True, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1 and 'Traceback' not in result.stderr
    assert not (tmp_path / 'out').exists()
