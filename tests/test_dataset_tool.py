"""Claims about `python -m data.dataset_tool`: lossless, official-format records, clear refusals.

Most tests call `dataset_tool.run([...])` in-process with absl flags set through the `tool_flags`
fixture (conftest.py), because a subprocess pays TensorFlow's start-up each time; the few `test_cli_*`
tests run the real command line to prove the exit status and the one-line error.
"""
import collections
import csv
import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from data import dataset_tool, sources
from data.tfrecord_io import DatasetError

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO / 'tests' / 'data' / 'official_tfrecords'
# np.random.RandomState(123).shuffle(np.arange(10)), written out so that the test does not share the tool's code.
OFFICIAL_ORDER_10 = [4, 0, 7, 5, 8, 3, 1, 6, 9, 2]


# ------------------------------------------------------------------------------------------------
# Helpers.

def random_images(n, size, channels, seed=0):
    """uint8 [n, H, W, C] (or [n, H, W] for channels=1); `size` is (W, H) or one int."""
    w, h = (size, size) if np.isscalar(size) else size
    shape = [n, h, w] + ([channels] if channels > 1 else [])
    return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


def save_images(folder, images, prefix='img'):
    """Writes PNGs named <prefix>000.png, ...; returns their paths in sorted (official) order."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = os.path.join(folder, f'{prefix}{i:03d}.png')
        PIL.Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def tool(flags, *argv, **flag_values):
    """Runs one dataset-tool command in-process with the given absl flag values."""
    for name, value in flag_values.items():
        setattr(flags, name, value)
    return dataset_tool.run([str(a) for a in argv])


def read_records(tfrecord_dir, log2):
    """uint8 CHW arrays of `<dir>/<basename>-rNN.tfrecords`, parsed with TensorFlow's own proto classes."""
    path = os.path.join(tfrecord_dir, f'{os.path.basename(tfrecord_dir)}-r{log2:02d}.tfrecords')
    images = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        ex = tf.train.Example.FromString(record)
        shape = list(ex.features.feature['shape'].int64_list.value)
        images.append(np.frombuffer(ex.features.feature['data'].bytes_list.value[0], np.uint8).reshape(shape))
    return images


def extracted(flags, tfrecord_dir, out_dir, lod=0):
    """Images written by `extract` as HWC (or HW) arrays, in record order."""
    tool(flags, 'extract', tfrecord_dir, out_dir, lod=lod)
    return [np.asarray(PIL.Image.open(os.path.join(out_dir, n))) for n in sorted(os.listdir(out_dir))]


def box_chain(chw, num_levels):
    """The lods of one image, computed here independently: mean over 2x2 blocks of the float32 previous
    level (exact in float32 at these sizes), rounded half to even only for output."""
    x, levels = chw.astype(np.float32), [chw]
    for _ in range(num_levels - 1):
        c, h, w = x.shape
        x = x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32)
        levels.append(np.rint(x).clip(0, 255).astype(np.uint8))
    return levels


def assert_nothing_written(parent):
    """No output directory and no hidden temporary directory were left in `parent`."""
    assert sorted(os.listdir(parent)) == []


def make_dataset(flags, tmp_path, name='ds', n=4, size=16, channels=3, **flag_values):
    images = random_images(n, size, channels, seed=7)
    save_images(tmp_path / f'{name}_images', images)
    out = tmp_path / name
    tool(flags, 'create_from_images', out, tmp_path / f'{name}_images', shuffle=0, **flag_values)
    return out, images


# ------------------------------------------------------------------------------------------------
# Round trips and the official record layout.

@pytest.mark.parametrize('channels', [3, 1, 4], ids=['rgb', 'gray', 'rgba_channels4'])
def test_images_records_extract_round_trip_is_lossless(tool_flags, tmp_path, channels):
    images = random_images(5, 16, channels)
    save_images(tmp_path / 'images', images)
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0,
         channels=('4' if channels == 4 else None))
    assert read_records(tmp_path / 'ds', 4)[0].shape == (channels, 16, 16)
    back = extracted(tool_flags, tmp_path / 'ds', tmp_path / 'extracted')
    assert len(back) == 5
    for original, restored in zip(images, back):
        np.testing.assert_array_equal(restored, original)


def test_records_are_written_one_file_per_resolution_as_chw_uint8(tool_flags, tmp_path):
    out, images = make_dataset(tool_flags, tmp_path, name='mydata', n=3, size=16)
    assert sorted(os.listdir(out)) == ['mydata-r02.tfrecords', 'mydata-r03.tfrecords', 'mydata-r04.tfrecords']
    record = next(iter(tf.data.TFRecordDataset(str(out / 'mydata-r04.tfrecords')).as_numpy_iterator()))
    feature = tf.train.Example.FromString(record).features.feature
    assert sorted(feature.keys()) == ['data', 'shape']
    assert list(feature['shape'].int64_list.value) == [3, 16, 16]
    assert feature['data'].bytes_list.value[0] == images[0].transpose(2, 0, 1).tobytes()


