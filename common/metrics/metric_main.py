"""The metrics by name (ada-pytorch metrics/metric_main.py), their evaluation and their `metric-<name>.jsonl`.

Names and settings are the official ones:
  fid50k_full   FID, all reals vs 50k fakes                      kid50k_full  KID, <=1M reals, 50k fakes,
  pr50k3_full   precision/recall, <=200k reals, 50k fakes, k=3                100 subsets of 1000
  is50k         IS, 50k fakes, 10 splits                         fid50k / kid50k / pr50k3: <=50k reals
  ppl_zfull, ppl_wfull, ppl_zend, ppl_wend   PPL, 50k samples, epsilon 1e-4, face crop
  ppl2_wend     PPL in W at the end points without crop (StyleGAN2's reported number)
  swd           ProGAN's SWD on 16384 images (its `swd-16k`)   msssim  ProGAN's MS-SSIM on 20000 fakes
The TF1 StyleGAN2 names (fid50k, is50k, ppl_*, ppl2_wend, pr50k3) are the same metrics. Any count may be
written in the name for cheaper runs: `fid2k_full`, `kid1k`, `pr5k3_full`, `is10k`, `swd4k`, `msssim2k`
(reals capped likewise where the name has no `_full`); `num_images` in MetricOptions (--num_images) replaces
the count of any name. `_full` reals are all dataset images (KID: at most 1M, PR: 200k), unmirrored; the
non-full names take the first N reals, also unmirrored (ada-pytorch mirrors them when training did: not here).
"""
import json
import os
import re
import time

import numpy as np

from common.util.files import append_atomic
from common.metrics import (frechet_inception_distance, inception_score, kernel_inception_distance, ms_ssim,
                            perceptual_path_length, precision_recall, sliced_wasserstein)
from common.metrics.inception import FeatureNetError

_COUNTED = re.compile(r'^(fid|kid|is|swd|msssim)(\d+)k(_full)?$|^(pr)(\d+)k(\d+)(_full)?$')
_PPL = re.compile(r'^ppl(2?)_([zw])(full|end)$')
UNSUPPORTED = {'ls': 'linear separability needs the CelebA-HQ attribute classifiers, which this port does not read'}
OFFICIAL_NAMES = ('fid50k_full', 'kid50k_full', 'pr50k3_full', 'ppl2_wend', 'ppl_zfull', 'ppl_wfull', 'ppl_zend',
                  'ppl_wend', 'is50k', 'fid50k', 'kid50k', 'pr50k3', 'swd', 'msssim')
DETECTORS = {'fid': 'inception', 'kid': 'inception', 'is': 'inception', 'pr': 'vgg16_features', 'ppl': 'vgg16'}


def parse_metric(name):
    """'fid50k_full' -> ('fid', settings); FeatureNetError for an unknown name, listing the known ones."""
    if name in ('swd', 'msssim'):
        return name, dict(num=16384 if name == 'swd' else 20000)
    m = _COUNTED.match(name)
    if m and m.group(1):
        kind, num, full = m.group(1), int(m.group(2)) * 1000, bool(m.group(3))
        if kind in ('swd', 'msssim', 'is') and full:
            m = None
        else:
            return kind, dict(num=num, full=full)
    elif m:
        return 'pr', dict(num=int(m.group(5)) * 1000, nhood_size=int(m.group(6)), full=bool(m.group(7)))
    m = _PPL.match(name)
    if m and not (m.group(1) and (m.group(2), m.group(3)) != ('w', 'end')):
        return 'ppl', dict(num=50000, space=m.group(2), sampling=m.group(3), crop=not m.group(1))
    if name in UNSUPPORTED:
        raise FeatureNetError(f'--metrics={name}: {UNSUPPORTED[name]}')
    raise FeatureNetError(f'--metrics={name}: unknown metric; official names: {", ".join(OFFICIAL_NAMES)} '
                          f'(counts may vary: fid2k_full, kid1k, pr5k3_full, is10k, swd4k, msssim2k)')


def is_valid_metric(name):
    try:
        parse_metric(name)
        return True
    except FeatureNetError:
        return False


def _evaluate(name, kind, s, opts):
    """The numbers of one metric as {result name: value}."""
    num = opts.count(s['num'])
    if kind == 'fid':
        max_real = None if s['full'] else num
        return {name: frechet_inception_distance.compute_fid(opts, max_real=max_real, num_gen=num)}
    if kind == 'kid':
        max_real = 1000000 if s['full'] else num
        return {name: kernel_inception_distance.compute_kid(opts, max_real=max_real, num_gen=num, num_subsets=100,
                                                            max_subset_size=1000)}
    if kind == 'pr':
        max_real = 200000 if s['full'] else num
        p, r = precision_recall.compute_pr(opts, max_real=max_real, num_gen=num, nhood_size=s['nhood_size'])
        return {f'{name}_precision': p, f'{name}_recall': r}
    if kind == 'is':
        mean, std = inception_score.compute_is(opts, num_gen=num, num_splits=10)
        return {f'{name}_mean': mean, f'{name}_std': std}
    if kind == 'ppl':
        return {name: perceptual_path_length.compute_ppl(opts, num, 1e-4, s['space'], s['sampling'], s['crop'])}
    if kind == 'msssim':
        return {name: ms_ssim.compute_msssim(opts, num)}
    result = sliced_wasserstein.swd_of_generator(opts.sampler, opts.data, num, seed=opts.seed)
    return {k: float(v) for k, v in result.items()}


def calc_metric(name, opts):
    """Evaluates metric `name` -> dict(metric, results, total_time, num_images, feature_net)."""
    kind, settings = parse_metric(name)
    opts.dataset()  # Refuses reals that are not the generator's shape before anything is computed.
    start = time.time()
    results = _evaluate(name, kind, settings, opts)
    feature_net = opts.nets.label if kind in DETECTORS else 'none'
    return dict(metric=name, results=results, total_time=time.time() - start, num_images=opts.count(settings['num']),
                feature_net=feature_net)


def format_result(result):
    values = ' '.join(f'{k} {v:.4f}' if isinstance(v, float) and np.isfinite(v) else f'{k} {v}'
                      for k, v in result['results'].items())
    label = '' if result['feature_net'] in ('none', 'official') else f'  [{result["feature_net"]}]'
    return f'{values}  ({result["total_time"]:.1f} s){label}'


def append_jsonl(path, record):
    append_atomic(path, json.dumps(record) + '\n')


def report_metric(result, run_dir, snapshot=None, kimg=None):
    """Appends `result` (with the snapshot, kimg and a timestamp) to <run_dir>/metric-<name>.jsonl."""
    record = dict(result, snapshot=snapshot, timestamp=time.time())
    if kimg is not None:
        record['kimg'] = kimg
    path = os.path.join(run_dir, f'metric-{result["metric"]}.jsonl')
    append_jsonl(path, record)
    return path
