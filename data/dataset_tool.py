"""Creates, inspects and extracts multi-resolution TFRecord datasets (the official ProGAN/StyleGAN2 format).

    python -m data.dataset_tool COMMAND ARGS... [--flags]

Commands (the official tool's, with its defaults, plus a few more):
    create_from_images  TFRECORD_DIR IMAGES [--shuffle=1] [--resize=center_crop|pad|stretch|center_crop_wide]
                        [--resolution=R] [--height=H] [--channels=1|3|4] [--background=255,255,255] [--labels=FILE]
                        (IMAGES: a folder or a .zip, sub-folders included, e.g. ada-pytorch's; its dataset.json
                        gives the labels unless --labels)
    create_mnist        TFRECORD_DIR MNIST_DIR
    create_mnistrgb     TFRECORD_DIR MNIST_DIR [--num_images=1000000] [--random_seed=123]
    create_cifar10      TFRECORD_DIR CIFAR10_DIR
    create_cifar100     TFRECORD_DIR CIFAR100_DIR
    create_svhn         TFRECORD_DIR SVHN_DIR
    create_celeba       TFRECORD_DIR CELEBA_DIR [--cx=89] [--cy=121]
    create_lsun         TFRECORD_DIR LMDB_DIR [--resolution=256] [--max_images=N]
    create_from_hdf5    TFRECORD_DIR HDF5_FILE [--shuffle=1]
    create_from_tfds    TFRECORD_DIR --name=NAME [--split=train] [--data_dir=DIR]
    create_from_embedded TFRECORD_DIR          (Fashion-MNIST test split, 32x32 grayscale, 10 classes)
    info                TFRECORD_DIR
    extract             TFRECORD_DIR OUTPUT [--lod=0]  (a new OUTPUT, or --overwrite; OUTPUT.zip: ada-pytorch's
                        layout, 00000/img00000000.png ... and dataset.json)
    compare             TFRECORD_DIR_A TFRECORD_DIR_B [--ignore_labels=0]

Every create command and extract write into a temporary directory (or file) and rename it when complete; an
existing output is refused unless --overwrite. create_from_images prints one line for each kind of change it
made to some images (composited, expanded to RGB, cropped, resized, skipped, ...).
"""
import io
import os
import shutil
import sys
import zipfile

from absl import app
from absl import flags as absl_flags

# FATAL only, on every host (the tool does no GPU work): set before `common` is imported below, whose
# quiet_tensorflow_logs() keeps a level already set. TensorFlow itself is imported later and lazily, by the
# commands that read or write TFRecords (data/tfrecord_io.py, read_images) or use TFDS.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.util.files import save_atomic  # noqa: E402
from data import sources  # noqa: E402
from data.tfrecord_io import DatasetError, DatasetInfo, commit_temp_dir, decode_example, make_temp_dir  # noqa: E402
from data.writer import write_dataset  # noqa: E402  (also the tool's API: tests and train.py import it from here)

F = absl_flags.FLAGS
absl_flags.DEFINE_integer('shuffle', None, 'Randomize image order with the official RandomState(123) permutation '
                          '(default: the official default of the command: 1, but 0 for create_lsun and create_mnistrgb).')
absl_flags.DEFINE_enum('resize', None, list(sources.RESIZE_MODES),
                       'How to give images of other or mixed sizes one square power-of-two size; unset = refuse them. '
                       'center_crop_wide is ada-pytorch\'s center-crop-wide (needs --resolution and --height).')
absl_flags.DEFINE_integer('resolution', None, 'Output resolution with --resize (default: the largest power of two '
                          'every image reaches; 256 for create_lsun).')
absl_flags.DEFINE_integer('height', None, '--resize=center_crop_wide: rows of the band the image fills across the '
                          'black R x R square (ada-pytorch\'s --height; --resolution is its --width).')
absl_flags.DEFINE_enum('channels', None, ['1', '3', '4'], 'Output channels (default: as the majority of the images; '
                       'RGBA is composited on --background unless --channels=4).')
absl_flags.DEFINE_list('background', ['255', '255', '255'], 'R,G,B colour under transparent pixels and in --resize=pad padding.')
absl_flags.DEFINE_string('labels', None, 'Labels for create_from_images: JSON ({"labels": [["img.png", 3], ...]}) or CSV (img.png,3).')
absl_flags.DEFINE_bool('overwrite', False, 'Replace an existing output directory.')
absl_flags.DEFINE_integer('num_threads', min(8, os.cpu_count() or 1), 'Images decoded in parallel.')
absl_flags.DEFINE_integer('lod', 0, 'extract: which level of detail (0 = full resolution).')
absl_flags.DEFINE_integer('ignore_labels', 0, 'compare: ignore labels.')
absl_flags.DEFINE_string('name', None, 'create_from_tfds: TFDS dataset name (image_folder reads --data_dir offline).')
absl_flags.DEFINE_string('split', 'train', 'create_from_tfds: split.')
absl_flags.DEFINE_string('data_dir', None, 'create_from_tfds: TFDS data directory (image_folder: the folder root).')
absl_flags.DEFINE_integer('num_images', 1000000, 'create_mnistrgb: number of composite images.')
absl_flags.DEFINE_integer('random_seed', 123, 'create_mnistrgb: random seed.')
absl_flags.DEFINE_integer('max_images', None, 'create_lsun: maximum number of images.')
absl_flags.DEFINE_integer('cx', 89, 'create_celeba: crop centre x.')
absl_flags.DEFINE_integer('cy', 121, 'create_celeba: crop centre y.')


