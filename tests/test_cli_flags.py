"""The command lines: --help lists each tool's own flags (train.py's by group), ada-pytorch's spellings are
aliases, a run directory works as --network, a network of the other family is one error naming its tool, and
TensorFlow's CUDA probing stays quiet on a host without a GPU.

Flags are parsed in-process; two tests run a real command (train.py --help needs no TensorFlow, and the log
level must be set before TensorFlow's import, which only a fresh process shows)."""
import os
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf
from absl import flags

from common.util import cli
from common.metrics import __main__ as metrics_cli
from common.training.run_dir import resolve_network_path
from common.util.snapshot import save_snapshot
from pggan import export as pggan_export, generate as pggan_generate
from stylegan2 import export as sg2_export, generate as sg2_generate, project, style_mixing
from stylegan2.loading import build_networks as sg2_build_networks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, 'tests', 'data')
PGGAN_A = os.path.join(DATA, 'pggan', 'config_A.pkl')
SG2_UNCOND = os.path.join(DATA, 'stylegan2', 'sg2_uncond.pkl.xz')
TOOLS = [pggan_generate, pggan_export, sg2_generate, style_mixing, project, sg2_export, metrics_cli]


def error_lines(text):
    return [line for line in text.splitlines() if line.startswith('error:')]


def listed_flags(help_text):
    """Flag names of absl help text, in order (`--name:`, `--[no]name:`, `-h,--[no]help:`)."""
    return re.findall(r'^  (?:-\S,)?--(?:\[no\])?([\w-]+):', help_text, flags=re.M)


# ---------------------------------------------------------------------------------------------------------------
# --help