def test_lower_lods_equal_the_float32_box_filter_chain(tool_flags, tmp_path):
    images = random_images(3, 32, 3, seed=1)
    save_images(tmp_path / 'images', images)
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0)
    for lod in range(4):  # 32, 16, 8, 4
        written = extracted(tool_flags, tmp_path / 'ds', tmp_path / f'lod{lod}', lod=lod)
        for img, got in zip(images, written):
            np.testing.assert_array_equal(got.transpose(2, 0, 1), box_chain(img.transpose(2, 0, 1), 4)[lod])


def test_box_filter_rounds_half_to_even_and_only_when_writing(tool_flags, tmp_path):
    img = np.full([16, 16], 100, np.uint8)
    img[0:4, 0:4] = [[0, 1, 0, 1]] * 4    # three 2x2 blocks averaging 0.5 ...
    img[2:4, 2:4] = [[1, 2], [1, 2]]      # ... and one averaging 1.5
    img[4:6, 4:6] = [[2, 3], [2, 3]]      # 2.5
    save_images(tmp_path / 'images', [img])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images')
    lod1, lod2 = read_records(tmp_path / 'ds', 3)[0][0], read_records(tmp_path / 'ds', 2)[0][0]
    assert (lod1[0, 0], lod1[1, 1], lod1[2, 2]) == (0, 2, 2)    # rint: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2
    assert lod2[0, 0] == 1  # mean(0.5, 0.5, 0.5, 1.5) = 0.75 -> 1; from rounded values it would be 0.5 -> 0


def test_shuffle_uses_the_official_random_state_123_order_by_default(tool_flags, tmp_path):
    images = random_images(10, 8, 3, seed=2)
    save_images(tmp_path / 'images', images)
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images')  # --shuffle unset: official 1
    back = extracted(tool_flags, tmp_path / 'ds', tmp_path / 'extracted')
    np.testing.assert_array_equal(np.stack(back), images[OFFICIAL_ORDER_10])


def test_rgba_is_composited_on_the_background_colour(tool_flags, tmp_path):
    rgba = random_images(1, 8, 4, seed=3)[0]
    rgba[:, :4, 3] = 0      # left half fully transparent
    rgba[:, 4:, 3] = 255    # right half opaque
    save_images(tmp_path / 'images', [rgba])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', background=['0', '0', '255'])
    (chw,) = read_records(tmp_path / 'ds', 3)
    assert chw.shape == (3, 8, 8)
    assert np.all(chw[:, :, :4].reshape(3, -1).T == [0, 0, 255])
    np.testing.assert_array_equal(chw[:, :, 4:], rgba[:, 4:, :3].transpose(2, 0, 1))


def test_gray_image_among_rgb_ones_is_converted_to_rgb(tool_flags, tmp_path):
    rgb = random_images(1, 8, 3)[0]
    gray = random_images(1, 8, 1, seed=4)[0]
    save_images(tmp_path / 'images', [rgb, gray])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0)
    first, second = read_records(tmp_path / 'ds', 3)
    np.testing.assert_array_equal(first, rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(second, np.stack([gray] * 3))


# ------------------------------------------------------------------------------------------------
# Labels.

def test_json_labels_are_written_one_hot_in_record_order(tool_flags, tmp_path):
    paths = save_images(tmp_path / 'images', random_images(10, 8, 3))
    classes = [i % 3 for i in range(10)]
    with open(tmp_path / 'labels.json', 'w') as f:
        json.dump({'labels': [[os.path.basename(p), c] for p, c in zip(paths, classes)]}, f)
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', labels=str(tmp_path / 'labels.json'))
    labels = np.load(tmp_path / 'ds' / 'ds-rxx.labels')
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels, np.eye(3, dtype=np.float32)[np.array(classes)[OFFICIAL_ORDER_10]])


def test_csv_labels_with_a_header_give_one_hot_rows(tool_flags, tmp_path):
    paths = save_images(tmp_path / 'images', random_images(4, 8, 3))
    with open(tmp_path / 'labels.csv', 'w', newline='') as f:
        csv.writer(f).writerows([['file', 'class']] + [[os.path.basename(p), c] for p, c in zip(paths, [2, 0, 1, 2])])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0,
         labels=str(tmp_path / 'labels.csv'))
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(3)[[2, 0, 1, 2]])


def test_csv_vector_labels_are_kept_as_float_rows(tool_flags, tmp_path):
    paths = save_images(tmp_path / 'images', random_images(3, 8, 3))
    vectors = [[0.5, -1.0], [2.0, 0.25], [0.0, 3.5]]
    with open(tmp_path / 'labels.csv', 'w', newline='') as f:
        csv.writer(f).writerows([[os.path.basename(p)] + v for p, v in zip(paths, vectors)])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0,
         labels=str(tmp_path / 'labels.csv'))
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.float32(vectors))


