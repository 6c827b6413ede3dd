"""Training speed: ProGAN images/s per resolution, StyleGAN2 images/s and ms per phase.

    python -m benchmarks.train_speed                       # ProGAN: the default run's networks (cpu-fashion32)
    python -m benchmarks.train_speed --config=res128       # ProGAN: a 128x128 RGB configuration
    python -m benchmarks.train_speed --model=stylegan2 --config=config-e --resolution=32 --minibatch=32
    python -m benchmarks.train_speed --model=stylegan2 --config=config-e --resolution=32 --minibatch=32 --aug=fixed --p=0.5
    python -m benchmarks.train_speed --model=stylegan2 --config=config-e --resolution=32 --minibatch=32 --fp16 --xla
    python -m benchmarks.train_speed --model=stylegan2 --config=config-a --resolution=32 --minibatch=32 --fmap_base=2048

StyleGAN2 configs a-d (progressive) are timed at full resolution (lod 0, level 0), where the growing networks
run every layer. --fmap_base / --fmap_max shrink the preset's networks for a CPU.

StyleGAN2 is timed like ../shared/bench/peer_ada.py times the official code: each phase (Gmain, Greg, Dmain
with the Gs update, Dreg) runs `--steps` times after one untimed run, and one iteration costs
Gmain + Dmain + Greg / G_reg_interval + Dreg / D_reg_interval.

Each resolution is measured mid fade-in (lod = level + 0.5, the most expensive point), after one untimed
iteration that traces and compiles; the figure excludes tracing. Data comes from a synthetic dataset of
the right shape written to a temporary directory.
"""
import os
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import flags as train_flags  # noqa: E402
from common.util.flops import graph_flops, matmul_peak_gflops  # noqa: E402  (train.py's flags: --model, --config, --xla, --minibatch_gpu are reused)

# --config: pggan default|res128; stylegan2 a preset of stylegan2/options.py SG2_PRESETS (default config-e).
# --xla: unset, each phase as train.py would run it here (common/training/fast_path.py). --minibatch_gpu: default the whole minibatch (as peer_ada).
flags.DEFINE_integer('resolution', 32, 'StyleGAN2: image resolution.')
flags.DEFINE_integer('steps', 3, 'Timed iterations per resolution.')
flags.DEFINE_integer('minibatch', None, 'Global minibatch (default: 16, as the presets).')
flags.DEFINE_string('official_json', None, 'StyleGAN2: result of ../shared/bench/peer_ada.py --json for the same '
                    'config, to print the ratio of our images/s to the official code\'s.')
FLAGS = flags.FLAGS

CONFIGS = {
    # The default run (pggan/options.py PRESETS['cpu-fashion32']): 32x32 grayscale.
    'default': dict(resolution=32, channels=1, minibatch=16, G=dict(fmap_base=256, fmap_max=64, latent_size=64),
                    D=dict(fmap_base=256, fmap_max=64)),
    # A 128x128 RGB configuration with the official layer structure and narrower feature maps.
    'res128': dict(resolution=128, channels=3, minibatch=16, G=dict(fmap_base=2048, fmap_max=128, latent_size=128),
                   D=dict(fmap_base=2048, fmap_max=128)),
}


def main(_):
    if FLAGS.model == 'stylegan2':
        return stylegan2_speed()
    import tensorflow as tf
    from common.training.options import TrainingOptions
    from common.training.distribute import make_strategy
    from common.training.phases import CompiledPhases
    from pggan import training

    cfg = CONFIGS[FLAGS.config or 'default']
    minibatch = FLAGS.minibatch or cfg['minibatch']
    with tempfile.TemporaryDirectory() as tmp:
        res, ch = cfg['resolution'], cfg['channels']
        dataset = _synthetic_dataset(tmp, res, ch, max(64, minibatch * 2))
        opts = TrainingOptions(data=dataset.tfrecord_dir, G_kwargs=cfg['G'], D_kwargs=cfg['D'],
                               xla=FLAGS.xla)
        strategy = make_strategy(1)
        parts = training.build(opts, dataset, strategy)
        choose_xla(parts, strategy)
        compiled = CompiledPhases(strategy, parts.phases, opts.random_seed)
        top = dataset.resolution_log2
        print(f'config={FLAGS.config or "default"} resolution={res} channels={ch} minibatch={minibatch} '
              f'G params={sum(int(np.prod(v.shape)) for v in parts.nets["G"].trainable_variables)} '
              f'D params={sum(int(np.prod(v.shape)) for v in parts.nets["D"].trainable_variables)} '
              f'threads intra={tf.config.threading.get_intra_op_parallelism_threads()}')
        print(f'{"resolution":>10} {"lod":>5} {"D ms":>8} {"G ms":>8} {"img/s":>8} {"trace s":>8}')
        for level in range(top - 2, -1, -1):
            r = 2 ** (top - level)
            lod = level + 0.5 if level < top - 2 else float(level)
            for net in parts.nets.values():
                net.lod.assign(lod)
            feed = iter(dataset.distribute(strategy, r, minibatch))
            step = tf.constant(0, tf.int64)
            t0 = time.time()
            compiled.fns['D'](step, minibatch, r, 1, *next(feed))
            float(compiled.fns['G'](step, minibatch, r, 1)['Loss/G'])
            trace = time.time() - t0
            d_time = g_time = 0.0
            for i in range(FLAGS.steps):
                t0 = time.time()
                float(compiled.fns['D'](tf.constant(i, tf.int64), minibatch, r, 1, *next(feed))['Loss/D'])
                t1 = time.time()
                float(compiled.fns['G'](tf.constant(i, tf.int64), minibatch, r, 1)['Loss/G'])
                d_time += t1 - t0
                g_time += time.time() - t1
            n = FLAGS.steps
            print(f'{r:>10d} {lod:>5.1f} {d_time / n * 1000:>8.1f} {g_time / n * 1000:>8.1f} '
                  f'{minibatch * n / (d_time + g_time):>8.1f} {trace:>8.1f}')


