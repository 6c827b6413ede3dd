"""ProGAN training: schedule against the official formula, exact resume, 2 replicas == 1 replica, one
trace per resolution, and clear errors for bad runs. Tiny networks on an 8x8 dataset keep this fast."""
import dataclasses
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from equivalence import assert_same_weights
from common.training.options import OptionsError, TrainingOptions
from common.training.schedule import ScheduleOptions, training_schedule
from common.training.distribute import make_strategy
from common.training.phases import CompiledPhases
from common.training.loop import NothingToTrain, training_loop
from data import sources
from data.dataset import Dataset
from data.dataset_tool import write_dataset
from pggan import load_network

DATA = os.path.join(os.path.dirname(__file__), 'data', 'pggan')


def test_schedule_equals_official_formula_over_a_kimg_sweep():
    with open(os.path.join(DATA, 'schedule_sweep.json')) as f:
        cases = json.load(f)
    checked = 0
    for case in cases:
        opts = ScheduleOptions(**case['settings'])
        for sample in case['samples']:
            ours = training_schedule(int(round(sample['kimg'] * 1000)), case['resolution_log2'], case['num_gpus'], opts)
            assert ours.lod == pytest.approx(sample['lod'], abs=1e-12), (case['name'], sample)
            assert (ours.resolution, ours.minibatch) == (sample['resolution'], sample['minibatch']), (case['name'], sample)
            assert (ours.G_lrate, ours.D_lrate, ours.tick_kimg) == (sample['G_lrate'], sample['D_lrate'], sample['tick_kimg'])
            checked += 1
    assert checked > 2000


@pytest.fixture(scope='module')
def tiny_dataset(tiny_dataset_8px):
    return tiny_dataset_8px


def tiny_options(data, result_dir, **overrides):
    nets = dict(fmap_base=16, fmap_max=8)
    sched = ScheduleOptions(minibatch_base=8, lod_training_kimg=0.032, lod_transition_kimg=0.032, tick_kimg_base=0.032,
                            tick_kimg_dict={})
    base = dict(data=data, result_dir=result_dir, total_kimg=0.128, mirror_augment=True, minibatch_repeats=2,
                G_kwargs=dict(nets, latent_size=8), D_kwargs=dict(nets), sched=sched, grid_size='2x2',
                network_snapshot_ticks=100, random_seed=3)
    base.update(overrides)
    return TrainingOptions(**base)


def final_weights(run_dir):
    snaps = sorted(d for d in os.listdir(run_dir) if d.startswith('network-snapshot-'))
    nets = load_network(os.path.join(run_dir, snaps[-1]))
    return [w.numpy() for net in (nets.G, nets.D, nets.Gs) for w in net.weights]


@pytest.fixture(scope='module')
def full_run(tiny_dataset, tmp_path_factory):
    """One uninterrupted tiny run, shared by the tests that only read its results."""
    tf.config.experimental.enable_op_determinism()
    return training_loop(tiny_options(tiny_dataset, str(tmp_path_factory.mktemp('full'))))


def test_resumed_training_equals_uninterrupted(tiny_dataset, tmp_path, full_run):
    full = full_run
    first = training_loop(tiny_options(tiny_dataset, str(tmp_path / 'split'), network_snapshot_ticks=1),
                          stop_after_ticks=2)
    resumed = training_loop(tiny_options(tiny_dataset, str(tmp_path / 'split'), resume=first))
    for a, b in zip(final_weights(full), final_weights(resumed)):
        assert_same_weights(a, b)
    with open(os.path.join(full, 'log.txt')) as f:
        log = f.read()
    ticks = re.findall(r'tick +\d+ +kimg .*', log)
    # Two resolutions (4 and 8) x two phases (D, G): each traced once, so the run ends at 4 traces.
    assert re.search(r'traces 4$', ticks[-1]), ticks[-1]
    # Every tick reports images/s and MFU (FLOPs of the traced phases against the measured matmul peak).
    assert ticks and all(re.search(r'img/s [\d.]+ +MFU [\d.]+%', line) for line in ticks), ticks
    assert os.path.isfile(os.path.join(full, 'reals.png')) and os.path.isfile(os.path.join(full, 'fakes000000.png'))
    assert json.load(open(os.path.join(full, 'training_options.json')))['total_kimg'] == 0.128
    # Snapshot ticks under 1 kimg: every snapshot and grid has a name of its own (kimg with the images shown).
    names = sorted(os.listdir(first))
    assert [n for n in names if n.startswith('network-snapshot-')] == ['network-snapshot-000000.032',
                                                                         'network-snapshot-000000.064']
    assert [n for n in names if n.startswith('fakes')] == ['fakes000000.032.png', 'fakes000000.064.png',
                                                           'fakes000000.png']