@pytest.mark.parametrize('rows, expected', [
    ([['img000.png', 0], ['img001.png', 1]], 'no label for 1 image(s), e.g. img002.png'),
    ([['img000.png', 0], ['img001.png', 1], ['img002.png', 1], ['other.png', 0]], 'not in the folder, e.g. other.png'),
    ([['img000.png', 0], ['img001.png', 'cat'], ['img002.png', 1]], 'cannot parse labels'),
    ([['img000.png', 0], ['img001.png', 1.5], ['img002.png', 1]], 'non-negative class indices'),
], ids=['missing_image', 'unknown_image', 'not_a_number', 'not_a_class'])
def test_labels_file_that_does_not_match_the_images_is_refused(tool_flags, tmp_path, rows, expected):
    save_images(tmp_path / 'images', random_images(3, 8, 3))
    with open(tmp_path / 'labels.csv', 'w', newline='') as f:
        csv.writer(f).writerows(rows)
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_images', tmp_path / 'out' / 'ds', tmp_path / 'images',
             labels=str(tmp_path / 'labels.csv'))
    assert str(tmp_path / 'labels.csv') in str(e.value) and expected in str(e.value)
    assert_nothing_written(tmp_path / 'out')


# ------------------------------------------------------------------------------------------------
# Sizes and --resize.

@pytest.mark.parametrize('size, expected', [((16, 8), 'is 16x8, not square'), ((12, 12), 'not a power of two')],
                         ids=['non_square', 'non_power_of_two'])
def test_image_of_the_wrong_size_is_refused_without_resize(tool_flags, tmp_path, size, expected):
    paths = save_images(tmp_path / 'images', random_images(1, size, 3))
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_images', tmp_path / 'out' / 'ds', tmp_path / 'images')
    assert str(e.value).startswith(paths[0]) and expected in str(e.value) and '--resize=' in str(e.value)
    assert_nothing_written(tmp_path / 'out')


def test_resize_center_crop_keeps_the_middle_square(tool_flags, tmp_path):
    img = random_images(1, (24, 16), 3)[0]                    # W=24, H=16 -> crop columns 4..20
    save_images(tmp_path / 'images', [img])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', resize='center_crop')
    (chw,) = read_records(tmp_path / 'ds', 4)
    np.testing.assert_array_equal(chw, img[:, 4:20].transpose(2, 0, 1))


def test_resize_pad_centres_the_image_on_the_background(tool_flags, tmp_path):
    img = random_images(1, (16, 8), 3)[0]                     # W=16, H=8 -> 4 rows of padding above and below
    save_images(tmp_path / 'images', [img])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', resize='pad',
         background=['10', '20', '30'])
    (chw,) = read_records(tmp_path / 'ds', 4)
    np.testing.assert_array_equal(chw[:, 4:12], img.transpose(2, 0, 1))
    assert np.all(chw[:, :4].reshape(3, -1).T == [10, 20, 30]) and np.all(chw[:, 12:].reshape(3, -1).T == [10, 20, 30])


def test_resize_stretch_uses_lanczos_to_the_requested_resolution(tool_flags, tmp_path):
    img = random_images(1, (24, 12), 3)[0]
    save_images(tmp_path / 'images', [img])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', resize='stretch', resolution=8)
    (chw,) = read_records(tmp_path / 'ds', 3)
    expected = np.asarray(PIL.Image.fromarray(img).resize((8, 8), PIL.Image.LANCZOS))
    np.testing.assert_array_equal(chw, expected.transpose(2, 0, 1))


def test_palette_image_is_resized_like_its_rgb_equivalent(tool_flags, tmp_path):
    rgb = np.zeros([12, 24, 3], np.uint8)
    rgb[:, ::2] = [200, 30, 30]                               # stripes: nearest-neighbour would keep them sharp
    rgb[:, 1::2] = [20, 40, 220]
    os.makedirs(tmp_path / 'p')
    os.makedirs(tmp_path / 'rgb')
    PIL.Image.fromarray(rgb).convert('P', palette=PIL.Image.ADAPTIVE, colors=2).save(tmp_path / 'p' / 'a.png')
    PIL.Image.fromarray(rgb).save(tmp_path / 'rgb' / 'a.png')
    assert PIL.Image.open(tmp_path / 'p' / 'a.png').mode == 'P'
    for name in ('p', 'rgb'):
        tool(tool_flags, 'create_from_images', tmp_path / f'ds_{name}', tmp_path / name, resize='stretch',
             resolution=8, channels='3')
    np.testing.assert_array_equal(read_records(tmp_path / 'ds_p', 3)[0], read_records(tmp_path / 'ds_rgb', 3)[0])


# ------------------------------------------------------------------------------------------------
# Nothing changed silently: channels from the majority, one report line per kind of change.

def test_channels_follow_the_majority_not_the_first_image(tool_flags, tmp_path):
    rgb = random_images(2, 8, 3, seed=8)
    gray = random_images(1, 8, 1, seed=9)[0]
    save_images(tmp_path / 'images', rgb, prefix='b')
    PIL.Image.fromarray(gray).save(tmp_path / 'images' / 'a.png')            # sorted first
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0)
    records = read_records(tmp_path / 'ds', 3)
    np.testing.assert_array_equal(records[0], np.stack([gray] * 3))
    np.testing.assert_array_equal(np.stack(records[1:]), rgb.transpose(0, 3, 1, 2))
    save_images(tmp_path / 'mostly_gray', random_images(2, 8, 1), prefix='b')
    PIL.Image.fromarray(rgb[0]).save(tmp_path / 'mostly_gray' / 'a.png')
    tool(tool_flags, 'create_from_images', tmp_path / 'ds_gray', tmp_path / 'mostly_gray', shuffle=0)
    assert read_records(tmp_path / 'ds_gray', 3)[0].shape == (1, 8, 8)


