"""Claims about datasets in ada-pytorch's layout: image folders with sub-folders, .zip files, dataset.json labels,
`--resize=center_crop_wide`, and `extract` to ada-pytorch's zip, checked against zips written by ada-pytorch's
own dataset_tool.py (tests/data/ada_dataset_tool, see its README)."""
import glob
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from data.tfrecord_io import DatasetError
from test_dataset_tool import random_images, read_records, same_record, tool

ADA = Path(__file__).resolve().parent / 'data' / 'ada_dataset_tool'


def write_images(root, named_images):
    """{relative name: HWC/HW uint8} as PNGs under folder `root`."""
    for name, img in named_images.items():
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(img).save(path)


def write_zip(path, named_images, metadata=None, extra=()):
    """The same PNGs in a zip (members in reverse order: the tool must sort), with dataset.json if given."""
    with zipfile.ZipFile(path, 'w') as zf:
        for name in list(extra) + sorted(named_images, reverse=True):
            if name in named_images:
                png = io.BytesIO()
                PIL.Image.fromarray(named_images[name]).save(png, format='PNG')
                zf.writestr(name, png.getvalue())
            else:
                zf.writestr(name, b'not an image')
        if metadata is not None:
            zf.writestr('dataset.json', json.dumps(metadata))


def zip_images(path):
    """{member: HWC uint8} and the parsed dataset.json of a zip."""
    with zipfile.ZipFile(path) as zf:
        images = {n: np.asarray(PIL.Image.open(io.BytesIO(zf.read(n)))) for n in zf.namelist() if n.endswith('.png')}
        return images, json.loads(zf.read('dataset.json'))


def assert_same_dataset(a, b):
    """Two dataset directories (of any names) hold the same records at every resolution and the same labels."""
    def files(d, pattern):
        return sorted(glob.glob(os.path.join(d, pattern)))
    assert len(files(a, '*.tfrecords')) == len(files(b, '*.tfrecords')) > 0
    for fa, fb in zip(files(a, '*.tfrecords'), files(b, '*.tfrecords')):
        assert fa[-12:] == fb[-12:]                                   # -rNN.tfrecords
        ra, rb = (list(tf.data.TFRecordDataset(f).as_numpy_iterator()) for f in (fa, fb))
        assert len(ra) == len(rb) > 0
        assert all(same_record(x, y) for x, y in zip(ra, rb)), fa
    (la,), (lb,) = (files(d, '*.labels') for d in (a, b))
    la, lb = np.load(la), np.load(lb)
    assert la.dtype == lb.dtype == np.float32
    np.testing.assert_array_equal(la, lb)


# ------------------------------------------------------------------------------------------------
# Folders with sub-folders and zips.

def test_zip_and_folder_give_the_images_in_the_same_sorted_name_order(tool_flags, tmp_path):
    names = ['b.png', 'A.png', 'a/x.png', 'a-b.png']              # sorted as strings: A.png a-b.png a/x.png b.png
    named = {n: img for n, img in zip(names, random_images(4, 8, 3, seed=11))}
    write_images(tmp_path / 'folder', named)
    write_images(tmp_path / 'folder', {'.hidden/h.png': named['b.png'], 'a/.h.png': named['b.png']})
    write_zip(tmp_path / 'set.zip', named, extra=['__MACOSX/._b.png', '.DS_Store'])
    for src in ('folder', 'set.zip'):
        tool(tool_flags, 'create_from_images', tmp_path / f'ds_{src}', tmp_path / src, shuffle=0)
        records = np.stack(read_records(tmp_path / f'ds_{src}', 3))
        expected = np.stack([named[n] for n in ['A.png', 'a-b.png', 'a/x.png', 'b.png']]).transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(records, expected)


@pytest.mark.parametrize('kind', ['classes', 'vectors'])
def test_zip_with_dataset_json_equals_the_folder_with_labels_flag(tool_flags, tmp_path, kind):
    names = [f'{i // 3:05d}/img{i:08d}.png' for i in range(7)]    # ada-pytorch's layout, two sub-folders
    named = {n: img for n, img in zip(names, random_images(7, 16, 3, seed=12))}
    values = [i % 3 for i in range(7)] if kind == 'classes' else [[i * 0.5, -1.0] for i in range(7)]
    metadata = {'labels': [[n, v] for n, v in zip(names, values)]}
    write_images(tmp_path / 'folder', named)
    (tmp_path / 'labels.json').write_text(json.dumps(metadata))
    write_zip(tmp_path / 'set.zip', named, metadata)
    tool(tool_flags, 'create_from_images', tmp_path / 'from_folder', tmp_path / 'folder',
         labels=str(tmp_path / 'labels.json'))
    tool(tool_flags, 'create_from_images', tmp_path / 'from_zip', tmp_path / 'set.zip')
    assert_same_dataset(tmp_path / 'from_folder', tmp_path / 'from_zip')
    labels = np.load(tmp_path / 'from_zip' / 'from_zip-rxx.labels')
    assert labels.shape == ((7, 3) if kind == 'classes' else (7, 2))