def test_resume_past_the_end_trains_nothing_and_makes_no_directory(tiny_dataset, tmp_path, full_run):
    with pytest.raises(NothingToTrain, match=r'network-snapshot-000000.128 is already at kimg 0.128, at or past '
                                             r'--total_kimg=0.1$'):
        training_loop(tiny_options(tiny_dataset, str(tmp_path / 'again'), resume=full_run, total_kimg=0.1))
    assert not (tmp_path / 'again').exists()


def test_resume_takes_the_architecture_from_the_snapshot(tiny_dataset, tmp_path, full_run):
    """No network flags needed to resume; a flag that contradicts the snapshot is named with both values."""
    bare = dict(G_kwargs=dict(latent_size=8), D_kwargs={}, total_kimg=0.16)
    resumed = training_loop(tiny_options(tiny_dataset, str(tmp_path / 'r'), resume=full_run, **bare))
    assert json.load(open(os.path.join(resumed, 'training_options.json')))['G_kwargs']['fmap_base'] == 16
    assert os.path.isdir(os.path.join(resumed, 'network-snapshot-000000.160'))
    contradicting = tiny_options(tiny_dataset, str(tmp_path / 'r2'), resume=full_run, total_kimg=0.16,
                                 G_kwargs=dict(fmap_base=32, fmap_max=8, latent_size=8))
    with pytest.raises(OptionsError, match=r'^--fmap_base=32 contradicts .*network-snapshot-000000.128: its G was '
                                           r'trained with fmap_base=16; leave the flag out'):
        training_loop(contradicting, network_flags={('G', 'fmap_base'): 'fmap_base'})
    assert not (tmp_path / 'r2').exists()


def _one_iteration_weights(data, num_replicas):
    """G, D, Gs weights after two D steps (with Gs updates) and two G steps at lod 0.5 from a fixed init."""
    from pggan import training
    opts = tiny_options(data, '/unused', mirror_augment=False, num_gpus=num_replicas,
                        D_kwargs=dict(fmap_base=16, fmap_max=8, mbstd_group_size=0))
    strategy = make_strategy(num_replicas)
    dataset = Dataset(data, seed=1)
    tf.keras.utils.set_random_seed(5)
    parts = training.build(opts, dataset, strategy)
    for net in parts.nets.values():
        net.lod.assign(0.5)
    compiled = CompiledPhases(strategy, parts.phases, opts.random_seed)
    feed = iter(dataset.distribute(strategy, 8, 8))
    for step in range(2):
        compiled.fns['D'](tf.constant(step, tf.int64), 8, 8, 1, *next(feed))
        compiled.fns['G'](tf.constant(step, tf.int64), 8, 8, 1)
    return [w.numpy() for net in parts.nets.values() for w in net.weights]


def test_training_step_on_two_devices_equals_one_device(tiny_dataset):
    # Minibatch stddev is off: like the official multi-GPU code it groups samples within each replica.
    one = _one_iteration_weights(tiny_dataset, 1)
    two = _one_iteration_weights(tiny_dataset, 2)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(np.any(a != 0) for a in one)


