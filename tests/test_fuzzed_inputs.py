"""Bad input, fuzzed: the dataset tool and reader, the network-pickle loaders and train.py's flags answer
every malformed input with one clear error of the project's own type (never a hang, a TensorFlow
traceback or a half-written file). Each test prints how many cases it ran (`pytest -s`); the random cases
are seeded, so a failure repeats."""
import os
import re
import pickle
import pickletools
import random
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

import pggan
import stylegan2
from common.util.pickle_io import NetworkLoadError
from data import dataset_tool
from data.dataset import Dataset
from data.tfrecord_io import DatasetError, DatasetInfo, encode_example

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_G = dict(resolution=8, num_channels=1, fmap_base=16, fmap_max=8, latent_size=8)
TINY_D = dict(resolution=8, num_channels=1, fmap_base=16, fmap_max=8)


# ----------------------------------------------------------------------------------------- network pickles

def _official_pickle(states):
    """Bytes of an official ProGAN pickle (tfutil.Network objects) holding `states` (a structure of dicts)."""
    module = types.ModuleType('tfutil')

    class Network:
        def __init__(self, state):
            self.state = state

        def __getstate__(self):
            return self.state
    Network.__module__, Network.__qualname__, module.Network = 'tfutil', 'Network', Network
    saved = sys.modules.get('tfutil')
    sys.modules['tfutil'] = module
    try:
        wrap = (lambda s: Network(s) if isinstance(s, dict) and 'version' in s else
                tuple(wrap(x) for x in s) if isinstance(s, tuple) else s)
        return pickle.dumps(wrap(states), protocol=4)
    finally:
        if saved is None:
            del sys.modules['tfutil']
        else:
            sys.modules['tfutil'] = saved


@pytest.fixture(scope='module')
def tiny_states():
    """Official-format states of a tiny ProGAN (G, D, Gs), from our networks' variables."""
    from pggan.loading import network_variables
    from pggan.networks import D_paper, G_paper
    out = []
    for net, func in ((G_paper(name='G', **TINY_G), 'G_paper'), (D_paper(name='D', **TINY_D), 'D_paper'),
                      (G_paper(name='Gs', **TINY_G), 'G_paper')):
        out.append({'version': 2, 'name': net.name, 'build_module_src': '', 'build_func_name': f'networks.{func}',
                    'static_kwargs': dict(TINY_G if func == 'G_paper' else TINY_D),
                    'variables': [(k, v.numpy()) for k, v in network_variables(net).items()]})
    return tuple(out)


def _expect_load_error(loader, blob, tmp_path, name='net.pkl'):
    """Loads `blob`; returns 'error' (a NetworkLoadError naming the file) or 'loaded'. Anything else fails."""
    path = tmp_path / name
    path.write_bytes(blob)
    try:
        loader(str(path))
    except NetworkLoadError as e:
        assert str(path) in str(e) and '\n' not in str(e).strip(), str(e)
        return 'error'
    return 'loaded'


def _edited(states, index, **changes):
    out = [dict(s) for s in states]
    out[index].update(changes)
    return tuple(out)


