"""StyleGAN2 training: gradient accumulation over rounds equals one big batch, 2 replicas equal 1, lazy
regularization runs on the right minibatches with the adjusted Adam, and resume equals uninterrupted.
Tiny networks on an 8x8 dataset keep this fast."""
import os

import numpy as np
import pytest
import tensorflow as tf

from equivalence import assert_same_weights
from common.training.options import TrainingOptions
from common.training.schedule import SG2ScheduleOptions
from common.training.distribute import make_strategy
from common.training.phases import CompiledPhases
from common.training.loop import training_loop
from data.dataset import Dataset
from stylegan2 import load_network


@pytest.fixture(scope='module')
def tiny_dataset(tiny_labelled_rgb8):
    return tiny_labelled_rgb8


def tiny_options(data, result_dir, minibatch=8, minibatch_gpu=4, mbstd=0, **overrides):
    G = dict(fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16)
    D = dict(fmap_base=64, fmap_max=16, mbstd_num_features=1 if mbstd else 0, mbstd_group_size=mbstd or 4)
    base = dict(model='stylegan2', data=data, result_dir=result_dir, total_kimg=0.064, mirror_augment=True,
                max_label_size='full', G_kwargs=G, D_kwargs=D, D_loss=dict(gamma=10.0), G_reg_interval=2,
                D_reg_interval=3, sched=SG2ScheduleOptions(minibatch_size_base=minibatch, minibatch_gpu_base=minibatch_gpu,
                                                           tick_kimg_base=0.016, tick_kimg_dict={}),
                minibatch_repeats=2, grid_size='2x2', network_snapshot_ticks=100, random_seed=11)
    base.update(overrides)
    return TrainingOptions(**base)


def _weights_after_steps(data, num_replicas, minibatch_gpu, steps=2, xla=False):
    """All four phases at every step (intervals 1), from a fixed initialization."""
    from stylegan2 import training
    opts = tiny_options(data, '/unused', minibatch_gpu=minibatch_gpu, num_gpus=num_replicas, G_reg_interval=1,
                        D_reg_interval=1, mirror_augment=False, xla=xla)
    strategy = make_strategy(num_replicas)
    dataset = Dataset(data, seed=1)
    tf.keras.utils.set_random_seed(5)
    parts = training.build(opts, dataset, strategy)
    compiled = CompiledPhases(strategy, parts.phases, opts.random_seed)
    feed = iter(dataset.distribute(strategy, 8, 8))
    rounds = 8 // (minibatch_gpu * num_replicas)
    for step in range(steps):
        parts.configure(parts.schedule(0))
        batch = next(feed)
        for phase in parts.phases:
            args = (tf.constant(step, tf.int64), 8, 8, rounds) + (tuple(batch) if phase.uses_reals else ())
            compiled.fns[phase.name](*args)
    out = {f'{name}:{w.path}': w.numpy() for name, net in parts.nets.items() for w in net.weights}
    out['pl_mean'] = parts.extra_state['pl_mean'].numpy()
    return out


def assert_same_training(a_list, b_list):
    """Equal weights, up to Adam's sign flips: with beta1 = 0 an early step moves a weight by ~lr * sign(g),
    so a gradient that is ~0 can move either way when the summation order differs. Every weight must
    agree within two such steps, and nearly all to float precision."""
    close = total = 0
    assert sorted(a_list) == sorted(b_list)
    for a, b in ((a_list[k], b_list[k]) for k in a_list):
        np.testing.assert_allclose(a, b, atol=2 * 0.002)
        close += np.sum(np.isclose(a, b, rtol=1e-4, atol=2e-5))
        total += np.size(a)
    assert close >= 0.98 * total, f'only {close} of {total} weights agree'


@pytest.fixture(scope='module')
def one_big_batch(tiny_dataset):
    """Weights after two steps on one device, the whole minibatch in one round: what the splits must equal."""
    return _weights_after_steps(tiny_dataset, 1, minibatch_gpu=8)


