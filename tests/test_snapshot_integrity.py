"""Snapshots are checked before use: a truncated, corrupted or incomplete one is named and skipped, pruning
keeps the newest N plus the best and the marked ones, and a killed writer's leftovers are cleaned up."""
import json
import os
import stat

import numpy as np
import pytest

from common.util.files import save_atomic
from common.training.run_dir import (list_snapshots, locate_snapshot, newest_valid_snapshot, prune_snapshots,
                            remove_stale_temporaries, update_best)
from common.util.snapshot import KEEP_MARKER, MANIFEST, SnapshotError, save_snapshot, verify_snapshot
from common.util.pickle_io import NetworkLoadError
from pggan import load_network
from pggan.loading import build_networks

KWARGS = {'G': dict(resolution=8, num_channels=1, fmap_base=16, fmap_max=8, latent_size=8),
          'D': dict(resolution=8, num_channels=1, fmap_base=16, fmap_max=8)}


@pytest.fixture(scope='module')
def networks():
    G, D, Gs = build_networks(KWARGS)
    return {'G': G, 'D': D, 'Gs': Gs}


def _snapshot(run_dir, kimg, networks):
    return save_snapshot(os.path.join(run_dir, f'network-snapshot-{kimg:06d}'), 'pggan', KWARGS, networks,
                         state={'train_state': {'cur_nimg': kimg * 1000}})


def _data_file(snapshot):
    return next(os.path.join(snapshot, n) for n in os.listdir(snapshot) if n.startswith('ckpt.data'))


def _truncate(snapshot):
    path = _data_file(snapshot)
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
    return 'has .* bytes, the manifest says'


def _flip_byte(snapshot):
    path = _data_file(snapshot)
    with open(path, 'r+b') as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    return 'does not match its checksum'


def _drop_manifest(snapshot):
    os.remove(os.path.join(snapshot, MANIFEST))
    return 'incomplete snapshot'


def _drop_index(snapshot):
    os.remove(os.path.join(snapshot, 'ckpt.index'))
    return 'ckpt.index is missing'


def _garble_manifest(snapshot):
    with open(os.path.join(snapshot, MANIFEST), 'w') as f:
        f.write('{"format": 2, "files": ')
    return f'{MANIFEST} is not valid JSON'


@pytest.mark.parametrize('damage', [_truncate, _flip_byte, _drop_manifest, _drop_index, _garble_manifest])
def test_damaged_newest_snapshot_is_named_skipped_for_resume_and_refused_by_load(damage, networks, tmp_path, capsys):
    good = _snapshot(str(tmp_path), 1, networks)
    bad = _snapshot(str(tmp_path), 2, networks)
    assert verify_snapshot(bad) == bad
    expected = damage(bad)
    with pytest.raises(SnapshotError, match=expected):
        verify_snapshot(bad)
    assert locate_snapshot(str(tmp_path)) == good
    assert f'Skipping snapshot: {bad}: ' in capsys.readouterr().out
    with pytest.raises(NetworkLoadError, match=os.path.basename(bad)):
        load_network(bad)
    for a, b in zip(load_network(good).G.weights, networks['G'].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_every_snapshot_damaged_means_nothing_to_resume(networks, tmp_path):
    _truncate(_snapshot(str(tmp_path), 1, networks))
    assert newest_valid_snapshot(str(tmp_path), report=lambda _: None) is None
    with pytest.raises(FileNotFoundError, match='holds no complete network-snapshot'):
        locate_snapshot(str(tmp_path))


def test_pruning_keeps_the_newest_the_best_and_the_marked(networks, tmp_path):
    run = str(tmp_path)
    paths = [_snapshot(run, k, networks) for k in range(1, 7)]
    open(os.path.join(paths[0], KEEP_MARKER), 'w').close()
    best = update_best(run, paths[1], {'swd': 5.0})
    assert update_best(run, paths[2], {'swd': 7.0}) == best           # Worse: the best stays.
    assert json.load(open(os.path.join(run, 'best.json'))) == {'swd': {'snapshot': os.path.basename(paths[1]),
                                                                        'value': 5.0}}
    prune_snapshots(run, 2, protected=best)
    assert [p for _, p in list_snapshots(run)] == [paths[0], paths[1], paths[4], paths[5]]
    assert not [n for n in os.listdir(run) if n.startswith('.')]


def test_leftovers_of_a_killed_writer_are_removed_and_files_get_normal_modes(networks, tmp_path):
    run = str(tmp_path)
    snapshot = _snapshot(run, 1, networks)
    os.makedirs(os.path.join(run, '.network-snapshot-000002.tmp-abc'))
    os.makedirs(os.path.join(run, '.network-snapshot-000000.old-abc'))
    open(os.path.join(run, '.tmp-xyz.png'), 'w').close()
    remove_stale_temporaries(run)
    assert sorted(os.listdir(run)) == [os.path.basename(snapshot)]
    save_atomic(os.path.join(run, 'a.txt'), lambda tmp: open(tmp, 'w').write('x'))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(os.path.join(run, 'a.txt')).st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(snapshot).st_mode) == 0o777 & ~umask


def test_snapshot_names_are_unique_and_sort_by_images_shown(networks, tmp_path):
    """Official names at whole kimg, the images shown below that, `_N` for a second snapshot at the same count
    (after a rollback): none replaces another, and list_snapshots orders them as they were written."""
    from common.training.run_dir import unused_path
    run = str(tmp_path)
    written = []
    for nimg in (512, 1000, 1000, 1500, 12000):
        path = unused_path(run, 'network-snapshot-', nimg)
        save_snapshot(path, 'pggan', KWARGS, networks, state={'train_state': {'cur_nimg': nimg}})
        written.append(os.path.basename(path))
    assert written == ['network-snapshot-000000.512', 'network-snapshot-000001', 'network-snapshot-000001_1',
                       'network-snapshot-000001.500', 'network-snapshot-000012']
    assert [os.path.basename(p) for _, p in list_snapshots(run)] == written
    assert [k for k, _ in list_snapshots(run)] == [0.512, 1, 1, 1.5, 12]
    assert os.path.basename(newest_valid_snapshot(run)) == 'network-snapshot-000012'
    assert os.path.basename(unused_path(run, 'fakes', 1000, '.png')) == 'fakes000001.png'