@pytest.mark.parametrize('channels, expected', [
    (None, ['Channels: 3 (RGB), as the majority of the images (3 colour, 1 grayscale); --channels=N to choose',
            '1 image with transparency composited on the background 255,255,255 (--background=R,G,B)',
            '1 grayscale image expanded to RGB (R = G = B)']),
    ('1', ['1 image with transparency composited on the background 255,255,255 (--background=R,G,B)',
           '3 colour images converted to grayscale (L = 0.299 R + 0.587 G + 0.114 B)']),
    ('4', ['3 images without transparency given an opaque alpha channel']),
], ids=['majority_rgb', 'channels1', 'channels4'])
def test_every_kind_of_change_is_reported_in_one_line(tool_flags, tmp_path, capsys, channels, expected):
    rgba = random_images(1, 16, 4, seed=3)[0]
    rgba[:, :8, 3] = 0
    save_images(tmp_path / 'images', [rgba, random_images(1, 16, 1)[0], random_images(1, (24, 16), 3)[0],
                                      random_images(1, 16, 3)[0]])
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0, resize='center_crop',
         resolution=8, channels=channels)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f'Added 4 images to {tmp_path / "ds"}', '1 image center-cropped to a square',
                     '4 images resized to 8x8 with Lanczos'] + expected
    records = read_records(tmp_path / 'ds', 3)
    if channels == '4':  # what the lines say is what happened: alpha kept (not composited), opaque alpha added
        alpha = np.asarray(PIL.Image.fromarray(rgba).resize((8, 8), PIL.Image.LANCZOS))[:, :, 3]
        np.testing.assert_array_equal(records[0][3], alpha)
        assert alpha.min() == 0 and np.all(np.stack(records[1:])[:, 3] == 255)


def test_unchanged_images_give_no_report_lines(tool_flags, tmp_path, capsys):
    save_images(tmp_path / 'images', random_images(3, 8, 3))
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images')
    assert capsys.readouterr().out.splitlines() == [f'Added 3 images to {tmp_path / "ds"}']


def test_resize_without_resolution_picks_the_largest_power_of_two_every_image_reaches(tool_flags, tmp_path, capsys):
    sizes = [(40, 20), (16, 16), (35, 33)]                    # square sides 20, 16, 33 -> 16, 16, 32 -> 16
    for i, size in enumerate(sizes):
        save_images(tmp_path / 'images', random_images(1, size, 3, seed=i), prefix=f'i{i}')
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', shuffle=0, resize='center_crop')
    records = read_records(tmp_path / 'ds', 4)
    assert [r.shape for r in records] == [(3, 16, 16)] * 3
    big = random_images(1, (35, 33), 3, seed=2)[0][:, 1:34]  # the middle 33 columns
    expected = np.asarray(PIL.Image.fromarray(big).resize((16, 16), PIL.Image.LANCZOS)).transpose(2, 0, 1)
    np.testing.assert_array_equal(records[2], expected)
    out = capsys.readouterr().out
    assert (f'Resolution: 16x16, the largest power of two every image reaches (the smallest is '
            f'{tmp_path / "images" / "i1000.png"}, 16x16); --resolution=R to choose') in out.splitlines()


def test_mixed_sizes_error_names_the_resize_choices_and_resolution(tool_flags, tmp_path):
    paths = save_images(tmp_path / 'images', [random_images(1, 16, 3)[0], random_images(1, 8, 3)[0]])
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images')
    assert str(e.value) == (f'{paths[1]}: image is 8x8, differs from the first image\'s 16x16 ({paths[0]}); choose '
                            f'--resize=center_crop|pad|stretch|center_crop_wide (with --resolution=R) to give all '
                            f'images one size')


# ------------------------------------------------------------------------------------------------
# Bad image folders: one message naming the file, nothing written.

def _empty(folder):
    os.makedirs(folder)
    return str(folder), 'no image files found'


def _corrupt_first(folder):
    save_images(folder, random_images(2, 8, 3), prefix='b')
    (folder / 'a.png').write_bytes(b'this is not a png')
    return str(folder / 'a.png'), 'cannot read image'


def _corrupt_later(folder):
    save_images(folder, random_images(2, 8, 3))
    (folder / 'z.png').write_bytes(os.urandom(100))
    return str(folder / 'z.png'), 'cannot read image'


