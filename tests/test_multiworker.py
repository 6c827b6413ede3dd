"""Multi-worker training: two worker processes on localhost (MultiWorkerMirroredStrategy over 127.0.0.1)
keep identical weights, equal to a single-process run with the same global batch, and only the chief
writes into the run directory."""
import json
import os
import socket
import subprocess
import sys

import numpy as np

from equivalence import assert_same_weights
from common.training.options import TrainingOptions
from common.training.schedule import ScheduleOptions

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _options(data, run_dir):
    nets = dict(fmap_base=16, fmap_max=8)
    # Minibatch stddev off: like the official multi-GPU code it groups within each replica.
    return TrainingOptions(data=data, run_dir=run_dir, total_kimg=0.064, mirror_augment=True, minibatch_repeats=2,
                           G_kwargs=dict(nets, latent_size=8), D_kwargs=dict(nets, mbstd_group_size=0),
                           sched=ScheduleOptions(minibatch_base=8, lod_initial_resolution=8, tick_kimg_base=0.032,
                                                 tick_kimg_dict={}),
                           grid_size='2x2', network_snapshot_ticks=1, random_seed=3)


def test_two_workers_stay_identical_equal_one_process_and_only_the_chief_writes(tiny_dataset_8px, tmp_path,
                                                                                 monkeypatch):
    hosts = [f'127.0.0.1:{p}' for p in _free_ports(2)]
    run_dir = str(tmp_path / 'run')
    opts = json.dumps(_options(tiny_dataset_8px, run_dir).to_json())
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='',
                   TF_CONFIG=json.dumps({'cluster': {'worker': hosts}, 'task': {'type': 'worker', 'index': index}}))
        procs.append(subprocess.Popen([sys.executable, 'tests/multiworker_worker.py', opts,
                                       str(tmp_path / f'worker{index}.npz')], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))

    # Meanwhile, the same run in this process: one replica, the same global batch.
    import pggan.family
    from common.training.loop import training_loop
    built = []
    build = pggan.family.build
    monkeypatch.setattr(pggan.family, 'build', lambda *args: built.append(build(*args)) or built[-1])
    training_loop(_options(tiny_dataset_8px, str(tmp_path / 'single')))
    single = [w.numpy() for net in built[0].nets.values() for w in net.weights]

    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    workers = [list(np.load(tmp_path / f'worker{i}.npz').values()) for i in range(2)]
    for a, b in zip(*workers):
        np.testing.assert_array_equal(a, b)                  # Replicas of one run: bit-identical.
    for a, b in zip(workers[0], single):
        assert_same_weights(a, b)                            # Another summation order than one process.
    names = sorted(os.listdir(run_dir))
    assert 'log.txt' in names and 'training_options.json' in names and any(n.startswith('network-snap') for n in names)
    assert len([n for n in names if n.startswith('events.out')]) == 1   # One TensorBoard writer: the chief's.


def test_tpu_without_a_tpu_fails_in_one_line_naming_the_flag(tmp_path):
    # A subprocess: connecting to a TPU cluster changes this process's TensorFlow context.
    proc = subprocess.run([sys.executable, 'train.py', '--tpu=local', f'--result_dir={tmp_path}'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith('error: --tpu=local: no TPU found there'), proc.stderr[-2000:]
    assert not os.listdir(tmp_path)  # Nothing written.