def test_accumulation_over_rounds_equals_one_big_batch(tiny_dataset, one_big_batch):
    # Minibatch stddev off: like the official code it groups samples within each round.
    one_round = one_big_batch
    two_rounds = _weights_after_steps(tiny_dataset, 1, minibatch_gpu=4)
    # The tracked statistics are updated once per round, as in the official code (each round runs the
    # graph with its update ops), so they are not expected to match; the trained weights are.
    tracked = [k for k in one_round if 'dlatent_avg' in k or k == 'pl_mean']
    assert len(tracked) == 3
    assert_same_training({k: v for k, v in one_round.items() if k not in tracked},
                         {k: v for k, v in two_rounds.items() if k not in tracked})


def test_training_step_on_two_devices_equals_one_device(tiny_dataset, one_big_batch):
    one = one_big_batch
    two = _weights_after_steps(tiny_dataset, 2, minibatch_gpu=4)
    assert_same_training(one, two)


def _checkpoint_value(run_dir, fragment):
    snaps = sorted(d for d in os.listdir(run_dir) if d.startswith('network-snapshot-'))
    reader = tf.train.load_checkpoint(os.path.join(run_dir, snaps[-1], 'ckpt'))
    keys = [k for k in reader.get_variable_to_shape_map() if fragment in k and 'OPTIMIZER_SLOT' not in k]
    assert len(keys) == 1, keys
    return reader.get_tensor(keys[0])


@pytest.fixture(scope='module')
def full_run(tiny_dataset, tmp_path_factory):
    """One uninterrupted tiny run, shared by the tests that only read its results."""
    tf.config.experimental.enable_op_determinism()
    return training_loop(tiny_options(tiny_dataset, str(tmp_path_factory.mktemp('full'))))


def test_lazy_regularization_runs_on_its_interval_with_the_adjusted_adam(full_run):
    run = full_run
    minibatches = 64 // 8
    # One Adam per network serves main and reg phases (official share=): count its steps.
    assert int(_checkpoint_value(run, 'G_opt/_iterations')) == minibatches + len(range(0, minibatches, 2))
    assert int(_checkpoint_value(run, 'D_opt/_iterations')) == minibatches + len(range(0, minibatches, 3))
    assert float(_checkpoint_value(run, 'pl_mean')) > 0
    # Lazy regularization: the learning rate is scaled by k / (k + 1) (k = 2 here).
    assert float(_checkpoint_value(run, 'G_opt/_learning_rate')) == pytest.approx(0.002 * 2 / 3)
    assert float(_checkpoint_value(run, 'D_opt/_learning_rate')) == pytest.approx(0.002 * 3 / 4)
    from stylegan2 import training
    adam, ratio = training.make_adam(dict(beta1=0.0, beta2=0.99, epsilon=1e-8), 4, lazy=True)
    assert ratio == pytest.approx(0.8) and float(adam.beta_2) == pytest.approx(0.99 ** 0.8)
    assert training.make_adam(dict(beta1=0.0, beta2=0.99, epsilon=1e-8), 4, lazy=False)[1] == 1.0


def test_resumed_training_equals_uninterrupted(tiny_dataset, tmp_path, full_run):
    full = full_run
    first = training_loop(tiny_options(tiny_dataset, str(tmp_path / 'split')), stop_after_ticks=2)
    resumed = training_loop(tiny_options(tiny_dataset, str(tmp_path / 'split'), resume=first))
    a, b = (load_network(os.path.join(r, sorted(d for d in os.listdir(r) if d.startswith('network-'))[-1]))
            for r in (full, resumed))
    for net_a, net_b in ((a.G, b.G), (a.D, b.D), (a.Gs, b.Gs)):
        for wa, wb in zip(net_a.weights, net_b.weights):
            assert_same_weights(wa.numpy(), wb.numpy(), err_msg=wa.path)
    assert _checkpoint_value(full, 'pl_mean') == pytest.approx(_checkpoint_value(resumed, 'pl_mean'), rel=1e-5)