def test_pickle_loaders_fuzzed_truncated_flipped_misshapen(tiny_states, tmp_path):
    rng = random.Random(1)
    blob = _official_pickle(tiny_states)
    outcomes = []
    assert _expect_load_error(pggan.load_network, blob, tmp_path) == 'loaded'
    for _ in range(30):                                          # Truncated anywhere.
        cut = rng.randrange(0, len(blob))
        outcomes.append(('truncated', _expect_load_error(pggan.load_network, blob[:cut], tmp_path)))
    # One byte flipped in the pickle's structure (opcodes, names, lengths, shapes; not inside weight values,
    # where a flip only changes a number).
    structure = [pos + i for op, arg, pos in pickletools.genops(blob) if not isinstance(arg, bytes)
                 for i in range(1 + (len(arg) if isinstance(arg, str) else 0))]
    for _ in range(40):
        flipped = bytearray(blob)
        flipped[rng.choice(structure)] ^= 1 << rng.randrange(8)
        outcomes.append(('flipped', _expect_load_error(pggan.load_network, bytes(flipped), tmp_path)))
    G, D, Gs = tiny_states
    variables = dict(G['variables'])
    name = next(k for k in variables if k.endswith('/weight'))
    bad = {                                                      # Wrong layouts and contents.
        'two networks': (G, D), 'a list': [G, D, Gs], 'a dict': {'G': G}, 'a string': 'G', 'None': None,
        'four networks': (G, D, Gs, G), 'D where G belongs': (D, D, Gs), 'not a pickle': b'\x00\x01junk',
        'missing variable': _edited(tiny_states, 0, variables=[(k, v) for k, v in G['variables'] if k != name]),
        'extra variable': _edited(tiny_states, 0, variables=G['variables'] + [('extra/weight', np.zeros(3))]),
        'wrong shape': _edited(tiny_states, 0, variables=[(k, v.T if k == name else v) for k, v in G['variables']]),
        'string data': _edited(tiny_states, 0, variables=[(k, np.array(['x']) if k == name else v)
                                                          for k, v in G['variables']]),
        'resolution not a power of two': _edited(tiny_states, 0, static_kwargs=dict(TINY_G, resolution=12)),
        'kwargs not a dict': _edited(tiny_states, 0, static_kwargs=[1, 2]),
        'version 3': _edited(tiny_states, 0, version=3),
        'variables not pairs': _edited(tiny_states, 0, variables=[1, 2, 3]),
    }
    for label, obj in bad.items():
        data = obj if isinstance(obj, bytes) else _official_pickle(obj)
        outcome = _expect_load_error(pggan.load_network, data, tmp_path)
        assert outcome == 'error', label
        assert _expect_load_error(stylegan2.load_network, data, tmp_path) == 'error', label
        outcomes.append((label, outcome))
    sg2 = open(os.path.join(REPO, 'tests', 'data', 'stylegan2', 'sg2_uncond.pkl.xz'), 'rb').read()
    for _ in range(10):                                          # Truncated xz-compressed StyleGAN2 pickle.
        cut = rng.randrange(0, len(sg2))
        outcomes.append(('truncated xz', _expect_load_error(stylegan2.load_network, sg2[:cut], tmp_path, 'n.pkl.xz')))
    assert all(o == 'error' for kind, o in outcomes if kind.startswith('truncated'))
    print(f'pickle loader fuzz: {len(outcomes)} cases, {sum(o == "error" for _, o in outcomes)} refused, '
          f'{sum(o == "loaded" for _, o in outcomes)} loaded (flips that changed nothing the loader checks, e.g. '
          f'a digit of a name it ignores)')


# ------------------------------------------------------------------------------------------------ datasets

def _write_records(path, payloads):
    with tf.io.TFRecordWriter(path) as writer:
        for payload in payloads:
            writer.write(payload)


def _example(**features):
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        if isinstance(value[0], float):
            return tf.train.Feature(float_list=tf.train.FloatList(value=value))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=value))
    return tf.train.Example(features=tf.train.Features(
        feature={k: feature(v) for k, v in features.items()})).SerializeToString()


def _expect_dataset_error(fn, output=None):
    try:
        fn()
    except DatasetError as e:
        assert '\n' not in str(e).strip(), str(e)
        assert output is None or not os.path.exists(output), f'{output} was left behind'
        return str(e)
    raise AssertionError('no error')


