"""`python -m common.metrics` and the training hook end to end on a tiny ProGAN snapshot, with randomly
initialised feature networks (labelled so in every output), dataset statistics cached per dataset and network,
and metric-<name>.jsonl appended crash-safely."""
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from common.metrics import __main__ as cli_main
from common.metrics import metric_main, metric_utils
from common.metrics.detectors import FeatureNetworks, RANDOM_LABEL
from common.training.options import TrainingOptions
from common.util.snapshot import save_snapshot
from data import sources
from data.writer import write_dataset
from pggan import family as pggan_family
from pggan.loading import build_networks


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    """A run directory holding one tiny ProGAN snapshot (16x16 grayscale) and the 20-image dataset it names."""
    root = tmp_path_factory.mktemp('metrics')
    images = (np.random.RandomState(0).rand(20, 1, 4, 4) * 255).repeat(4, axis=2).repeat(4, axis=3).astype(np.uint8)
    data = str(root / 'tiny8')
    write_dataset(data, sources.array_source(images), shuffle=False)
    kwargs = {'G': dict(num_channels=1, resolution=16, label_size=0, fmap_base=16, fmap_max=8, latent_size=8),
              'D': dict(num_channels=1, resolution=16, label_size=0, fmap_base=16, fmap_max=8)}
    G, D, Gs = build_networks(kwargs)
    Gs(tf.zeros([1, 8]))
    D(tf.zeros([1, 16, 16, 1]))
    run = root / '00000-tiny'
    run.mkdir()
    save_snapshot(str(run / 'network-snapshot-000000'), 'pggan', kwargs, {'G': G, 'D': D, 'Gs': Gs},
                  state={'options': {'data': data}})
    return str(run), data, Gs


def test_cli_computes_fid_and_swd_on_a_snapshot_labels_random_nets_and_appends_jsonl(run_dir, tmp_path, capsys):
    run, data, _ = run_dir
    argv = ['metrics', f'--network={run}/network-snapshot-000000', '--metrics=fid50k,swd', '--feature_net=random',
            '--num_images=6', f'--cache_dir={tmp_path}', '--noprogress']
    assert cli_main.run(argv) == 0
    out = capsys.readouterr().out
    assert RANDOM_LABEL in out and 'fid50k: fid50k ' in out and 'SWDx1e3_avg' in out
    fid = [json.loads(line) for line in open(os.path.join(run, 'metric-fid50k.jsonl'))]
    assert len(fid) == 1 and fid[0]['feature_net'] == RANDOM_LABEL and fid[0]['num_images'] == 6
    assert np.isfinite(fid[0]['results']['fid50k']) and fid[0]['results']['fid50k'] > 0
    assert fid[0]['snapshot'] == 'network-snapshot-000000'
    swd = json.loads(open(os.path.join(run, 'metric-swd.jsonl')).readline())
    assert swd['feature_net'] == 'none' and 'SWDx1e3_16' in swd['results']
    assert len(os.listdir(tmp_path)) == 1                              # The reals' statistics, cached.
    assert cli_main.run(argv[:2] + ['--metrics=swd', '--num_images=16', '--noprogress']) == 0
    assert len(open(os.path.join(run, 'metric-swd.jsonl')).read().splitlines()) == 2


