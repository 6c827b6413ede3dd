"""A run survives SIGKILL at random moments and SIGTERM: each restart with --resume=latest continues from
the newest complete snapshot, SIGTERM exits 0 with a snapshot and the command that resumes it, and the run
that was killed three times and stopped once ends with exactly the weights of an uninterrupted run.

Real `python train.py` processes on a tiny ProGAN (8x8 data, one fade-in), ~6 s each on an idle machine."""
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import PIL.Image
import pytest

from equivalence import assert_same_weights
from common.training.run_dir import list_snapshots
from common.util.snapshot import SnapshotError, read_snapshot_state, verify_snapshot

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--fmap_base=16', '--fmap_max=8', '--latent_size=8', '--minibatch_base=32', '--minibatch_dict=',
        '--lod_training_kimg=1', '--lod_transition_kimg=1', '--tick_kimg_base=1', '--tick_kimg_dict=',
        '--total_kimg=4', '--network_snapshot_ticks=1', '--image_snapshot_ticks=1', '--grid_size=2x2', '--seed=5',
        '--keep_snapshots=2']
LONGER = ['--total_kimg=6']   # The SIGTERM stage, its continuation and the reference (the schedule is the same).
KILL_TRIALS = 3


def _start(args, log):
    # Op determinism makes separate processes bit-identical; the seed of this test's kill times is printed.
    env = dict(os.environ, TF_DETERMINISTIC_OPS='1', TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='',
               PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, 'train.py'] + args, cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)


def _valid_snapshots(run_dir):
    out = []
    for _, path in list_snapshots(run_dir):
        try:
            out.append(verify_snapshot(path))
        except SnapshotError:
            pass
    return out


def _wait_for(predicate, timeout, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.05)
    raise AssertionError('timed out')


def _final_weights(run_dir):
    from pggan import load_network
    nets = load_network(_valid_snapshots(run_dir)[-1])
    return [w.numpy() for net in (nets.G, nets.D, nets.Gs) for w in net.weights]


