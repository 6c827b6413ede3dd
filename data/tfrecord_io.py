"""The official multi-resolution TFRecord format: writing, inspecting and reading records.

A dataset directory `DIR` holds one file per resolution, `DIR/<name>-rNN.tfrecords` (NN = log2 of the
resolution, 02 = 4x4 up to the full resolution), each a sequence of `tf.train.Example`s with two features:
`shape` (int64 x 3, CHW) and `data` (the raw uint8 bytes in CHW order). Lower resolutions are made by
repeated 2x2 box filtering in float32 of the full image, rounded half to even only when written. Labels,
if any, sit beside them as `DIR/<name>-rxx.labels`, a NumPy `.npy` array [N, label_size] float32 in record
order. This matches `dataset_tool.py` of tkarras/progressive_growing_of_gans and NVlabs/stylegan2.
"""
import glob
import math
import os
import re
import shutil
import struct

import numpy as np

from common.util.files import commit_dir, temp_dir_beside


class DatasetError(Exception):
    """A problem with the user's input or output that is reported as one line, without a traceback."""


_TFR_NAME = re.compile(r'-r(\d\d)\.tfrecords$')


def _tf():
    import tensorflow as tf  # Imported lazily: `info --help` and the error paths need no TensorFlow start-up.
    return tf


def encode_example(chw):
    """uint8 [C, H, W] -> serialized tf.train.Example with the official `shape` and `data` features."""
    tf = _tf()
    ex = tf.train.Example(features=tf.train.Features(feature={
        'shape': tf.train.Feature(int64_list=tf.train.Int64List(value=chw.shape)),
        'data': tf.train.Feature(bytes_list=tf.train.BytesList(value=[chw.tobytes()]))}))
    return ex.SerializeToString()


def decode_example(record, where='record'):
    """Serialized Example -> uint8 [C, H, W]; raises DatasetError naming `where` when it is not ours."""
    tf = _tf()
    ex = tf.train.Example()
    try:
        ex.ParseFromString(record)
    except Exception:
        raise DatasetError(f'{where}: not a tf.train.Example')
    feats = ex.features.feature
    if 'shape' not in feats or 'data' not in feats:
        raise DatasetError(f'{where}: expected features "shape" and "data" (official dataset_tool format), '
                           f'found {sorted(feats.keys())}')
    shape = list(feats['shape'].int64_list.value)
    data = feats['data'].bytes_list.value
    if len(shape) != 3 or len(data) != 1:
        raise DatasetError(f'{where}: "shape" must hold 3 int64 (CHW) and "data" one bytes value')
    if min(shape) <= 0:
        raise DatasetError(f'{where}: "shape" {shape} has a dimension below 1')
    if len(data[0]) != math.prod(shape):  # Python integers: a huge declared shape cannot overflow into a match.
        raise DatasetError(f'{where}: "data" holds {len(data[0])} bytes but shape {shape} needs {math.prod(shape)}')
    return np.frombuffer(data[0], np.uint8).reshape(shape)


def downscale_chain(chw, num_levels):
    """Yields the official per-lod images: lod 0 is the input, each next one a 2x2 box filter of the last.

    The filter runs on the float32 values of the previous level (not on rounded ones) and only the
    written copy is rounded half to even and saturated, exactly as the official TFRecordExporter.
    """
    img = chw
    for lod in range(num_levels):
        if lod:
            img = img.astype(np.float32, copy=False)
            img = (img[:, 0::2, 0::2] + img[:, 0::2, 1::2] + img[:, 1::2, 0::2] + img[:, 1::2, 1::2]) * 0.25
        # uint8 input is already what rint/clip would make of it; skipping them at lod 0 halves the time
        # the tool spends per image at 256 px.
        yield img if img.dtype == np.uint8 else np.rint(img).clip(0, 255).astype(np.uint8)


def shuffled_order(num_images):
    """The official shuffle: a permutation from np.random.RandomState(123)."""
    order = np.arange(num_images)
    np.random.RandomState(123).shuffle(order)
    return order


