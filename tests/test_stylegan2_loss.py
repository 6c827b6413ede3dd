"""One StyleGAN2 training step against the official TF1 code (tests/data/stylegan2/train_step_ref_sg2_uncond.npz,
see the README there): logistic losses, R1 and path-length regularizers, their gradients as the training loop
registers them (also compiled with XLA), and one Adam step with the lazy-regularization adjustment. No style
mixing, stored noise."""
import os

import numpy as np
import pytest
import tensorflow as tf

from stylegan2 import load_network
from stylegan2 import loss as losses
from stylegan2 import training
from stylegan2.loading import network_variables

DATA = os.path.join(os.path.dirname(__file__), 'data', 'stylegan2')


@pytest.fixture(scope='module')
def ref():
    return np.load(os.path.join(DATA, 'train_step_ref_sg2_uncond.npz'))


@pytest.fixture
def nets():
    return load_network(os.path.join(DATA, 'sg2_uncond.pkl.xz'))


def nhwc(x):
    return tf.constant(np.transpose(x, [0, 2, 3, 1]))


def const_noise(G):
    return [tf.reshape(b, [1, b.shape[-1], b.shape[-1], 1]) for b in G.synthesis.noise_buffers]


def grads_of(net, fn):
    variables = net.trainable_variables
    with tf.GradientTape() as tape:
        value = fn()
    grads = tape.gradient(value, variables)
    names = {id(v): k for k, v in network_variables(net).items()}
    return value, {names[id(v)]: (v, tf.zeros_like(v) if g is None else g) for v, g in zip(variables, grads)}


def check_grads(ref, prefix, grads):
    checked = 0
    for name, (_, g) in grads.items():
        expected = ref[f'{prefix}/{name}']
        got = g.numpy()
        if f'subsample_stride/{name}' in ref.files:  # Large weights are stored subsampled (see the README).
            got = got.ravel()[::int(ref[f'subsample_stride/{name}'])]
        scale = np.abs(ref[f'{prefix}/{name}']).max() + 1e-12
        np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-4 * scale, err_msg=name)
        checked += 1
    assert checked == len(grads) > 10


def adam_step_matches(ref, prefix, grads, interval):
    adam, ratio = training.make_adam(dict(beta1=0.0, beta2=0.99, epsilon=1e-8), interval, lazy=True)
    adam.learning_rate.assign(0.002 * ratio)
    variables = [v for v, _ in grads.values()]
    adam.build(variables)
    adam.apply_gradients([(g, v) for v, g in grads.values()])
    for name, (v, g) in grads.items():
        expected = ref[f'{prefix}/{name}']
        got, grad = v.numpy(), g.numpy()
        if f'subsample_stride/{name}' in ref.files:
            stride = int(ref[f'subsample_stride/{name}'])
            got, grad = got.ravel()[::stride], grad.ravel()[::stride]
        got, grad = got.reshape(expected.shape), grad.reshape(expected.shape)
        mask = np.abs(grad) > 1e-6  # Where Adam's first step (~lr * sign(g)) is well defined.
        np.testing.assert_allclose(got[mask], expected[mask], atol=2e-6, err_msg=name)


def test_D_logistic_and_R1_gradients_and_adam_step_equal_official(ref, nets):
    G, D = nets.G, nets.D
    latents, reals, labels = tf.constant(ref['latents']), nhwc(ref['reals']), tf.zeros([8, 0])
    loss, grads = grads_of(D, lambda: losses.D_logistic(G, D, latents, labels, reals, noise=const_noise(G))[0] / 8)
    np.testing.assert_allclose(float(loss), float(ref['D_loss_mean']), rtol=1e-5)
    check_grads(ref, 'Dmain_grad', grads)
    reg, reg_grads = grads_of(D, lambda: losses.D_r1(D, reals, labels, gamma=10.0)[0] * 16 / 8)
    np.testing.assert_allclose(float(reg), float(ref['D_reg_mean_x16']), rtol=1e-5)
    check_grads(ref, 'Dreg_grad', reg_grads)
    adam_step_matches(ref, 'Dmain_after', grads, 16)