def test_resume_onto_a_dataset_of_another_resolution_is_refused(tiny_dataset, tmp_path, full_run):
    run = full_run
    images = np.zeros([8, 1, 16, 16], np.uint8)
    other = str(tmp_path / 'other16')
    write_dataset(other, sources.array_source(images), shuffle=False)
    with pytest.raises(OptionsError, match=r'do not match this run: D resolution=8 \(this run: 16\); '
                                           r'G resolution=8 \(this run: 16\); check --data'):
        training_loop(tiny_options(other, str(tmp_path / 'r2'), resume=run, total_kimg=0.2))
    with pytest.raises(FileNotFoundError, match='no such run directory or snapshot'):
        training_loop(tiny_options(tiny_dataset, str(tmp_path / 'r3'), resume=str(tmp_path / 'nope')))


def test_options_refuse_bad_values_naming_the_flag(tiny_dataset):
    with pytest.raises(OptionsError, match='--num_gpus'):
        tiny_options(tiny_dataset, '/x', num_gpus=0).validate()
    with pytest.raises(OptionsError, match='--lod_initial_resolution'):
        tiny_options(tiny_dataset, '/x', sched=ScheduleOptions(lod_initial_resolution=6)).validate()
    with pytest.raises(OptionsError, match='--grid_size'):
        tiny_options(tiny_dataset, '/x', grid_size='big').validate()
    with pytest.raises(OptionsError, match='--metrics=fid50k_half'):
        tiny_options(tiny_dataset, '/x', metrics=['fid50k_half']).validate()
    with pytest.raises(OptionsError, match='--metrics=ppl_wend: PPL in W'):
        tiny_options(tiny_dataset, '/x', metrics=['ppl_wend']).validate()
    with pytest.raises(OptionsError, match='--num_gpus=3'):
        make_strategy(3)
    opts = tiny_options(tiny_dataset, '/x')
    assert TrainingOptions.from_json(opts.to_json()) == dataclasses.replace(opts)


def test_progress_bar_stops_at_the_total_of_runs_under_one_kimg(recwarn):
    """ProGAN's last minibatch group may overshoot --total_kimg: the bar shows the total, 100%, no negative
    remaining time and no TqdmWarning; totals under 1 kimg are not printed as 0."""
    from common.training.loop import _kimg_bar
    bar = _kimg_bar(400, 500)
    assert '0.4/0.5 kimg' in str(bar)
    bar.update(min(640, 500) - bar.n)  # As the loop does after a group that ends at 640 images.
    text = str(bar)
    bar.close()
    assert '100%' in text and '0.5/0.5 kimg' in text and '-' not in text.split('[')[1], text
    assert not [w for w in recwarn if 'tqdm' in str(w.category).lower()]


def test_optimizer_reset_at_a_new_lod_keeps_the_schedules_learning_rates(tiny_dataset, tmp_path):
    # Official reset_opt_for_new_lod re-initializes Adam's moments and beta powers; the learning rate is fed
    # every step, so the minibatches right after the reset train at the schedule's rate, not at zero.
    from common.training.loop import _Run
    from common.training.resume import TrainState
    from pggan import family
    opts = tiny_options(tiny_dataset, str(tmp_path))
    dataset = Dataset(tiny_dataset, seed=opts.random_seed)
    strategy = make_strategy(1)
    parts = family.build(opts, dataset, strategy)
    state = TrainState(cur_nimg=40, step=5, prev_lod=1.0, data_resolution=4, data_position=40)
    for opt in parts.optimizers.values():
        opt.iterations.assign(5)
    run = _Run(opts, family, parts, dataset, strategy, state, str(tmp_path), chief=True)
    sched = run.schedule()
    assert 0 < sched.lod < 1 and state.prev_lod == sched.lod   # The fade-in began: the reset is due.
    assert [int(opt.iterations.numpy()) for opt in parts.optimizers.values()] == [0, 0]
    assert float(parts.optimizers['G_opt'].learning_rate.numpy()) == pytest.approx(sched.G_lrate)
    assert float(parts.optimizers['D_opt'].learning_rate.numpy()) == pytest.approx(sched.D_lrate)
    run.close()
