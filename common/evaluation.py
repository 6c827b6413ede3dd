"""Metrics of a generator during and after training: `snapshot_metrics` (called by the training loop at every
network snapshot) and the end-of-run SWD report. The metrics themselves are in common/metrics/."""
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.files import append_atomic
from common.images import to_uint8_progan
from common.metrics.sliced_wasserstein import sliced_wasserstein_distance
from data.dataset import Dataset


def swd_of_generator(generate, latent_size, label_size, data, num_images, seed=1000, minibatch=64):
    """SWD (x1e3 per level and average) between `num_images` reals and fakes, as the official util_scripts:
    reals unshuffled from the dataset at full resolution, fakes from Gs on N(0, 1) latents with the reals'
    labels, both converted with the official uint8 rule."""
    dataset = Dataset(data, max_label_size=label_size, shuffle_mb=0, seed=seed)
    num_images = min(num_images, dataset.num_images)
    reals, fakes = [], []
    rnd = np.random.RandomState(seed)
    batches = dataset.pipeline(dataset.resolution, minibatch).take((num_images + minibatch - 1) // minibatch)
    for images, labels in tqdm(batches, total=(num_images + minibatch - 1) // minibatch, desc='SWD', unit='batch'):
        reals.append(to_uint8_progan(images.numpy()))
        latents = rnd.randn(images.shape[0], latent_size).astype(np.float32)
        fakes.append(to_uint8_progan(generate(latents, labels).numpy()))
    reals, fakes = np.concatenate(reals)[:num_images], np.concatenate(fakes)[:num_images]
    return sliced_wasserstein_distance(reals, fakes, random_state=np.random.RandomState(seed), layout='NHWC')


def metric_generate(Gs, model):
    """generate(z, c) as the official metrics sample: truncation psi 1, StyleGAN2 with random noise inputs."""
    if model == 'stylegan2':
        return lambda z, c: Gs(z, c, noise_mode='random')
    return lambda z, c: Gs(z, c)


def report_swd(run_dir, opts):
    """Loads the run's newest snapshot, prints its SWD and appends it to the run's metric-swd.jsonl (the record
    format of the --metrics results, metric name `swd`)."""
    import importlib
    import time
    from common.metrics.metric_main import report_metric
    from common.run_dir import locate_snapshot
    snapshot = locate_snapshot(run_dir)
    Gs = importlib.import_module(opts.model).load_network(snapshot).Gs
    if opts.model == 'stylegan2':
        generate, latent_size, label_size = (lambda z, c: Gs(z, c, noise_mode='const')), Gs.z_dim, Gs.c_dim
    else:
        generate, latent_size, label_size = (lambda z, c: Gs(z, c)), Gs.latent_size, Gs.label_size
    start = time.time()
    result = swd_of_generator(generate, latent_size, label_size, opts.data, opts.swd_images, seed=opts.random_seed)
    line = ' '.join(f'{k} {v:.4f}' for k, v in result.items())
    print(f'SWD of {snapshot} ({opts.swd_images} images): {line}')
    record = dict(metric='swd', results={k: float(v) for k, v in result.items()}, total_time=time.time() - start,
                  num_images=opts.swd_images, feature_net='none')
    report_metric(record, run_dir, snapshot=os.path.basename(snapshot))
    return result


def metric_options(opts, Gs, nets=None):
    """MetricOptions for a training run's options (`opts.metric_kwargs`: feature_net, the network paths,
    num_images, cache_dir)."""
    from common.metrics.detectors import FeatureNetworks
    from common.metrics.metric_utils import MetricOptions
    kw = dict(opts.metric_kwargs)
    if nets is None:
        nets = FeatureNetworks(kw.get('feature_net', 'official'), {k: kw.get(k) for k in
                                                                   ('inception', 'vgg16', 'vgg16_features')})
    return MetricOptions(Gs=Gs, model=opts.model, data=opts.data, nets=nets, num_images=kw.get('num_images'),
                         cache_dir=kw.get('cache_dir'), seed=opts.random_seed)


_FEATURE_NETS = {}   # One FeatureNetworks per run, so the networks are built once, not at every snapshot.


def snapshot_metrics(opts, parts, run_dir, snapshot, cur_nimg, writer):
    """--metrics at every network snapshot: one line per metric appended to metric-<name>.jsonl, and
    `Metrics/<result>` TensorBoard scalars at step cur_nimg. Returns the headline value of each metric where
    lower is better (FID, KID, PPL, SWD) as {name: value}, for keeping the best snapshots."""
    headlines = {}
    if not opts.metrics:
        return headlines
    from common.metrics import metric_main
    mopts = metric_options(opts, parts.nets['Gs'], _FEATURE_NETS.get(run_dir))
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
