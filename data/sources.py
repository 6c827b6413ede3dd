"""Where images come from: image folders, the classic dataset archives, TFDS, the embedded default data.

Every source is a `Source`: a count, an optional label array and a function that loads image `i` as
uint8 CHW. The dataset tool writes any source the same way, so the official order rules (sorted file
names, `RandomState(123)` shuffle) apply to all of them.
"""
import csv
import dataclasses
import glob
import gzip
import io
import json
import os
import pickle
import threading
import zipfile
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
    report: list = dataclasses.field(default_factory=list)  # one line per kind of change made to the images


def onehot(labels, num_classes=None):
    labels = np.asarray(labels, np.int64)
    num_classes = num_classes or int(labels.max()) + 1
    out = np.zeros([labels.size, num_classes], np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


# ------------------------------------------------------------------------------------------------
# Image files: a folder or a .zip (ada-pytorch's layout), planned from their headers, then decoded once.

RESIZE_MODES = ('center_crop', 'pad', 'stretch', 'center_crop_wide')
RESIZE_HINT = f'--resize={"|".join(RESIZE_MODES)} (with --resolution=R)'
METADATA = 'dataset.json'  # ada-pytorch's labels file at the root of a dataset folder or zip.
_GRAY_MODES = ('1', 'L', 'LA')


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    channels: Optional[int] = None      # 1, 3 or 4; None = the majority of the images (RGBA is composited to RGB).
    resize: Optional[str] = None        # None (refuse non-square / non-power-of-two / mixed sizes) or a RESIZE_MODES.
    resolution: Optional[int] = None    # Output size with --resize; None = largest power of two every image reaches.
    background: tuple = (255, 255, 255) # Colour under transparent pixels and in --resize=pad padding.
    height: Optional[int] = None        # center_crop_wide: rows of the band the image fills (ada-pytorch's --height).


@dataclasses.dataclass(frozen=True)
class ImageHeader:
    """What PIL knows of an image after reading its header, before any pixel is decoded."""
    mode: str
    size: tuple                         # (width, height)
    has_alpha: bool


def _has_alpha(img):
    return img.mode in ('RGBA', 'LA') or (img.mode == 'P' and 'transparency' in img.info)


def _check_mode(mode, where):
    if mode in ('I;16', 'I;16B', 'I;16L', 'I', 'F'):
        raise DatasetError(f'{where}: unsupported image mode {mode} (16-bit or float); expected 8-bit '
                           f'grayscale, RGB or RGBA')
    if mode not in ('1', 'L', 'P', 'RGB', 'RGBA', 'LA', 'CMYK', 'YCbCr'):
        raise DatasetError(f'{where}: unsupported image mode {mode}; expected grayscale, RGB or RGBA')


def _unreadable(where, e):
    return DatasetError(f'{where}: cannot read image ({e.__class__.__name__}: {str(e)[:120]})')


_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, PIL.Image.DecompressionBombError)