def _truncated(folder):
    save_images(folder, random_images(2, 16, 3))
    data = (folder / 'img001.png').read_bytes()
    (folder / 'img001.png').write_bytes(data[:len(data) // 2])
    return str(folder / 'img001.png'), 'cannot read image'


def _mixed_sizes(folder):
    save_images(folder, random_images(2, 16, 3))
    PIL.Image.fromarray(random_images(1, 8, 3)[0]).save(folder / 'img002.png')
    return str(folder / 'img002.png'), 'differs from the first image'


def _sixteen_bit(folder):
    save_images(folder, random_images(1, 8, 1))
    PIL.Image.fromarray(np.full([8, 8], 40000, np.uint16)).save(folder / 'img001.png')
    assert PIL.Image.open(folder / 'img001.png').mode.startswith('I')
    return str(folder / 'img001.png'), 'unsupported image mode'


@pytest.mark.parametrize('make_folder',
                         [_empty, _corrupt_first, _corrupt_later, _truncated, _mixed_sizes, _sixteen_bit], ids=['empty_directory', 'corrupt_first_image', 'corrupt_later_image', 'truncated_image',
                              'mixed_sizes', 'unsupported_mode'])
def test_bad_image_folder_is_refused_naming_the_file_and_nothing_is_written(tool_flags, tmp_path, make_folder):
    where, expected = make_folder(tmp_path / 'images')
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_images', tmp_path / 'out' / 'ds', tmp_path / 'images', shuffle=0)
    message = str(e.value)
    assert message.startswith(where) and expected in message and '\n' not in message
    assert_nothing_written(tmp_path / 'out')


def test_existing_output_is_refused_unless_overwrite(tool_flags, tmp_path):
    out, _ = make_dataset(tool_flags, tmp_path, n=2, size=8)
    with pytest.raises(DatasetError, match='already exists'):
        tool(tool_flags, 'create_from_images', out, tmp_path / 'ds_images')
    save_images(tmp_path / 'more', random_images(5, 8, 3))
    tool(tool_flags, 'create_from_images', out, tmp_path / 'more', overwrite=True)
    assert len(read_records(out, 3)) == 5
    assert sorted(os.listdir(tmp_path)) == ['ds', 'ds_images', 'more']  # no temporary directory left


# ------------------------------------------------------------------------------------------------
# Bad dataset directories (info, extract, compare share the checks).

def _truncated_file(ds):
    path = ds / 'ds-r04.tfrecords'
    path.write_bytes(path.read_bytes()[:-100])
    return str(path), 'truncated TFRecord'


def _foreign_records(ds):
    for path in ds.iterdir():
        path.unlink()
    with tf.io.TFRecordWriter(str(ds / 'ds-r04.tfrecords')) as writer:
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'\x89PNG']))})).SerializeToString())
    return str(ds / 'ds-r04.tfrecords'), 'expected features "shape" and "data"'


def _not_a_tfrecord(ds):
    (ds / 'ds-r04.tfrecords').write_bytes(PIL.Image.new('RGB', (16, 16)).tobytes())
    return str(ds / 'ds-r04.tfrecords'), 'not a TFRecord file'


def _missing_resolution(ds):
    (ds / 'ds-r03.tfrecords').unlink()
    return str(ds), 'missing the TFRecord file for resolution(s) 8x8'


def _no_records(ds):
    for path in ds.iterdir():
        path.unlink()
    return str(ds), 'no *.tfrecords files'


def _short_labels(ds):
    np.save(ds / 'ds-rxx.labels', np.eye(3, dtype=np.float32))  # 3 rows for 4 images
    os.rename(ds / 'ds-rxx.labels.npy', ds / 'ds-rxx.labels')
    return str(ds / 'ds-rxx.labels'), '3 labels for 4 images'


@pytest.mark.parametrize('damage', [_truncated_file, _foreign_records, _not_a_tfrecord, _missing_resolution,
                                    _no_records, _short_labels],
                         ids=['truncated_tfrecord', 'foreign_tfrecord', 'not_a_tfrecord', 'missing_resolution',
                              'no_tfrecords', 'labels_do_not_match'])
def test_bad_dataset_directory_is_refused_by_info_and_extract(tool_flags, tmp_path, damage):
    ds, _ = make_dataset(tool_flags, tmp_path, n=4, size=16)
    where, expected = damage(ds)
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'info', ds)
    assert str(e.value).startswith(where) and expected in str(e.value)
    if damage is not _short_labels:  # extract does not read labels
        os.makedirs(tmp_path / 'out')
        with pytest.raises(DatasetError) as e:
            tool(tool_flags, 'extract', ds, tmp_path / 'out' / 'png')
        assert str(e.value).startswith(where) and expected in str(e.value)
        assert_nothing_written(tmp_path / 'out')


def test_corrupt_record_in_the_middle_is_refused_and_extract_leaves_nothing(tool_flags, tmp_path):
    ds, _ = make_dataset(tool_flags, tmp_path, n=4, size=16)
    path = ds / 'ds-r04.tfrecords'
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the last record's image bytes: framing intact, checksum wrong
    path.write_bytes(bytes(data))
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'extract', ds, tmp_path / 'out' / 'png')
    assert str(e.value).startswith(str(path))
    assert_nothing_written(tmp_path / 'out')


