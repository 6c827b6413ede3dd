"""Writing directories atomically: build beside the target, then rename into place."""
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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would otherwise become the SavedModel's mode.
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