def test_ada_pytorch_zip_is_read_with_its_labels(tool_flags, tmp_path, capsys):
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'center_crop.zip', shuffle=0)
    images, metadata = zip_images(ADA / 'center_crop.zip')
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 4)),
                                  np.stack([images[n] for n in sorted(images)]).transpose(0, 3, 1, 2))
    classes = [c for _, c in sorted(metadata['labels'])]
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(3, dtype=np.float32)[classes])
    assert f'Labels from {ADA / "center_crop.zip"}/dataset.json (one-hot, 3 classes)' in capsys.readouterr().out


def test_dataset_json_with_null_labels_means_no_labels(tool_flags, tmp_path):
    write_zip(tmp_path / 'set.zip', {'a.png': random_images(1, 8, 3)[0]}, {'labels': None})
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'set.zip')
    assert sorted(os.listdir(tmp_path / 'ds')) == ['ds-r02.tfrecords', 'ds-r03.tfrecords']


@pytest.mark.parametrize('labels, expected', [
    ([['a.png', 0], ['sub/b.png', 1], ['gone.png', 1]], '1 label(s) for images that are not in the zip, e.g. gone.png'),
    ([['a.png', 0]], 'no label for 1 image(s), e.g. sub/b.png'),
    ([['a.png', 0], ['sub/b.png', None]], 'no label for 1 image(s), e.g. sub/b.png'),
    ([['a.png', 0], ['b.png', 1]], 'no label for 1 image(s), e.g. sub/b.png'),  # in a sub-folder, the path is the name
    ('not a list', 'cannot parse labels'),
], ids=['listed_file_missing', 'image_without_label', 'null_label', 'basename_in_sub_folder', 'malformed'])
def test_dataset_json_that_does_not_match_the_images_is_refused(tool_flags, tmp_path, labels, expected):
    write_zip(tmp_path / 'set.zip', dict(zip(['a.png', 'sub/b.png'], random_images(2, 8, 3))), {'labels': labels})
    os.makedirs(tmp_path / 'out')
    with pytest.raises(DatasetError) as e:
        tool(tool_flags, 'create_from_images', tmp_path / 'out' / 'ds', tmp_path / 'set.zip')
    assert str(e.value).startswith(f'{tmp_path / "set.zip"}/dataset.json: ') and expected in str(e.value)
    assert os.listdir(tmp_path / 'out') == []


def test_mixed_sizes_in_a_zip_stop_naming_the_resize_choices(tool_flags, tmp_path):
    write_zip(tmp_path / 'set.zip', {'a.png': random_images(1, 16, 3)[0], 'b/c.png': random_images(1, 8, 3)[0]})
    with pytest.raises(DatasetError, match=r'set\.zip/b/c\.png: image is 8x8, differs from the first image\'s 16x16 '
                                           r'.*--resize=center_crop\|pad\|stretch\|center_crop_wide'):
        tool(tool_flags, 'create_from_images', tmp_path / 'ds', tmp_path / 'set.zip')


# ------------------------------------------------------------------------------------------------
# ada-pytorch's transforms, against its own dataset_tool.py.

def test_center_crop_wide_matches_ada_pytorch(tool_flags, tmp_path, capsys):
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'images', shuffle=0, resize='center_crop_wide',
         resolution=16, height=12)
    images, metadata = zip_images(ADA / 'center_crop_wide.zip')   # ada-pytorch dropped c.png and d.png
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 4)),
                                  np.stack([images[n] for n in sorted(images)]).transpose(0, 3, 1, 2))
    classes = [c for _, c in sorted(metadata['labels'])]
    np.testing.assert_array_equal(np.load(tmp_path / 'ds' / 'ds-rxx.labels'), np.eye(3, dtype=np.float32)[classes])
    out = capsys.readouterr().out
    assert '4 images cropped as ada-pytorch\'s center-crop-wide: the middle round(16 * height / width) rows, ' \
           'resized to 16x12 with Lanczos, on a black 16x16 square' in out
    assert '4 of them with their aspect ratio changed by more than 1%' in out
    assert f'2 images skipped as ada-pytorch skips them: narrower than 16 px or fewer than 12 rows after the crop ' \
           f'(e.g. {ADA / "images" / "c.png"}, 32x20)' in out


