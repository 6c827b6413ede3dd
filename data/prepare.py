"""What `train.py --data=PATH` reads: our TFRecord dataset directory as it is, or an image folder / .zip (such as
ada-pytorch's `00000/img00000000.png ...` zips with their dataset.json) converted once into a cache.

The cache is `$GAN_DATA_CACHE` (default `~/.cache/gan-datasets`). Each conversion is named
`<source name>-<16 hex digits>`, the digits a SHA-256 of the source's fingerprint and of the conversion rules:
for a zip, every member's name, CRC-32 and size from the zip's central directory (a checksum of the bytes, read
without reading the images); for a folder, every image's (and dataset.json's) name, size and modification time
(one stat each, where hashing 90 GB of FFHQ would take longer than the conversion). A changed image therefore
gets a new conversion; only a folder edit that keeps both size and mtime of a file would go unnoticed.
"""
import glob
import hashlib
import json
import os
import shutil

from common.util.files import temp_dir_beside
from data import sources
from data.tfrecord_io import DatasetError
from data.writer import write_dataset

CACHE_ENV = 'GAN_DATA_CACHE'
# Part of the cache key: bump `version` whenever the conversion would write other records from the same source.
CONVERSION = dict(version=1, options=repr(sources.ImageOptions()), shuffle=True)


def default_cache_dir():
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser('~'), '.cache', 'gan-datasets')


def is_tfrecord_dir(path):
    return os.path.isdir(path) and bool(glob.glob(os.path.join(path, '*.tfrecords')))


def resolve_dataset(path, cache_dir=None, num_threads=None):
    """The TFRecord dataset directory for `path`: `path` itself if it is one, else the cached conversion of the
    image folder or .zip at `path` (made now if there is none yet). Prints one line saying which.

    The conversion is `create_from_images` with its defaults (the official shuffle, no resizing: images of
    other or mixed sizes are refused with the tool's one-line error), labels from a dataset.json at the root.
    """
    path = os.fspath(path)
    if is_tfrecord_dir(path):
        return path
    if not (os.path.isdir(path) or (os.path.isfile(path) and path.lower().endswith('.zip'))):
        raise DatasetError(f'{path}: not a TFRecord dataset directory (*.tfrecords), an image folder or a .zip of '
                           f'images')
    try:
        files = sources.ImageFiles(path)
    except DatasetError as e:
        raise DatasetError(f'{e}; nor is it a TFRecord dataset directory (no *.tfrecords)') if os.path.isdir(path) else e
    key = hashlib.sha256(json.dumps([CONVERSION, files.kind, files.fingerprint()]).encode()).hexdigest()[:16]
    base = os.path.basename(path.rstrip('/' + os.sep))
    name = f'{base[:-4] if base.lower().endswith(".zip") else base}-{key}'
    cache_dir = cache_dir or default_cache_dir()
    out = os.path.join(cache_dir, name)
    if is_tfrecord_dir(out):
        print(f'Dataset: using {out}, converted earlier from {path}')
        return out
    try:
        source = sources.image_folder_source(path, sources.ImageOptions())
    except DatasetError as e:
        raise DatasetError(f'{e}; --data does not resize: run python -m data.dataset_tool create_from_images DIR '
                           f'{path} --resize=... and pass --data=DIR')
    # Written under a private hidden name and renamed into place: a rename onto a directory another process
    # completed meanwhile fails, and then that one is used (both hold the same records).
    staging = temp_dir_beside(out)
    try:
        written = write_dataset(os.path.join(staging, name), source, shuffle=CONVERSION['shuffle'],
                                num_threads=num_threads or min(8, os.cpu_count() or 1), desc='Converting dataset')
        try:
            os.rename(os.path.join(staging, name), out)
        except OSError:
            if not is_tfrecord_dir(out):
                raise
            print(f'Dataset: using {out}, converted from {path} by another process meanwhile')
            return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    channels, res = written.shape[0], written.shape[1]
    notes = ''.join(f'; {line}' for line in source.report) + ('; no labels' if source.labels is None else '')
    print(f'Dataset: converted {path} to {out} ({source.num_images} images, {res}x{res}, {channels} channels{notes})')
    return out
