"""Metrics of a generator during and after training: `snapshot_metrics` (called by the training loop at every
network snapshot) and the end-of-run SWD report. The metrics themselves are in common/metrics/."""
import os
import time

import tensorflow as tf
from tqdm import tqdm

from common import families
from common.metrics import metric_main
from common.metrics.detectors import FeatureNetworks
from common.metrics.metric_main import report_metric
from common.metrics.metric_utils import MetricOptions
from common.metrics.sliced_wasserstein import swd_of_generator
from common.training.run_dir import locate_snapshot


def report_swd(run_dir, opts):
    """Loads the run's newest snapshot, prints its SWD and appends it to the run's metric-swd.jsonl (the record
    format of the --metrics results, metric name `swd`)."""
    snapshot = locate_snapshot(run_dir)
    family = families.get(opts.model)
    sampler = family.sampler(family.load_network(snapshot).Gs)
    start = time.time()
    result = swd_of_generator(sampler, opts.data, opts.swd_images, seed=opts.random_seed, noise='const')
    line = ' '.join(f'{k} {v:.4f}' for k, v in result.items())
    print(f'SWD of {snapshot} ({opts.swd_images} images): {line}')
    record = dict(metric='swd', results={k: float(v) for k, v in result.items()}, total_time=time.time() - start,
                  num_images=opts.swd_images, feature_net='none')
    report_metric(record, run_dir, snapshot=os.path.basename(snapshot))
    return result


def metric_options(opts, sampler, nets=None):
    """MetricOptions for a training run's options (`opts.metric_kwargs`: feature_net, the network paths,
    num_images, cache_dir)."""
    kw = dict(opts.metric_kwargs)
    if nets is None:
        nets = FeatureNetworks(kw.get('feature_net', 'official'), {k: kw.get(k) for k in
                                                                   ('inception', 'vgg16', 'vgg16_features')})
    return MetricOptions(sampler=sampler, data=opts.data, nets=nets, num_images=kw.get('num_images'),
                         cache_dir=kw.get('cache_dir'), seed=opts.random_seed)


_FEATURE_NETS = {}   # One FeatureNetworks per run, so the networks are built once, not at every snapshot.


def snapshot_metrics(opts, parts, run_dir, snapshot, cur_nimg, writer):
    """--metrics at every network snapshot: one line per metric appended to metric-<name>.jsonl, and
    `Metrics/<result>` TensorBoard scalars at step cur_nimg. Returns the headline value of each metric where
    lower is better (FID, KID, PPL, SWD) as {name: value}, for keeping the best snapshots."""
    headlines = {}
    if not opts.metrics:
        return headlines
    mopts = metric_options(opts, families.get(opts.model).sampler(parts.nets['Gs']), _FEATURE_NETS.get(run_dir))
    _FEATURE_NETS[run_dir] = mopts.nets
    for name in opts.metrics:
        result = metric_main.calc_metric(name, mopts)
        metric_main.report_metric(result, run_dir, snapshot=os.path.basename(snapshot), kimg=cur_nimg / 1000)
        with writer.as_default(step=cur_nimg):
            for k, v in result['results'].items():
                tf.summary.scalar(f'Metrics/{k}', v)
        tqdm.write(f'{name}: {metric_main.format_result(result)}')
        kind = metric_main.parse_metric(name)[0]
        if kind in ('fid', 'kid', 'ppl', 'swd'):
            headlines[name] = result['results']['SWDx1e3_avg' if kind == 'swd' else name]
    return headlines