def test_center_crop_matches_ada_pytorch_center_crop(tool_flags, tmp_path):
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'images', shuffle=0, resize='center_crop',
         resolution=16)
    images, _ = zip_images(ADA / 'center_crop.zip')
    np.testing.assert_array_equal(np.stack(read_records(tmp_path / 'ds', 4)),
                                  np.stack([images[n] for n in sorted(images)]).transpose(0, 3, 1, 2))


@pytest.mark.parametrize('flags, expected', [
    (dict(resolution=16), 'needs --resolution=R and --height=H'),
    (dict(resolution=16, height=17), '--height=17: expected 1..16'),
    (dict(resolution=64, height=12), 'every image is narrower than 64 px'),
], ids=['no_height', 'height_above_resolution', 'no_image_left'])
def test_center_crop_wide_refuses_incomplete_or_impossible_flags(tool_flags, tmp_path, flags, expected):
    with pytest.raises(DatasetError, match=expected):
        tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'images', resize='center_crop_wide', **flags)
    assert not os.path.exists(tmp_path / 'ds')


# ------------------------------------------------------------------------------------------------
# extract to ada-pytorch's zip, and back.

def test_extract_to_zip_writes_ada_pytorchs_layout(tool_flags, tmp_path):
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'center_crop.zip', shuffle=0)
    tool(tool_flags, 'extract', tmp_path / 'ds', tmp_path / 'out.zip')
    with zipfile.ZipFile(tmp_path / 'out.zip') as ours, zipfile.ZipFile(ADA / 'center_crop.zip') as theirs:
        assert ours.namelist() == theirs.namelist()
        assert {i.compress_type for i in ours.infolist()} == {zipfile.ZIP_STORED}
    (ours, ours_meta), (theirs, theirs_meta) = zip_images(tmp_path / 'out.zip'), zip_images(ADA / 'center_crop.zip')
    assert ours_meta == theirs_meta
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])


@pytest.mark.parametrize('extracted', ['first.zip', 'first_pngs'])
def test_folder_to_tfrecords_to_zip_to_tfrecords_keeps_records_and_labels(tool_flags, tmp_path, extracted):
    names = [f'img{i}.png' for i in range(5)]
    write_images(tmp_path / 'images', dict(zip(names, random_images(5, 16, 3, seed=13))))
    (tmp_path / 'labels.json').write_text(json.dumps({'labels': [[n, i % 2] for i, n in enumerate(names)]}))
    tool(tool_flags, 'create_from_images', tmp_path / 'first', tmp_path / 'images', labels=str(tmp_path / 'labels.json'))
    tool(tool_flags, 'extract', tmp_path / 'first', tmp_path / extracted)   # a folder gets a dataset.json too
    tool(tool_flags, 'create_from_images', tmp_path / 'second', tmp_path / extracted, shuffle=0,  # already shuffled
         labels=None)
    assert_same_dataset(tmp_path / 'first', tmp_path / 'second')


def test_vector_labels_and_a_missing_last_class_survive_the_zip(tool_flags, tmp_path):
    from data import sources
    from data.writer import write_dataset
    images = random_images(3, 8, 3).transpose(0, 3, 1, 2)
    for name, labels in [('vectors', np.float32([[0.5, 2], [-1, 0], [3, 0.25]])),
                         ('onehot_without_class_2', np.eye(3, dtype=np.float32)[[0, 1, 0]])]:
        write_dataset(str(tmp_path / name), sources.array_source(images, labels), shuffle=False)
        tool(tool_flags, 'extract', tmp_path / name, tmp_path / f'{name}.zip')
        tool(tool_flags, 'create_from_images', tmp_path / f'{name}_back', tmp_path / f'{name}.zip', shuffle=0)
        np.testing.assert_array_equal(np.load(tmp_path / f'{name}_back' / f'{name}_back-rxx.labels'), labels)


def test_extract_to_zip_refuses_an_existing_file_unless_overwrite(tool_flags, tmp_path):
    tool(tool_flags, 'create_from_images', tmp_path / 'ds', ADA / 'center_crop.zip', shuffle=0)
    (tmp_path / 'out.zip').write_bytes(b'old')
    with pytest.raises(DatasetError, match='already exists'):
        tool(tool_flags, 'extract', tmp_path / 'ds', tmp_path / 'out.zip')
    assert (tmp_path / 'out.zip').read_bytes() == b'old'
    tool(tool_flags, 'extract', tmp_path / 'ds', tmp_path / 'out.zip', overwrite=True)
    assert len(zipfile.ZipFile(tmp_path / 'out.zip').namelist()) == 7
    assert sorted(os.listdir(tmp_path)) == ['ds', 'out.zip']      # no temporary file left