def test_extract_refuses_an_existing_output_unless_overwrite(tool_flags, tmp_path):
    ds, images = make_dataset(tool_flags, tmp_path, n=2, size=8)
    os.makedirs(tmp_path / 'png')
    with pytest.raises(DatasetError, match='already exists'):
        tool(tool_flags, 'extract', ds, tmp_path / 'png')
    assert os.listdir(tmp_path / 'png') == []
    tool(tool_flags, 'extract', ds, tmp_path / 'png', overwrite=True)
    assert sorted(os.listdir(tmp_path / 'png')) == ['img00000000.png', 'img00000001.png']


def test_extract_refuses_a_lod_the_dataset_does_not_have(tool_flags, tmp_path):
    ds, _ = make_dataset(tool_flags, tmp_path, n=2, size=16)
    with pytest.raises(DatasetError, match=r'--lod=3: expected 0\.\.2'):
        tool(tool_flags, 'extract', ds, tmp_path / 'png', lod=3)
    assert not os.path.exists(tmp_path / 'png')


def test_info_reports_images_resolution_channels_and_labels(tool_flags, tmp_path, capsys):
    paths = save_images(tmp_path / 'images', random_images(6, 16, 1))
    with open(tmp_path / 'labels.json', 'w') as f:
        json.dump({os.path.basename(p): i % 4 for i, p in enumerate(paths)}, f)
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'images', labels=str(tmp_path / 'labels.json'))
    capsys.readouterr()
    tool(tool_flags, 'info', tmp_path / 'ds')
    lines = dict(line.split(':', 1) for line in capsys.readouterr().out.splitlines())
    assert lines['Images'].strip() == '6'
    assert lines['Resolution'].strip() == '16x16 (files for 4, 8, 16)'
    assert lines['Channels'].strip() == '1'
    assert lines['Labels'].strip().startswith('4 (one-hot, 4 classes) in ds-rxx.labels, 6 rows')


def test_compare_tells_equal_datasets_from_different_ones(tool_flags, tmp_path, capsys):
    save_images(tmp_path / 'images', random_images(4, 8, 3))
    tool(tool_flags, 'create_from_images', tmp_path / 'a', tmp_path / 'images')
    tool(tool_flags, 'create_from_images', tmp_path / 'b', tmp_path / 'images')
    tool(tool_flags, 'create_from_images', tmp_path / 'c', tmp_path / 'images', shuffle=0)
    capsys.readouterr()
    assert tool(tool_flags, 'compare', tmp_path / 'a', tmp_path / 'b') is True
    assert 'Identical images: 4 / 4' in capsys.readouterr().out
    assert tool(tool_flags, 'compare', tmp_path / 'a', tmp_path / 'c') is False
    out = capsys.readouterr().out
    assert 'Identical images: 0 / 4' in out and 'Image 0 is different' in out


# ------------------------------------------------------------------------------------------------
# The classic archives, from tiny files in their original formats.

def _write_idx_gz(path, array, magic):
    with gzip.open(path, 'wb') as f:
        f.write(struct.pack('>I', magic) + b''.join(struct.pack('>I', d) for d in array.shape) + array.tobytes())


def test_create_mnist_pads_to_32_and_one_hot_labels(tool_flags, tmp_path):
    digits = random_images(5, 28, 1, seed=5)
    classes = np.array([3, 1, 4, 1, 5], np.uint8)
    os.makedirs(tmp_path / 'mnist')
    _write_idx_gz(tmp_path / 'mnist' / 'train-images-idx3-ubyte.gz', digits, 2051)
    _write_idx_gz(tmp_path / 'mnist' / 'train-labels-idx1-ubyte.gz', classes, 2049)
    tool(tool_flags, 'create_mnist', tmp_path / 'ds', tmp_path / 'mnist', shuffle=0)
    records = read_records(tmp_path / 'ds', 5)
    np.testing.assert_array_equal(np.stack(records)[:, 0], np.pad(digits, [(0, 0), (2, 2), (2, 2)]))
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(6)[classes])


def test_create_cifar10_reads_the_python_batches_in_official_order(tool_flags, tmp_path):
    os.makedirs(tmp_path / 'cifar')
    images = random_images(10, 32, 3, seed=6).transpose(0, 3, 1, 2)  # NCHW, as CIFAR stores its rows
    classes = [i % 10 for i in range(10)]
    for batch in range(5):
        rows = slice(2 * batch, 2 * batch + 2)
        with open(tmp_path / 'cifar' / f'data_batch_{batch + 1}', 'wb') as f:
            pickle.dump({'data': images[rows].reshape(2, -1), 'labels': classes[rows]}, f)
    tool(tool_flags, 'create_cifar10', tmp_path / 'ds', tmp_path / 'cifar')
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 5)), images[OFFICIAL_ORDER_10])
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(10)[OFFICIAL_ORDER_10])


