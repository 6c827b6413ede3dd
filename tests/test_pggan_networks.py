"""ProGAN G and D against the official TF1 code (fixtures made with tkarras/progressive_growing_of_gans,
see tests/data/pggan/README.md), and the official-pickle loader."""
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from pggan import NetworkLoadError, load_network

DATA = os.path.join(os.path.dirname(__file__), 'data', 'pggan')
CONFIGS = ['A', 'B', 'C', 'D']  # A linear/separate, B recursive/fused, C linear/fused/labels, D recursive/fused/labels.


def nchw(x):
    return np.transpose(np.asarray(x), [0, 3, 1, 2])


@pytest.fixture(scope='module', params=CONFIGS)
def official(request):
    name = request.param
    return name, load_network(os.path.join(DATA, f'config_{name}.pkl')), np.load(os.path.join(DATA, f'config_{name}_io.npz'))


def test_G_Gs_D_equal_official_at_every_lod(official):
    name, nets, io = official
    reals = tf.constant(np.transpose(io['reals'], [0, 2, 3, 1]))
    for i, lod in enumerate(io['lods']):
        for net in (nets.G, nets.D, nets.Gs):
            net.lod.assign(lod)
        np.testing.assert_allclose(nchw(nets.G(io['latents'], io['labels'])), io[f'G_out_{i}'], atol=1e-4, rtol=0,
                                   err_msg=f'config {name} G at lod {lod}')
        np.testing.assert_allclose(nchw(nets.Gs(io['latents'], io['labels'])), io[f'Gs_out_{i}'], atol=1e-4, rtol=0,
                                   err_msg=f'config {name} Gs at lod {lod}')
        scores, logits = nets.D.scores_and_logits(reals)
        np.testing.assert_allclose(scores, io[f'D_scores_{i}'], atol=1e-4, rtol=1e-5, err_msg=f'config {name} D at lod {lod}')
        np.testing.assert_allclose(logits, io[f'D_labels_{i}'], atol=1e-4, rtol=1e-5)


def test_lod_argument_overrides_state_without_changing_it(official):
    _, nets, io = official
    nets.Gs.lod.assign(0.0)
    i = 3  # lod 1.25
    out = nets.Gs(io['latents'], io['labels'], lod=float(io['lods'][i]))
    np.testing.assert_allclose(nchw(out), io[f'Gs_out_{i}'], atol=1e-4, rtol=0)
    assert float(nets.Gs.lod.numpy()) == 0.0


def test_D_returns_scores_alone_when_unconditional_and_logits_when_conditional(official):
    name, nets, io = official
    out = nets.D(tf.zeros([4] + list(nets.D.input_shape_hw)))
    if nets.D.label_size:
        assert isinstance(out, tuple) and out[1].shape == (4, nets.D.label_size)
    else:
        assert out.shape == (4, 1)


def test_changing_lod_never_retraces():
    nets = load_network(os.path.join(DATA, 'config_B.pkl'))
    traces = []

    @tf.function
    def run(z):
        traces.append(1)
        return nets.Gs(z)
    z = tf.zeros([2, nets.Gs.latent_size])
    for lod in [0.0, 0.5, 1.0, 2.5, 3.0]:
        nets.Gs.lod.assign(lod)
        run(z)
    assert len(traces) == 1


def test_wrong_pickle_is_refused_with_a_clear_message(tmp_path):
    bad = tmp_path / 'not_a_tuple.pkl'
    with open(bad, 'wb') as f:
        pickle.dump({'a': 1}, f)
    with pytest.raises(NetworkLoadError, match='expected an official pickle holding the tuple'):
        load_network(str(bad))
    with pytest.raises(NetworkLoadError, match='no such network file'):
        load_network(str(tmp_path / 'missing.pkl'))
    garbage = tmp_path / 'garbage.pkl'
    garbage.write_bytes(b'\x00\x01not a pickle')
    with pytest.raises(NetworkLoadError, match='not a readable network pickle'):
        load_network(str(garbage))


def test_pickle_that_imports_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'ran'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump(Evil(), f)
    with pytest.raises(NetworkLoadError, match='refusing to load global'):
        load_network(str(path))
    assert not marker.exists()
