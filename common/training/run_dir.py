"""Numbered run directories (`results/00003-pggan-fashion32/`), the run's text log, and snapshot lookup."""
import dataclasses
import json
import os
import re
import shutil
import sys

from common.util.files import remove_dir, save_atomic
from common.util.snapshot import SnapshotError, is_protected, is_snapshot, verify_snapshot

# Official names where the images shown are whole kimg (`network-snapshot-000140`); runs with sub-kimg
# snapshot ticks add the images (`network-snapshot-000000.512`); a second snapshot at the same count (after a
# numerical-fault rollback) gets `_1`, `_2`, ...: no snapshot or grid ever replaces another, names sort in order.
SNAPSHOT_RE = re.compile(r'^network-snapshot-(\d+)(?:\.(\d{3}))?(?:_(\d+))?$')


def create_run_dir(result_dir, desc):
    """Creates `result_dir/NNNNN-desc` with the next free number (official misc.create_result_subdir)."""
    os.makedirs(result_dir, exist_ok=True)
    while True:
        ids = [int(m.group(1)) for m in (re.match(r'^(\d+)-', d) for d in os.listdir(result_dir)) if m]
        path = os.path.join(result_dir, f'{max(ids, default=-1) + 1:05d}-{desc}')
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # Another run took the number meanwhile.
            continue


def write_json_atomic(path, obj):
    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=_jsonable)
    save_atomic(path, write, suffix='.json')


