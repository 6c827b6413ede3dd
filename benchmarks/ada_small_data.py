"""Small-data experiment: StyleGAN2 on ~1,000 images of the embedded Fashion-MNIST, --aug=noaug against
--aug=ada on the same kimg budget (CPU-sized config), with the curves of p and r_t and a plot.

    python -m benchmarks.ada_small_data --out=results/ada-small --kimg=10 --images=1000
    python -m benchmarks.ada_small_data --out=results/ada-small --plot_only   # redraw from the runs' logs

Both arms train `cpu-config-e` (32x32, narrow networks) from the same seed in parallel processes. Written to
--out: one run directory per arm, `results.json` (per tick: kimg, r_t, p; final SWD of each arm's Gs, once
against the training images and once against all 10,000 embedded images, of which 9,000 are unseen) and
`ada_small_data.png`.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
from absl import app, flags

flags.DEFINE_string('out', 'results/ada-small', 'Output directory.')
flags.DEFINE_float('kimg', 10, 'Training length of each arm.')
flags.DEFINE_integer('images', 1000, 'Training images (the first N of the embedded set).')
flags.DEFINE_float('ada_kimg', 10, 'ADA speed for the ada arm (ada-pytorch: 500; a CPU budget needs faster).')
flags.DEFINE_float('tick_kimg', 0.5, 'Tick length (one point of the curves).')
flags.DEFINE_integer('swd_images', 2048, 'Images for the final SWD.')
flags.DEFINE_bool('plot_only', False, 'Only parse the finished runs and redraw the plot.')
F = flags.FLAGS

ARMS = ('noaug', 'ada')
_TICK = re.compile(r'^tick\s+\d+\s+kimg\s+([\d.]+).*? rt (-?[\d.]+) augment ([\d.]+)')


def _small_dataset(path, count):
    if os.path.isdir(path):
        return path
    from data import sources
    from data.writer import write_dataset
    images, labels = sources.embedded_arrays()
    write_dataset(path, sources.array_source(images[:count], sources.onehot(labels[:count], 10)), shuffle=True)
    return path


def _train(arm, data, run_dir):
    args = [sys.executable, 'train.py', '--model=stylegan2', '--config=cpu-config-e', f'--data={data}',
            f'--run_dir={run_dir}', '--auto_resume', f'--total_kimg={F.kimg}', f'--tick_kimg_base={F.tick_kimg}',
            '--network_snapshot_ticks=1000', '--image_snapshot_ticks=4', '--swd_images=0', f'--aug={arm}']
    if arm == 'ada':
        args.append(f'--ada_kimg={F.ada_kimg}')
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _curves(run_dir):
    with open(os.path.join(run_dir, 'log.txt')) as f:
        rows = [m.groups() for m in map(_TICK.match, f) if m]
    return [dict(kimg=float(k), rt=float(r), p=float(p)) for k, r, p in rows]


def _swds(run_dir, datasets):
    """{key: SWD of the run's final Gs against that dataset} for {key: dataset}, the snapshot loaded once."""
    from common import families
    from common.metrics.sliced_wasserstein import swd_of_generator
    from common.training.run_dir import locate_snapshot
    family = families.get('stylegan2')
    sampler = family.sampler(family.load_network(locate_snapshot(run_dir)).Gs)
    return {key: {k: float(v) for k, v in swd_of_generator(sampler, data, F.swd_images, seed=1000,
                                                              noise='const').items()}
            for key, data in datasets.items()}


def plot(results, path):
    """Two panels drawn with Pillow (no plotting library needed): r_t of both arms, and ADA's p."""
    from PIL import Image, ImageDraw
    width, height, margin = 900, 360, 50
    img = Image.new('RGB', (width, height * 2), 'white')
    draw = ImageDraw.Draw(img)
    colors = {'noaug': (200, 60, 40), 'ada': (40, 90, 200)}
    kmax = max(r['kimg'] for arm in ARMS for r in results[arm]['curve'])
    panels = [('r_t = E[sign(D(real))]', 'rt', (-0.2, 1.0)), ('augmentation p (ada)', 'p', (0.0, 1.0))]
    for i, (title, key, (lo, hi)) in enumerate(panels):
        top = i * height
        x0, x1, y0, y1 = margin, width - margin, top + height - margin, top + margin

        def xy(k, v):
            return x0 + (x1 - x0) * k / kmax, y0 + (y1 - y0) * (v - lo) / (hi - lo)
        draw.rectangle([x0, y1, x1, y0], outline='black')
        for v in np.arange(lo, hi + 1e-9, 0.2):
            draw.text((5, xy(0, v)[1] - 6), f'{v:.1f}', fill='black')
        for k in np.arange(0, kmax + 1e-9, max(1, round(kmax / 5))):
            draw.text((xy(k, lo)[0] - 10, y0 + 5), f'{k:g}', fill='black')
        draw.text((x0, top + 15), f'{title}   (x: kimg)', fill='black')
        if key == 'rt':
            draw.line([xy(0, 0.6), xy(kmax, 0.6)], fill=(150, 150, 150))
            draw.text((x1 - 90, xy(0, 0.6)[1] - 14), 'target 0.6', fill=(120, 120, 120))
        for n, arm in enumerate(ARMS if key == 'rt' else ('ada',)):
            points = [xy(r['kimg'], r[key]) for r in results[arm]['curve']]
            if len(points) > 1:
                draw.line(points, fill=colors[arm], width=2)
            swd = results[arm].get('swd_all', {})
            label = f'{arm}: SWD x1e3 avg (vs all 10k) {swd["SWDx1e3_avg"]:.1f}' if swd else arm
            draw.text((x0 + 10 + 330 * n, y1 + 8), label, fill=colors[arm])
    tmp = path + '.tmp.png'
    img.save(tmp)
    os.replace(tmp, path)


def main(argv):
    del argv
    os.makedirs(F.out, exist_ok=True)
    data = _small_dataset(os.path.join(F.out, f'fashion-mnist-32-first{F.images}'), F.images)
    runs = {arm: os.path.join(F.out, arm) for arm in ARMS}
    if not F.plot_only:
        procs = [_train(arm, data, run_dir) for arm, run_dir in runs.items()]
        if any(p.wait() for p in procs):
            raise SystemExit(f'error: a training run failed; see {F.out}/<arm>/log.txt')
    from data import sources
    from data.writer import write_dataset
    everything = os.path.join(F.out, 'fashion-mnist-32-all')
    if not os.path.isdir(everything):
        write_dataset(everything, sources.embedded_source(), shuffle=True)
    results = {arm: dict(curve=_curves(run_dir), **_swds(run_dir, {'swd_train': data, 'swd_all': everything}))
               for arm, run_dir in runs.items()}
    results['settings'] = dict(kimg=F.kimg, images=F.images, ada_kimg=F.ada_kimg, config='cpu-config-e',
                               swd_images=F.swd_images)
    with open(os.path.join(F.out, 'results.json.tmp'), 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(os.path.join(F.out, 'results.json.tmp'), os.path.join(F.out, 'results.json'))
    plot(results, os.path.join(F.out, 'ada_small_data.png'))
    for arm in ARMS:
        last = results[arm]['curve'][-1] if results[arm]['curve'] else {}
        print(f'{arm}: final rt {last.get("rt")}, p {last.get("p")}, SWD train {results[arm]["swd_train"]}, '
              f'SWD all {results[arm]["swd_all"]}')


if __name__ == '__main__':
    app.run(main)