class ImageFiles:
    """The image files under a folder or inside a .zip, named by their path from its root with '/'
    (`00000/img00000000.png`) and sorted as strings. That is the official tool's sorted(glob) order for a flat
    folder, and ada-pytorch's training order (sorted names) for folders and zips alike. Hidden files and
    folders and macOS's `__MACOSX/` are skipped (glob skipped hidden files before sub-folders were read)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._zip = None
        if os.path.isdir(self.path):
            self.kind = 'folder'
            names = []
            for root, dirs, files in os.walk(self.path):
                dirs[:] = [d for d in dirs if not _hidden(d)]
                rel = os.path.relpath(root, self.path).replace(os.sep, '/')
                names += [f if rel == '.' else f'{rel}/{f}' for f in files]
        elif os.path.isfile(self.path) and zipfile.is_zipfile(self.path):
            self.kind = 'zip'
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as e:
                raise DatasetError(f'{self.path}: unreadable zip ({e})')
            self._members = {i.filename: i for i in self._zip.infolist() if not i.is_dir()}
            names = list(self._members)
        elif os.path.exists(self.path):
            raise DatasetError(f'{self.path}: not a readable zip file, nor a folder of images')
        else:
            raise DatasetError(f'{self.path}: no such image folder or .zip')
        self._lock = threading.Lock()  # One zip handle, shared by the decoding threads.
        names = [n for n in names if not any(_hidden(part) for part in n.split('/'))]
        self.has_metadata = METADATA in names
        self.names = sorted(n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
        if not self.names:
            raise DatasetError(f'{self.path}: no image files found (looked for {", ".join(IMAGE_EXTENSIONS)})')

    def where(self, name):
        """How error messages name a file: its path, or `archive.zip/member`."""
        return os.path.join(self.path, *name.split('/')) if self.kind == 'folder' else f'{self.path}/{name}'

    def read(self, name):
        if self._zip is None:
            with open(self.where(name), 'rb') as f:
                return f.read()
        with self._lock:
            return self._zip.read(name)

    def header(self, name):
        where = self.where(name)
        try:
            if self._zip is None:
                with PIL.Image.open(where) as img:
                    header = ImageHeader(img.mode, img.size, _has_alpha(img))
            else:  # A zip member is read lazily: PIL reads only as far as the header.
                with self._lock, self._zip.open(name) as f, PIL.Image.open(f) as img:
                    header = ImageHeader(img.mode, img.size, _has_alpha(img))
        except _PIL_ERRORS as e:
            raise _unreadable(where, e)
        _check_mode(header.mode, where)
        return header

    def fingerprint(self):
        """Identifies the content without reading it: for a zip, each member's CRC-32 and size from the central
        directory (a checksum of the bytes); for a folder, each file's size and modification time (a stat)."""
        names = self.names + ([METADATA] if self.has_metadata else [])
        if self._zip is not None:
            return [(n, self._members[n].CRC, self._members[n].file_size) for n in names]
        return [(n, st.st_size, st.st_mtime_ns) for n, st in ((n, os.stat(self.where(n))) for n in names)]


def _hidden(name):
    return name.startswith('.') or name == '__MACOSX'


def _convert_mode(img, channels, background, where):
    """PIL image -> uint8 HWC with the requested channel count."""
    _check_mode(img.mode, where)
    if channels == 4:
        return np.asarray(img.convert('RGBA'))
    if _has_alpha(img):  # Composite on the background colour rather than dropping alpha (which reveals garbage).
        rgba = img.convert('RGBA')
        bg = PIL.Image.new('RGBA', rgba.size, tuple(background) + (255,))
        img = PIL.Image.alpha_composite(bg, rgba)
    if channels == 1:
        return np.asarray(img.convert('L'))[:, :, np.newaxis]
    return np.asarray(img.convert('RGB'))


def _on_canvas(img, size, rgb, offset):
    """`img` pasted at `offset` on a new opaque size x size image of colour `rgb`, in img's mode (L, RGB, RGBA;
    other modes become RGBA)."""
    if img.mode not in ('L', 'RGB', 'RGBA'):
        img = img.convert('RGBA')
    fill = int(round(np.mean(rgb))) if img.mode == 'L' else tuple(rgb) + ((255,) if img.mode == 'RGBA' else ())
    canvas = PIL.Image.new(img.mode, (size, size), fill)
    canvas.paste(img, offset)
    return canvas