def _image_options():
    try:
        background = tuple(int(v) for v in F.background)
        assert len(background) == 3 and all(0 <= v <= 255 for v in background)
    except (ValueError, AssertionError):
        raise DatasetError(f'--background={",".join(F.background)}: expected R,G,B with values 0..255')
    return sources.ImageOptions(channels=int(F.channels) if F.channels else None, resize=F.resize,
                                resolution=F.resolution, background=background, height=F.height)


def read_images(path):
    """Yields uint8 CHW images of one TFRecord file (TensorFlow's reader: fast, checks CRCs)."""
    import tensorflow as tf
    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            yield decode_example(record, where=path)
    except tf.errors.OpError as e:
        raise DatasetError(f'{path}: unreadable TFRecord ({e.message.splitlines()[0][:120]})')


def info(tfrecord_dir):
    ds = DatasetInfo(tfrecord_dir)
    counts = {2 ** r: ds.count(2 ** r) for r in sorted(ds.files)}
    num = counts[ds.resolution]
    total_bytes = sum(os.path.getsize(p) for p in ds.files.values())
    if ds.label_file:
        total_bytes += os.path.getsize(ds.label_file)
    print(f'Dataset:     {tfrecord_dir}')
    print(f'Images:      {num}')
    print(f'Resolution:  {ds.resolution}x{ds.resolution} (files for {", ".join(str(r) for r in counts)})')
    print(f'Channels:    {ds.num_channels}')
    if ds.label_file:
        labels = ds.load_labels()
        kind = f'one-hot, {labels.shape[1]} classes' if sources.is_onehot(labels) else 'float vectors'
        print(f'Labels:      {labels.shape[1]} ({kind}) in {os.path.basename(ds.label_file)}, {labels.shape[0]} rows')
    else:
        print('Labels:      none')
    print(f'Bytes:       {total_bytes}')
    bad = {r: n for r, n in counts.items() if n != num}
    if bad:
        raise DatasetError(f'{tfrecord_dir}: resolutions hold different image counts {counts}')
    if ds.label_file and ds.load_labels().shape[0] < num:
        raise DatasetError(f'{ds.label_file}: {ds.load_labels().shape[0]} labels for {num} images')


def extract(tfrecord_dir, output, lod=0, overwrite=False):
    """Writes the records at `lod` as PNGs, all or nothing: into a new folder as img00000000.png, ..., or into
    OUTPUT.zip in ada-pytorch's layout (00000/img00000000.png, ..., uncompressed PNGs in a stored zip, which its
    training reads directly). Labels go to a dataset.json beside the images (always in a zip, as ada-pytorch)."""
    ds = DatasetInfo(tfrecord_dir)
    path = ds.path(ds.resolution >> lod) if 0 <= lod <= ds.resolution_log2 - 2 else None
    if path is None:
        raise DatasetError(f'--lod={lod}: expected 0..{ds.resolution_log2 - 2} for {tfrecord_dir}')
    # Walking the framing first (seeks only) refuses a truncated file before anything is written.
    total = ds.count(ds.resolution >> lod)
    labels = ds.load_labels()
    as_zip = str(output).lower().endswith('.zip')
    names = []

    def write_all(save):
        for idx, img in enumerate(tqdm(read_images(path), total=total, unit='img', desc='Extracting', file=sys.stderr)):
            mode = 'L' if img.shape[0] == 1 else 'RGB' if img.shape[0] == 3 else 'RGBA'
            arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
            png = io.BytesIO()
            PIL.Image.fromarray(arr, mode).save(png, format='PNG', **({'compress_level': 0} if as_zip else {}))
            names.append(f'{idx // 1000:05d}/img{idx:08d}.png' if as_zip else f'img{idx:08d}.png')  # ada: 1000 a folder
            save(names[-1], png.getvalue())
        if as_zip or labels is not None:
            save(sources.METADATA, sources.metadata_json(names, None if labels is None else labels[:len(names)]))

    if as_zip:
        if os.path.isdir(output):
            raise DatasetError(f'{output}: is a directory; expected the name of a .zip file to write')
        if os.path.exists(output) and not overwrite:
            raise DatasetError(f'{output}: output already exists (use --overwrite to replace it)')
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)

        def write_zip(tmp):
            with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_STORED) as zf:
                write_all(zf.writestr)
        save_atomic(output, write_zip, suffix='.zip')
    else:
        tmp_dir = make_temp_dir(output, overwrite)
        try:
            def save_file(name, data):
                with open(os.path.join(tmp_dir, name), 'wb' if isinstance(data, bytes) else 'w') as f:
                    f.write(data)
            write_all(save_file)
            commit_temp_dir(tmp_dir, output)
        except BaseException:  # Also on Ctrl-C: a corrupt record or an interruption leaves no partial output.
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
    print(f'Extracted {len(names)} images to {output}' + (' with their labels in dataset.json' if labels is not None else ''))


