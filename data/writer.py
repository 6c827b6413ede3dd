"""Writing a `data.sources.Source` as a dataset directory, in the official order.

Kept apart from the dataset tool's command line so that training and benchmarks can write datasets
without defining the tool's flags.
"""
import concurrent.futures
import sys

import numpy as np
from tqdm import tqdm

from data.tfrecord_io import DatasetError, TFRecordExporter, shuffled_order


def write_dataset(tfrecord_dir, source, shuffle, overwrite=False, num_threads=1, desc='Creating dataset'):
    """Writes `source` in the official order; images are decoded `num_threads` at a time, a bounded
    number in flight, so memory stays flat however many images there are."""
    order = shuffled_order(source.num_images) if shuffle else np.arange(source.num_images)
    window = max(1, num_threads) * 4
    with TFRecordExporter(tfrecord_dir, overwrite=overwrite) as tfr, \
            concurrent.futures.ThreadPoolExecutor(max(1, num_threads)) as pool, \
            tqdm(total=len(order), unit='img', desc=desc, dynamic_ncols=True, file=sys.stderr) as bar:
        pending = []
        for i in order.tolist():
            pending.append((i, pool.submit(source.load, i)))
            if len(pending) >= window:
                idx, fut = pending.pop(0)
                tfr.add_image(fut.result(), where=source.name(idx))
                bar.update(1)
        for idx, fut in pending:
            tfr.add_image(fut.result(), where=source.name(idx))
            bar.update(1)
        if source.labels is not None:
            if len(source.labels) != source.num_images:
                raise DatasetError(f'{tfrecord_dir}: {len(source.labels)} labels for {source.num_images} images')
            tfr.add_labels(np.asarray(source.labels)[order])
    return tfr
