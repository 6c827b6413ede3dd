"""Exports for serving (pggan/export.py, stylegan2/export.py, common/export.py): the TFLite models, run in the
TFLite interpreter through the signatures of our SavedModels, give Gs's images; the SavedModels load without
`unsaved custom gradients` warnings and give the same images as before."""
import logging
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from pggan import export as pggan_export
from pggan import load_network as load_pggan
from pggan.networks import G_paper
from stylegan2 import export as stylegan2_export
from stylegan2 import load_network as load_stylegan2
from stylegan2.generator import Generator

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
PGGAN_D = os.path.join(DATA, 'pggan', 'config_D.pkl')  # Conditional (4 classes), 1 channel, 16 px, recursive.
LADDER_REVISED = os.path.join(DATA, 'stylegan2_ladder', 'revised.pkl.xz')  # Config b-d layout, grows, 16 px.
ATOL = 1e-4


def randomized(net, seed):
    """Every variable but lod drawn from N(0, 1), so that biases, noise strengths and dlatent_avg all matter."""
    rnd = np.random.RandomState(seed)
    for var in net.variables:
        if not var.path.endswith('lod'):
            var.assign(np.asarray(rnd.randn(*var.shape), np.float32))
    return net


@pytest.fixture(scope='module')
def tiny_sg2():
    """A conditional config-f-like Gs: 8 px, skip architecture, 3 classes, noise inputs."""
    return randomized(Generator(latent_size=8, label_size=3, dlatent_size=8, resolution=8, fmap_base=32, fmap_max=8,
                                mapping_layers=2, mapping_fmaps=8, name='Gs'), seed=1)


@pytest.fixture(scope='module')
def tiny_pggan():
    return randomized(G_paper(num_channels=3, resolution=8, label_size=2, fmap_base=32, fmap_max=8, latent_size=8,
                              name='Gs'), seed=2)


def interpreter(path):
    with warnings.catch_warnings():  # TF 2.21 points to ai_edge_litert; tf.lite.Interpreter still runs the model.
        warnings.filterwarnings('ignore', message=r'\s*Warning: tf.lite.Interpreter is deprecated')
        return tf.lite.Interpreter(model_path=str(path))


def latents(rnd, n, Gs):
    return rnd.randn(n, Gs.z_dim).astype(np.float32), np.eye(3, dtype=np.float32)[rnd.randint(0, 3, n)]


def test_stylegan2_tflite_has_the_savedmodel_signatures_and_gives_Gs_images(tmp_path, tiny_sg2):
    Gs = tiny_sg2
    path = stylegan2_export.export_tflite(Gs, str(tmp_path / 'gs.tflite'))
    assert os.listdir(tmp_path) == ['gs.tflite']  # No temporary file left behind.
    model = interpreter(path)
    assert model.get_signature_list() == {
        'generator': {'inputs': ['c', 'truncation_psi', 'z'], 'outputs': ['images']},
        'mapping': {'inputs': ['c', 'truncation_psi', 'z'], 'outputs': ['ws']},
        'synthesis': {'inputs': ['ws'], 'outputs': ['images']}}
    rnd = np.random.RandomState(0)
    for n, psi in ((3, 0.6), (1, 1.0), (2, 0.3)):  # Batch sizes differ: the batch dimension stays dynamic.
        z, c = latents(rnd, n, Gs)
        images = model.get_signature_runner('generator')(z=z, c=c, truncation_psi=np.float32(psi))['images']
        np.testing.assert_allclose(images, Gs(z, c, truncation_psi=psi, noise_mode='const'), atol=ATOL, rtol=0)
        ws = model.get_signature_runner('mapping')(z=z, c=c, truncation_psi=np.float32(psi))['ws']
        np.testing.assert_allclose(ws, Gs.mapping(z, c, truncation_psi=psi), atol=ATOL, rtol=0)
        images = model.get_signature_runner('synthesis')(ws=ws)['images']
        assert images.shape == (n, 8, 8, 3)
        np.testing.assert_allclose(images, Gs.synthesis(ws, noise_mode='const'), atol=ATOL, rtol=0)


def test_stylegan2_tflite_cli_exports_a_growing_network_at_its_lod(tmp_path, capsys):
    """--format=tflite writes DIR/NAME.tflite; a config b-d network renders at its stored lod, here 0.5."""
    nets = load_stylegan2(LADDER_REVISED)
    assert stylegan2_export.run(['export', f'--network={LADDER_REVISED}', f'--outdir={tmp_path}',
                                 '--format=tflite']) == 0
    path = tmp_path / 'revised.tflite'
    assert os.listdir(tmp_path) == ['revised.tflite']
    Gs = nets.Gs
    rnd = np.random.RandomState(1)
    z = rnd.randn(2, Gs.z_dim).astype(np.float32)
    images = interpreter(path).get_signature_runner('generator')(
        z=z, c=np.zeros([2, 0], np.float32), truncation_psi=np.float32(0.8))['images']
    np.testing.assert_allclose(images, Gs(z, None, truncation_psi=0.8, noise_mode='const'), atol=ATOL, rtol=0)
    assert stylegan2_export.run(['export', f'--network={LADDER_REVISED}', f'--outdir={tmp_path}',
                                 '--format=tflite']) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f'error: {path} already exists (pass --overwrite to replace it)'


