"""Configs a-d of the StyleGAN2 ablation ladder train with progressive growing: each builds from its preset
(with tiny networks) with the phases its row of Table 1 switches on, trains on a 32x32 dataset, snapshots,
and resumes into the fade-in."""
import json
import os

import numpy as np
import pytest

from stylegan2.options import SG2_PRESETS
from common.training.options import OptionsError, TrainingOptions
from common.training.schedule import SG2ScheduleOptions
from common.training.loop import training_loop
from stylegan2 import load_network
from stylegan2.networks_progressive import RevisedSynthesis, StyleGANDiscriminator
from stylegan2.networks_stylegan import BasicDiscriminator, StyleGenerator

TINY_G = dict(fmap_base=128, fmap_max=16, latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16)
TINY_D = dict(fmap_base=128, fmap_max=16)


@pytest.fixture(scope='module')
def data32(smooth_rgb32):
    return smooth_rgb32


def ladder_options(config, data, result_dir, **overrides):
    """The preset of `config` with tiny networks, minibatch 4 and a schedule that runs the first minibatch at
    16x16 (lod 1) and then fades in 32x32 (lod 0.75, 0.5, 0.25); one tick per minibatch."""
    preset = SG2_PRESETS[config]
    sched = {**preset['sched'], 'lod_initial_resolution': 16, 'lod_training_kimg': 0, 'lod_transition_kimg': 0.016,
             'minibatch_size_base': 4, 'minibatch_size_dict': {}, 'minibatch_gpu_base': 4, 'minibatch_gpu_dict': {},
             'tick_kimg_base': 0.004, 'tick_kimg_dict': {}}
    top = {k: v for k, v in preset.items() if k not in ('G', 'D', 'sched')}
    base = dict(model='stylegan2', config=config, data=data, result_dir=result_dir, total_kimg=0.016,
                G_kwargs={**preset['G'], **TINY_G}, D_kwargs={**preset['D'], **TINY_D}, sched=SG2ScheduleOptions(**sched),
                minibatch_repeats=1, grid_size='2x2', image_snapshot_ticks=100, network_snapshot_ticks=100, random_seed=7,
                **top)
    base.update(overrides)
    return TrainingOptions(**base)


def _state(run_dir):
    snaps = sorted(d for d in os.listdir(run_dir) if d.startswith('network-snapshot-'))
    with open(os.path.join(run_dir, snaps[-1], 'state.json')) as f:
        return os.path.join(run_dir, snaps[-1]), json.load(f)['train_state']


NETWORKS = {'config-a': (StyleGenerator, BasicDiscriminator), 'config-b': (RevisedSynthesis, StyleGANDiscriminator),
            'config-c': (RevisedSynthesis, StyleGANDiscriminator), 'config-d': (RevisedSynthesis, StyleGANDiscriminator)}


@pytest.mark.parametrize('config', ['config-a', 'config-b', 'config-c', 'config-d'])
def test_config_trains_snapshots_and_resumes_into_the_fade_in(config, data32, tmp_path):
    first = training_loop(ladder_options(config, data32, str(tmp_path)), stop_after_ticks=1)
    snapshot, state = _state(first)
    assert (state['cur_nimg'], state['prev_lod'], state['step']) == (4, 1.0, 1)  # One minibatch at 16x16.
    nets = load_network(snapshot)
    G_class, D_class = NETWORKS[config]
    assert isinstance(nets.G if G_class is StyleGenerator else nets.G.synthesis, G_class)
    assert isinstance(nets.D, D_class) and float(nets.D.lod.numpy()) == 1.0
    resumed = training_loop(ladder_options(config, data32, str(tmp_path), resume=first))
    end_snapshot, end = _state(resumed)
    assert (end['cur_nimg'], end['prev_lod'], end['step']) == (16, 0.25, 4)  # Resumed at 32x32, fading in.
    log = open(os.path.join(resumed, 'log.txt')).read()
    assert 'lod 0.75' in log and 'lod 0.25' in log
    end_nets = load_network(end_snapshot)
    assert float(end_nets.Gs.synthesis.lod.numpy()) == 0.25
    changed = [not np.array_equal(a, b) for a, b in zip(nets.G.get_weights(), end_nets.G.get_weights())]
    assert sum(changed) > len(changed) // 2  # G was trained after the resume.


@pytest.mark.parametrize('config, phases', [('config-a', ['Gmain', 'Dmain']), ('config-b', ['Gmain', 'Dmain']),
                                            ('config-c', ['Gmain', 'Dmain', 'Dreg']),
                                            ('config-d', ['Gmain', 'Greg', 'Dmain', 'Dreg'])])
def test_config_builds_its_networks_and_phases(config, phases, data32, tmp_path):
    from common.training.loop import make_strategy
    from data.dataset import Dataset
    from stylegan2 import training
    parts = training.build(ladder_options(config, data32, str(tmp_path)), Dataset(data32, seed=0), make_strategy(1))
    assert [p.name for p in parts.phases] == phases and parts.resets_optimizers
    G_class, D_class = NETWORKS[config]
    assert isinstance(parts.nets['G'] if G_class is StyleGenerator else parts.nets['G'].synthesis, G_class)
    assert isinstance(parts.nets['D'], D_class)
    sched = parts.schedule(0)
    assert (sched.lod, sched.resolution) == (1.0, 16)
    parts.configure(parts.schedule(8))
    assert all(float(getattr(net, 'synthesis', net).lod.numpy()) == 0.5 for net in parts.nets.values())


def test_growing_options_refuse_networks_that_do_not_grow(data32, tmp_path):
    opts = ladder_options('config-d', data32, str(tmp_path), G_kwargs=TINY_G, D_kwargs=TINY_D)
    with pytest.raises(OptionsError, match='lod_initial_resolution=16: progressive growing needs networks that grow'):
        training_loop(opts)
