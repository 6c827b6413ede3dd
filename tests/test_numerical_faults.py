"""Faults during training: a non-finite loss rolls the run back to its last snapshot with lower learning rates
(or stops it, as --nan_policy says), an out-of-memory step and a corrupted record end in one clear line."""
import os

import numpy as np
import pytest
import tensorflow as tf

import common.training.loop as loop
from common.training.options import TrainingOptions
from common.training.run_dir import newest_valid_snapshot
from common.training.schedule import ScheduleOptions
from common.util.snapshot import read_snapshot_state
from data.tfrecord_io import DatasetError, DatasetInfo
from pggan import load_network

POISONED_STEP = 5   # In the second tick: ticks are 4 minibatches and a snapshot is written after every tick.


def tiny_options(data, result_dir, **overrides):
    nets = dict(fmap_base=16, fmap_max=8)
    sched = ScheduleOptions(minibatch_base=8, lod_initial_resolution=8, tick_kimg_base=0.032, tick_kimg_dict={})
    base = dict(data=data, result_dir=result_dir, total_kimg=0.064, minibatch_repeats=2, G_kwargs=dict(nets, latent_size=8),
                D_kwargs=dict(nets), sched=sched, grid_size='2x2', network_snapshot_ticks=1, random_seed=3)
    return TrainingOptions(**{**base, **overrides})


@pytest.fixture
def poison_D_loss(monkeypatch):
    """Makes the D loss NaN at POISONED_STEP while D's learning rate is above `threshold`."""
    import pggan.family
    build = pggan.family.build

    def install(threshold):
        def poisoned_build(opts, dataset, strategy):
            parts = build(opts, dataset, strategy)
            phase = next(p for p in parts.phases if p.name == 'D')
            loss_fn = phase.loss_fn

            def poisoned(ctx, *data):
                loss, stats = loss_fn(ctx, *data)
                bad = tf.logical_and(tf.equal(ctx.step, POISONED_STEP), phase.optimizer.learning_rate > threshold)
                return tf.where(bad, np.nan, loss), {k: tf.where(bad, np.nan, v) for k, v in stats.items()}
            phase.loss_fn = poisoned
            return parts
        monkeypatch.setattr(pggan.family, 'build', poisoned_build)
    return install


def test_nan_rolls_back_to_the_last_snapshot_with_halved_learning_rates(tiny_dataset_8px, tmp_path, poison_D_loss,
                                                                        capsys):
    poison_D_loss(threshold=0.75 * 0.001)  # Fires at the official D learning rate, not at half of it.
    run = loop.training_loop(tiny_options(tiny_dataset_8px, str(tmp_path)))
    out = capsys.readouterr().out
    assert 'Rolled back: non-finite Loss/D' in out and 'learning rates x0.5 (rollback 1 of at most 3)' in out
    snapshot = newest_valid_snapshot(run)
    state = read_snapshot_state(snapshot)['train_state']
    assert (state['lr_scale'], state['rollbacks'], state['cur_nimg']) == (0.5, 1, 64)
    nets = load_network(snapshot)
    assert all(np.all(np.isfinite(w.numpy())) for net in (nets.G, nets.D, nets.Gs) for w in net.weights)


def test_nan_with_policy_stop_ends_the_run_and_writes_no_bad_snapshot(tiny_dataset_8px, tmp_path, poison_D_loss):
    poison_D_loss(threshold=0.0)
    with pytest.raises(loop.TrainingError, match=r'non-finite Loss/D.*at kimg 0\.1; stopping \(--nan_policy=stop\)'):
        loop.training_loop(tiny_options(tiny_dataset_8px, str(tmp_path), nan_policy='stop'))
    run = os.path.join(str(tmp_path), os.listdir(str(tmp_path))[0])
    nets = load_network(newest_valid_snapshot(run))
    assert all(np.all(np.isfinite(w.numpy())) for w in nets.G.weights)


def test_nan_after_the_last_allowed_rollback_stops_with_the_count(tiny_dataset_8px, tmp_path, poison_D_loss):
    poison_D_loss(threshold=0.0)  # Fires again after every rollback.
    with pytest.raises(loop.TrainingError, match=r'1 rollbacks already \(--nan_max_rollbacks=1\)'):
        loop.training_loop(tiny_options(tiny_dataset_8px, str(tmp_path), nan_max_rollbacks=1))


def test_out_of_memory_names_resolution_batch_and_the_flag_to_lower(tiny_dataset_8px, tmp_path, monkeypatch):
    def compile_oom(self, phase):
        def run(*args):
            raise tf.errors.ResourceExhaustedError(None, None, 'OOM when allocating tensor with shape[8,16,4,4]')
        return run
    monkeypatch.setattr(loop.CompiledPhases, '_compile', compile_oom)
    with pytest.raises(loop.TrainingError) as e:
        loop.training_loop(tiny_options(tiny_dataset_8px, str(tmp_path)))
    assert str(e.value) == ('out of memory at 8x8 (lod 0.00) with 8 images per replica and round (8 per minibatch '
                            'over 1 replicas): try --max_minibatch_per_gpu=8:4')


def test_corrupted_record_in_training_is_a_dataset_error_naming_the_dataset(tiny_dataset_8px, tmp_path):
    import shutil
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_dataset_8px, data)
    path = DatasetInfo(data).path(8)
    blob = bytearray(open(path, 'rb').read())
    offset = 0
    for _ in range(10):  # Skip 10 records (the first is read when the dataset opens).
        offset += 12 + int.from_bytes(blob[offset:offset + 8], 'little') + 4
    blob[offset + 12 + int.from_bytes(blob[offset:offset + 8], 'little') - 3] ^= 0xFF  # Image bytes of record 10:
    # the framing stays intact, the payload checksum no longer matches.
    open(path, 'wb').write(bytes(blob))
    with pytest.raises(DatasetError, match=rf'{data}: unreadable record at 8x8 \(corrupted record at [0-9]+\); recreate'):
        loop.training_loop(tiny_options(data, str(tmp_path / 'runs')))
