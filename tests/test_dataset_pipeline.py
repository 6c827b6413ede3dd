"""Claims about the tf.data input pipeline (data/dataset.py): values, labels, order, mirroring, resume,
distribution over replicas, and datasets written by the official tool.

The test dataset identifies every image by its red channel, a constant 20*i + 10, and its label is that
same value, so alignment, order and mirroring can all be read back from a batch.
"""
import json
import os
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from data import sources
from data.dataset import Dataset
from data.dataset_tool import write_dataset
from data.tfrecord_io import DatasetError

OFFICIAL = Path(__file__).resolve().parent / 'data' / 'official_tfrecords'
N = 10  # images in the test dataset


def make_images(n=N, size=16, seed=0):
    """uint8 [n, 3, size, size]: red = 20*i + 10 (the id), green and blue random (so mirroring shows)."""
    images = np.random.RandomState(seed).randint(0, 256, [n, 3, size, size]).astype(np.uint8)
    images[:, 0] = (20 * np.arange(n) + 10)[:, None, None]
    images[0, 1:, 0, 0] = [0, 255]  # both ends of the value range
    return images


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
    images = make_images()
    labels = (20 * np.arange(N) + 10).astype(np.float32)[:, None]   # label == red pixel value
    path = tmp_path_factory.mktemp('pipeline') / 'ids'
    write_dataset(str(path), sources.array_source(images, labels), shuffle=False)
    return path


def to_uint8(x):
    """Inverse of the pipeline's [0, 255] -> [-1, 1] map; exact for uint8 inputs."""
    return np.rint((np.asarray(x) + 1) * 127.5).astype(np.uint8)


def take(ds, num_batches):
    """(images, labels) of the first `num_batches` batches of a per-replica pipeline, concatenated."""
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds.take(num_batches)])
    return np.concatenate(xs), np.concatenate(ys)


def ids_and_flips(x):
    """Image ids (from the red channel) and whether each image is the mirror of its original."""
    originals = make_images().transpose(0, 2, 3, 1)
    pixels = to_uint8(x)
    ids = (pixels[:, 0, 0, 0].astype(int) - 10) // 20
    flipped = []
    for img, i in zip(pixels, ids):
        same, mirrored = np.array_equal(img, originals[i]), np.array_equal(img, originals[i][:, ::-1])
        assert same or mirrored, f'image {i} is neither the original nor its mirror'
        flipped.append(mirrored and not same)
    return ids, np.array(flipped)


# ------------------------------------------------------------------------------------------------
# Values, labels, order.

def test_batches_are_nhwc_float32_in_minus_one_to_one(dataset_dir):
    x, y = next(iter(Dataset(str(dataset_dir), shuffle_mb=0).pipeline(16, batch_size=4)))
    assert x.shape == (4, 16, 16, 3) and x.dtype == tf.float32
    assert y.shape == (4, 1) and y.dtype == tf.float32
    expected = make_images()[:4].transpose(0, 2, 3, 1).astype(np.float32) * np.float32(2 / 255) - 1
    np.testing.assert_allclose(x.numpy(), expected, rtol=0, atol=1e-6)
    assert x.numpy().min() == -1.0 and x.numpy().max() == 1.0   # 0 and 255 land exactly on the ends


def test_labels_stay_aligned_with_their_images(dataset_dir):
    x, y = take(Dataset(str(dataset_dir), mirror_augment=True, seed=5).pipeline(16, batch_size=3), 10)
    np.testing.assert_array_equal(y[:, 0], to_uint8(x)[:, 0, 0, 0])


def test_unshuffled_stream_repeats_the_records_in_order(dataset_dir):
    x, _ = take(Dataset(str(dataset_dir), shuffle_mb=0).pipeline(16, batch_size=5), 5)
    ids, _ = ids_and_flips(x)
    np.testing.assert_array_equal(ids, np.tile(np.arange(N), 3)[:25])