def choose_xla(parts, strategy):
    """Each phase's XLA setting as train.py chooses it from --xla and this device; printed as train.py logs it."""
    from common.training import fast_path
    choice = fast_path.choose(parts.phases, FLAGS.xla, fast_path.device_kind(strategy), strategy.num_replicas_in_sync)
    for phase in parts.phases:
        phase.xla = choice[phase.name][0]
    print(fast_path.describe(choice))


def pggan_setup(tmp):
    """The ProGAN parts of --config (default: the default run's networks) training at --resolution with lod at
    that level (no fade), XLA off: (parts, strategy, dataset, minibatch, resolution)."""
    from common.training.options import TrainingOptions
    from common.training.distribute import make_strategy
    from pggan import training

    cfg = CONFIGS[FLAGS.config or 'default']
    dataset = _synthetic_dataset(tmp, cfg['resolution'], cfg['channels'], max(64, 2 * (FLAGS.minibatch or 16)))
    opts = TrainingOptions(data=dataset.tfrecord_dir, G_kwargs=cfg['G'], D_kwargs=cfg['D'], xla=False)
    strategy = make_strategy(1)
    parts = training.build(opts, dataset, strategy)
    res = min(FLAGS.resolution, cfg['resolution'])
    for net in parts.nets.values():
        net.lod.assign(float(dataset.resolution_log2 - int(np.log2(res))))
    return parts, strategy, dataset, FLAGS.minibatch or cfg['minibatch'], res


def _synthetic_dataset(tmp, resolution, channels, count):
    from data import sources
    from data.dataset import Dataset
    from data.writer import write_dataset
    images = np.random.RandomState(0).randint(0, 256, [count, channels, resolution, resolution]).astype(np.uint8)
    write_dataset(os.path.join(tmp, 'synthetic'), sources.array_source(images), shuffle=False)
    return Dataset(os.path.join(tmp, 'synthetic'), seed=0)


def stylegan2_setup(tmp, xla):
    """The StyleGAN2 parts of --config at --resolution, lod 0, on a synthetic dataset in `tmp`: (opts, parts,
    strategy, dataset, feed, minibatch, rounds, precision)."""
    from common.training.options import TrainingOptions
    from common.training.schedule import SG2ScheduleOptions
    from common.training.distribute import make_strategy
    from stylegan2 import training

    from stylegan2.options import SG2_PRESETS
    preset = SG2_PRESETS[FLAGS.config or 'config-e']
    minibatch = FLAGS.minibatch or 32
    minibatch_gpu = FLAGS.minibatch_gpu or minibatch
    sizes = {k: FLAGS[k].value for k in ('fmap_base', 'fmap_max') if FLAGS[k].value is not None}
    sizes.update(train_flags.precision_overrides())  # --fp16, --num_fp16_res, --conv_clamp, --fp16_dtype.
    top = {k: v for k, v in preset.items() if k in ('D_loss', 'G_loss', 'lazy_regularization')}
    given = train_flags.given()  # --aug=fixed --p=0.5 --augpipe=...: the pipe's cost.
    top.update({field: given[flag] for flag, field in (('aug', 'aug'), ('p', 'augment_p'), ('augpipe', 'augpipe'))
                if flag in given})
    sched = {**preset.get('sched', {}), 'minibatch_size_base': minibatch, 'minibatch_size_dict': {},
             'minibatch_gpu_base': minibatch_gpu, 'minibatch_gpu_dict': {}}
    dataset = _synthetic_dataset(tmp, FLAGS.resolution, 3, minibatch * 2)
    opts = TrainingOptions(model='stylegan2', data=dataset.tfrecord_dir, G_kwargs={**preset['G'], **sizes},
                           D_kwargs={**preset['D'], **sizes}, xla=xla, sched=SG2ScheduleOptions(**sched), **top)
    strategy = make_strategy(1)
    parts = training.build(opts, dataset, strategy)
    parts.configure(parts.schedule(10 ** 12))  # Late enough for lod 0 (full resolution) in the growing configs.
    feed = iter(dataset.distribute(strategy, dataset.resolution, minibatch))
    precision = sizes.get('fp16_dtype', 'float16') if sizes.get('num_fp16_res') else 'float32'
    return opts, parts, strategy, dataset, feed, minibatch, minibatch // minibatch_gpu, precision


