"""Claims about `data.prepare.resolve_dataset`, what `train.py --data=PATH` calls: a TFRecord directory is used as
it is; an image folder or a .zip is converted once into the cache, reused after, converted again when changed."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from data import prepare
from data.tfrecord_io import DatasetError
from test_dataset_ada_layout import ADA, assert_same_dataset, write_images
from test_dataset_tool import random_images, read_records, tool


@pytest.fixture
def conversions(monkeypatch):
    """Counts the datasets resolve_dataset writes."""
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)
    real = prepare.write_dataset
    monkeypatch.setattr(prepare, 'write_dataset', counting)
    return calls


def test_tfrecord_dataset_is_returned_unchanged(tiny_dataset_8px, tmp_path, capsys, conversions):
    assert prepare.resolve_dataset(tiny_dataset_8px, tmp_path / 'cache') == tiny_dataset_8px
    assert conversions == [] and not os.path.exists(tmp_path / 'cache') and capsys.readouterr().out == ''


def test_zip_is_converted_once_then_reused(tool_flags, tmp_path, capsys, conversions):
    cache = tmp_path / 'cache'
    first = prepare.resolve_dataset(ADA / 'center_crop.zip', cache)
    converted = capsys.readouterr().out.splitlines()
    assert Path(first).parent == cache and Path(first).name.startswith('center_crop-')
    assert converted == [f'Dataset: converted {ADA / "center_crop.zip"} to {first} (6 images, 16x16, 3 channels; '
                         f'Labels from {ADA / "center_crop.zip"}/dataset.json (one-hot, 3 classes))']
    again = prepare.resolve_dataset(ADA / 'center_crop.zip', cache)
    assert again == first and len(conversions) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'Dataset: using {first}, converted earlier from {ADA / "center_crop.zip"}']
    assert os.listdir(cache) == [Path(first).name]               # no staging directory left
    # The same records and labels as the dataset tool's create_from_images with its defaults.
    tool(tool_flags, 'create_from_images', tmp_path / 'by_tool', ADA / 'center_crop.zip')
    assert_same_dataset(tmp_path / 'by_tool', first)


def test_changed_folder_is_converted_again_and_the_cache_follows_the_env_var(tmp_path, monkeypatch, conversions):
    monkeypatch.setenv('GAN_DATA_CACHE', str(tmp_path / 'env_cache'))
    images = random_images(3, 8, 3, seed=21)
    write_images(tmp_path / 'folder', {f'sub/{i}.png': img for i, img in enumerate(images)})
    first = prepare.resolve_dataset(tmp_path / 'folder')
    assert Path(first).parent == tmp_path / 'env_cache'
    assert prepare.resolve_dataset(str(tmp_path / 'folder') + '/') == first   # the same folder, spelled otherwise
    write_images(tmp_path / 'folder', {'sub/1.png': images[0]})               # new content, new mtime
    os.utime(tmp_path / 'folder' / 'sub' / '1.png', ns=(1, 1))
    second = prepare.resolve_dataset(tmp_path / 'folder')
    assert second != first and len(conversions) == 2
    assert sum(np.array_equal(r, images[0].transpose(2, 0, 1)) for r in read_records(second, 3)) == 2
    assert sorted(os.listdir(tmp_path / 'env_cache')) == sorted([Path(first).name, Path(second).name])


def test_default_cache_dir_is_under_the_home_directory(monkeypatch):
    monkeypatch.delenv('GAN_DATA_CACHE', raising=False)
    assert prepare.default_cache_dir() == os.path.join(os.path.expanduser('~'), '.cache', 'gan-datasets')


def _text_file(tmp_path):
    (tmp_path / 'notes.txt').write_text('hello')
    return tmp_path / 'notes.txt', 'not a TFRecord dataset directory (*.tfrecords), an image folder or a .zip of images'


def _missing(tmp_path):
    return tmp_path / 'nowhere', 'not a TFRecord dataset directory (*.tfrecords), an image folder or a .zip of images'


def _empty_folder(tmp_path):
    os.makedirs(tmp_path / 'empty')
    return tmp_path / 'empty', ('no image files found', 'nor is it a TFRecord dataset directory (no *.tfrecords)')


def _mixed_sizes(tmp_path):
    write_images(tmp_path / 'mixed', {'a.png': random_images(1, 16, 3)[0], 'b.png': random_images(1, 8, 3)[0]})
    return tmp_path / 'mixed' / 'b.png', ('differs from the first image\'s 16x16', '--resize=center_crop|pad|stretch|'
                                          'center_crop_wide', '--data does not resize')


def _truncated_image(tmp_path):
    write_images(tmp_path / 'cut', dict(zip(['a.png', 'b.png'], random_images(2, 16, 3))))
    data = (tmp_path / 'cut' / 'b.png').read_bytes()
    (tmp_path / 'cut' / 'b.png').write_bytes(data[:len(data) // 2])   # found only when decoded, mid-conversion
    return tmp_path / 'cut' / 'b.png', 'cannot read image'


@pytest.mark.parametrize('make', [_text_file, _missing, _empty_folder, _mixed_sizes, _truncated_image],
                         ids=['text_file', 'missing', 'empty_folder', 'mixed_sizes', 'truncated_image'])
def test_bad_path_is_refused_in_one_line_and_leaves_no_litter(tmp_path, make):
    where, expected = make(tmp_path)
    os.makedirs(tmp_path / 'cache')
    with pytest.raises(DatasetError) as e:
        prepare.resolve_dataset(where if make in (_text_file, _missing, _empty_folder) else where.parent,
                                tmp_path / 'cache')
    message = str(e.value)
    assert message.startswith(f'{where}: ') and '\n' not in message
    assert all(part in message for part in ([expected] if isinstance(expected, str) else expected)), message
    assert os.listdir(tmp_path / 'cache') == []


def test_conversion_finished_meanwhile_by_another_process_is_used(tmp_path, capsys, monkeypatch):
    real = prepare.write_dataset

    def racing(path, *args, **kwargs):  # the other process renames its copy into place first
        result = real(path, *args, **kwargs)
        shutil.copytree(path, os.path.join(tmp_path / 'cache', os.path.basename(path)))
        return result
    monkeypatch.setattr(prepare, 'write_dataset', racing)
    out = prepare.resolve_dataset(ADA / 'center_crop.zip', tmp_path / 'cache')
    assert capsys.readouterr().out.splitlines() == [
        f'Dataset: using {out}, converted from {ADA / "center_crop.zip"} by another process meanwhile']
    assert os.listdir(tmp_path / 'cache') == [Path(out).name]
