"""Training from a published network (--resume=FILE.pkl): the file's architecture and weights, fresh optimizers,
--resume_kimg, Freeze-D / FreezeG, and the mismatches refused in one line before training.

Two short runs (one per family, at a learning rate of 1e-4 for a few steps) carry most claims: the run ends
within 4e-4 of the file's weights (a fresh initialization is O(1) away), the frozen variables are bit-identical
and every other variable that gets a gradient has moved."""
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from common import families
from common.training import transfer
from common.training.distribute import make_strategy
from common.training.freeze import discriminator_layers, trainable_variables
from common.training.loop import training_loop
from common.training.options import OptionsError, TrainingOptions
from common.training.schedule import ScheduleOptions, SG2ScheduleOptions, training_schedule
from common.util.pickle_io import Networks
from data import sources
from data.writer import write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, 'tests', 'data')
PGGAN_C = os.path.join(DATA, 'pggan', 'config_C.pkl')                        # 16 px, 1 channel, 4 labels.
ADA_COND = os.path.join(DATA, 'ada_pytorch', 'cond_orig.pkl')                # 16 px, RGB, 3 labels.
ADA_UNCOND = os.path.join(DATA, 'ada_pytorch', 'uncond_skip_resnet.pkl')     # 32 px, RGB.


def _dataset(path, channels, res, classes=0, seed=0):
    images = (np.random.RandomState(seed).rand(16, channels, 4, 4) * 255).repeat(res // 4, axis=2)
    labels = sources.onehot(np.arange(16) % classes) if classes else None
    write_dataset(str(path), sources.array_source(images.repeat(res // 4, axis=3).astype(np.uint8), labels),
                  shuffle=True)
    return str(path)


@pytest.fixture(scope='module')
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp('transfer_data')
    return types.SimpleNamespace(gray16_4=_dataset(root / 'gray16_4', 1, 16, 4), gray16=_dataset(root / 'gray16', 1, 16),
                                 rgb16_3=_dataset(root / 'rgb16_3', 3, 16, 3), rgb32_3=_dataset(root / 'rgb32_3', 3, 32, 3))


def _weights(net):
    return {v.path: v.numpy() for v in net.trainable_weights}


def _frozen(net, scopes):
    return {v.path for scope in scopes for v in net.layers_by_scope[scope].trainable_weights}


def _final(family, run_dir):
    snaps = sorted(d for d in os.listdir(run_dir) if d.startswith('network-snapshot-'))
    return family.load_network(os.path.join(run_dir, snaps[-1]))


def _check_ends_near_file_with_frozen_untouched(ours, theirs, frozen, unused=()):
    assert set(ours) == set(theirs)
    for path in theirs:
        np.testing.assert_allclose(ours[path], theirs[path], rtol=0, atol=1e-3, err_msg=path)
        if path in frozen:
            assert np.array_equal(ours[path], theirs[path]), path
        elif path not in unused:
            assert not np.array_equal(ours[path], theirs[path]), f'{path} did not train'


def test_progan_pickle_run_takes_its_weights_freezes_its_first_layers_and_starts_at_resume_kimg(datasets, tmp_path):
    sched = ScheduleOptions(minibatch_base=8, G_lrate_base=1e-4, D_lrate_base=1e-4, tick_kimg_base=0.016,
                            tick_kimg_dict={})
    assert training_schedule(0, 4, 1, sched).lod == 2  # Without --resume_kimg this 16 px run would start at 4x4.
    opts = TrainingOptions(data=datasets.gray16_4, result_dir=str(tmp_path), desc='pggan-transfer', max_label_size='full', resume=PGGAN_C,
                           resume_kimg=10000, total_kimg=10000.016, sched=sched, G_smoothing=1.0, freezed=2,
                           freezeG=1, grid_size='2x2', minibatch_repeats=1, random_seed=5)
    run_dir = training_loop(opts)
    log = open(os.path.join(run_dir, 'log.txt')).read()
    ticks = [line for line in log.splitlines() if line.startswith('tick ')]
    assert ticks[0].split()[1:6] == ['1', 'kimg', '10000.0', 'lod', '0.00'], ticks[0]
    assert f'weights from {PGGAN_C}, from kimg 10000.0' in log
    saved = json.load(open(os.path.join(run_dir, 'training_options.json')))
    assert (saved['resume_kimg'], saved['freezed'], saved['G_kwargs']['fmap_base']) == (10000, 2, 64)
    end, start = _final(families.get('pggan'), run_dir), families.get('pggan').load_network(PGGAN_C)
    # At lod 0 the lower levels' FromRGB / ToRGB are not in use: no gradient (the official tf.cond), no step.
    _check_ends_near_file_with_frozen_untouched(_weights(end.D), _weights(start.D),
                                                _frozen(start.D, ['FromRGB_lod0', '16x16/Conv0']),
                                                _frozen(start.D, ['FromRGB_lod1', 'FromRGB_lod2']))
    _check_ends_near_file_with_frozen_untouched(_weights(end.G), _weights(start.G), _frozen(start.G, ['4x4/Dense']),
                                                _frozen(start.G, ['ToRGB_lod1', 'ToRGB_lod2']))
    for path, value in _weights(start.Gs).items():   # G_smoothing 1: Gs stays the file's Gs.
        np.testing.assert_allclose(_weights(end.Gs)[path], value, rtol=0, atol=1e-6, err_msg=path)


def test_ada_pytorch_pickle_run_takes_its_weights_and_freezes_its_first_layers(datasets, tmp_path):
    sched = SG2ScheduleOptions(minibatch_size_base=4, minibatch_gpu_base=4, G_lrate_base=1e-4, D_lrate_base=1e-4,
                               tick_kimg_base=0.016, tick_kimg_dict={})
    # No lazy regularization and no path length: two phases to trace instead of four (the test's time).
    opts = TrainingOptions(model='stylegan2', data=datasets.rgb16_3, result_dir=str(tmp_path), desc='sg2-transfer', max_label_size='full',
                           resume=ADA_COND, total_kimg=0.016, sched=sched, G_smoothing_kimg=1e9,
                           G_loss=dict(func_name='G_logistic_ns'), D_loss=dict(gamma=10.0), lazy_regularization=False,
                           freezed=4, freezeG=2, grid_size='2x2', minibatch_repeats=1, random_seed=5)
    run_dir = training_loop(opts)
    family = families.get('stylegan2')
    end, start = _final(family, run_dir), family.load_network(ADA_COND)
    # --freezed=4 on this orig D: all of b16 (FromRGB, Conv0, Conv1_down), then b8's Conv0.
    _check_ends_near_file_with_frozen_untouched(
        _weights(end.D), _weights(start.D), _frozen(start.D, ['16x16/FromRGB', '16x16/Conv0', '16x16/Conv1_down',
                                                              '8x8/Conv0']))
    _check_ends_near_file_with_frozen_untouched(_weights(end.G), _weights(start.G),
                                                _frozen(start.G.synthesis, ['4x4/Const', '4x4/Conv']))
    for path, value in _weights(start.Gs).items():   # G_smoothing_kimg 1e9: Gs stays the file's G_ema.
        np.testing.assert_allclose(_weights(end.Gs)[path], value, rtol=0, atol=1e-5, err_msg=path)


def test_freeze_order_is_ada_pytorchs():
    """ada-pytorch DiscriminatorBlock: fromrgb (first block, or every block with skip), conv0, conv1, skip
    (resnet), from the highest resolution down; the 4x4 epilogue is not counted. ProGAN's per-level FromRGB
    counts with its block."""
    def order(D, log2):
        return [scope for scope, _ in discriminator_layers(D.layers_by_scope, log2)]
    from pggan.networks import D_paper
    from stylegan2.loading import build_network
    tiny = dict(num_channels=3, fmap_base=32, fmap_max=8)
    resnet = build_network(dict(tiny, resolution=32, architecture='resnet'), 'D')
    assert order(resnet, 5) == ['32x32/FromRGB', '32x32/Conv0', '32x32/Conv1_down', '32x32/Skip',
                                '16x16/Conv0', '16x16/Conv1_down', '16x16/Skip', '8x8/Conv0', '8x8/Conv1_down', '8x8/Skip']
    skip = build_network(dict(tiny, resolution=16, architecture='skip'), 'D')
    assert order(skip, 4) == ['16x16/FromRGB', '16x16/Conv0', '16x16/Conv1_down', '8x8/FromRGB', '8x8/Conv0',
                              '8x8/Conv1_down']
    progan = D_paper(resolution=16, **tiny)
    assert order(progan, 4) == ['FromRGB_lod0', '16x16/Conv0', '16x16/Conv1_down', 'FromRGB_lod1', '8x8/Conv0',
                                '8x8/Conv1_down']
    with pytest.raises(OptionsError, match=r'^--freezed=7: the network has only 6 layers that can be frozen \(FromRGB_lod0, '):
        trainable_variables(progan.trainable_variables, discriminator_layers(progan.layers_by_scope, 4), 7, 'freezed')


def _parts(opts, dataset):
    return families.get(opts.model).build(opts, dataset, make_strategy(1))


def _stub_dataset(res, channels, labels):
    return types.SimpleNamespace(resolution=res, resolution_log2=int(np.log2(res)), num_channels=channels,
                                 label_size=labels, labels=np.eye(max(labels, 1), dtype=np.float32)[:, :labels])


def test_stylegan_v1_pickle_architecture_rebuilds_networks_that_take_every_weight():
    """The file's kwargs (with its build function, G_style / D_basic) build networks of exactly its variables."""
    path, labels = os.path.join(DATA, 'stylegan2_ladder', 'v1.pkl.xz'), 0
    opts, start = transfer.read_pickle(TrainingOptions(model='stylegan2', data='unused', resume=path,
                                                       sched=SG2ScheduleOptions()), {})
    res, channels = start.shape['resolution'], start.shape['num_channels']
    parts = _parts(opts, _stub_dataset(res, channels, labels))
    assert transfer.take_weights(parts, start) == []
    for name in ('G', 'D', 'Gs'):
        theirs = {v.path: v.numpy() for v in getattr(start.networks, name).weights}
        for var in parts.nets[name].weights:
            np.testing.assert_array_equal(var.numpy(), theirs[var.path], err_msg=var.path)


def test_unconditional_pickle_with_cond_starts_exactly_the_label_layers_fresh(datasets):
    from data.dataset import Dataset
    opts, start = transfer.read_pickle(TrainingOptions(model='stylegan2', data=datasets.rgb32_3, resume=ADA_UNCOND,
                                                       max_label_size='full', sched=SG2ScheduleOptions()), {})
    dataset = Dataset(opts.data, max_label_size='full')
    transfer.check_dataset(start, dataset, opts)
    parts = _parts(opts, dataset)
    notes = transfer.take_weights(parts, start)
    fresh = {'mapping/LabelEmbed/weight', 'mapping/LabelEmbed/bias', 'mapping/Dense0/weight'}  # Dense0: z and c in.
    expected = sorted([f'G/{p}' for p in fresh] + ['D/LabelEmbed/weight', 'D/LabelEmbed/bias', 'D/Output/weight',
                                                   'D/Output/bias'] + [f'Gs/{p}' for p in fresh])
    assert len(notes) == 1 and sorted(notes[0].split(': ')[1].split(', ')) == expected, notes
    for name in ('G', 'D', 'Gs'):
        theirs = {v.path: v.numpy() for v in getattr(start.networks, name).weights}
        for var in parts.nets[name].weights:
            if f'{name}/{var.path.removeprefix("D/")}' not in expected:
                np.testing.assert_array_equal(var.numpy(), theirs[var.path], err_msg=var.path)


def test_a_variable_that_does_not_fit_is_named_and_augment_p_is_taken():
    from pggan.loading import build_networks
    kwargs = {'G': dict(num_channels=1, resolution=8, fmap_base=16, fmap_max=8, latent_size=8),
              'D': dict(num_channels=1, resolution=8, fmap_base=16, fmap_max=8)}
    G, D, Gs = build_networks(kwargs)
    wider = build_networks({**kwargs, 'D': {**kwargs['D'], 'fmap_max': 16}})[1]
    p = tf.Variable(0.0)
    parts = types.SimpleNamespace(nets={'G': G, 'D': D, 'Gs': Gs}, network_kwargs=kwargs, extra_state={'augment_p': p})
    start = transfer.PickleStart('x.pkl', Networks(G, D, Gs, augment_p=0.37), dict(label_size=0))
    assert transfer.take_weights(parts, start) == ['Augmentation probability from the file: 0.37']
    assert p.numpy() == np.float32(0.37)
    with pytest.raises(OptionsError, match=r'^--resume=x.pkl: D variable 4x4.Dense0/weight does not fit the network '
                                           r'built for this run \(in the file: \[128, 16\], this run\'s \[128, 8\]\)$'):
        transfer.take_weights(parts, transfer.PickleStart('x.pkl', Networks(G, wider, Gs), dict(label_size=0)))


@pytest.mark.parametrize('target, own_p, expected', [(0.6, 0.0, 0.37), (0.6, 0.1, 0.1), (None, 0.25, 0.25)],
                         ids=['ada starts from the file', 'ada keeps --p', 'fixed keeps --p'])
def test_the_files_augment_p_starts_adaptive_runs_only_where_no_p_was_given(target, own_p, expected):
    from pggan.loading import build_networks
    from common.ops.augment import AugmentPipe
    from common.training.ada import AdaptiveAugment
    kwargs = {'G': dict(num_channels=1, resolution=8, fmap_base=16, fmap_max=8, latent_size=8),
              'D': dict(num_channels=1, resolution=8, fmap_base=16, fmap_max=8)}
    G, D, Gs = build_networks(kwargs)
    augment = AdaptiveAugment(AugmentPipe.from_preset('bgc'), target=target)
    augment.pipe.p.assign(own_p)
    parts = types.SimpleNamespace(nets={'G': G, 'D': D, 'Gs': Gs}, network_kwargs=kwargs, augment=augment,
                                  extra_state=augment.trackables())
    transfer.take_weights(parts, transfer.PickleStart('x.pkl', Networks(G, D, Gs, augment_p=0.37), dict(label_size=0)))
    assert augment.p.numpy() == np.float32(expected)


def _train_main(argv, capsys):
    from absl import flags
    from absl.testing import flagsaver
    import train
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(['train.py'] + argv)
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            train.main(['train.py'])
    return e.value.code, capsys.readouterr().err


def test_mismatches_stop_before_training_with_one_error_line(datasets, tiny_dataset_8px, tmp_path, capsys):
    from common.util.snapshot import save_snapshot
    snapshot = save_snapshot(str(tmp_path / 'network-snapshot-000004'), 'pggan', {}, {},
                             state={'train_state': {'cur_nimg': 4000}})
    cases = [
        ([f'--resume={PGGAN_C}', f'--data={tiny_dataset_8px}', '--cond=full'],
         f'its networks are 16x16, the dataset {tiny_dataset_8px} is 8x8'),
        ([f'--resume={ADA_COND}', '--model=stylegan2', f'--data={datasets.gray16_4}'],
         f'its networks have 3 channels, the dataset {datasets.gray16_4} has 1'),
        ([f'--resume={PGGAN_C}', f'--data={datasets.gray16}'],
         f'its networks are conditional (4 label components), but this run has no labels: the dataset '
         f'{datasets.gray16} has no labels file'),
        ([f'--resume={PGGAN_C}', f'--data={datasets.gray16_4}'], 'add --cond=full to use the 4 of'),
        ([f'--resume={PGGAN_C}', '--model=stylegan2', f'--data={datasets.gray16_4}'],
         'a Progressive GAN network, not StyleGAN2: train it with --model=pggan'),
        ([f'--resume={PGGAN_C}', f'--data={datasets.gray16_4}', '--cond=full', '--fmap_base=32'],
         f'--fmap_base=32 contradicts {PGGAN_C}: its G was trained with fmap_base=64'),
        ([f'--resume={snapshot}', f'--data={datasets.gray16_4}', '--resume_kimg=100'],
         '--resume_kimg=100: only with --resume=FILE.pkl'),
    ]
    for argv, message in cases:
        status, err = _train_main(argv + [f'--result_dir={tmp_path / "runs"}'], capsys)
        lines = err.strip().splitlines()
        assert status == 1 and len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0], (argv, err)
    assert not (tmp_path / 'runs').exists()
