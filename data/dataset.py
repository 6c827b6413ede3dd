"""tf.data input pipeline over a multi-resolution TFRecord directory (ours or the official tool's).

Batches are `(images, labels)`: images NHWC float32 in [-1, 1] at the requested resolution (read from that
resolution's own file, as the official TFRecordDataset does), labels [N, label_size] float32.

The stream is a pure function of (seed, resolution, images consumed): each epoch is shuffled with its own
seed, mirroring is decided per record from its position in the stream, and a pipeline built at position
`k` yields exactly what the uninterrupted pipeline yields after `k` images. That is what exact resume
needs; restoring costs re-reading at most one epoch of raw records (no decoding).

Distribution: the global stream is cut into per-replica batches that go to replicas in order, so the
global batch is the same whatever the number of replicas or workers (2 replicas == 1 replica).
"""
import numpy as np
import tensorflow as tf

from data.tfrecord_io import DatasetError, DatasetInfo

# Mirror decisions use a fixed integer hash of (seed, record position): independent of batching and replicas.
_HASH_MUL = np.int64(0x9E3779B97F4A7C15 - (1 << 64))


def _mirror_bits(seed, positions):
    h = tf.bitwise.bitwise_xor(positions * _HASH_MUL, tf.constant(seed, tf.int64) * np.int64(0x5851F42D4C957F2D))
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, 31)) * np.int64(0x2545F4914F6CDD1D)
    return tf.equal(tf.bitwise.bitwise_and(tf.bitwise.right_shift(h, 29), 1), 1)


class Dataset:
    """A TFRecord dataset directory, ready to make per-resolution input pipelines.

    Args:
        tfrecord_dir: directory written by `data.dataset_tool` or the official `dataset_tool.py`.
        max_label_size: 0 = no labels, 'full' = all label components, N = the first N (official semantics).
        mirror_augment: flip each image left-right with probability 1/2.
        shuffle_mb: shuffle window in megabytes of raw images (official default 4096); 0 = no shuffling.
        seed: the data seed (order of every epoch and mirror decisions).
    """

    def __init__(self, tfrecord_dir, max_label_size='full', mirror_augment=False, shuffle_mb=4096, seed=0):
        self.info = DatasetInfo(tfrecord_dir)
        self.tfrecord_dir = tfrecord_dir
        self.resolution = self.info.resolution
        self.resolution_log2 = self.info.resolution_log2
        self.num_channels = self.info.num_channels
        # Every resolution's framing is walked up front (seeks only, no decoding): a truncated file is refused
        # here, naming it, rather than as a DataLossError when training reaches that resolution.
        counts = {path: self.info.count(2 ** log2) for log2, path in sorted(self.info.files.items())}
        self.num_images = counts[self.info.path(self.resolution)]
        for path, count in counts.items():
            if count != self.num_images:
                raise DatasetError(f'{path}: {count} records, but the full resolution has {self.num_images}')
        self.mirror_augment = bool(mirror_augment)
        self.shuffle_mb = shuffle_mb
        self.seed = int(seed)
        labels = self.info.load_labels() if max_label_size != 0 else None
        if labels is None:
            labels = np.zeros([self.num_images, 0], np.float32)
        if max_label_size not in ('full', 0):
            labels = labels[:, :int(max_label_size)]
        if labels.shape[0] < self.num_images:
            raise DatasetError(f'{self.info.label_file}: {labels.shape[0]} labels for {self.num_images} images')
        self.labels = labels[:self.num_images]
        self.label_size = int(self.labels.shape[1])

    def _records(self, resolution, position):
        """Endless stream of (serialized record, label, stream position), starting at `position`."""
        path = self.info.path(resolution)
        n = self.num_images
        bytes_per_image = self.num_channels * resolution * resolution
        buffer = min(n, ((self.shuffle_mb << 20) - 1) // bytes_per_image + 1) if self.shuffle_mb > 0 else 0
        seed = self.seed

        def epoch(e):
            records = tf.data.Dataset.zip((tf.data.TFRecordDataset(path), tf.data.Dataset.range(n)))
            if buffer > 1:
                records = records.shuffle(buffer, seed=tf.constant(seed, tf.int64) * 1000003 + e,
                                          reshuffle_each_iteration=False)
            return records

        first_epoch, offset = divmod(int(position), n)
        stream = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch).skip(offset)
        labels = tf.constant(self.labels)
        return stream.enumerate(start=int(position)).map(
            lambda pos, rec_idx: (rec_idx[0], tf.gather(labels, rec_idx[1]), pos))

    def pipeline(self, resolution, batch_size, position=0, num_workers=1, worker_index=0, replicas_per_worker=1):
        """tf.data.Dataset of per-replica batches (images NHWC [-1, 1], labels) for one worker.

        `batch_size` is the per-replica batch; the global batch is batch_size x replicas x workers.
        `position` counts global images already consumed from the stream at this resolution.
        """
        if resolution > self.resolution:
            raise DatasetError(f'{self.tfrecord_dir}: resolution {resolution} requested, dataset has {self.resolution}')
        ds = self._records(resolution, position)
        if num_workers > 1:  # Each worker keeps its slice of every global batch, in replica order.
            # (A filter on the stream position rather than batch/shard/unbatch, which crashed TF 2.21's
            # multi-worker input pipeline when the labels have zero width.)
            per_worker, start = batch_size * replicas_per_worker, int(position)
            ds = ds.filter(lambda rec, label, pos: (pos - start) % (per_worker * num_workers) // per_worker
                           == worker_index)
        ds = ds.batch(batch_size, drop_remainder=True)
        channels, seed, mirror = self.num_channels, self.seed, self.mirror_augment

        def decode(records, labels, positions):
            feats = tf.io.parse_example(records, {'shape': tf.io.FixedLenFeature([3], tf.int64),
                                                  'data': tf.io.FixedLenFeature([], tf.string)})
            x = tf.io.decode_raw(feats['data'], tf.uint8)
            x = tf.reshape(x, [-1, channels, resolution, resolution])
            if mirror:  # Flipped while uint8 CHW, where rows are contiguous: ~2.5x faster at 256 px than on float NHWC.
                x = tf.where(_mirror_bits(seed, positions)[:, None, None, None], tf.reverse(x, axis=[3]), x)
            x = tf.transpose(x, [0, 2, 3, 1])                   # CHW on disk -> NHWC.
            x = tf.cast(x, tf.float32) * np.float32(2 / 255) + np.float32(-1)  # Official drange [0,255] -> [-1,1].
            return x, labels

        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)

    def distribute(self, strategy, resolution, global_batch, position=0):
        """Distributed dataset for `strategy`: each input pipeline (worker) reads its own shard."""
        replicas = strategy.num_replicas_in_sync
        if global_batch % replicas:
            raise DatasetError(f'minibatch {global_batch} is not divisible by the {replicas} replicas')

        def fn(ctx):
            return self.pipeline(resolution, ctx.get_per_replica_batch_size(global_batch), position,
                                 ctx.num_input_pipelines, ctx.input_pipeline_id,
                                 ctx.num_replicas_in_sync // ctx.num_input_pipelines)

        options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        return strategy.distribute_datasets_from_function(fn, options)
