"""Where images come from: image folders, the classic dataset archives, TFDS, the embedded default data.

Every source is a `Source`: a count, an optional label array and a function that loads image `i` as
uint8 CHW. The dataset tool writes any source the same way, so the official order rules (sorted file
names, `RandomState(123)` shuffle) apply to all of them.
"""
import csv
import dataclasses
import glob
import gzip
import json
import os
import pickle
from typing import Callable, Optional

import numpy as np
import PIL.Image

from data.tfrecord_io import DatasetError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'embedded')


@dataclasses.dataclass
class Source:
    num_images: int
    load: Callable[[int], np.ndarray]       # index -> uint8 [C, H, W]
    labels: Optional[np.ndarray] = None      # [num_images, label_size] float32, or None
    name: Callable[[int], str] = str         # index -> how to name the item in error messages


def onehot(labels, num_classes=None):
    labels = np.asarray(labels, np.int64)
    num_classes = num_classes or int(labels.max()) + 1
    out = np.zeros([labels.size, num_classes], np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


# ------------------------------------------------------------------------------------------------
# Image files.

@dataclasses.dataclass(frozen=True)
class ImageOptions:
    channels: Optional[int] = None      # 1, 3 or 4; None = from the first image (RGBA is composited to RGB).
    resize: Optional[str] = None        # None (refuse non-square / non-power-of-two), center_crop, pad, stretch.
    resolution: Optional[int] = None    # Output size with --resize; None = largest power of two that fits.
    background: tuple = (255, 255, 255) # Colour under transparent pixels and in padding.


def _convert_mode(img, channels, background, where):
    """PIL image -> uint8 HWC with the requested channel count."""
    if img.mode in ('I;16', 'I;16B', 'I;16L', 'I', 'F'):
        raise DatasetError(f'{where}: unsupported image mode {img.mode} (16-bit or float); expected 8-bit '
                           f'grayscale, RGB or RGBA')
    if img.mode not in ('1', 'L', 'P', 'RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr'):
        raise DatasetError(f'{where}: unsupported image mode {img.mode}; expected grayscale, RGB or RGBA')
    has_alpha = img.mode in ('RGBA', 'LA') or (img.mode == 'P' and 'transparency' in img.info)
    if channels == 4:
        return np.asarray(img.convert('RGBA'))
    if has_alpha:  # Composite on the background colour rather than dropping alpha (which reveals garbage).
        rgba = img.convert('RGBA')
        bg = PIL.Image.new('RGBA', rgba.size, tuple(background) + (255,))
        img = PIL.Image.alpha_composite(bg, rgba)
    if channels == 1:
        return np.asarray(img.convert('L'))[:, :, np.newaxis]
    return np.asarray(img.convert('RGB'))


def _resize(img, opts, where):
    """Applies --resize to a PIL image; refuses non-square / non-power-of-two sizes without it."""
    w, h = img.size
    if opts.resize is None:
        if w != h:
            raise DatasetError(f'{where}: image is {w}x{h}, not square; choose --resize=center_crop|pad|stretch')
        if w < 4 or w & (w - 1):
            raise DatasetError(f'{where}: image is {w}x{h}, not a power of two >= 4; choose '
                               f'--resize=center_crop|pad|stretch (and --resolution)')
        return img
    if img.mode in ('1', 'P'):  # PIL resizes these with nearest neighbour whatever filter is asked for.
        img = img.convert('RGBA' if 'transparency' in img.info else 'RGB' if img.mode == 'P' else 'L')
    if opts.resize == 'center_crop':
        side = min(w, h)
        img = img.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    elif opts.resize == 'pad':
        side = max(w, h)
        fill = tuple(opts.background) + ((255,) if img.mode == 'RGBA' else ())
        if img.mode == 'L':
            fill = int(round(np.mean(opts.background)))
        elif img.mode not in ('RGB', 'RGBA'):
            img = img.convert('RGBA')
            fill = tuple(opts.background) + (255,)
        canvas = PIL.Image.new(img.mode, (side, side), fill)
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        img = canvas
    elif opts.resize != 'stretch':
        raise DatasetError(f'--resize={opts.resize}: expected center_crop, pad or stretch')
    res = opts.resolution or 2 ** int(np.floor(np.log2(min(img.size))))
    if res < 4 or res & (res - 1):
        raise DatasetError(f'--resolution={res}: expected a power of two >= 4')
    if img.size != (res, res):
        img = img.resize((res, res), PIL.Image.LANCZOS)
    return img


def load_image_file(path, opts: ImageOptions):
    """Image file -> uint8 CHW, with the mode and size rules of `opts`."""
    try:
        with PIL.Image.open(path) as img:
            img.load()
            img = _resize(img, opts, path)
            hwc = _convert_mode(img, opts.channels, opts.background, path)
    except DatasetError:
        raise
    except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise DatasetError(f'{path}: cannot read image ({e.__class__.__name__}: {str(e)[:120]})')
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def list_images(image_dir):
    if not os.path.isdir(image_dir):
        raise DatasetError(f'{image_dir}: no such image directory')
    # Sorted full paths, as the official tool's sorted(glob(...)); only image files are taken.
    paths = sorted(p for p in glob.glob(os.path.join(image_dir, '*'))
                   if os.path.isfile(p) and p.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise DatasetError(f'{image_dir}: no image files found (looked for {", ".join(IMAGE_EXTENSIONS)})')
    return paths


def image_folder_source(image_dir, opts: ImageOptions, labels_file=None):
    paths = list_images(image_dir)
    if opts.channels is None:  # Like the official tool: the first image decides (RGBA composites to RGB).
        try:
            with PIL.Image.open(paths[0]) as first:
                opts = dataclasses.replace(opts, channels=1 if first.mode in ('1', 'L', 'LA') else 3)
        except (OSError, SyntaxError, ValueError) as e:  # A corrupt first file is a bad input, not a crash.
            raise DatasetError(f'{paths[0]}: cannot read image ({e.__class__.__name__}: {str(e)[:120]})')
    labels = read_labels_file(labels_file, [os.path.basename(p) for p in paths]) if labels_file else None
    return Source(len(paths), lambda i: load_image_file(paths[i], opts), labels, name=lambda i: paths[i])


def read_labels_file(labels_file, names):
    """Labels for the images `names` (basenames) from JSON or CSV.

    JSON: StyleGAN2-ADA's `{"labels": [["name.png", label], ...]}` or a plain `{"name.png": label}` map.
    CSV: rows `name,label` (an optional header row is skipped) or `name,v0,v1,...` for vector labels.
    Integer class labels become one-hot rows; vectors are kept as float32.
    """
    if not os.path.isfile(labels_file):
        raise DatasetError(f'{labels_file}: no such labels file')
    try:
        if labels_file.lower().endswith('.json'):
            with open(labels_file) as f:
                obj = json.load(f)
            if isinstance(obj, dict) and 'labels' in obj:
                obj = obj['labels']
            pairs = list(obj.items()) if isinstance(obj, dict) else [tuple(p) for p in obj]
        else:
            with open(labels_file, newline='') as f:
                rows = [r for r in csv.reader(f) if r]
            if rows and not _is_number(rows[0][1] if len(rows[0]) > 1 else ''):
                rows = rows[1:]  # Header.
            pairs = [(r[0], [float(v) for v in r[1:]] if len(r) > 2 else float(r[1])) for r in rows]
    except (ValueError, IndexError, TypeError, json.JSONDecodeError) as e:
        raise DatasetError(f'{labels_file}: cannot parse labels ({e.__class__.__name__}: {str(e)[:100]}); expected '
                           f'JSON {{"labels": [["img.png", 3], ...]}} or CSV rows "img.png,3"')
    table = {os.path.basename(str(k)).replace('\\', '/'): v for k, v in pairs}
    missing = [n for n in names if n not in table]
    if missing:
        raise DatasetError(f'{labels_file}: no label for {len(missing)} image(s), e.g. {missing[0]}')
    extra = sorted(set(table) - set(names))
    if extra:
        raise DatasetError(f'{labels_file}: {len(extra)} label(s) for images that are not in the folder, e.g. {extra[0]}')
    values = [table[n] for n in names]
    if all(np.ndim(v) == 0 for v in values):
        ints = np.asarray(values, np.float64)
        if np.any(ints != np.round(ints)) or ints.min() < 0:
            raise DatasetError(f'{labels_file}: scalar labels must be non-negative class indices')
        return onehot(ints.astype(np.int64))
    lengths = {len(np.atleast_1d(v)) for v in values}
    if len(lengths) != 1:
        raise DatasetError(f'{labels_file}: label vectors have different lengths {sorted(lengths)}')
    return np.asarray([np.atleast_1d(v) for v in values], np.float32)


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------
# Classic archives, read from the original files on disk (same layouts as the official tool).

def _require(path, what):
    if not os.path.isfile(path):
        raise DatasetError(f'{path}: missing; expected the original {what} file there')
    return path


def read_idx_gz(path, offset, what):
    try:
        with gzip.open(_require(path, what), 'rb') as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    except (OSError, EOFError) as e:
        raise DatasetError(f'{path}: not a readable gzip IDX file ({e.__class__.__name__})')


def mnist_arrays(mnist_dir, prefix='train'):
    """uint8 [N, 1, 32, 32] (28x28 padded by 2, as the official create_mnist) and int labels [N]."""
    images = read_idx_gz(os.path.join(mnist_dir, f'{prefix}-images-idx3-ubyte.gz'), 16, 'MNIST images')
    labels = read_idx_gz(os.path.join(mnist_dir, f'{prefix}-labels-idx1-ubyte.gz'), 8, 'MNIST labels')
    if images.size % (28 * 28) or images.size // (28 * 28) != labels.size:
        raise DatasetError(f'{mnist_dir}: {prefix} images and labels do not match (expected 28x28 images, one label each)')
    images = images.reshape(-1, 1, 28, 28)
    images = np.pad(images, [(0, 0), (0, 0), (2, 2), (2, 2)], 'constant', constant_values=0)
    return images, labels


def array_source(images, labels=None):
    return Source(images.shape[0], lambda i: images[i], labels, name=lambda i: f'image {i}')


def mnist_source(mnist_dir):
    images, labels = mnist_arrays(mnist_dir)
    return array_source(images, onehot(labels))


def mnistrgb_source(mnist_dir, num_images, random_seed):
    """Official create_mnistrgb: each image stacks three random MNIST digits as R, G, B."""
    images, _ = mnist_arrays(mnist_dir)
    images = images[:, 0]
    rnd = np.random.RandomState(random_seed)
    picks = [rnd.randint(images.shape[0], size=3) for _ in range(num_images)]
    return Source(num_images, lambda i: images[picks[i]], None, name=lambda i: f'image {i}')


def _unpickle(path, what):
    try:
        with open(_require(path, what), 'rb') as f:
            return pickle.load(f, encoding='latin1')  # The CIFAR archives are plain NumPy/dict pickles.
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DatasetError(f'{path}: not a readable {what} pickle ({e.__class__.__name__})')


def cifar10_source(cifar10_dir):
    images, labels = [], []
    for batch in range(1, 6):
        data = _unpickle(os.path.join(cifar10_dir, f'data_batch_{batch}'), 'CIFAR-10 python batch')
        images.append(np.asarray(data['data'], np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(data['labels']))
    return array_source(np.concatenate(images), onehot(np.concatenate(labels)))


def cifar100_source(cifar100_dir):
    data = _unpickle(os.path.join(cifar100_dir, 'train'), 'CIFAR-100 python train')
    images = np.asarray(data['data'], np.uint8).reshape(-1, 3, 32, 32)
    return array_source(images, onehot(np.asarray(data['fine_labels']), 100))


def svhn_source(svhn_dir):
    images, labels = [], []
    for batch in range(1, 4):
        data = _unpickle(os.path.join(svhn_dir, f'train_{batch}.pkl'), 'SVHN train')
        images.append(np.asarray(data[0], np.uint8))
        labels.append(np.asarray(data[1]))
    return array_source(np.concatenate(images), onehot(np.concatenate(labels)))


def celeba_source(celeba_dir, cx=89, cy=121):
    """Official create_celeba: 128x128 crops centred on (cx, cy) of img_align_celeba_png."""
    paths = sorted(glob.glob(os.path.join(celeba_dir, 'img_align_celeba_png', '*.png')))
    if not paths:
        raise DatasetError(f'{celeba_dir}: no img_align_celeba_png/*.png found (the official PNG release of CelebA)')

    def load(i):
        img = np.asarray(PIL.Image.open(paths[i]).convert('RGB'))
        if img.shape != (218, 178, 3):
            raise DatasetError(f'{paths[i]}: expected 178x218 RGB, got {img.shape[1]}x{img.shape[0]}')
        return np.ascontiguousarray(img[cy - 64: cy + 64, cx - 64: cx + 64].transpose(2, 0, 1))
    return Source(len(paths), load, None, name=lambda i: paths[i])


def lsun_source(lmdb_dir, resolution=256, max_images=None):
    """Official create_lsun: center crop, resize with a high-quality filter, from an LMDB database."""
    try:
        import lmdb
    except ImportError:
        raise DatasetError('create_lsun needs the lmdb package: pip install lmdb')
    import io
    env = lmdb.open(lmdb_dir, readonly=True, lock=False)
    with env.begin(write=False) as txn:
        values = []
        for _, value in txn.cursor():  # Official order: LMDB key order, stopped at max_images.
            values.append(value)
            if max_images and len(values) >= max_images:
                break
    opts = ImageOptions(channels=3, resize='center_crop', resolution=resolution)

    def load(i):
        try:
            img = _resize(PIL.Image.open(io.BytesIO(values[i])), opts, f'{lmdb_dir} entry {i}')
        except OSError as e:
            raise DatasetError(f'{lmdb_dir} entry {i}: cannot decode image ({e})')
        return np.ascontiguousarray(np.asarray(img.convert('RGB')).transpose(2, 0, 1))
    return Source(len(values), load, None, name=lambda i: f'{lmdb_dir} entry {i}')


def hdf5_source(hdf5_filename):
    """Official create_from_hdf5: the largest `data*` array (NCHW uint8) and `<name>-labels.npy` if present."""
    import h5py
    if not os.path.isfile(hdf5_filename):
        raise DatasetError(f'{hdf5_filename}: no such HDF5 file')
    f = h5py.File(hdf5_filename, 'r')
    arrays = [v for k, v in f.items() if k.startswith('data')]
    if not arrays:
        raise DatasetError(f'{hdf5_filename}: no dataset named data* in the archive')
    data = max(arrays, key=lambda a: a.shape[3])
    npy = os.path.splitext(hdf5_filename)[0] + '-labels.npy'
    labels = np.load(npy) if os.path.isfile(npy) else None
    return Source(data.shape[0], lambda i: np.asarray(data[i], np.uint8), labels, name=lambda i: f'{hdf5_filename}[{i}]')


# ------------------------------------------------------------------------------------------------
# The embedded default data: Fashion-MNIST's test split (MIT licence, see embedded/LICENSE-fashion-mnist.txt).

def embedded_arrays():
    """uint8 [10000, 1, 32, 32] (28x28 padded by 2 like create_mnist) and int labels [10000]."""
    images = read_idx_gz(os.path.join(EMBEDDED_DIR, 'fashion_mnist_t10k-images-idx3-ubyte.gz'), 16,
                         'embedded Fashion-MNIST images (reinstall the package)')
    labels = read_idx_gz(os.path.join(EMBEDDED_DIR, 'fashion_mnist_t10k-labels-idx1-ubyte.gz'), 8,
                         'embedded Fashion-MNIST labels (reinstall the package)')
    images = np.pad(images.reshape(-1, 1, 28, 28), [(0, 0), (0, 0), (2, 2), (2, 2)], 'constant')
    return images, labels


def embedded_source():
    images, labels = embedded_arrays()
    return array_source(images, onehot(labels, 10))


# ------------------------------------------------------------------------------------------------
# TensorFlow Datasets (only what is already on disk: nothing can be downloaded here).

def tfds_source(name, split='train', data_dir=None, opts: ImageOptions = ImageOptions()):
    import tensorflow_datasets as tfds
    if name == 'image_folder':
        if not data_dir or not os.path.isdir(data_dir):
            raise DatasetError(f'--data_dir={data_dir}: image_folder needs --data_dir=ROOT with ROOT/<split>/<label>/<image>')
        builder = tfds.ImageFolder(data_dir)
        if split not in builder.info.splits:
            raise DatasetError(f'{data_dir}: no split "{split}" (found {sorted(builder.info.splits.keys())})')
        ds = builder.as_dataset(split=split, shuffle_files=False)
    else:
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as e:
            raise DatasetError(f'--name={name}: unknown TFDS dataset ({str(e).splitlines()[0][:120]})')
        if not builder.is_prepared() and not _tfds_mocked():
            raise DatasetError(f'--name={name}: not prepared under {builder.data_dir} (TFDS cannot download here; '
                               f'prepare it elsewhere and copy it there, or pass --data_dir)')
        ds = builder.as_dataset(split=split, shuffle_files=False)
    features = builder.info.features
    image_key = next((k for k, f in features.items() if isinstance(f, tfds.features.Image)), None)
    if image_key is None:
        raise DatasetError(f'--name={name}: the dataset has no image feature')
    label_key = next((k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), None)
    images, labels = [], []
    for ex in tfds.as_numpy(ds):  # Kept in memory as encoded-size arrays; TFDS image sets here are small.
        img = PIL.Image.fromarray(ex[image_key][..., 0] if ex[image_key].shape[-1] == 1 else ex[image_key])
        images.append(img)
        if label_key:
            labels.append(int(ex[label_key]))
    if not images:
        raise DatasetError(f'--name={name}: split "{split}" is empty')
    if opts.channels is None:
        opts = dataclasses.replace(opts, channels=1 if images[0].mode == 'L' else 3)

    def load(i):
        img = _resize(images[i], opts, f'{name}[{i}]')
        return np.ascontiguousarray(_convert_mode(img, opts.channels, opts.background, f'{name}[{i}]').transpose(2, 0, 1))
    num_classes = features[label_key].num_classes if label_key else None
    return Source(len(images), load, onehot(labels, num_classes) if label_key else None, name=lambda i: f'{name}[{i}]')


def _tfds_mocked():
    """True inside tfds.testing.mock_data, where as_dataset works without prepared files."""
    import tensorflow_datasets as tfds
    return getattr(tfds.core.DatasetBuilder.as_dataset, '__name__', '') != 'as_dataset'