def test_every_epoch_is_a_seeded_permutation(dataset_dir):
    def stream(seed):
        return ids_and_flips(take(Dataset(str(dataset_dir), seed=seed).pipeline(16, batch_size=5), 6)[0])[0]
    ids = stream(seed=1)
    epochs = ids.reshape(3, N)
    for epoch in epochs:
        assert sorted(epoch) == list(range(N))
    assert not np.array_equal(epochs[0], epochs[1]) or not np.array_equal(epochs[1], epochs[2])
    np.testing.assert_array_equal(stream(seed=1), ids)
    assert not np.array_equal(stream(seed=2), ids)


def test_lower_resolution_comes_from_its_own_box_filtered_file(dataset_dir):
    x, _ = next(iter(Dataset(str(dataset_dir), shuffle_mb=0).pipeline(8, batch_size=N)))
    images = make_images().astype(np.float32)
    expected = np.rint(images.reshape(N, 3, 8, 2, 8, 2).mean(axis=(3, 5))).astype(np.uint8).transpose(0, 2, 3, 1)
    assert x.shape == (N, 8, 8, 3)
    np.testing.assert_array_equal(to_uint8(x), expected)


# ------------------------------------------------------------------------------------------------
# Mirror augmentation.

def test_mirror_only_flips_and_flips_about_half(dataset_dir):
    x, _ = take(Dataset(str(dataset_dir), mirror_augment=True, seed=3).pipeline(16, batch_size=10), 20)
    ids, flipped = ids_and_flips(x)   # asserts that every image is its original or its mirror
    assert 0.35 < flipped.mean() < 0.65, flipped.mean()
    for i in range(N):                # over 20 epochs every image shows both ways
        assert 0 < flipped[ids == i].sum() < (ids == i).sum()


def test_without_mirror_augment_nothing_is_flipped(dataset_dir):
    _, flipped = ids_and_flips(take(Dataset(str(dataset_dir), seed=3).pipeline(16, batch_size=10), 3)[0])
    assert not flipped.any()


# ------------------------------------------------------------------------------------------------
# Resume and distribution.

@pytest.mark.parametrize('position', [8, 10, 13, 27])
def test_resumed_pipeline_equals_uninterrupted(dataset_dir, position):
    ds = Dataset(str(dataset_dir), mirror_augment=True, seed=11)
    full_x, full_y = take(ds.pipeline(16, batch_size=4), 12)            # 48 images: 4.8 epochs
    x, y = take(ds.pipeline(16, batch_size=4, position=position), 4)   # crosses at least one epoch boundary
    np.testing.assert_array_equal(x, full_x[position:position + 16])
    np.testing.assert_array_equal(y, full_y[position:position + 16])


def test_resume_does_not_depend_on_the_batch_size(dataset_dir):
    ds = Dataset(str(dataset_dir), mirror_augment=True, seed=11)
    x4, _ = take(ds.pipeline(16, batch_size=4), 6)
    x3, _ = take(ds.pipeline(16, batch_size=3, position=6), 6)
    np.testing.assert_array_equal(x3, x4[6:24])


def global_batches(dataset, strategy, num_steps, position=0):
    """Per step: the replicas' batches concatenated in replica order, and the devices they were on."""
    it = iter(dataset.distribute(strategy, 16, global_batch=4, position=position))
    steps = []
    for _ in range(num_steps):
        x, y = next(it)
        xs, ys = strategy.experimental_local_results(x), strategy.experimental_local_results(y)
        steps.append((np.concatenate([v.numpy() for v in xs]), np.concatenate([v.numpy() for v in ys]),
                      [v.device for v in xs]))
    return steps


def test_two_logical_cpus_exist_and_plain_code_still_runs_on_the_first():
    assert len(tf.config.list_logical_devices('CPU')) == 2
    assert tf.constant([1.0, 2.0]).device.endswith('CPU:0')
    assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0