def test_dataset_reader_and_tool_fuzzed_records(tiny_dataset_8px, tmp_path, tool_flags):
    rng = random.Random(2)
    cases = 0
    good = encode_example(np.zeros([1, 4, 4], np.uint8))
    bad_records = {
        'shape as floats': _example(shape=[1.0, 4.0, 4.0], data=bytes(16)),
        'data as int64': _example(shape=[1, 4, 4], data=[0] * 16),
        'missing data': _example(shape=[1, 4, 4]),
        'two-entry shape': _example(shape=[4, 4], data=bytes(16)),
        'huge declared shape': _example(shape=[1, 2 ** 20, 2 ** 20], data=bytes(16)),
        'shape that overflows int64': _example(shape=[3, 2 ** 40, 2 ** 40], data=bytes(16)),
        'negative shape': _example(shape=[-1, 4, 4], data=bytes(16)),
        'too few bytes': _example(shape=[1, 4, 4], data=bytes(3)),
        'not an Example': bytes(rng.randrange(256) for _ in range(40)),
    }
    for label, record in bad_records.items():
        data = tmp_path / f'bad{cases}'
        data.mkdir()
        _write_records(str(data / 'bad-r02.tfrecords'), [record, good])
        message = _expect_dataset_error(lambda: Dataset(str(data)))
        assert 'bad-r02.tfrecords' in message, (label, message)
        _expect_dataset_error(lambda: dataset_tool.run(['extract', str(data), str(tmp_path / 'out')]),
                              output=tmp_path / 'out')
        cases += 1
    source = DatasetInfo(tiny_dataset_8px).path(8)
    size = os.path.getsize(source)
    for _ in range(20):                                          # Truncated TFRecord files.
        data = tmp_path / f'cut{cases}'
        shutil.copytree(tiny_dataset_8px, data)
        target = data / os.path.basename(source)
        with open(target, 'r+b') as f:
            f.truncate(rng.randrange(1, size))
        message = _expect_dataset_error(lambda: Dataset(str(data)))
        assert os.path.basename(source) in message, message
        cases += 1
    for i in range(8):                                           # Random bytes (and broken headers) as images.
        folder = tmp_path / f'images{i}'
        folder.mkdir()
        header = [b'', b'\x89PNG\r\n\x1a\n', b'\xff\xd8\xff\xe0', b'BM'][i % 4]
        (folder / f'img{i}.{["png", "png", "jpg", "bmp"][i % 4]}').write_bytes(
            header + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
        message = _expect_dataset_error(lambda: dataset_tool.run(['create_from_images', str(tmp_path / 'ds'),
                                                                  str(folder)]), output=tmp_path / 'ds')
        assert f'img{i}' in message, message
        cases += 1
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.')]
    print(f'dataset fuzz: {cases} cases refused')


# ---------------------------------------------------------------------------------------------------- flags

def _train_main(argv, capsys, stdout=False):
    """Runs train.py's main in-process with `argv`; returns (exit status, stderr) or (status, stdout, stderr)."""
    from absl import flags
    from absl.testing import flagsaver
    import train
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(['train.py'] + argv)
        capsys.readouterr()
        try:
            train.main(['train.py'])
            status = 0
        except SystemExit as e:
            status = e.code
    out = capsys.readouterr()
    return (status, out.out, out.err) if stdout else (status, out.err)


def _fake_snapshot(path, model, kwargs):
    from common.util.snapshot import save_snapshot
    return save_snapshot(path, model, kwargs, {}, state={'train_state': {'cur_nimg': 1000}})


def test_resuming_a_finished_run_says_so_in_one_line_and_exits_0(tiny_dataset_8px, tmp_path, capsys):
    """--resume of a snapshot at or past --total_kimg, and --auto_resume of a finished run: nothing to train."""
    kwargs = {'G': dict(TINY_G, resolution=8), 'D': dict(TINY_D, resolution=8)}
    run_dir = tmp_path / 'run'
    snapshot = _fake_snapshot(str(run_dir / 'network-snapshot-000001'), 'pggan', kwargs)
    results = tmp_path / 'results'
    base = [f'--data={tiny_dataset_8px}', f'--result_dir={results}', '--total_kimg=0.5']
    for argv in ([f'--resume={snapshot}'], [f'--run_dir={run_dir}', '--auto_resume']):
        status, out, err = _train_main(base + argv, capsys, stdout=True)
        assert status == 0 and not err.strip(), (argv, err)
        assert out.strip() == f'Nothing to train: {snapshot} is already at kimg 1, at or past --total_kimg=0.5', out
        assert not results.exists() and sorted(os.listdir(run_dir)) == ['network-snapshot-000001']


def test_train_takes_an_ada_pytorch_zip_as_data(tmp_path, capsys, monkeypatch):
    """--data=x.zip is converted once into the TFRecord cache (one line), trained on, and reused next time."""
    import zipfile
    import PIL.Image
    monkeypatch.setenv('GAN_DATA_CACHE', str(tmp_path / 'cache'))
    source = tmp_path / 'mine.zip'
    with zipfile.ZipFile(source, 'w') as z:
        for i in range(8):
            pixels = np.random.RandomState(i).randint(0, 256, [8, 8], np.uint8)
            with z.open(f'00000/img{i:08d}.png', 'w') as f:
                PIL.Image.fromarray(pixels).save(f, format='PNG')
    argv = [f'--data={source}', f'--result_dir={tmp_path / "results"}', '--fmap_base=16', '--fmap_max=8',
            '--latent_size=8', '--total_kimg=0.016', '--minibatch_base=8', '--minibatch_dict=4:8,8:8', '--tick_kimg_dict=4:0.016,8:0.016', '--tick_kimg_base=0.016',
            '--lod_training_kimg=0.008', '--lod_transition_kimg=0.008', '--grid_size=2x2', '--swd_images=0', '--noxla']
    status, out, err = _train_main(argv, capsys, stdout=True)
    assert status == 0, err[-2000:]
    assert re.search(rf'Dataset: converted {re.escape(str(source))} to .*\(8 images, 8x8, 1 channels', out), out
    run = next((tmp_path / 'results').iterdir())
    assert any(n.startswith('network-snapshot-') for n in os.listdir(run))
    status, out, err = _train_main(argv + ['--desc=again'], capsys, stdout=True)
    assert status == 0 and f'converted earlier from {source}' in out, out + err[-2000:]


def test_train_flags_fuzzed_give_one_error_line_and_exit_1(tiny_dataset_8px, tmp_path, capsys):
    data = f'--data={tiny_dataset_8px}'
    results = tmp_path / 'results'
    base = [data, f'--result_dir={results}', '--fmap_base=16', '--fmap_max=8', '--latent_size=8']
    other_model = _fake_snapshot(str(tmp_path / 'sg2-snap'), 'stylegan2', {'G': {}, 'D': {}})
    other_res = _fake_snapshot(str(tmp_path / 'res16-snap'), 'pggan',
                               {'G': dict(TINY_G, resolution=16), 'D': dict(TINY_D, resolution=16)})
    cases = {
        'unknown config': (['--config=config-z', data], '--config=config-z: expected one of'),
        'unknown stylegan2 config': (['--model=stylegan2', '--config=nope', data], '--config=nope'),
        'resolution not a power of two': (base + ['--lod_initial_resolution=6'], '--lod_initial_resolution=6'),
        'batch not divisible by replicas': (['--model=stylegan2', '--config=cpu-config-e', data, '--num_gpus=2',
                                             '--minibatch_size=6', '--minibatch_gpu=2'], '--minibatch_size=6'),
        'more replicas than devices': (base + ['--num_gpus=3'], '--num_gpus=3'),
        'resume of another model': (base + [f'--resume={other_model}'], 'do not match this run'),
        'resume of another resolution': (base + [f'--resume={other_res}'], 'do not match this run'),
        'resume of nothing': (base + [f'--resume={tmp_path / "nope"}'], 'no such run directory or snapshot'),
        'resume latest of nothing': (base + ['--resume=latest'], '--resume=latest: no complete snapshot'),
        'missing dataset': (['--data=/nonexistent/ds'], '/nonexistent/ds: not a TFRecord dataset directory'),
        'dataset is a file': ([f'--data={__file__}'], __file__),
        'negative kimg': (base + ['--total_kimg=-1'], '--total_kimg=-1'),
        'bad cond': (base + ['--cond=abc'], '--cond=abc'),
        'bad grid': (base + ['--grid_size=huge'], '--grid_size=huge'),
        'unknown metric': (base + ['--metrics=fid9'], '--metrics=fid9'),
        'negative keep_snapshots': (base + ['--keep_snapshots=-1'], '--keep_snapshots=-1'),
        'lr factor above 1': (base + ['--nan_lr_factor=2'], '--nan_lr_factor=2'),
        'bad per-resolution dict': (base + ['--minibatch_dict=4:x'], 'minibatch_dict'),
        'dict with a bad resolution': (base + ['--G_lrate_dict=five:0.1'], 'G_lrate_dict'),
        'zero replicas': (base + ['--num_gpus=0'], '--num_gpus=0'),
    }
    for label, (argv, expected) in cases.items():
        status, err = _train_main(argv, capsys)
        lines = err.strip().splitlines()
        assert status == 1 and len(lines) == 1 and lines[0].startswith('error: '), (label, status, err[-1500:])
        assert expected in lines[0], (label, lines[0])
        assert not results.exists() or not os.listdir(results), (label, os.listdir(results))
    # The real command line, for an absl parse error and one of ours: exit status 1, no traceback.
    procs = [subprocess.Popen([sys.executable, 'train.py'] + args, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
             for args in (['--fmap_base=abc'], ['--config=config-z'])]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    for proc, err in zip(procs, errors):
        assert proc.returncode == 1 and 'Traceback' not in err, err[-1500:]
    assert 'error: --config=config-z' in errors[1]
    print(f'flag fuzz: {len(cases) + len(procs)} cases refused')
