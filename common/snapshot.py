"""Our network snapshots: a directory written atomically, readable by `load_network` and by resume.

    network-snapshot-000140/
        networks.json   which model family and the constructor kwargs of G and D
        state.json      training state (images shown, schedule, data position, ...), absent in exports
        ckpt-*          tf.train.Checkpoint of G, D, Gs (and the optimizers, for resume)

The directory is first written under a temporary name beside its final name and then renamed, so a
crash never leaves a half-written snapshot under the final name.
"""
import json
import os
import shutil
import tempfile

import tensorflow as tf

SNAPSHOT_FORMAT = 1


def save_snapshot(path, model, kwargs, objects, state=None):
    """Writes `objects` (name -> trackable: networks, optimizers) and metadata to directory `path`."""
    path = os.path.abspath(path.rstrip('/'))
    parent = os.path.dirname(path)
    tmp = tempfile.mkdtemp(prefix='.' + os.path.basename(path) + '.tmp-', dir=parent)
    try:
        tf.train.Checkpoint(**objects).write(os.path.join(tmp, 'ckpt'))
        _write_json(os.path.join(tmp, 'networks.json'), {'format': SNAPSHOT_FORMAT, 'model': model, 'kwargs': kwargs})
        if state is not None:
            _write_json(os.path.join(tmp, 'state.json'), state)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def is_snapshot(path):
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, 'networks.json'))


def read_snapshot_meta(path):
    with open(os.path.join(path, 'networks.json')) as f:
        meta = json.load(f)
    if meta.get('format') != SNAPSHOT_FORMAT:
        raise ValueError(f'{path}: snapshot format {meta.get("format")}, this version reads {SNAPSHOT_FORMAT}')
    return meta


def read_snapshot_state(path):
    state_path = os.path.join(path, 'state.json')
    if not os.path.isfile(state_path):
        return None
    with open(state_path) as f:
        return json.load(f)


def restore_snapshot(path, objects):
    """Restores `objects` (name -> trackable) from the snapshot's checkpoint. Every variable of `objects`
    must be found in it; the checkpoint may hold more (e.g. optimizers, when only networks are loaded)."""
    status = tf.train.Checkpoint(**objects).read(os.path.join(path, 'ckpt'))
    status.expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise ValueError(f'{path}: snapshot does not hold every variable of {sorted(objects)} '
                         f'({str(e).splitlines()[0][:160]})')
    return status


def _write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