def test_create_cifar100_uses_fine_labels(tool_flags, tmp_path):
    os.makedirs(tmp_path / 'cifar')
    images = random_images(3, 32, 3).transpose(0, 3, 1, 2)
    with open(tmp_path / 'cifar' / 'train', 'wb') as f:
        pickle.dump({'data': images.reshape(3, -1), 'fine_labels': [7, 99, 0], 'coarse_labels': [1, 2, 3]}, f)
    tool(tool_flags, 'create_cifar100', tmp_path / 'ds', tmp_path / 'cifar', shuffle=0)
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 5)), images)
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(100)[[7, 99, 0]])


def test_create_celeba_crops_128_around_the_official_centre(tool_flags, tmp_path):
    faces = random_images(2, (178, 218), 3)
    save_images(tmp_path / 'celeba' / 'img_align_celeba_png', faces)
    tool(tool_flags, 'create_celeba', tmp_path / 'ds', tmp_path / 'celeba', shuffle=0)
    records = read_records(tmp_path / 'ds', 7)
    np.testing.assert_array_equal(records[1], faces[1][121 - 64:121 + 64, 89 - 64:89 + 64].transpose(2, 0, 1))


def test_create_from_hdf5_takes_the_largest_data_array_and_its_labels(tool_flags, tmp_path):
    import h5py
    images = random_images(3, 8, 3).transpose(0, 3, 1, 2)
    with h5py.File(tmp_path / 'set.h5', 'w') as f:
        f['data4x4'] = images[:, :, ::2, ::2]
        f['data8x8'] = images
    np.save(tmp_path / 'set-labels.npy', np.float32([[1, 0], [0, 1], [1, 0]]))
    tool(tool_flags, 'create_from_hdf5', tmp_path / 'ds', tmp_path / 'set.h5', shuffle=0)
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 3)), images)
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), [[1, 0], [0, 1], [1, 0]])


def test_embedded_data_is_the_fashion_mnist_test_split_padded_to_32():
    images, labels = sources.embedded_arrays()
    assert images.shape == (10000, 1, 32, 32) and images.dtype == np.uint8
    assert not images[:, :, :2].any() and not images[:, :, :, -2:].any()   # padded by 2 like create_mnist
    assert np.bincount(labels).tolist() == [1000] * 10


def test_create_from_embedded_writes_the_embedded_images_and_labels(tool_flags, tmp_path, monkeypatch):
    images, labels = sources.embedded_arrays()
    # All 10000 would take seconds; the command is the same for the first 10.
    monkeypatch.setattr(sources, 'embedded_arrays', lambda: (images[:10], labels[:10]))
    tool(tool_flags, 'create_from_embedded', tmp_path / 'ds')
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 5)), images[OFFICIAL_ORDER_10])
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(10)[labels[OFFICIAL_ORDER_10]])


# ------------------------------------------------------------------------------------------------
# TensorFlow Datasets, offline only.

def test_create_from_tfds_reads_a_mocked_dataset(tool_flags, tmp_path):
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=6):
        tool(tool_flags, 'create_from_tfds', tmp_path / 'ds', name='cifar10', shuffle=0)
        expected = [ex['image'] for ex in tfds.as_numpy(tfds.load('cifar10', split='train'))]
    records = read_records(tmp_path / 'ds', 5)
    assert len(records) == 6 and records[0].shape == (3, 32, 32)
    np.testing.assert_array_equal(records[0], expected[0].transpose(2, 0, 1))
    assert np.load(tmp_path / 'ds' / 'ds-rxx.labels').shape == (6, 10)


def test_create_from_tfds_image_folder_works_offline(tool_flags, tmp_path):
    images = random_images(4, 8, 3)
    save_images(tmp_path / 'root' / 'train' / 'cat', images[:2], prefix='c')
    save_images(tmp_path / 'root' / 'train' / 'dog', images[2:], prefix='d')
    tool(tool_flags, 'create_from_tfds', tmp_path / 'ds', name='image_folder', data_dir=str(tmp_path / 'root'))
    records = np.stack(read_records(tmp_path / 'ds', 3))
    labels = np.load(tmp_path / 'ds' / 'ds-rxx.labels')
    assert records.shape == (4, 3, 8, 8) and labels.shape == (4, 2)
    for chw, label in zip(records, labels):  # every image comes back once, with its folder's class
        (i,) = [i for i in range(4) if np.array_equal(images[i].transpose(2, 0, 1), chw)]
        assert label.argmax() == (0 if i < 2 else 1)


def test_create_from_tfds_says_where_it_looked_when_not_prepared(tool_flags, tmp_path):
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_tfds', tmp_path / 'out' / 'ds', name='mnist', data_dir=str(tmp_path / 'tfds'))
    assert 'not prepared under ' + str(tmp_path / 'tfds' / 'mnist') in str(e.value)
    assert_nothing_written(tmp_path / 'out')


# ------------------------------------------------------------------------------------------------
# Record for record equal to the official tool (fixtures written by the official dataset_tool.py).

def example_entries(record):
    """Serialized Example -> its Features map entries as raw bytes (Example.features and Features.feature
    are both field 1, length-delimited), in the order they were written."""
    def fields(buf):
        i = 0
        while i < len(buf):
            tag, i = _varint(buf, i)
            assert tag == 0x0A, f'unexpected protobuf tag {tag}'
            length, i = _varint(buf, i)
            yield buf[i:i + length]
            i += length
    (features,) = fields(record)
    return list(fields(features))