@pytest.mark.parametrize('position', [0, 7])
def test_two_replicas_see_the_same_global_batch_as_one(dataset_dir, position):
    ds = Dataset(str(dataset_dir), mirror_augment=True, seed=4)
    one = global_batches(ds, tf.distribute.MirroredStrategy(['/cpu:0']), 4, position)
    two = global_batches(ds, tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']), 4, position)
    plain_x, plain_y = take(ds.pipeline(16, batch_size=4, position=position), 4)
    for step, ((x1, y1, _), (x2, y2, devices)) in enumerate(zip(one, two)):
        assert x2.shape == (4, 16, 16, 3)
        assert [d.split('/')[-1] for d in devices] == ['device:CPU:0', 'device:CPU:1']
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1, plain_x[4 * step:4 * step + 4])
        np.testing.assert_array_equal(y1, plain_y[4 * step:4 * step + 4])


def test_global_batch_not_divisible_by_the_replicas_is_refused(dataset_dir):
    with pytest.raises(DatasetError, match='not divisible by the 2 replicas'):
        Dataset(str(dataset_dir)).distribute(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']), 16, global_batch=5)


# ------------------------------------------------------------------------------------------------
# Labels options and bad datasets.

def test_max_label_size_zero_gives_empty_labels(dataset_dir):
    _, y = next(iter(Dataset(str(dataset_dir), max_label_size=0).pipeline(16, batch_size=2)))
    assert y.shape == (2, 0)


def copy_dataset(src, dst):
    os.makedirs(dst)
    for name in os.listdir(src):
        (dst / name.replace(src.name, dst.name)).write_bytes((src / name).read_bytes())
    return dst


def test_truncated_lower_resolution_is_refused_when_the_dataset_opens(dataset_dir, tmp_path):
    ds = copy_dataset(dataset_dir, tmp_path / 'cut')
    path = ds / 'cut-r02.tfrecords'
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match='truncated TFRecord') as e:
        Dataset(str(ds))
    assert str(e.value).startswith(str(path))


def test_labels_for_fewer_images_than_records_are_refused(dataset_dir, tmp_path):
    ds = copy_dataset(dataset_dir, tmp_path / 'short')
    with open(ds / 'short-rxx.labels', 'wb') as f:
        np.save(f, np.zeros([N - 1, 1], np.float32))
    with pytest.raises(DatasetError, match=f'{N - 1} labels for {N} images') as e:
        Dataset(str(ds))
    assert str(e.value).startswith(str(ds / 'short-rxx.labels'))


def test_missing_resolution_is_refused(dataset_dir, tmp_path):
    ds = copy_dataset(dataset_dir, tmp_path / 'holes')
    (ds / 'holes-r03.tfrecords').unlink()
    with pytest.raises(DatasetError, match='missing the TFRecord file for resolution'):
        Dataset(str(ds))


def test_resolution_above_the_dataset_is_refused(dataset_dir):
    with pytest.raises(DatasetError, match='resolution 32 requested, dataset has 16'):
        Dataset(str(dataset_dir)).pipeline(32, batch_size=2)


# ------------------------------------------------------------------------------------------------
# Datasets written by the official dataset_tool.py.

@pytest.mark.parametrize('name, image_dir', [('rgb_labeled', 'images_rgb'), ('gray_shuffled', 'images_gray')])
def test_official_tool_dataset_is_read_in_its_record_order(name, image_dir):
    files = sorted((OFFICIAL / image_dir).iterdir())
    order = json.loads((OFFICIAL / 'orders.json').read_text())['choose_shuffled_order'][str(len(files))]
    ds = Dataset(str(OFFICIAL / name), shuffle_mb=0)
    x, y = next(iter(ds.pipeline(ds.resolution, batch_size=len(files))))
    expected = np.stack([np.asarray(PIL.Image.open(files[i])) for i in order])
    np.testing.assert_array_equal(to_uint8(x), expected.reshape(x.shape))
    if name == 'rgb_labeled':
        classes = json.loads((OFFICIAL / 'orders.json').read_text())['rgb_labels_by_file_index']
        np.testing.assert_array_equal(y, np.eye(3)[np.array(classes)[order]])
    else:
        assert y.shape == (len(files), 0)
