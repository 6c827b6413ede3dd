"""Speed of the ADA augmentation pipe (common.ops.augment) on this machine.

    python -m benchmarks.augment_speed [--preset=bgc] [--p=0.5] [--minibatch=32] [--sizes=32,64] [--repeats=5]

For each size and for graph mode and XLA (tf.function with jit_compile=True), times three functions of
RGB images after one warm-up call (tracing and compilation are reported apart): the forward pipe; forward
plus backward of sum(pipe(x)^2); and an R1-style double backward, the gradient with respect to a small
weight vector of |d/dx sum(pipe(x) * w)|^2. A fresh seed per call, as in training. Prints ms per call
(median of --repeats).
"""
import time

from absl import app
from absl import flags

import numpy as np
import tensorflow as tf

from common.ops.augment import AugmentPipe

flags.DEFINE_string('preset', 'bgc', 'AUGPIPE_SPECS preset.')
flags.DEFINE_float('p', 0.5, 'Augmentation probability.')
flags.DEFINE_integer('minibatch', 32, 'Images per call.')
flags.DEFINE_list('sizes', ['32', '64'], 'Image sizes.')
flags.DEFINE_integer('repeats', 5, 'Timed calls per measurement.')
FLAGS = flags.FLAGS


def _functions(pipe, size):
    weight = tf.constant(np.random.RandomState(1).randn(size, size, 3), tf.float32)

    def forward(x, seed):
        return pipe(x, seed=seed)

    def forward_backward(x, seed):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(pipe(x, seed=seed)))
        return tape.gradient(loss, x)

    def double_backward(x, seed):
        w = tf.ones([3]) * 0.1
        with tf.GradientTape() as outer:
            outer.watch(w)
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(tf.tanh(pipe(x, seed=seed) * weight) * w)
            penalty = tf.reduce_sum(tf.square(inner.gradient(score, x)))
        return outer.gradient(penalty, w)

    return {'forward': forward, 'fwd+bwd': forward_backward, 'R1 double bwd': double_backward}


def _time(fn, x, repeats):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), fn(x, tf.constant([0, 0])))
    first = time.perf_counter() - start
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), fn(x, tf.constant([1, i])))
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def main(_):
    pipe = AugmentPipe.from_preset(FLAGS.preset)
    pipe.p.assign(FLAGS.p)
    print(f'preset {FLAGS.preset}, p {FLAGS.p}, minibatch {FLAGS.minibatch}, RGB; ms per call '
          f'(median of {FLAGS.repeats}), first call (trace/compile) in s')
    for size in [int(s) for s in FLAGS.sizes]:
        x = tf.random.stateless_uniform([FLAGS.minibatch, size, size, 3], [0, size], minval=-1, maxval=1)
        for name, fn in _functions(pipe, size).items():
            for jit in (False, True):
                first, median = _time(tf.function(fn, jit_compile=jit), x, FLAGS.repeats)
                print(f'{size:4d}px  {name:14s} {"xla  " if jit else "graph"}  {median * 1000:8.1f} ms'
                      f'   (first call {first:5.1f} s)', flush=True)


if __name__ == '__main__':
    app.run(main)