def make_temp_dir(output_dir, overwrite=False):
    """A new hidden temporary directory beside `output_dir`, for `commit_temp_dir` to rename into place
    once complete, so that a failed or interrupted command never leaves half an output behind.
    Refuses an existing `output_dir` unless `overwrite`."""
    if os.path.exists(str(output_dir).rstrip('/')) and not overwrite:
        raise DatasetError(f'{output_dir}: output already exists (use --overwrite to replace it)')
    return temp_dir_beside(output_dir)


def commit_temp_dir(tmp_dir, output_dir):
    commit_dir(tmp_dir, output_dir)


class TFRecordExporter:
    """Writes a dataset directory atomically: everything goes into a hidden temporary directory beside
    the target, which is renamed into place by `finish()`. Leaving the `with` block by an exception
    removes the temporary directory, so an interrupted run never leaves half a dataset behind."""

    def __init__(self, tfrecord_dir, overwrite=False):
        self.tfrecord_dir = os.path.abspath(str(tfrecord_dir).rstrip('/'))
        self.name = os.path.basename(self.tfrecord_dir)
        self.tmp_dir = make_temp_dir(tfrecord_dir, overwrite)
        self.shape = None
        self.writers = []
        self.cur_images = 0
        self.labels = None

    def add_image(self, chw, where='image'):
        """uint8 [C, H, W] with C in 1, 3, 4 and H = W a power of two."""
        if self.shape is None:
            c, h, w = chw.shape
            if c not in (1, 3, 4) or h != w or h < 4 or h & (h - 1):
                raise DatasetError(f'{where}: shape {list(chw.shape)} (CHW) is not 1, 3 or 4 channels of a square '
                                   f'power-of-two size >= 4')
            self.shape = chw.shape
            log2 = int(np.log2(h))
            tf = _tf()
            for lod in range(log2 - 1):
                path = os.path.join(self.tmp_dir, f'{self.name}-r{log2 - lod:02d}.tfrecords')
                self.writers.append(tf.io.TFRecordWriter(path))
        elif chw.shape != self.shape:
            raise DatasetError(f'{where}: shape {list(chw.shape)} (CHW) differs from the first image\'s {list(self.shape)}')
        for writer, img in zip(self.writers, downscale_chain(chw, len(self.writers))):
            writer.write(encode_example(img))
        self.cur_images += 1

    def add_labels(self, labels):
        labels = np.asarray(labels, np.float32)
        if labels.ndim != 2 or labels.shape[0] != self.cur_images:
            raise DatasetError(f'labels: got shape {list(labels.shape)}, expected [{self.cur_images}, label_size]')
        self.labels = labels

    def finish(self):
        if self.cur_images == 0:
            raise DatasetError(f'{self.tfrecord_dir}: no images were written')
        for writer in self.writers:
            writer.close()
        self.writers = []
        if self.labels is not None:
            with open(os.path.join(self.tmp_dir, f'{self.name}-rxx.labels'), 'wb') as f:
                np.save(f, self.labels)
        commit_temp_dir(self.tmp_dir, self.tfrecord_dir)

    def abort(self):
        for writer in self.writers:
            writer.close()
        self.writers = []
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def iterate_records(path, check_data=True):
    """Yields the raw records of one TFRecord file, checking framing and CRCs; errors name the file.
    With check_data=False the payload is skipped (seeked over) and None is yielded per record.

    A tiny reader of the TFRecord framing (length, masked CRC of the length, data, masked CRC of the data)
    so that truncated or foreign files are reported clearly instead of as a TensorFlow DataLossError.
    """
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        index = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DatasetError(f'{path}: truncated TFRecord (record {index} header cut off)')
            (length,) = struct.unpack('<Q', header[:8])
            if _masked_crc(header[:8]) != struct.unpack('<I', header[8:])[0]:
                raise DatasetError(f'{path}: not a TFRecord file, or corrupt at record {index}')
            if f.tell() + length + 4 > size:
                raise DatasetError(f'{path}: truncated TFRecord (record {index} is cut off)')
            if not check_data:
                f.seek(length + 4, os.SEEK_CUR)
                yield None
                index += 1
                continue
            data = f.read(length)
            (crc,) = struct.unpack('<I', f.read(4))
            if _masked_crc(data) != crc:
                raise DatasetError(f'{path}: corrupt TFRecord (checksum mismatch in record {index})')
            yield data
            index += 1


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def _crc32c(data):
    try:
        import google_crc32c  # Optional fast path.
        return int.from_bytes(google_crc32c.Checksum(data).digest(), 'big')
    except ImportError:
        pass
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data):
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class DatasetInfo:
    """What a dataset directory holds, checked for consistency the way the official reader asserts it.

    Attributes: `files` {log2 resolution: path}, `resolution`, `resolution_log2`, `num_channels`,
    `label_file` (or None), `label_size`.
    """

    def __init__(self, tfrecord_dir):
        if not os.path.isdir(tfrecord_dir):
            raise DatasetError(f'{tfrecord_dir}: no such dataset directory')
        paths = sorted(glob.glob(os.path.join(tfrecord_dir, '*.tfrecords')))
        if not paths:
            raise DatasetError(f'{tfrecord_dir}: no *.tfrecords files (expected <name>-rNN.tfrecords '
                               f'from the dataset tool)')
        self.tfrecord_dir = tfrecord_dir
        self.files = {}
        self.shapes = {}
        for path in paths:
            first = next(iterate_records(path), None)
            if first is None:
                raise DatasetError(f'{path}: holds no records')
            shape = decode_example(first, where=path).shape
            if shape[1] != shape[2] or shape[1] & (shape[1] - 1):
                raise DatasetError(f'{path}: image shape {list(shape)} (CHW) is not square power-of-two')
            log2 = int(np.log2(shape[1]))
            match = _TFR_NAME.search(path)
            if match and int(match.group(1)) != log2:
                raise DatasetError(f'{path}: file name says r{match.group(1)} but records are {shape[1]}x{shape[1]}')
            if log2 in self.files:
                raise DatasetError(f'{path}: second file for resolution {shape[1]} (first: {self.files[log2]})')
            self.files[log2] = path
            self.shapes[log2] = shape
        self.resolution_log2 = max(self.files)
        self.resolution = 2 ** self.resolution_log2
        self.num_channels = int(self.shapes[self.resolution_log2][0])
        for log2, shape in self.shapes.items():
            if shape[0] != self.num_channels:
                raise DatasetError(f'{self.files[log2]}: {shape[0]} channels, but the full resolution has {self.num_channels}')
        missing = [2 ** r for r in range(2, self.resolution_log2 + 1) if r not in self.files]
        if missing:
            raise DatasetError(f'{tfrecord_dir}: missing the TFRecord file for resolution(s) '
                               f'{", ".join(f"{m}x{m}" for m in missing)}')
        labels = sorted(glob.glob(os.path.join(tfrecord_dir, '*.labels')))
        self.label_file = labels[0] if labels else None
        self.label_size = 0
        if self.label_file:
            self.label_size = int(self.load_labels().shape[1])

    def path(self, resolution):
        log2 = int(np.log2(resolution))
        if resolution != 2 ** log2 or log2 not in self.files:
            raise DatasetError(f'{self.tfrecord_dir}: no records at resolution {resolution} '
                               f'(has {sorted(2 ** r for r in self.files)})')
        return self.files[log2]

    def load_labels(self):
        """[N, label_size] float32, or None when the dataset has no labels file."""
        if not self.label_file:
            return None
        try:
            labels = np.load(self.label_file, allow_pickle=False)
        except Exception as e:
            raise DatasetError(f'{self.label_file}: not a NumPy .npy labels array ({e.__class__.__name__})')
        if labels.ndim != 2:
            raise DatasetError(f'{self.label_file}: labels must be 2-D [num_images, label_size], got {list(labels.shape)}')
        return labels.astype(np.float32)

    def count(self, resolution=None):
        """Number of records, by reading the framing of one file (no decoding)."""
        path = self.path(resolution or self.resolution)
        return sum(1 for _ in iterate_records(path, check_data=False))