def test_cli_bad_input_is_one_error_line(run_dir, tmp_path, capsys, monkeypatch):
    run, _, _ = run_dir
    monkeypatch.delenv('STYLEGAN2_INCEPTION', raising=False)
    for argv, needle in (([f'--network={run}/network-snapshot-000000', '--metrics=fid50k_half'], '--metrics=fid50k_half'),
                         ([f'--network={tmp_path}/none'], 'no such network file'),
                         ([f'--network={run}/network-snapshot-000000', '--metrics=ppl_wend', '--feature_net=random'],
                          'PPL in W needs a mapping network'),
                         ([f'--network={run}/network-snapshot-000000', f'--cache_dir={tmp_path}'],
                          'inception_v3_features.pkl')):
        assert cli_main.run(['metrics', '--noprogress'] + argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_cli_refuses_a_dataset_of_another_resolution_or_channel_count(run_dir, tmp_path, capsys):
    run, _, _ = run_dir
    for shape, held in (((2, 1, 32, 32), '32x32x1'), ((2, 3, 16, 16), '16x16x3')):
        data = str(tmp_path / f'data{shape[1]}x{shape[2]}')
        write_dataset(data, sources.array_source(np.zeros(shape, np.uint8)), shuffle=False)
        capsys.readouterr()
        argv = ['metrics', f'--network={run}/network-snapshot-000000', f'--data={data}', '--metrics=swd',
                '--num_images=2', '--noprogress']
        assert cli_main.run(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err == (f'error: --data={data} holds {held} images, the network generates 16x16x1: give the dataset '
                       f'the network was trained on'), err


def test_final_swd_of_a_run_is_appended_to_metric_swd_jsonl(run_dir, tmp_path):
    import shutil
    from common.training.evaluation import report_swd
    run, data, _ = run_dir
    copy = str(tmp_path / 'run')
    shutil.copytree(run, copy)
    result = report_swd(copy, TrainingOptions(model='pggan', data=data, swd_images=8, random_seed=1))
    records = [json.loads(line) for line in open(os.path.join(copy, 'metric-swd.jsonl'))][-1:]
    assert records[0]['metric'] == 'swd' and records[0]['snapshot'] == 'network-snapshot-000000'
    assert records[0]['num_images'] == 8 and records[0]['results'] == pytest.approx({k: float(v) for k, v in result.items()})


def _opts(run_dir, tmp_path, nets=None):
    _, data, Gs = run_dir
    return metric_utils.MetricOptions(sampler=pggan_family.sampler(Gs), data=data, nets=nets or FeatureNetworks('random'),
                                      cache_dir=str(tmp_path), progress=False)


def test_dataset_statistics_are_cached_per_options_and_not_recomputed(run_dir, tmp_path):
    class CountingDetector:
        calls = 0

        def features(self, images):
            CountingDetector.calls += 1
            return tf.reshape(tf.cast(images, tf.float32), [len(images), -1])[:, :5]
    nets = FeatureNetworks('random')
    nets._nets['inception'] = CountingDetector()
    opts = _opts(run_dir, tmp_path, nets)
    first = metric_utils.dataset_stats(opts, 'inception', max_items=15, capture_all=True).get_all()
    calls = CountingDetector.calls
    again = metric_utils.dataset_stats(opts, 'inception', max_items=15, capture_all=True).get_all()
    assert CountingDetector.calls == calls and first.shape == (15, 5)
    np.testing.assert_array_equal(first, again)
    metric_utils.dataset_stats(opts, 'inception', max_items=10, capture_all=True)     # Other options: new entry.
    assert CountingDetector.calls > calls and len(os.listdir(tmp_path)) == 2
    # The reals are the dataset's first images, in order, as uint8.
    reals = np.concatenate(list(metric_utils.iterate_reals(opts, 15, batch_size=7)))
    np.testing.assert_array_equal(first, metric_utils.to_rgb(reals).reshape(15, -1)[:, :5].astype(np.float32))


def test_ppl_and_msssim_run_end_to_end_on_the_generator(run_dir, tmp_path):
    opts = _opts(run_dir, tmp_path)
    opts.num_images = 8
    ppl = metric_main.calc_metric('ppl_zend', opts)
    assert ppl['feature_net'] == RANDOM_LABEL and np.isfinite(ppl['results']['ppl_zend'])
    msssim = metric_main.calc_metric('msssim', opts)
    assert 0 <= msssim['results']['msssim'] <= 1 and msssim['feature_net'] == 'none'


def test_snapshot_metrics_hook_writes_jsonl_and_tensorboard_scalars(run_dir, tmp_path):
    from common.training.evaluation import snapshot_metrics
    run, data, Gs = run_dir
    opts = TrainingOptions(data=data, metrics=['swd1k'], metric_kwargs=dict(num_images=16, cache_dir=str(tmp_path)))
    parts = types.SimpleNamespace(nets={'Gs': Gs})
    out = tmp_path / 'run'
    out.mkdir()
    writer = tf.summary.create_file_writer(str(out))
    snapshot_metrics(opts, parts, str(out), str(out / 'network-snapshot-000004'), 4000, writer)
    writer.flush()
    record = json.loads(open(out / 'metric-swd1k.jsonl').read())
    assert record['kimg'] == 4.0 and record['snapshot'] == 'network-snapshot-000004'
    events = [f for f in os.listdir(out) if f.startswith('events.out')]
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(out / events[0])) for v in e.summary.value}
    assert 'Metrics/SWDx1e3_avg' in tags


def test_jsonl_append_keeps_earlier_lines_and_leaves_no_temporary_files(tmp_path):
    path = str(tmp_path / 'metric-x.jsonl')
    for i in range(3):
        metric_main.append_jsonl(path, {'i': i})
    assert [json.loads(line)['i'] for line in open(path)] == [0, 1, 2]
    assert os.listdir(tmp_path) == ['metric-x.jsonl']
