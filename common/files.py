"""Writing files and directories atomically: build beside the target, flush, then rename into place.

Temporary names start with `.tmp-`, so that whatever a killed process leaves behind is recognisable."""
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
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f'.tmp-{os.path.basename(outdir)}-')
    os.chmod(tmp, umask_mode(0o777))  # mkdtemp's 0700 would otherwise become the SavedModel's mode.
    try:
        write(tmp)
        if os.path.lexists(outdir):  # --overwrite: move the old one aside, put the new one in, then delete.
            old = tempfile.mkdtemp(dir=parent, prefix=f'.old-{os.path.basename(outdir)}-')
            os.replace(outdir, os.path.join(old, 'previous'))
            os.replace(tmp, outdir)
            shutil.rmtree(old)
        else:
            os.replace(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return outdir


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
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
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