def compare(dir_a, dir_b, ignore_labels=0):
    """Prints how many images (and labels) are identical; returns True when both datasets are equal."""
    a, b = DatasetInfo(dir_a), DatasetInfo(dir_b)
    same = different = 0
    iter_b = read_images(b.path(b.resolution))
    count_a = count_b = 0
    for idx, img_a in enumerate(read_images(a.path(a.resolution))):
        count_a += 1
        img_b = next(iter_b, None)
        if img_b is None:
            continue
        count_b += 1
        if img_a.shape == img_b.shape and np.array_equal(img_a, img_b):
            same += 1
        else:
            different += 1
            if different <= 10:
                print(f'Image {idx} is different')
    count_b += sum(1 for _ in iter_b)
    if count_a != count_b:
        print(f'Datasets contain different number of images: {count_a} vs {count_b}')
    print(f'Identical images: {same} / {max(count_a, count_b)}')
    equal = count_a == count_b == same
    if not ignore_labels:
        la, lb = a.load_labels(), b.load_labels()
        la = np.zeros([count_a, 0], np.float32) if la is None else la[:count_a]
        lb = np.zeros([count_b, 0], np.float32) if lb is None else lb[:count_b]
        n = min(len(la), len(lb))
        same_labels = int(np.sum(np.all(la[:n] == lb[:n], axis=1))) if la.shape[1] == lb.shape[1] else 0
        print(f'Identical labels: {same_labels} / {max(count_a, count_b)}')
        equal = equal and same_labels == count_a
    return equal


# Command -> (positional argument names, function(args) -> source, official shuffle default).
def _creators():
    return {
        'create_from_images': (['images'], lambda a: sources.image_folder_source(a[0], _image_options(), F.labels), 1),
        'create_mnist': (['mnist_dir'], lambda a: sources.mnist_source(a[0]), 1),
        'create_mnistrgb': (['mnist_dir'], lambda a: sources.mnistrgb_source(a[0], F.num_images, F.random_seed), 0),
        'create_cifar10': (['cifar10_dir'], lambda a: sources.cifar10_source(a[0]), 1),
        'create_cifar100': (['cifar100_dir'], lambda a: sources.cifar100_source(a[0]), 1),
        'create_svhn': (['svhn_dir'], lambda a: sources.svhn_source(a[0]), 1),
        'create_celeba': (['celeba_dir'], lambda a: sources.celeba_source(a[0], F.cx, F.cy), 1),
        'create_lsun': (['lmdb_dir'], lambda a: sources.lsun_source(a[0], F.resolution or 256, F.max_images), 0),
        'create_from_hdf5': (['hdf5_filename'], lambda a: sources.hdf5_source(a[0]), 1),
        'create_from_tfds': ([], lambda a: sources.tfds_source(_require_name(), F.split, F.data_dir, _image_options()), 1),
        'create_from_embedded': ([], lambda a: sources.embedded_source(), 1),
    }


def _require_name():
    if not F.name:
        raise DatasetError('create_from_tfds: --name=NAME is required (e.g. --name=mnist, or --name=image_folder --data_dir=ROOT)')
    return F.name


def run(argv):
    """Runs one command; `argv` = [command, positional args...]. Raises DatasetError on bad input."""
    if not argv:
        raise DatasetError('no command given; see --help')
    command, args = argv[0], argv[1:]
    creators = _creators()
    if command in creators:
        names, make_source, default_shuffle = creators[command]
        if len(args) != 1 + len(names):
            raise DatasetError(f'{command}: expected arguments TFRECORD_DIR {" ".join(n.upper() for n in names)}')
        shuffle = default_shuffle if F.shuffle is None else F.shuffle
        source = make_source(args[1:])
        write_dataset(args[0], source, shuffle, F.overwrite, F.num_threads)
        print(f'Added {source.num_images} images to {args[0]}')
        for line in source.report:
            print(line)
        return True
    commands = {'info': (1, lambda: info(args[0])), 'extract': (2, lambda: extract(args[0], args[1], F.lod, F.overwrite)),
                'compare': (2, lambda: compare(args[0], args[1], F.ignore_labels))}
    if command not in commands:
        raise DatasetError(f'unknown command "{command}"; expected one of {", ".join(list(creators) + list(commands))}')
    nargs, fn = commands[command]
    if len(args) != nargs:
        raise DatasetError(f'{command}: expected {nargs} directory argument(s), got {len(args)}')
    result = fn()
    return result is not False


def main(argv):
    try:
        ok = run(argv[1:])
    except DatasetError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print('error: interrupted; nothing was written', file=sys.stderr)
        sys.exit(130)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    app.run(main)
