"""Training speed of ProGAN per resolution: images/s of one full iteration (D step with Gs update + G step).

    python -m benchmarks.train_speed                       # the default run's networks (cpu-fashion32 preset)
    python -m benchmarks.train_speed --config=res128       # a 128x128 RGB configuration
    python -m benchmarks.train_speed --xla=false --steps=5

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

flags.DEFINE_enum('config', 'default', ['default', 'res128'], 'Which networks to time.')
flags.DEFINE_bool('xla', True, 'Compile the loss/gradient computation with XLA.')
flags.DEFINE_integer('steps', 3, 'Timed iterations per resolution.')
flags.DEFINE_integer('minibatch', None, 'Global minibatch (default: 16, as the presets).')
FLAGS = flags.FLAGS

CONFIGS = {
    # The default run (flags.PRESETS['cpu-fashion32']): 32x32 grayscale.
    'default': dict(resolution=32, channels=1, minibatch=16, G=dict(fmap_base=256, fmap_max=64, latent_size=64),
                    D=dict(fmap_base=256, fmap_max=64)),
    # A 128x128 RGB configuration with the official layer structure and narrower feature maps.
    'res128': dict(resolution=128, channels=3, minibatch=16, G=dict(fmap_base=2048, fmap_max=128, latent_size=128),
                   D=dict(fmap_base=2048, fmap_max=128)),
}


def main(_):
    import tensorflow as tf
    from common.options import TrainingOptions
    from common.training_loop import _CompiledPhases, make_strategy
    from data import sources
    from data.dataset import Dataset
    from data.dataset_tool import write_dataset
    from pggan import training

    cfg = CONFIGS[FLAGS.config]
    minibatch = FLAGS.minibatch or cfg['minibatch']
    with tempfile.TemporaryDirectory() as tmp:
        res, ch = cfg['resolution'], cfg['channels']
        images = np.random.RandomState(0).randint(0, 256, [max(64, minibatch * 2), ch, res, res]).astype(np.uint8)
        write_dataset(os.path.join(tmp, 'synthetic'), sources.array_source(images), shuffle=False)
        dataset = Dataset(os.path.join(tmp, 'synthetic'), seed=0)
        opts = TrainingOptions(data=dataset.tfrecord_dir, G_kwargs=cfg['G'], D_kwargs=cfg['D'], xla=FLAGS.xla)
        strategy = make_strategy(1)
        parts = training.build(opts, dataset, strategy)
        compiled = _CompiledPhases(strategy, parts.phases, opts.random_seed)
        top = dataset.resolution_log2
        print(f'config={FLAGS.config} resolution={res} channels={ch} minibatch={minibatch} xla={FLAGS.xla} '
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


if __name__ == '__main__':
    app.run(main)