def _varint(buf, i):
    value = shift = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return value, i


def same_record(ours, theirs):
    """Byte-equal, or the same map entries byte for byte in another order (protobuf does not fix the
    order of map entries, so two runs of the official tool may differ this way; see conventions.md)."""
    return ours == theirs or collections.Counter(example_entries(ours)) == collections.Counter(example_entries(theirs))


OFFICIAL_CASES = {  # output basename -> (input folder, --shuffle, labelled)
    'rgb_shuffled': ('images_rgb', 1, False), 'rgb_unshuffled': ('images_rgb', 0, False),
    'gray_shuffled': ('images_gray', 1, False), 'gray_unshuffled': ('images_gray', 0, False),
    'rgb_labeled': ('images_rgb', 1, True)}


@pytest.mark.parametrize('name', sorted(OFFICIAL_CASES))
def test_records_equal_the_official_tools_record_for_record(tool_flags, tmp_path, name):
    image_dir, shuffle, labelled = OFFICIAL_CASES[name]
    official = OFFICIAL / name
    labels = None
    if labelled:  # The fixture's labels: class of each input file, by sorted file index.
        classes = json.loads((OFFICIAL / 'orders.json').read_text())['rgb_labels_by_file_index']
        files = sorted(os.listdir(OFFICIAL / image_dir))
        labels = str(tmp_path / 'labels.json')
        with open(labels, 'w') as f:
            json.dump({'labels': [[n, c] for n, c in zip(files, classes)]}, f)
    tool(tool_flags, 'create_from_images', tmp_path / name, OFFICIAL / image_dir, shuffle=shuffle, labels=labels)
    assert sorted(os.listdir(tmp_path / name)) == sorted(os.listdir(official))
    for file in sorted(os.listdir(official)):
        if file.endswith('.labels'):
            ours, theirs = np.load(tmp_path / name / file), np.load(official / file)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            np.testing.assert_array_equal(ours, theirs)
            continue
        ours = list(tf.data.TFRecordDataset(str(tmp_path / name / file)).as_numpy_iterator())
        theirs = list(tf.data.TFRecordDataset(str(official / file)).as_numpy_iterator())
        assert len(ours) == len(theirs) > 0, file
        for index, (a, b) in enumerate(zip(ours, theirs)):
            assert same_record(a, b), f'{file}: record {index} differs from the official tool\'s'


def test_record_comparison_accepts_swapped_map_entries_only():
    shape = tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2, 2]))
    data = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'abcd']))
    record = tf.train.Example(features=tf.train.Features(feature={'shape': shape, 'data': data})).SerializeToString()
    entries = example_entries(record)
    assert len(entries) == 2
    swapped_body = b''.join(b'\x0a' + bytes([len(e)]) + e for e in reversed(entries))
    swapped = b'\x0a' + bytes([len(swapped_body)]) + swapped_body
    assert swapped != record and same_record(record, swapped)
    other = tf.train.Example(features=tf.train.Features(feature={
        'shape': shape, 'data': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'abce']))})).SerializeToString()
    assert not same_record(record, other)


# ------------------------------------------------------------------------------------------------
# The real command line: exit status and the one-line error (each call pays TensorFlow's start-up).

@pytest.fixture(scope='module')
def cli_results(tmp_path_factory):
    """Two bad inputs given to the real command line, run side by side (each pays TensorFlow's start-up).
    Returns {case: (CompletedProcess, the file the error must name, the parent that must stay empty)}."""
    root = tmp_path_factory.mktemp('cli')
    image_paths = save_images(root / 'images', random_images(3, 16, 3))
    data = Path(image_paths[2]).read_bytes()
    Path(image_paths[2]).write_bytes(data[:len(data) // 2])  # the first two are written before it fails
    os.makedirs(root / 'out')
    dataset_tool.write_dataset(str(root / 'ds'), sources.array_source(random_images(3, 16, 3).transpose(0, 3, 1, 2)),
                               shuffle=False)
    record_path = root / 'ds' / 'ds-r03.tfrecords'
    record_path.write_bytes(record_path.read_bytes()[:-5])
    cases = {'truncated_image': (['create_from_images', root / 'out' / 'ds', root / 'images', '--shuffle=0'],
                                 image_paths[2], root / 'out'),
             'truncated_tfrecord': (['info', root / 'ds'], str(record_path), None)}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = {name: subprocess.Popen([sys.executable, '-m', 'data.dataset_tool'] + [str(a) for a in argv], cwd=REPO,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, (argv, _, _) in cases.items()}
    results = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[name] = (subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr),) + cases[name][1:]
    return results


@pytest.mark.parametrize('case', ['truncated_image', 'truncated_tfrecord'])
def test_cli_bad_input_exits_nonzero_with_one_error_line_naming_the_file(cli_results, case):
    result, where, parent = cli_results[case]
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f'error: {where}: ')
    assert 'Traceback' not in result.stderr
    if parent is not None:
        assert_nothing_written(parent)