def _resize(img, opts):
    """Applies --resize to a PIL image, to the resolution `plan_images` chose."""
    if opts.resize is None:
        return img
    if img.mode in ('1', 'P'):  # PIL resizes these with nearest neighbour whatever filter is asked for.
        img = img.convert('RGBA' if 'transparency' in img.info else 'RGB' if img.mode == 'P' else 'L')
    w, h = img.size
    res = opts.resolution
    if opts.resize == 'center_crop_wide':
        # ada-pytorch's center-crop-wide, with its arithmetic: the crop height is round(R * h / w) rows of the
        # *source*, and that full-width strip is resized to R x height, so the aspect ratio is kept only when
        # the source is R pixels wide and `height` rows high (NVlabs/stylegan2-ada-pytorch#47). Black bars.
        rows = int(np.round(res * h / w))
        img = img.crop((0, (h - rows) // 2, w, (h + rows) // 2)).resize((res, opts.height), PIL.Image.LANCZOS)
        return _on_canvas(img, res, (0, 0, 0), (0, (res - opts.height) // 2))
    if opts.resize == 'center_crop':
        side = min(w, h)
        img = img.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    elif opts.resize == 'pad':
        side = max(w, h)
        img = _on_canvas(img, side, opts.background, ((side - w) // 2, (side - h) // 2))
    if img.size != (res, res):
        img = img.resize((res, res), PIL.Image.LANCZOS)
    return img


def _count(n, what):
    return f'{n} {what[0] if n == 1 else what[1]}'


def plan_images(headers, wheres, opts: ImageOptions):
    """Decides from the headers alone (no pixels decoded) what will be done to the images.

    Returns (opts with `channels` and `resolution` filled in, indices of the images kept, report lines): one
    line for each kind of change that some images undergo, so that nothing is changed silently.
    """
    sizes = [h.size for h in headers]
    keep, report = list(range(len(headers))), []
    if opts.resize is None:
        first = sizes[0]
        for (w, h), where in zip(sizes, wheres):
            if w != h:
                raise DatasetError(f'{where}: image is {w}x{h}, not square; choose {RESIZE_HINT}')
            if w < 4 or w & (w - 1):
                raise DatasetError(f'{where}: image is {w}x{h}, not a power of two >= 4; choose {RESIZE_HINT}')
            if (w, h) != first:
                raise DatasetError(f'{where}: image is {w}x{h}, differs from the first image\'s {first[0]}x{first[1]} '
                                   f'({wheres[0]}); choose {RESIZE_HINT} to give all images one size')
        if opts.resolution not in (None, first[0]):
            raise DatasetError(f'--resolution={opts.resolution}: the images are {first[0]}x{first[0]}; '
                               f'choose {RESIZE_HINT} to resize them')
        opts = dataclasses.replace(opts, resolution=first[0])
    elif opts.resize == 'center_crop_wide':
        keep, report = _plan_center_crop_wide(sizes, wheres, opts)
    elif opts.resize in RESIZE_MODES:
        opts, report = _plan_square_resize(sizes, wheres, opts)
    else:
        raise DatasetError(f'--resize={opts.resize}: expected {" or ".join(RESIZE_MODES)}')

    kept = [headers[i] for i in keep]
    gray = sum(h.mode in _GRAY_MODES for h in kept)
    channels = opts.channels
    if channels is None:  # The majority decides (a tie keeps colour): one odd image must not decide for all.
        channels = 1 if gray > len(kept) - gray else 3
        if 0 < gray < len(kept):
            report.append(f'Channels: {channels} ({"grayscale" if channels == 1 else "RGB"}), as the majority of the '
                          f'images ({len(kept) - gray} colour, {gray} grayscale); --channels=N to choose')
    opts = dataclasses.replace(opts, channels=channels)
    bg = ','.join(str(v) for v in opts.background)
    changes = [
        (channels != 4 and sum(h.has_alpha for h in kept), ('image with transparency', 'images with transparency'),
         f'composited on the background {bg} (--background=R,G,B)'),
        (channels == 3 and gray, ('grayscale image', 'grayscale images'), 'expanded to RGB (R = G = B)'),
        (channels == 1 and len(kept) - gray, ('colour image', 'colour images'),
         'converted to grayscale (L = 0.299 R + 0.587 G + 0.114 B)'),
        (channels == 4 and sum(not h.has_alpha for h in kept), ('image without transparency',
                                                                'images without transparency'),
         'given an opaque alpha channel'),
        (channels != 1 and sum(h.mode in ('CMYK', 'YCbCr') for h in kept), ('CMYK or YCbCr image',
                                                                           'CMYK or YCbCr images'),
         'converted to RGB'),
    ]
    report += [f'{_count(n, what)} {done}' for n, what, done in changes if n]
    return opts, keep, report


def _check_resolution(res, flag='--resolution'):
    if res < 4 or res & (res - 1):
        raise DatasetError(f'{flag}={res}: expected a power of two >= 4')


def _plan_square_resize(sizes, wheres, opts):
    """center_crop, pad, stretch: every image becomes res x res; the default res is the largest power of two
    that no image has to be enlarged to reach."""
    # The side that is resized: the square crop's, the padded square's, or (stretch) the shorter one.
    sides = [max(w, h) if opts.resize == 'pad' else min(w, h) for w, h in sizes]
    report = []
    res = opts.resolution
    if res is None:
        smallest = int(np.argmin(sides))
        res = 2 ** int(np.floor(np.log2(sides[smallest])))
        (w, h) = sizes[smallest]
        if res < 4:
            raise DatasetError(f'{wheres[smallest]}: image is {w}x{h}, smaller than 4x4 after --resize={opts.resize}; '
                               f'remove it or choose --resolution=R to enlarge it')
        report.append(f'Resolution: {res}x{res}, the largest power of two every image reaches (the smallest is '
                      f'{wheres[smallest]}, {w}x{h}); --resolution=R to choose')
    _check_resolution(res)
    opts = dataclasses.replace(opts, resolution=res)
    not_square = sum(w != h for w, h in sizes)
    done = {'center_crop': 'center-cropped to a square', 'stretch': 'stretched to a square (aspect ratio not kept)',
            'pad': f'padded to a square with {",".join(str(v) for v in opts.background)} (--background=R,G,B)'}
    if not_square:
        report.append(f'{_count(not_square, ("image", "images"))} {done[opts.resize]}')
    if opts.resize == 'stretch':
        resized = sum((w, h) != (res, res) for w, h in sizes)
    else:
        resized = sum(side != res for side in sides)
    enlarged = sum(side < res for side in sides)
    if resized:
        report.append(f'{_count(resized, ("image", "images"))} resized to {res}x{res} with Lanczos'
                      + (f' ({enlarged} of them enlarged)' if enlarged else ''))
    return opts, report


def _plan_center_crop_wide(sizes, wheres, opts):
    """ada-pytorch's center-crop-wide, including which images it drops (too narrow, or too few rows)."""
    res, band = opts.resolution, opts.height
    if res is None or band is None:
        raise DatasetError('--resize=center_crop_wide: needs --resolution=R and --height=H (ada-pytorch\'s --width '
                           'and --height: the image fills an R x H band across the middle of a black R x R square)')
    _check_resolution(res)
    if not 1 <= band <= res:
        raise DatasetError(f'--height={band}: expected 1..{res} (the band inside the {res}x{res} square)')
    keep, deformed = [], 0
    for i, (w, h) in enumerate(sizes):
        rows = int(np.round(res * h / w))
        if w < res or rows < band:
            continue
        keep.append(i)
        deformed += abs((res / w) / (band / rows) - 1) > 0.01
    if not keep:
        raise DatasetError(f'--resize=center_crop_wide --resolution={res} --height={band}: every image is narrower '
                           f'than {res} px or has round({res} * height / width) < {band} rows; ada-pytorch drops such '
                           f'images, which leaves none')
    report = [f'{_count(len(keep), ("image", "images"))} cropped as ada-pytorch\'s center-crop-wide: the middle '
              f'round({res} * height / width) rows, resized to {res}x{band} with Lanczos, on a black {res}x{res} square']
    if deformed:
        report.append(f'{deformed} of them with their aspect ratio changed by more than 1%, as ada-pytorch\'s '
                      f'arithmetic does (NVlabs/stylegan2-ada-pytorch#47)')
    if len(keep) < len(sizes):
        first = min(set(range(len(sizes))) - set(keep))
        report.append(f'{_count(len(sizes) - len(keep), ("image", "images"))} skipped as ada-pytorch skips them: '
                      f'narrower than {res} px or fewer than {band} rows after the crop (e.g. {wheres[first]}, '
                      f'{sizes[first][0]}x{sizes[first][1]})')
    return keep, report


def decode_image(data, opts: ImageOptions, where):
    """Encoded image bytes -> uint8 CHW, with the mode and size rules of `opts` (after `plan_images`)."""
    try:
        with PIL.Image.open(io.BytesIO(data)) as img:
            img.load()
            img = _resize(img, opts)
            hwc = _convert_mode(img, opts.channels, opts.background, where)
    except DatasetError:
        raise
    except _PIL_ERRORS as e:
        raise _unreadable(where, e)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def image_folder_source(path, opts: ImageOptions, labels_file=None):
    """The images of a folder or a .zip (sub-folders included), with labels from `labels_file` or, without it,
    from a `dataset.json` at its root (ada-pytorch's)."""
    files = ImageFiles(path)
    wheres = [files.where(n) for n in files.names]
    opts, keep, report = plan_images([files.header(n) for n in files.names], wheres, opts)
    pairs = None
    if labels_file:
        where = labels_file
        pairs = read_labels_file(labels_file)
        if pairs is None:
            raise DatasetError(f'{labels_file}: holds "labels": null; expected a label for every image')
        if files.has_metadata:
            report.append(f'Labels from {labels_file} (--labels), not from {files.where(METADATA)}')
    elif files.has_metadata:
        where = files.where(METADATA)
        pairs = metadata_label_pairs(files.read(METADATA), where)
    labels = None
    if pairs is not None:
        labels = label_array(pairs, files.names, keep, where, files.kind)
        if not labels_file:
            kind = f'one-hot, {labels.shape[1]} classes' if is_onehot(labels) else f'{labels.shape[1]}-vectors'
            report.append(f'Labels from {where} ({kind})')
    names = [files.names[i] for i in keep]
    return Source(len(names), lambda i: decode_image(files.read(names[i]), opts, files.where(names[i])), labels,
                  name=lambda i: files.where(names[i]), report=report)


def read_labels_file(labels_file):
    """(image name, label) pairs from JSON or CSV; None for ada-pytorch's `{"labels": null}`.

    JSON: ada-pytorch's `{"labels": [["name.png", label], ...]}` or a plain `{"name.png": label}` map.
    CSV: rows `name,label` (an optional header row is skipped) or `name,v0,v1,...` for vector labels.
    """
    if not os.path.isfile(labels_file):
        raise DatasetError(f'{labels_file}: no such labels file')
    try:
        if labels_file.lower().endswith('.json'):
            with open(labels_file) as f:
                obj = json.load(f)
            if isinstance(obj, dict) and 'labels' in obj:
                obj = obj['labels']
            return None if obj is None else list(obj.items()) if isinstance(obj, dict) else _pairs(obj, labels_file)
        with open(labels_file, newline='') as f:
            rows = [r for r in csv.reader(f) if r]
        if rows and not _is_number(rows[0][1] if len(rows[0]) > 1 else ''):
            rows = rows[1:]  # Header.
        return [(r[0], [float(v) for v in r[1:]] if len(r) > 2 else float(r[1])) for r in rows]
    except (ValueError, IndexError, TypeError, AttributeError) as e:  # (json.JSONDecodeError is a ValueError.)
        raise _unparsable(labels_file, e)


def metadata_label_pairs(data, where):
    """(image name, label) pairs of an ada-pytorch dataset.json (bytes), or None for `"labels": null`."""
    try:
        obj = json.loads(data)
        labels = obj['labels']
    except (ValueError, KeyError, TypeError) as e:
        raise _unparsable(where, e)
    return None if labels is None else _pairs(labels, where)


def _pairs(items, where):
    ok = isinstance(items, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in items)
    if not ok:
        raise DatasetError(f'{where}: cannot parse labels (expected a list of [name, label] pairs); expected JSON '
                           f'{{"labels": [["img.png", 3], ...]}}')
    return [tuple(p) for p in items]


def _unparsable(where, e):
    return DatasetError(f'{where}: cannot parse labels ({e.__class__.__name__}: {str(e)[:100]}); expected JSON '
                        f'{{"labels": [["img.png", 3], ...]}} or CSV rows "img.png,3"')


def label_array(pairs, names, keep, where, container='folder'):
    """The label rows of images `names[keep]` from (name, label) pairs, with ada-pytorch's meaning: integer
    class labels become one-hot rows over max + 1 classes, vectors are kept as float32.

    Names are paths from the folder's root with '/'; in a flat folder a label's name is matched by its file
    name alone (so `images/a.png` labels `a.png`). Every image needs a label and every label an image.
    """
    flat = all('/' not in n for n in names)
    table = {}
    for key, value in pairs:
        key = str(key).replace('\\', '/')
        table[key.rsplit('/', 1)[-1] if flat else key] = value
    missing = [n for n in names if table.get(n) is None]
    if missing:
        raise DatasetError(f'{where}: no label for {len(missing)} image(s), e.g. {missing[0]}')
    extra = sorted(set(table) - set(names))
    if extra:
        raise DatasetError(f'{where}: {len(extra)} label(s) for images that are not in the {container}, e.g. {extra[0]}')
    values = [table[names[i]] for i in keep]
    try:
        if all(np.ndim(v) == 0 for v in values):
            classes = np.asarray(values, np.float64)
            if np.any(classes != np.round(classes)) or classes.min() < 0:
                raise DatasetError(f'{where}: scalar labels must be non-negative class indices')
            return onehot(classes.astype(np.int64))
        lengths = {len(np.atleast_1d(v)) for v in values}
        if len(lengths) != 1:
            raise DatasetError(f'{where}: label vectors have different lengths {sorted(lengths)}')
        return np.asarray([np.atleast_1d(v) for v in values], np.float32)
    except (ValueError, TypeError) as e:
        raise _unparsable(where, e)


def is_onehot(labels):
    return labels.size > 0 and bool(np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(1) == 1))


def metadata_json(names, labels):
    """ada-pytorch's dataset.json for images `names` with our label rows (or None): class indices where the rows
    are one-hot and the last class occurs (ada-pytorch counts max + 1 classes, so reading it back gives the same
    rows), the vectors otherwise."""
    values = None
    if labels is not None and labels.shape[1]:
        values = labels.argmax(1).tolist() if is_onehot(labels) and labels[:, -1].any() else labels.tolist()
    return json.dumps({'labels': None if values is None else [[n, v] for n, v in zip(names, values)]})


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
            img = _resize(PIL.Image.open(io.BytesIO(values[i])), opts)
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
    wheres = [f'{name}[{i}]' for i in range(len(images))]
    opts, keep, report = plan_images([ImageHeader(img.mode, img.size, _has_alpha(img)) for img in images], wheres, opts)

    def load(i):
        img = _resize(images[keep[i]], opts)
        return np.ascontiguousarray(_convert_mode(img, opts.channels, opts.background, wheres[keep[i]]).transpose(2, 0, 1))
    num_classes = features[label_key].num_classes if label_key else None
    labels = onehot(np.asarray(labels)[keep], num_classes) if label_key else None
    return Source(len(keep), load, labels, name=lambda i: wheres[keep[i]], report=report)


def _tfds_mocked():
    """True inside tfds.testing.mock_data, where as_dataset works without prepared files."""
    import tensorflow_datasets as tfds
    return getattr(tfds.core.DatasetBuilder.as_dataset, '__name__', '') != 'as_dataset'
