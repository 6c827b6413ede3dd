"""Numbered run directories (`results/00003-pggan-fashion32/`), the run's text log, and snapshot lookup."""
import dataclasses
import json
import os
import re
import sys

from common.snapshot import is_snapshot

SNAPSHOT_RE = re.compile(r'^network-snapshot-(\d+)$')


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
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=_jsonable)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _jsonable(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if hasattr(o, 'item'):
        return o.item()
    raise TypeError(f'{type(o).__name__} is not JSON serializable')


def list_snapshots(run_dir):
    """[(kimg, path)] of complete snapshots in a run directory, oldest first."""
    out = []
    for name in os.listdir(run_dir):
        m = SNAPSHOT_RE.match(name)
        path = os.path.join(run_dir, name)
        if m and is_snapshot(path):
            out.append((int(m.group(1)), path))
    return sorted(out)


def locate_snapshot(path):
    """A snapshot directory, or the newest snapshot of a run directory."""
    if is_snapshot(path):
        return path
    if os.path.isdir(path):
        snaps = list_snapshots(path)
        if snaps:
            return snaps[-1][1]
        raise FileNotFoundError(f'{path}: run directory holds no network-snapshot-* to resume from')
    raise FileNotFoundError(f'{path}: no such run directory or snapshot')


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
