"""Metrics computed on a trained generator at the end of training (more metrics arrive with the metrics issue)."""
import json
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

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


def report_swd(run_dir, opts):
    """Loads the run's newest snapshot and prints its SWD; also writes metric-swd.txt into the run."""
    import importlib
    import os
    from common.run_dir import locate_snapshot
    snapshot = locate_snapshot(run_dir)
    Gs = importlib.import_module(opts.model).load_network(snapshot).Gs
    if opts.model == 'stylegan2':
        generate, latent_size, label_size = (lambda z, c: Gs(z, c, noise_mode='const')), Gs.z_dim, Gs.c_dim
    else:
        generate, latent_size, label_size = (lambda z, c: Gs(z, c)), Gs.latent_size, Gs.label_size
    result = swd_of_generator(generate, latent_size, label_size, opts.data, opts.swd_images, seed=opts.random_seed)
    line = ' '.join(f'{k} {v:.4f}' for k, v in result.items())
    print(f'SWD of {snapshot} ({opts.swd_images} images): {line}')
    with open(os.path.join(run_dir, 'metric-swd.txt'), 'a') as f:
        f.write(f'{os.path.basename(snapshot)} {line}\n')
    return result


def snapshot_metrics(opts, parts, run_dir, snapshot, cur_nimg, writer):
    """--metrics at every network snapshot, appended to metric-<name>.jsonl and TensorBoard. Returns the
    headline value of each metric where lower is better ({name: value}), for keeping the best snapshots."""
    headlines = {}
    if 'swd' in opts.metrics:
        result = swd_of_generator(parts.generate, parts.latent_size, parts.nets['G'].label_size if opts.model == 'pggan'
                                  else parts.nets['G'].c_dim, opts.data, opts.swd_images or 8192, seed=opts.random_seed)
        line = {'snapshot': os.path.basename(snapshot), 'kimg': cur_nimg / 1000, 'results': result}
        with open(os.path.join(run_dir, 'metric-swd.jsonl'), 'a') as f:
            f.write(json.dumps(line) + '\n')
        with writer.as_default(step=cur_nimg):
            for k, v in result.items():
                tf.summary.scalar(f'Metrics/{k}', v)
        tqdm.write(' '.join(f'{k} {v:.4f}' for k, v in result.items()))
        headlines['swd'] = result['SWDx1e3_avg']
    return headlines