def stylegan2_speed():
    import tensorflow as tf
    from common.training.phases import CompiledPhases

    config = FLAGS.config or 'config-e'
    with tempfile.TemporaryDirectory() as tmp:
        opts, parts, strategy, dataset, feed, minibatch, rounds, precision = stylegan2_setup(tmp, FLAGS.xla)
        choose_xla(parts, strategy)
        minibatch_gpu = minibatch // rounds
        compiled = CompiledPhases(strategy, parts.phases, 0)
        sched = parts.schedule(10 ** 12)
        augment = opts.aug if opts.aug == 'noaug' else f'{opts.aug} p={opts.augment_p or 0:g} {opts.augpipe or "bgc"}'
        count = lambda net: sum(int(np.prod(v.shape)) for v in net.trainable_variables)  # noqa: E731
        print(f'model=stylegan2 config={config} resolution={dataset.resolution} lod={sched.lod} minibatch={minibatch} '
              f'aug={augment} precision={precision} '
              f'minibatch_gpu={minibatch_gpu} G params={count(parts.nets["G"])} D params={count(parts.nets["D"])} '
              f'threads intra={tf.config.threading.get_intra_op_parallelism_threads()}')
        ms, intervals, flops = {}, {}, {}
        for phase in parts.phases:
            batch = next(feed)
            times = []
            for i in range(FLAGS.steps + 1):
                args = (tf.constant(i, tf.int64), minibatch, dataset.resolution, rounds)
                args += tuple(batch) if phase.uses_reals else ()
                t0 = time.time()
                stats = compiled.fns[phase.name](*args)
                float(next(iter(stats.values())))
                times.append(time.time() - t0)
            ms[phase.name], intervals[phase.name] = 1000 * np.mean(times[1:]), phase.interval
            flops[phase.name] = graph_flops(compiled.fns[phase.name].get_concrete_function(*args)) / minibatch
            print(f'{phase.name:>6}: {ms[phase.name]:9.1f} ms  {flops[phase.name] / 1e9:7.3f} GFLOP/img  '
                  f'(first run, with tracing: {1000 * times[0]:.0f} ms)')
        iteration = sum(ms[k] / intervals[k] for k in ms) / 1000
        flops_per_img = sum(flops[k] / intervals[k] for k in flops)
        achieved = minibatch / iteration * flops_per_img / 1e9
        peak = matmul_peak_gflops()
        print(f'amortized s/iteration {iteration:.3f}  img/s {minibatch / iteration:.2f}  s/kimg {1000 * iteration / minibatch:.1f}')
        print(f'FLOPs/img {flops_per_img / 1e9:.3f} G (matmul + conv, amortized)  achieved {achieved:.1f} GFLOP/s  '
              f'fp32 matmul peak {peak:.1f} GFLOP/s  MFU {100 * achieved / peak:.1f}%  {_peak_memory()}')
        if FLAGS.official_json:
            import json
            official = json.load(open(FLAGS.official_json))
            print(f'official (peer_ada.py, {official["cfg"] if "cfg" in official else official.get("config")}, '
                  f'{official["res"]} px, batch {official["batch"]}): {official["img_per_s"]:.2f} img/s, '
                  f'{official["flops_per_img"] / 1e9:.3f} GFLOP/img  ->  ours / official = '
                  f'{minibatch / iteration / official["img_per_s"]:.2f}x')


def _peak_memory():
    import resource
    import tensorflow as tf
    host = f'peak host memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GiB'
    if tf.config.list_physical_devices('GPU'):
        return host + f', peak GPU memory {tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 30:.2f} GiB'
    return host


if __name__ == '__main__':
    app.run(main)
