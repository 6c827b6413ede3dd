"""Throughput of the data layer on this machine: the dataset tool and the tf.data reader.

    python -m benchmarks.data_pipeline [--images=300] [--sizes=32,128,256] [--minibatch=32] [--seconds=4]

For each size: writes `--images` generated PNGs (smooth colour fields plus noise, so that PNG decoding
costs about what it does for photographs, not what incompressible noise costs), times
`dataset_tool create_from_images` on them (TensorFlow already imported and initialized, so its start-up
is not counted; all lower lods are written too, as always), then times `Dataset.pipeline` (shuffle and
mirror augmentation on, as in training) for `--seconds` after a warm-up. Prints one line per size.
"""
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time

from absl import app
from absl import flags

import numpy as np
import PIL.Image

from data import dataset_tool  # Defines the tool's flags, which this command line also accepts.

flags.DEFINE_integer('images', 300, 'Images per size.')
flags.DEFINE_list('sizes', ['32', '128', '256'], 'Image sizes (powers of two).')
flags.DEFINE_integer('minibatch', 32, 'Reader batch size.')
flags.DEFINE_float('seconds', 4.0, 'How long the reader is timed per size, after its warm-up.')
FLAGS = flags.FLAGS


def write_pngs(folder, num_images, size, seed=0):
    rnd = np.random.RandomState(seed)
    os.makedirs(folder)
    for i in range(num_images):
        coarse = PIL.Image.fromarray(rnd.randint(0, 256, [8, 8, 3]).astype(np.uint8))
        smooth = np.asarray(coarse.resize((size, size), PIL.Image.BICUBIC), np.int16)
        noisy = np.clip(smooth + rnd.randint(-8, 9, smooth.shape), 0, 255).astype(np.uint8)
        PIL.Image.fromarray(noisy).save(os.path.join(folder, f'{i:06d}.png'))


def time_tool(tfrecord_dir, image_dir):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # Its "Added N images" line would break the table.
        dataset_tool.run(['create_from_images', tfrecord_dir, image_dir])
    return time.perf_counter() - start


def time_reader(tfrecord_dir, size, minibatch, seconds, warmup_batches=5):
    from data.dataset import Dataset
    it = iter(Dataset(tfrecord_dir, mirror_augment=True).pipeline(size, minibatch))
    for _ in range(warmup_batches):  # Traces the map function and fills the prefetch buffer.
        next(it)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        images, _ = next(it)
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def main(argv):
    del argv
    import tensorflow as tf
    with tf.io.TFRecordWriter(os.path.join(tempfile.gettempdir(), f'warmup-{os.getpid()}.tfrecords')) as w:
        w.write(b'')  # Pays TensorFlow's start-up before any timing.
    os.remove(os.path.join(tempfile.gettempdir(), f'warmup-{os.getpid()}.tfrecords'))
    print(f'TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, {FLAGS.images} images per size, '
          f'--num_threads={FLAGS.num_threads}, reader minibatch {FLAGS.minibatch}')
    print(f'{"size":>6} {"tool img/s":>11} {"reader img/s":>13}')
    work = tempfile.mkdtemp(prefix='data_pipeline_bench-')
    try:
        for size in [int(s) for s in FLAGS.sizes]:
            image_dir, tfrecord_dir = os.path.join(work, f'png{size}'), os.path.join(work, f'tfr{size}')
            write_pngs(image_dir, FLAGS.images, size)
            tool_rate = FLAGS.images / time_tool(tfrecord_dir, image_dir)
            reader_rate = time_reader(tfrecord_dir, size, FLAGS.minibatch, FLAGS.seconds)
            print(f'{size:>6} {tool_rate:>11.0f} {reader_rate:>13.0f}', flush=True)
            shutil.rmtree(image_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.stdout.reconfigure(line_buffering=True)
    app.run(main)