def _jsonable(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if hasattr(o, 'item'):
        return o.item()
    raise TypeError(f'{type(o).__name__} is not JSON serializable')


def kimg_stem(cur_nimg):
    """'000140' for 140000 images, '000000.512' for 512: the kimg part of snapshot and grid names."""
    return f'{cur_nimg // 1000:06d}' + (f'.{cur_nimg % 1000:03d}' if cur_nimg % 1000 else '')


def unused_path(run_dir, prefix, cur_nimg, ext=''):
    """`run_dir/<prefix><kimg_stem><ext>`, or with `_1`, `_2`, ... before `ext` if that name is taken."""
    stem = os.path.join(run_dir, prefix + kimg_stem(cur_nimg))
    path, n = stem + ext, 0
    while os.path.exists(path):
        n += 1
        path = f'{stem}_{n}{ext}'
    return path


def list_snapshots(run_dir):
    """[(kimg, path)] of the snapshot directories in a run directory, oldest first (not yet verified)."""
    out = []
    for name in os.listdir(run_dir):
        m = SNAPSHOT_RE.match(name)
        path = os.path.join(run_dir, name)
        if m and is_snapshot(path):
            key = (int(m.group(1)) * 1000 + int(m.group(2) or 0), int(m.group(3) or 0))
            out.append((key, path))
    return [(key[0] / 1000, path) for key, path in sorted(out)]


def newest_valid_snapshot(run_dir, report=print):
    """The newest snapshot of a run directory whose manifest checks out; corrupted or truncated ones are
    skipped with a message naming them. None if there is none."""
    for _, path in reversed(list_snapshots(run_dir)):
        try:
            return verify_snapshot(path)
        except SnapshotError as e:
            report(f'Skipping snapshot: {e}')
    return None


def locate_snapshot(path):
    """A snapshot directory (verified), or the newest valid snapshot of a run directory."""
    if is_snapshot(path):
        return verify_snapshot(path)
    if os.path.isdir(path):
        snapshot = newest_valid_snapshot(path)
        if snapshot:
            return snapshot
        raise FileNotFoundError(f'{path}: run directory holds no complete network-snapshot-* to resume from')
    raise FileNotFoundError(f'{path}: no such run directory or snapshot')


def resolve_network_path(path):
    """What `load_network(path)` reads: `path` itself (a pickle, a snapshot, or anything it will refuse), or
    for a run directory its newest valid snapshot, as --resume takes it (said on stdout, like the skipped)."""
    from common.util.pickle_io import NetworkLoadError
    if not os.path.isdir(path) or is_snapshot(path) or not list_snapshots(path):
        return path
    snapshot = newest_valid_snapshot(path)
    if snapshot is None:
        raise NetworkLoadError(f'{path}: run directory holds no complete network-snapshot-*')
    print(f'{path}: run directory; its newest valid snapshot is {os.path.basename(snapshot)}')
    return snapshot


def latest_run_dir(result_dir, desc):
    """The highest-numbered `result_dir/NNNNN-desc` that holds a snapshot, or None."""
    if not os.path.isdir(result_dir):
        return None
    runs = sorted((int(m.group(1)), name) for m, name in ((re.match(r'^(\d+)-(.*)$', d), d)
                                                          for d in os.listdir(result_dir)) if m and m.group(2) == desc)
    for _, name in reversed(runs):
        if list_snapshots(os.path.join(result_dir, name)):
            return os.path.join(result_dir, name)
    return None


def prune_snapshots(run_dir, keep, protected=()):
    """Deletes all but the newest `keep` snapshots, sparing those marked `keep` and the paths in `protected`."""
    snapshots = [path for _, path in list_snapshots(run_dir)]
    protected = {os.path.abspath(p) for p in protected}
    for path in snapshots[:-keep] if keep > 0 else []:
        if os.path.abspath(path) not in protected and not is_protected(path):
            remove_dir(path)


def remove_stale_temporaries(run_dir):
    """Deletes what a killed process left half-written: `.network-snapshot-*.tmp-*` directories and
    `.tmp-*` files. Only for a run directory this process is about to continue."""
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if name.startswith('.') and ('.tmp-' in name or '.old-' in name) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith('.tmp-') and os.path.isfile(path):
            os.remove(path)


class Tee:
    """Copies stdout/stderr into the run's log.txt."""

    def __init__(self, path):
        self.file = open(path, 'a', buffering=1)
        self.stdout, self.stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Both(self.stdout, self.file), _Both(self.stderr, self.file)

    def close(self):
        sys.stdout, sys.stderr = self.stdout, self.stderr
        self.file.close()


class _Both:
    def __init__(self, stream, file):
        self.stream, self.file = stream, file

    def write(self, data):
        self.stream.write(data)
        if '\r' not in data:  # Progress-bar redraws stay on the terminal only.
            self.file.write(data)
        return len(data)

    def flush(self):
        self.stream.flush()
        self.file.flush()

    def isatty(self):
        return self.stream.isatty()

    def fileno(self):
        return self.stream.fileno()


def update_best(run_dir, snapshot, headlines):
    """Records in `best.json` the snapshot with the lowest value of each metric in `headlines`
    ({metric: value}, lower is better) and returns the snapshot paths it names (spared by pruning)."""
    path = os.path.join(run_dir, 'best.json')
    best = {}
    if os.path.isfile(path):
        try:
            with open(path) as f:
                best = json.load(f)
        except ValueError:
            best = {}  # Cannot happen with atomic writes; a hand-edited file just starts over.
    changed = False
    for metric, value in headlines.items():
        if metric not in best or value < best[metric]['value']:
            best[metric] = {'snapshot': os.path.basename(snapshot), 'value': value}
            changed = True
    if changed:
        write_json_atomic(path, best)
    return [os.path.join(run_dir, entry['snapshot']) for entry in best.values()]


def resumes_from_pickle(opts):
    """Whether --resume names a network file (an official pickle, or an export load_network reads) rather than
    a snapshot, a run directory or 'latest': the run takes that file's weights only (common/training/transfer.py).
    Also true when --auto_resume continues such a run from its own snapshot: ada-pytorch decides by the flag
    too (its --ada_kimg default is 100 when resuming)."""
    return is_network_file(opts.resume)


def is_network_file(resume):
    """Whether a --resume value names a file (a network pickle), not a snapshot, a run directory or 'latest'."""
    return bool(resume) and resume != 'latest' and os.path.isfile(resume)