def test_train_help_lists_every_training_flag_once_under_its_group_and_no_absl_flag():
    import flags as train_flags
    result = subprocess.run([sys.executable, 'train.py', '--help'], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    sections = re.split(r'^(flags\.\w+):$', result.stdout, flags=re.M)
    headings = sections[1::2]
    assert headings == [module.__name__ for module in train_flags.GROUPS]
    by_module = flags.FLAGS.flags_by_module_dict()
    for heading, body in zip(headings, sections[2::2]):
        assert sorted(listed_flags(body)) == sorted(f.name for f in by_module[heading]), heading
    listed = listed_flags(result.stdout)
    assert len(listed) == len(set(listed)) == 93                       # 86 flags and 7 ada-pytorch aliases.
    assert not {'verbosity', 'logtostderr', 'flagfile', 'pdb'} & set(listed)


@pytest.mark.parametrize('tool', TOOLS, ids=lambda t: t.__name__)
def test_tool_help_lists_the_tools_flags_with_its_aliases(tool, capsys):
    assert tool.run(['tool', '--help']) == 0
    listed = set(listed_flags(capsys.readouterr().out))
    own = {f.name for f in tool.FLAGS.flags_by_module_dict()[tool.__name__]}
    assert own <= listed and {'network', 'outdir'} <= own
    aliases = {name for name in own if tool.FLAGS[name].help.startswith('Alias for')}
    expected = {'pggan.generate': {'class'}, 'stylegan2.generate': {'trunc', 'class', 'noise-mode', 'projected-w'},
                'stylegan2.style_mixing': {'trunc', 'class', 'noise-mode'},
                'stylegan2.project': {'num-steps', 'save-video'},
                'common.metrics.__main__': {'cache_dir', 'metric_images'}}
    assert aliases == expected.get(tool.__name__, set())


# ---------------------------------------------------------------------------------------------------------------
# ada-pytorch's spellings

def test_train_accepts_ada_pytorch_spellings_and_they_reach_the_options(train_flags, tmp_path):
    import train
    train_flags(['train.py', '--model=stylegan2', '--cfg=cpu-config-e', f'--outdir={tmp_path}', '--gpus=2',
                 '--mirror=1', '--snap=3', '--kimg=7', '--batch=8', '--minibatch_gpu=4'])
    opts = train.build_options()[0]
    assert (opts.config, opts.result_dir, opts.num_gpus) == ('cpu-config-e', str(tmp_path), 2) and opts.mirror_augment
    assert (opts.network_snapshot_ticks, opts.total_kimg, opts.sched.minibatch_size_base) == (3, 7, 8)


@pytest.mark.parametrize('arg, value', [('--mirror=1', True), ('--mirror=true', True), ('--mirror', True),
                                        ('--mirror=0', False), ('--mirror=false', False), ('--nomirror', False)])
def test_train_mirror_alias_takes_ada_pytorch_values(train_flags, arg, value):
    train_flags(['train.py', arg])
    assert train_flags.mirror_augment is value


def test_generate_tools_accept_ada_pytorch_spellings():
    F = sg2_generate.FLAGS
    F.unparse_flags()
    F(['generate', '--trunc=0.7', '--class=2', '--noise-mode=none', '--projected-w=w.npz'])
    assert (F.truncation_psi, F.class_idx, F.noise_mode, F.projected_w) == (0.7, 2, 'none', 'w.npz')
    F = style_mixing.FLAGS
    F.unparse_flags()
    F(['style_mixing', '--trunc=0.5', '--noise-mode=random', '--class=1'])
    assert (F.truncation_psi, F.noise_mode, F.class_idx) == (0.5, 'random', 1)
    F = project.FLAGS
    F.unparse_flags()
    F(['project', '--num-steps=5', '--save-video=true'])
    assert (F.num_steps, F.save_video) == (5, True)
    F = pggan_generate.FLAGS
    F.unparse_flags()
    F(['generate', '--class=3'])
    assert F.class_idx == 3


def test_metrics_cache_has_one_name_in_train_and_the_metrics_tool(train_flags):
    train_flags(['train.py', '--metrics_cache=/tmp/a', '--metric_images=4'])
    assert train_flags.metrics_cache == '/tmp/a' and train_flags.metric_images == 4
    F = metrics_cli.FLAGS
    for argv in (['m', '--metrics_cache=/tmp/a', '--metric_images=4'], ['m', '--cache_dir=/tmp/a', '--num_images=4']):
        F.unparse_flags()
        F(argv)
        assert (F.metrics_cache, F.num_images) == ('/tmp/a', 4)


# ---------------------------------------------------------------------------------------------------------------
# A run directory as --network

TINY_SG2 = {'G': dict(latent_size=8, dlatent_size=8, resolution=8, mapping_layers=1, fmap_base=32, fmap_max=8),
            'D': dict(resolution=8, fmap_base=32, fmap_max=8)}


def _sg2_snapshot(path, seed):
    """A tiny StyleGAN2 snapshot whose weights depend on seed (Keras initializers are seeded by tf.random)."""
    tf.random.set_seed(seed)
    G, D, Gs = sg2_build_networks(TINY_SG2)
    Gs(tf.zeros([1, 8]))
    G(tf.zeros([1, 8]))
    D(tf.zeros([1, 8, 8, 3]))
    for var in Gs.trainable_variables:
        var.assign(var + tf.random.normal(var.shape, stddev=0.5))
    return save_snapshot(str(path), 'stylegan2', TINY_SG2, {'G': G, 'D': D, 'Gs': Gs})


@pytest.fixture(scope='module')
def sg2_run(tmp_path_factory):
    """A run directory: snapshots 000000 and 000004 (valid, different weights) and 000008 (truncated)."""
    run = tmp_path_factory.mktemp('runs') / '00000-tiny'
    run.mkdir()
    _sg2_snapshot(run / 'network-snapshot-000000', 0)
    newest = _sg2_snapshot(run / 'network-snapshot-000004', 1)
    broken = _sg2_snapshot(run / 'network-snapshot-000008', 2)
    ckpt = next(os.path.join(broken, n) for n in sorted(os.listdir(broken)) if n.startswith('ckpt') and 'data' in n)
    with open(ckpt, 'r+b') as f:
        f.truncate(os.path.getsize(ckpt) // 2)
    return str(run), newest


def test_run_directory_resolves_to_its_newest_valid_snapshot(sg2_run, tmp_path, capsys):
    run, newest = sg2_run
    assert resolve_network_path(run) == newest
    out = capsys.readouterr().out
    assert 'Skipping' in out and 'network-snapshot-000008' in out
    assert 'newest valid snapshot is network-snapshot-000004' in out
    for path in (newest, SG2_UNCOND, str(tmp_path / 'missing')):   # Anything else is load_network's to judge.
        assert resolve_network_path(path) == path
    empty = tmp_path / 'run'
    empty.mkdir()
    assert resolve_network_path(str(empty)) == str(empty)


def test_generate_from_a_run_directory_equals_its_newest_valid_snapshot(sg2_run, tmp_path):
    run, newest = sg2_run
    assert sg2_generate.run(['generate', f'--network={run}', '--seeds=3', f'--outdir={tmp_path / "run"}']) == 0
    assert sg2_generate.run(['generate', f'--network={newest}', '--seeds=3', f'--outdir={tmp_path / "snap"}']) == 0
    assert sg2_generate.run(['generate', f'--network={run}/network-snapshot-000000', '--seeds=3',
                             f'--outdir={tmp_path / "old"}']) == 0
    image = lambda d: np.asarray(PIL.Image.open(tmp_path / d / 'seed0003.png'))  # noqa: E731
    np.testing.assert_array_equal(image('run'), image('snap'))
    assert not np.array_equal(image('run'), image('old'))


def test_metrics_of_a_run_directory_are_reported_under_its_newest_snapshot(tmp_path, capsys):
    from data import sources
    from data.writer import write_dataset
    from pggan.loading import build_networks
    data = str(tmp_path / 'reals')
    images = (np.random.RandomState(0).rand(16, 1, 4, 4) * 255).repeat(4, axis=2).repeat(4, axis=3).astype(np.uint8)
    write_dataset(data, sources.array_source(images), shuffle=False)
    kwargs = {'G': dict(num_channels=1, resolution=16, fmap_base=16, fmap_max=8, latent_size=8),
              'D': dict(num_channels=1, resolution=16, fmap_base=16, fmap_max=8)}
    G, D, Gs = build_networks(kwargs)
    Gs(tf.zeros([1, 8]))
    run = tmp_path / '00001-tiny'
    run.mkdir()
    for kimg in (0, 2):
        save_snapshot(str(run / f'network-snapshot-{kimg:06d}'), 'pggan', kwargs, {'G': G, 'D': D, 'Gs': Gs},
                      state={'options': {'data': data}})
    assert metrics_cli.run(['metrics', f'--network={run}', '--metrics=swd', '--num_images=16',
                            f'--metrics_cache={tmp_path / "cache"}', '--noprogress']) == 0
    assert f'Network {run}/network-snapshot-000002 (pggan)' in capsys.readouterr().out
    assert '"snapshot": "network-snapshot-000002"' in (run / 'metric-swd.jsonl').read_text()


# ---------------------------------------------------------------------------------------------------------------
# A network of the other family

@pytest.mark.parametrize('tool, network, message', [
    (sg2_generate, PGGAN_A, 'this is a Progressive GAN network; use python -m pggan.generate'),
    (pggan_generate, SG2_UNCOND, 'this is a StyleGAN2 network; use python -m stylegan2.generate'),
    (style_mixing, PGGAN_A, 'this is a Progressive GAN network; there is no python -m pggan.style_mixing'),
    (pggan_export, 'sg2-run', 'this is a StyleGAN2 network; use python -m stylegan2.export'),
], ids=['pggan pickle to sg2 generate', 'sg2 pickle to pggan generate', 'pggan to style mixing',
        'sg2 run dir to pggan export'])
def test_a_network_of_the_other_family_is_one_error_naming_its_tool(tool, network, message, sg2_run, tmp_path,
                                                                     capsys):
    network = sg2_run[0] if network == 'sg2-run' else network
    argv = {style_mixing: ['--rows=0', '--cols=1'], pggan_export: []}.get(tool, ['--seeds=0'])
    assert tool.run(['tool', f'--network={network}', f'--outdir={tmp_path / "out"}'] + argv) == 1
    assert error_lines(capsys.readouterr().err) == [f'error: {network}: {message}']
    assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------------------------------------------------------
# TensorFlow's C++ log level

@pytest.mark.parametrize('devices, environ, level', [
    ((), {}, '3'),
    (('/dev/nvidiactl',), {}, '1'),
    (('/dev/nvidiactl',), {'CUDA_VISIBLE_DEVICES': ''}, '3'),
    (('/dev/nvidiactl',), {'CUDA_VISIBLE_DEVICES': '-1'}, '3'),
    ((), {'TF_CPP_MIN_LOG_LEVEL': '0'}, '0'),                   # The user's choice stays.
], ids=['no gpu', 'gpu', 'gpu hidden', 'gpu hidden -1', 'user set'])
def test_log_level_hides_cuda_probing_only_without_a_gpu(monkeypatch, devices, environ, level):
    monkeypatch.setattr(cli.os.path, 'exists', lambda path: path in devices)
    monkeypatch.setattr(cli.shutil, 'which', lambda name: None)
    environ = dict(environ)
    cli.quiet_tensorflow_logs(environ)
    assert environ['TF_CPP_MIN_LOG_LEVEL'] == level


def test_command_line_without_log_level_shows_no_cuda_probe_failure(tmp_path):
    # A CUDA build of TensorFlow on this GPU-less host logs `failed call to cuInit` when the devices come up,
    # unless the level was set before its import: a tool run as `python -m` imports its package first.
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    result = subprocess.run([sys.executable, '-m', 'stylegan2.generate', f'--network={SG2_UNCOND}', '--seeds=0',
                             f'--outdir={tmp_path}'], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path) == ['seed0000.png']
    assert 'cuInit' not in result.stderr and 'cpu_feature_guard' not in result.stderr