def test_sigkill_at_random_moments_then_sigterm_continue_exactly_and_corrupt_nothing(tiny_dataset_8px, tmp_path):
    results = str(tmp_path / 'results')
    base = [f'--data={tiny_dataset_8px}', f'--result_dir={results}']
    reference_log = open(tmp_path / 'reference.log', 'w')
    reference = _start(base + TINY + LONGER + [f'--run_dir={tmp_path / "reference"}'], reference_log)

    seed = int(os.environ.get('FAULT_TEST_SEED', time.time_ns() % 100000))
    rng = random.Random(seed)
    print(f'kill-time seed {seed} (FAULT_TEST_SEED={seed} repeats it)')
    run_dir = os.path.join(results, '00000-fault')
    expected_resume_points, survived = [], 0
    for trial in range(KILL_TRIALS):
        with open(tmp_path / f'trial{trial}.log', 'w') as log:
            proc = _start(base + TINY + ['--desc=fault'] + (['--resume=latest'] if trial else []), log)
            if trial == 0:  # --resume=latest needs one complete snapshot to exist.
                _wait_for(lambda: os.path.isdir(run_dir) and _valid_snapshots(run_dir), 120, proc)
                time.sleep(rng.uniform(0, 1.5))
            else:           # Anywhere from start-up to well into training.
                time.sleep(rng.uniform(0.5, 9))
            proc.kill()
            proc.wait()
        survived += 1
        expected_resume_points.append(_valid_snapshots(run_dir)[-1])

    # SIGTERM once training runs again: a snapshot, exit status 0 and the command that continues in place.
    with open(tmp_path / 'sigterm.log', 'w') as log:
        # The kills may have let the 4-kimg run finish: this stage goes on to 6 kimg, so it always has work.
        # The signal comes once the handlers are in place (they are, right after the "Dataset:" line).
        proc = _start(base + TINY + LONGER + ['--desc=fault', '--resume=latest'], log)
        _wait_for(lambda: re.search(r'^Dataset: ', open(tmp_path / 'sigterm.log').read(), re.M), 120, proc)
        time.sleep(rng.uniform(0.2, 2))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, open(tmp_path / 'sigterm.log').read()[-2000:]
    out = open(tmp_path / 'sigterm.log').read()
    assert 'Stopped by SIGTERM' in out
    command = shlex.split(out.split('Resume with:\n')[1].splitlines()[0])
    assert command[:2] == ['python', 'train.py'] and f'--run_dir={run_dir}' in command and '--auto_resume' in command
    stopped_at = read_snapshot_state(_valid_snapshots(run_dir)[-1])['train_state']['cur_nimg']
    with open(tmp_path / 'final.log', 'w') as log:
        assert _start(command[2:], log).wait(timeout=300) == 0, open(tmp_path / 'final.log').read()[-2000:]
    assert reference.wait(timeout=300) == 0, open(tmp_path / 'reference.log').read()[-2000:]

    # Every restart continued from the newest complete snapshot at the moment of the kill.
    logs = [f'trial{t}.log' for t in range(1, KILL_TRIALS)] + ['sigterm.log']
    for name, snapshot in zip(logs, expected_resume_points):
        log = open(tmp_path / name).read()
        if 'Run directory:' in log:
            assert f'continuing from {os.path.abspath(snapshot)}' in log, log[-2000:]
    final_log = open(tmp_path / 'final.log').read()
    assert f'kimg {stopped_at / 1000:.1f})' in final_log

    # Same schedule, same data, same randomness: the weights equal the uninterrupted run's.
    for a, b in zip(_final_weights(run_dir), _final_weights(str(tmp_path / 'reference'))):
        assert_same_weights(a, b)
    state = read_snapshot_state(_valid_snapshots(run_dir)[-1])['train_state']
    assert state['cur_nimg'] >= 6000 and state['step'] * 32 == state['cur_nimg']

    # Nothing corrupted, nothing half-written left behind.
    names = os.listdir(run_dir)
    assert not [n for n in names if n.startswith('.')], names
    assert all(verify_snapshot(p) for _, p in list_snapshots(run_dir))
    assert len(list_snapshots(run_dir)) == 2  # --keep_snapshots=2.
    for name in names:
        path = os.path.join(run_dir, name)
        if name.endswith('.png'):
            PIL.Image.open(path).load()
        elif name.endswith('.json'):
            json.load(open(path))
    assert survived == KILL_TRIALS


def test_resume_latest_without_a_snapshot_and_reusing_a_run_dir_are_refused(tiny_dataset_8px, tmp_path):
    from common.training.options import OptionsError, TrainingOptions
    from common.training.loop import training_loop
    opts = TrainingOptions(data=tiny_dataset_8px, result_dir=str(tmp_path), desc='nothing', resume='latest')
    with pytest.raises(FileNotFoundError, match=r'--resume=latest: no complete snapshot in any run directory '
                                                r'.*<number>-nothing \(--desc=nothing\)'):
        training_loop(opts)
    run_dir = tmp_path / 'run'
    (run_dir / 'network-snapshot-000001').mkdir(parents=True)
    (run_dir / 'network-snapshot-000001' / 'networks.json').write_text('{}')
    with pytest.raises(OptionsError, match='already holds snapshots: add --auto_resume'):
        training_loop(TrainingOptions(data=tiny_dataset_8px, run_dir=str(run_dir)))


def test_second_ctrl_c_stops_at_once_with_one_line(capsys):
    import signal
    from common.training.preemption import StopSignals
    with StopSignals() as stop:
        stop._handle(signal.SIGINT, None)
        with pytest.raises(SystemExit) as exit_:
            stop._handle(signal.SIGINT, None)
    assert exit_.value.code == 130
    assert capsys.readouterr().out.strip().splitlines()[-1] == ('SIGINT received again: stopping now, without a '
                                                                'snapshot (the newest one is kept)')