def test_G_logistic_ns_and_path_length_gradients_and_adam_step_equal_official(ref, nets):
    G, D = nets.G, nets.D
    latents, labels = tf.constant(ref['latents']), tf.zeros([8, 0])
    loss, grads = grads_of(G, lambda: losses.G_logistic_ns(G, D, latents, labels, noise=const_noise(G))[0] / 8)
    np.testing.assert_allclose(float(loss), float(ref['G_loss_mean']), rtol=1e-5)
    check_grads(ref, 'Gmain_grad', grads)
    pl_noise = nhwc(ref['pl_noise_raw'])
    out = {}

    def pathreg():
        reg, new_mean, stats = losses.G_pathreg(G, tf.constant(ref['pl_latents']), tf.zeros([4, 0]), pl_noise,
                                                tf.constant(0.0), noise=const_noise(G))
        out.update(new_mean=new_mean, stats=stats)
        return reg  # Sum over the 4 samples = the official reduce_mean(G_reg * 4).
    reg, reg_grads = grads_of(G, pathreg)
    np.testing.assert_allclose(float(reg), float(ref['G_reg_mean_x4']), rtol=1e-5)
    np.testing.assert_allclose(float(out['new_mean']), float(ref['pl_mean_var_after']), rtol=1e-5)
    check_grads(ref, 'Greg_grad', reg_grads)
    adam_step_matches(ref, 'Gmain_after', grads, 4)


def test_dlatent_avg_is_updated_from_the_batch_as_official(ref, nets):
    G = nets.G
    G.mapping.dlatent_avg.assign(ref['dlatent_avg_before'].reshape(G.mapping.dlatent_avg.shape))
    losses.generate(G, tf.constant(ref['latents']), tf.zeros([8, 0]), noise=const_noise(G))
    np.testing.assert_allclose(G.mapping.dlatent_avg.numpy().ravel(), ref['dlatent_avg_after_main'].ravel(), atol=1e-6)


def test_all_four_phases_compiled_with_xla_equal_official(ref, nets):
    # XLA compiles the double backward of R1 and path length through the fast-gradient convolutions and
    # runs the FIR filters as slices; the gradients stay the official ones.
    G, D = nets.G, nets.D
    latents, reals, labels = tf.constant(ref['latents']), nhwc(ref['reals']), tf.zeros([8, 0])
    keep = dict(noise=const_noise(G), assign=lambda variable, value: None)
    phases = {
        'Dmain_grad': (D, lambda: losses.D_logistic(G, D, latents, labels, reals, **keep)[0] / 8),
        'Dreg_grad': (D, lambda: losses.D_r1(D, reals, labels, gamma=10.0)[0] * 16 / 8),
        'Gmain_grad': (G, lambda: losses.G_logistic_ns(G, D, latents, labels, **keep)[0] / 8),
        'Greg_grad': (G, lambda: losses.G_pathreg(G, tf.constant(ref['pl_latents']), tf.zeros([4, 0]),
                                                  nhwc(ref['pl_noise_raw']), tf.constant(0.0), **keep)[0])}

    @tf.function(jit_compile=True)
    def compiled():
        out = {}
        for prefix, (net, fn) in phases.items():
            with tf.GradientTape() as tape:
                value = fn()
            out[prefix] = [tf.zeros_like(v) if g is None else g
                           for v, g in zip(net.trainable_variables, tape.gradient(value, net.trainable_variables))]
        return out
    for prefix, grads in compiled().items():
        net = phases[prefix][0]
        names = {id(v): k for k, v in network_variables(net).items()}
        check_grads(ref, prefix, {names[id(v)]: (v, g) for v, g in zip(net.trainable_variables, grads)})
