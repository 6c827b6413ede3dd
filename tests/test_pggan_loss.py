"""One ProGAN training step against the official TF1 code (tests/data/pggan/train_step_ref_*.npz, see the
README there): WGAN-GP + drift + AC-GAN losses, their gradients, and one Adam update, at lod 0.5."""
import os

import numpy as np
import pytest
import tensorflow as tf

from pggan import load_network
from pggan import loss as losses
from pggan.loading import network_variables
from pggan.training import make_adam

DATA = os.path.join(os.path.dirname(__file__), 'data', 'pggan')


def nhwc(x):
    return tf.constant(np.transpose(x, [0, 2, 3, 1]))


@pytest.fixture(params=['B', 'C'])
def case(request):
    ref = np.load(os.path.join(DATA, f'train_step_ref_{request.param}.npz'))
    nets = load_network(os.path.join(DATA, f'config_{request.param}.pkl'))
    for net in (nets.G, nets.D, nets.Gs):
        net.lod.assign(float(ref['lod']))
    return request.param, nets, ref


def _step(net, opt, loss_fn, n):
    variables = net.trainable_variables
    with tf.GradientTape() as tape:
        loss, stats = loss_fn()
        mean = loss / n
    grads = tape.gradient(mean, variables)
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    return mean, stats, grads


@pytest.mark.parametrize('level', [None, 0])
def test_D_loss_gradients_and_adam_step_equal_official(case, level):
    name, nets, ref = case
    n = ref['latents'].shape[0]
    G, D = nets.G, nets.D
    labels = tf.constant(ref['labels'])
    mean, stats, grads = _step(D, None, lambda: losses.D_wgangp_acgan(
        G, D, tf.constant(ref['latents']), labels, nhwc(ref['reals']), tf.constant(np.transpose(ref['mixing'], [0, 2, 3, 1])),
        level=level), n)
    np.testing.assert_allclose(float(mean), float(ref['D_loss']), rtol=1e-5)
    np.testing.assert_allclose(float(stats['D/real_scores']) / n, ref['real_scores'].mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(stats['D/mixed_norms']) / n, ref['mixed_norms'].mean(), rtol=1e-5)
    table = network_variables(D)
    by_var = {id(v): k for k, v in table.items()}
    opt = make_adam(dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    opt.learning_rate.assign(float(ref['learning_rate']))
    opt.build(D.trainable_variables)
    opt.apply_gradients(zip(grads, D.trainable_variables))
    for v, g in zip(D.trainable_variables, grads):
        key = by_var[id(v)]
        ref_g = ref[f'D_grad/{key}']
        np.testing.assert_allclose(g.numpy(), ref_g, rtol=2e-3, atol=2e-5 * np.abs(ref_g).max() + 1e-7, err_msg=key)
        # Adam's first step moves each weight by ~lr*sign(g): compare where the sign is well defined.
        mask = np.abs(ref_g) > 1e-6
        np.testing.assert_allclose(v.numpy()[mask], ref[f'D_after/{key}'][mask], atol=1e-6, err_msg=key)


def test_G_loss_gradients_and_adam_step_equal_official(case):
    name, nets, ref = case
    n = ref['latents'].shape[0]
    G, D = nets.G, nets.D
    mean, _, grads = _step(G, None, lambda: losses.G_wgan_acgan(G, D, tf.constant(ref['latents']),
                                                                 tf.constant(ref['labels'])), n)
    np.testing.assert_allclose(float(mean), float(ref['G_loss']), rtol=1e-5, atol=1e-6)
    by_var = {id(v): k for k, v in network_variables(G).items()}
    opt = make_adam(dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    opt.learning_rate.assign(float(ref['learning_rate']))
    opt.build(G.trainable_variables)
    opt.apply_gradients(zip(grads, G.trainable_variables))
    for v, g in zip(G.trainable_variables, grads):
        key = by_var[id(v)]
        ref_g = ref[f'G_grad/{key}']
        np.testing.assert_allclose(g.numpy(), ref_g, rtol=2e-3, atol=2e-5 * np.abs(ref_g).max() + 1e-7, err_msg=key)
        mask = np.abs(ref_g) > 1e-6
        np.testing.assert_allclose(v.numpy()[mask], ref[f'G_after/{key}'][mask], atol=1e-6, err_msg=key)
