"""Writing files and directories atomically: build beside the target, flush, then rename into place.

Temporary names are hidden (`.tmp-*`, `.<name>.tmp-*`, `.<name>.old-*`), so that whatever a killed process
leaves behind is recognisable and never mistaken for output."""
import os
import shutil
import tempfile


def replace_dir_atomically(write, outdir, overwrite):
    """Calls write(tmp) for a new directory beside outdir, then puts it in place of outdir."""
    outdir = os.path.abspath(outdir)
    if os.path.lexists(outdir) and not overwrite:
        raise ValueError(f'{outdir} already exists (pass --overwrite to replace it)')
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise ValueError(f'{outdir} exists and is not a directory; refusing to replace it')
    tmp = temp_dir_beside(outdir)
    try:
        write(tmp)
        commit_dir(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outdir


def temp_dir_beside(path, kind='tmp'):
    """A new hidden directory `.<name>.<kind>-XXXX` next to `path`, with the mode a plain mkdir would give."""
    path = os.path.abspath(os.fspath(path).rstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=f'.{os.path.basename(path)}.{kind}-')
    os.chmod(tmp, umask_mode(0o777))  # mkdtemp's 0700 would otherwise become the output's mode.
    return tmp


def commit_dir(tmp, path):
    """Flushes every file in directory `tmp` to disk, then renames it to `path`. An existing `path` is moved
    aside first and deleted after, so that `path` always names a complete directory."""
    path = os.path.abspath(os.fspath(path).rstrip('/'))
    for root, _, names in os.walk(tmp):
        for name in names:
            _fsync(os.path.join(root, name))
    _fsync(tmp)
    if os.path.lexists(path):
        remove_dir(path)
    os.rename(tmp, path)
    _fsync(os.path.dirname(path))
    return path


def remove_dir(path):
    """Deletes a directory so that it vanishes at once: a rename to a hidden name, then the deletion."""
    trash = temp_dir_beside(path, 'old')
    os.replace(path, os.path.join(trash, 'previous'))
    shutil.rmtree(trash)


def _fsync(path):
    """Makes a file's data, or a directory's entries, durable (best effort where a system cannot)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_atomic(path, write, suffix=''):
    """Calls write(tmp_path) for a temporary file beside `path`, flushes it to disk and renames it to `path`:
    readers never see a half-written file, a crash leaves the old file or the new one, and a failed write
    leaves no litter."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix='.tmp-', suffix=suffix)
    os.close(fd)
    os.chmod(tmp, umask_mode(0o666))  # mkstemp's 0600 would otherwise become the file's mode.
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def umask_mode(mode):
    """`mode` as the process umask would leave it for a newly created file or directory."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def append_atomic(path, text):
    """Appends `text` to a small file crash-safely: the file is rewritten beside itself and renamed, so a
    reader or a crash never sees half a line (for metric logs, which grow by one line per snapshot)."""
    previous = open(path, 'rb').read() if os.path.exists(path) else b''

    def write(tmp):
        with open(tmp, 'wb') as f:
            f.write(previous + text.encode('utf-8'))
    save_atomic(path, write, suffix=os.path.splitext(path)[1])