def test_pggan_tflite_cli_writes_the_serving_signature_at_the_frozen_lod(tmp_path, capsys):
    outdir = tmp_path / 'out'
    assert pggan_export.run(['export', f'--network={PGGAN_D}', f'--outdir={outdir}', '--format=tflite',
                             '--lod=1.25']) == 0
    assert os.listdir(outdir) == ['config_D.tflite']
    model = interpreter(outdir / 'config_D.tflite')
    assert model.get_signature_list() == {'serving_default': {'inputs': ['labels', 'latents'], 'outputs': ['images']}}
    Gs = load_pggan(PGGAN_D).Gs
    rnd = np.random.RandomState(5)
    z = rnd.randn(5, 16).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 2]]
    images = model.get_signature_runner('serving_default')(latents=z, labels=labels)['images']
    assert images.shape == (5, 16, 16, 1)
    np.testing.assert_allclose(images, Gs(z, labels, lod=1.25), atol=ATOL, rtol=0)
    assert np.abs(Gs(z, labels, lod=0.0) - images).max() > 1e-3  # The lod really is 1.25, not the pickle's 0.


def test_an_op_without_a_tflite_builtin_is_refused_in_one_line_and_writes_nothing(tmp_path):
    """Builtin ops only (no SELECT_TF_OPS): a rank-6 pad, as upfirdn_2d's zero insertion once was, has none."""
    from common.export import write_tflite
    module = tf.Module()
    module.f = tf.function(lambda x: {'y': tf.pad(tf.reshape(x, [-1, 2, 1, 2, 1, 1]), [[0, 0], [0, 0], [0, 1]] * 2)},
                           input_signature=[tf.TensorSpec([None, 2, 2, 1], name='x')])
    with pytest.raises(ValueError, match=r"^TFLite conversion failed: 'tf.Pad' op is neither a custom op nor a flex "
                                         r"op[^\n]*$"):
        write_tflite(module, {'f': module.f}, str(tmp_path / 'f.tflite'))
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------
# SavedModel loading

def load_logging(path):
    """(loaded SavedModel, the warnings logged while loading it)."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logging.getLogger().addHandler(handler)  # absl's and TensorFlow's loggers propagate to the root.
    try:
        loaded = tf.saved_model.load(str(path))
    finally:
        logging.getLogger().removeHandler(handler)
    return loaded, [r.getMessage() for r in records]


def custom_gradient_warnings(messages):
    return [m for m in messages if 'unsaved custom gradients' in m]


def test_the_capture_sees_the_warnings_of_a_savedmodel_with_custom_gradients(tmp_path, tiny_sg2):
    """The control: the same function traced with our training convolutions, saved without its gradients."""
    Gs = tiny_sg2
    module = tf.Module()
    module.f = tf.function(lambda z, c: Gs(z, c, noise_mode='const'),
                           input_signature=[tf.TensorSpec([None, 8]), tf.TensorSpec([None, 3])])
    module.weights = [v.value for v in Gs.variables]
    tf.saved_model.save(module, str(tmp_path / 'plain'),
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    assert custom_gradient_warnings(load_logging(tmp_path / 'plain')[1])


@pytest.mark.parametrize('family', ['stylegan2', 'pggan'])
def test_savedmodel_loads_without_custom_gradient_warnings_and_gives_Gs_images(tmp_path, family, tiny_sg2,
                                                                                 tiny_pggan):
    rnd = np.random.RandomState(3)
    if family == 'stylegan2':
        Gs = tiny_sg2
        stylegan2_export.export_savedmodel(Gs, str(tmp_path / 'saved'))
        z, c = latents(rnd, 4, Gs)
        expected = Gs(z, c, truncation_psi=0.5, noise_mode='const')
        run = lambda model: model.signatures['generator'](  # noqa: E731
            z=tf.constant(z), c=tf.constant(c), truncation_psi=tf.constant(0.5))
    else:
        Gs = tiny_pggan
        pggan_export.export_generator(Gs, str(tmp_path / 'saved'), lod=0.5)
        z, c = rnd.randn(4, 8).astype(np.float32), np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]
        expected = Gs(z, c)
        run = lambda model: model.signatures['serving_default'](latents=tf.constant(z), labels=tf.constant(c))  # noqa
    model, messages = load_logging(tmp_path / 'saved')
    assert custom_gradient_warnings(messages) == []
    np.testing.assert_allclose(run(model)['images'], expected, atol=1e-5, rtol=0)
