"""TensorBoard beside a run: starting it (`train.py --tensorboard`) and the run's options as text."""
import json
import shutil
import subprocess
import sys


def start_tensorboard(logdir, port=6006):
    """Starts `tensorboard --logdir=logdir` in a subprocess that outlives nothing but this process; returns it.
    Without TensorBoard installed, a one-line ValueError naming the package."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError('--tensorboard: the tensorboard package is not installed (pip install tensorboard)')
    command = ([shutil.which('tensorboard')] if shutil.which('tensorboard')
               else [sys.executable, '-m', 'tensorboard.main'])
    process = subprocess.Popen(command + [f'--logdir={logdir}', f'--port={port}', '--bind_all'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f'TensorBoard (pid {process.pid}) on http://localhost:{port}/ for {logdir}')
    return process


def write_config_text(writer, opts, step=0):
    """The run's options as a TensorBoard text summary ('config' at `step`), as pretty JSON in a code block."""
    import tensorflow as tf
    text = '```\n' + json.dumps(opts.to_json(), indent=2, sort_keys=True) + '\n```'
    with writer.as_default(step=step):
        tf.summary.text('config', text)
