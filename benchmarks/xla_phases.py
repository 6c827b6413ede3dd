"""XLA against TensorFlow's own kernels (or bfloat16 against float32), per training phase, alternating in one process.

    python -m benchmarks.xla_phases --model=stylegan2 --config=config-e --resolution=32 --minibatch=32
    python -m benchmarks.xla_phases --model=stylegan2 --config=config-e --resolution=32 --minibatch=32 --compare=bfloat16
    python -m benchmarks.xla_phases                                   # ProGAN: the default run's networks, 32 px
    ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2 python -m benchmarks.xla_phases ...  # as on an AVX2 CPU

Both variants of every phase are compiled on the same networks; then each phase runs `--steps` times as
A B A B ... (A without XLA, B with), so that the load of a shared machine falls on both alike. Printed per
phase: the median ms of each, their ratio, and the amortized images/s of an iteration (each phase weighted
by 1 / its interval, as benchmarks/train_speed.py and ../shared/bench/peer_ada.py count), for all phases
uncompiled, all compiled, and the faster of the two per phase. `--compare=bfloat16` (StyleGAN2) sets B to
--num_fp16_res (default 4) resolutions in bfloat16, both uncompiled unless --xla, on networks of their own.
"""
import dataclasses
import os
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks import train_speed  # noqa: E402  (its flags: --model, --config, --resolution, --minibatch, ...)

flags.DEFINE_enum('compare', 'xla', ['xla', 'bfloat16'], 'What B is: XLA, or bfloat16 in --num_fp16_res resolutions.')
flags.DEFINE_list('phases', None, 'Only these phases (default: all).')
FLAGS = flags.FLAGS


def main(_):
    import tensorflow as tf
    from common.training.phases import CompiledPhases
    from common.training import fast_path

    with tempfile.TemporaryDirectory() as tmp:
        if FLAGS.compare == 'bfloat16':
            variants = {}
            for b, dtype in ((False, None), (True, 'bfloat16')):
                FLAGS.fp16_dtype, FLAGS.num_fp16_res = dtype, (FLAGS.num_fp16_res or 4) if b else 0
                os.makedirs(os.path.join(tmp, str(b)))
                _, parts, strategy, dataset, feed, minibatch, rounds, precision = train_speed.stylegan2_setup(
                    os.path.join(tmp, str(b)), False)
                variants[b] = CompiledPhases(strategy, [dataclasses.replace(p, xla=bool(FLAGS.xla)) for p in parts.phases], 0)
            res, precision = dataset.resolution, f'float32 against bfloat16 in {FLAGS.num_fp16_res} resolutions'
        elif FLAGS.model == 'stylegan2':
            _, parts, strategy, dataset, feed, minibatch, rounds, precision = train_speed.stylegan2_setup(tmp, False)
            res = dataset.resolution
        else:
            parts, strategy, dataset, minibatch, res = train_speed.pggan_setup(tmp)
            feed, rounds, precision = iter(dataset.distribute(strategy, res, minibatch)), 1, 'float32'
        if FLAGS.compare == 'xla':
            variants = {xla: CompiledPhases(strategy, [dataclasses.replace(p, xla=xla) for p in parts.phases], 0)
                        for xla in (False, True)}
        print(f'model={FLAGS.model} config={FLAGS.config} resolution={res} minibatch={minibatch} precision={precision} '
              f'cpu="{fast_path.cpu_model()}" isa={fast_path.cpu_isa()} ONEDNN_MAX_CPU_ISA='
              f'{os.environ.get("ONEDNN_MAX_CPU_ISA", "")} XLA_FLAGS={os.environ.get("XLA_FLAGS", "")} '
              f'load={os.getloadavg()[0]:.2f}')
        print(f'{"phase":>6} {"A ms":>10} {"B ms":>10} {"B/A":>7}  {"first run s (A, B)":>20}   (A: float32 without XLA, '
              f'B: {"XLA" if FLAGS.compare == "xla" else "bfloat16"})')
        ms = {}
        for phase in [p for p in parts.phases if not FLAGS.phases or p.name in FLAGS.phases]:
            batch = next(feed)
            times = {False: [], True: []}
            for i in range(FLAGS.steps + 1):
                for xla in (False, True):
                    args = (tf.constant(i, tf.int64), minibatch, res, rounds)
                    args += tuple(batch) if phase.uses_reals else ()
                    t0 = time.time()
                    float(next(iter(variants[xla].fns[phase.name](*args).values())))
                    times[xla].append(time.time() - t0)
            ms[phase.name] = {xla: 1000 * np.median(t[1:]) for xla, t in times.items()}
            print(f'{phase.name:>6} {ms[phase.name][False]:10.1f} {ms[phase.name][True]:10.1f} '
                  f'{ms[phase.name][True] / ms[phase.name][False]:7.2f}  '
                  f'{times[False][0]:9.1f} {times[True][0]:9.1f}   raw A={_fmt(times[False][1:])} B={_fmt(times[True][1:])}')
        weight = {p.name: 1 / p.interval for p in parts.phases}
        for label, pick in (('A', lambda m: m[False]), ('B', lambda m: m[True]), ('per phase', lambda m: min(m.values()))):
            seconds = sum(pick(ms[name]) * weight[name] for name in ms) / 1000
            print(f'{label:>10}: {minibatch / seconds:.3f} img/s')
        print(f'load average after: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')


def _fmt(values):
    return '/'.join(f'{1000 * v:.0f}' for v in values)


if __name__ == '__main__':
    app.run(main)
