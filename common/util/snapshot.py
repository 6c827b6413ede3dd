"""Our network snapshots: a directory written atomically, readable by `load_network` and by resume.

    network-snapshot-000140/
        networks.json   which model family and the constructor kwargs of G and D
        state.json      training state (images shown, schedule, data position, ...), absent in exports
        ckpt-*          tf.train.Checkpoint of G, D, Gs (and the optimizers, for resume)
        manifest.json   format version, and size and SHA-256 of every file above; written last

The directory is first written under a temporary name beside its final name, every file is flushed to
disk, and only then is it renamed: a crash never leaves a half-written snapshot under the final name.
The manifest catches what the rename cannot: a disk that lost or truncated files after the fact, or a
copy that went wrong. A file named `keep` put into a snapshot directory protects it from pruning.
"""
import hashlib
import json
import os
import shutil

import tensorflow as tf

from common.util.files import commit_dir, temp_dir_beside

SNAPSHOT_FORMAT = 2      # 2: manifest.json with checksums. 1 (no manifest) is still read.
MANIFEST = 'manifest.json'
KEEP_MARKER = 'keep'


class SnapshotError(ValueError):
    """A snapshot that cannot be used, with a one-line reason naming it."""


def save_snapshot(path, model, kwargs, objects, state=None):
    """Writes `objects` (name -> trackable: networks, optimizers) and metadata to directory `path`."""
    tmp = temp_dir_beside(path)
    try:
        tf.train.Checkpoint(**objects).write(os.path.join(tmp, 'ckpt'))
        _write_json(os.path.join(tmp, 'networks.json'), {'format': SNAPSHOT_FORMAT, 'model': model, 'kwargs': kwargs})
        if state is not None:
            _write_json(os.path.join(tmp, 'state.json'), state)
        files = {name: {'size': os.path.getsize(os.path.join(tmp, name)), 'sha256': _sha256(os.path.join(tmp, name))}
                 for name in sorted(os.listdir(tmp))}
        _write_json(os.path.join(tmp, MANIFEST), {'format': SNAPSHOT_FORMAT, 'files': files})
        return commit_dir(tmp, path)  # Same kimg again (e.g. after a rollback): the old one is replaced whole.
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_snapshot(path):
    """Cheap test: a directory with networks.json (use verify_snapshot before trusting its contents)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, 'networks.json'))


def verify_snapshot(path):
    """Checks the manifest: every listed file present with its size and checksum. SnapshotError if not."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
        if read_snapshot_meta(path).get('format') == 1:
            return path                                    # Written before manifests existed.
        raise SnapshotError(f'{path}: incomplete snapshot (no {MANIFEST})')
    manifest = _read_json(manifest_path, path)
    files = manifest.get('files') if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files or manifest.get('format') != SNAPSHOT_FORMAT:
        raise SnapshotError(f'{path}: {MANIFEST} is not a snapshot manifest of format {SNAPSHOT_FORMAT}')
    for name, entry in files.items():
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            raise SnapshotError(f'{path}: {name} is missing')
        if os.path.getsize(file) != entry.get('size'):
            raise SnapshotError(f'{path}: {name} has {os.path.getsize(file)} bytes, the manifest says {entry.get("size")} '
                                f'(truncated or overwritten)')
        if _sha256(file) != entry.get('sha256'):
            raise SnapshotError(f'{path}: {name} does not match its checksum in the manifest (corrupted)')
    return path


def read_snapshot_meta(path):
    meta = _read_json(os.path.join(path, 'networks.json'), path)
    if not isinstance(meta, dict) or meta.get('format') not in (1, SNAPSHOT_FORMAT):
        raise SnapshotError(f'{path}: snapshot format {meta.get("format") if isinstance(meta, dict) else "?"}, '
                            f'this version reads 1 and {SNAPSHOT_FORMAT}')
    if not isinstance(meta.get('model'), str) or not isinstance(meta.get('kwargs'), dict):
        raise SnapshotError(f'{path}: networks.json lacks the model family or network arguments')
    return meta


def read_snapshot_state(path):
    state_path = os.path.join(path, 'state.json')
    if not os.path.isfile(state_path):
        return None
    return _read_json(state_path, path)


def restore_snapshot(path, objects):
    """Restores `objects` (name -> trackable) from the snapshot's checkpoint. Every variable of `objects`
    must be found in it; the checkpoint may hold more (e.g. optimizers, when only networks are loaded)."""
    try:
        status = tf.train.Checkpoint(**objects).read(os.path.join(path, 'ckpt'))
    except (tf.errors.OpError, ValueError) as e:
        raise SnapshotError(f'{path}: checkpoint unreadable ({_first_line(e)})') from None
    status.expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        raise SnapshotError(f'{path}: snapshot does not hold every variable of {sorted(objects)} '
                            f'({_first_line(e)})') from None
    return status


def is_protected(path):
    return os.path.exists(os.path.join(path, KEEP_MARKER))


def _first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _read_json(file, snapshot):
    try:
        with open(file) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SnapshotError(f'{snapshot}: {os.path.basename(file)} is missing') from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SnapshotError(f'{snapshot}: {os.path.basename(file)} is not valid JSON ({_first_line(e)})') from None


def _sha256(file):
    digest = hashlib.sha256()
    with open(file, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
