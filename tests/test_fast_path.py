"""Which phases run compiled with XLA (common/training/fast_path.py): the flags win, a continued run keeps the
path it started with (XLA draws other random numbers), and otherwise the device's rule decides, per phase,
said in one log line. No timing here: benchmarks/xla_phases.py measures what the rules encode."""
import json
import os

from common.training import fast_path
from common.training.loop import training_loop
from common.training.options import TrainingOptions
from common.training.phases import Phase
from common.training.schedule import ScheduleOptions


def _phases(all_reduces=()):
    return [Phase(name, None, None, [], uses_reals=False, all_reduces=name in all_reduces)
            for name in ('Gmain', 'Greg', 'Dmain', 'Dreg')]


def test_flags_win_over_the_rule_and_over_the_continued_run():
    for setting in (True, False):
        choice = fast_path.choose(_phases(), setting, 'avx512', started={'Gmain': not setting})
        assert {on for on, _ in choice.values()} == {setting}
        assert fast_path.recorded(setting, None, choice) is setting


def test_auto_follows_the_device_rule():
    assert {on for on, _ in fast_path.choose(_phases(), None, 'avx512').values()} == {False}
    assert {on for on, _ in fast_path.choose(_phases(), None, 'GPU').values()} == {True}
    choice = fast_path.choose(_phases(), None, 'avx2')
    assert fast_path.recorded(None, None, choice) == {name: on for name, (on, _) in choice.items()}
    assert all(why.startswith('auto: a CPU with AVX2') for _, why in choice.values())


def test_continued_run_keeps_its_per_phase_record_and_old_bool_options():
    started = {'Gmain': True, 'Greg': False, 'Dmain': True, 'Dreg': False}
    choice = fast_path.choose(_phases(), None, 'avx512', started=started)
    assert {name: on for name, (on, _) in choice.items()} == started
    assert fast_path.recorded(None, started, choice) == started
    # training_options.json of runs before the per-phase record: a bool, which still loads and is kept.
    assert TrainingOptions.from_json({'model': 'stylegan2', 'data': 'd', 'xla': True}).xla is True
    choice = fast_path.choose(_phases(), None, 'avx512', started=True)
    assert {on for on, _ in choice.values()} == {True}
    assert fast_path.recorded(None, True, choice) is True


def test_all_reducing_phase_is_said_uncompiled_on_several_replicas():
    choice = fast_path.choose(_phases(all_reduces=('Greg',)), True, 'avx2', num_replicas=2)
    assert choice['Greg'] == (False, '--xla; but it all-reduces across 2 replicas') and choice['Gmain'][0]
    line = fast_path.describe(choice)
    assert line == 'XLA: Gmain Dmain Dreg compiled (--xla); Greg uncompiled (--xla; but it all-reduces across 2 replicas)'


def test_phase_takes_its_own_entry_of_a_recorded_choice():
    assert Phase('Dreg', None, None, [], uses_reals=True, xla={'Dreg': True, 'Gmain': False}).xla is True
    assert Phase('Dreg', None, None, [], uses_reals=True).xla is None


def test_onednn_isa_cap_makes_an_avx512_cpu_count_as_avx2(monkeypatch):
    monkeypatch.setattr(fast_path, '_cpuinfo', lambda key: 'fma avx2 avx512f avx512bw avx512vl' if key == 'flags' else '')
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)
    assert fast_path.cpu_isa() == 'avx512'
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    assert fast_path.cpu_isa() == 'avx2'
    monkeypatch.setattr(fast_path, '_cpuinfo', lambda key: 'sse4_2 avx' if key == 'flags' else '')
    assert fast_path.cpu_isa() == 'other'


def test_resumed_run_keeps_the_choice_it_started_with_on_another_device(tiny_dataset_8px, tmp_path, monkeypatch):
    """Started where the rule says uncompiled, continued where it would say compiled: the record wins."""
    sched = ScheduleOptions(minibatch_base=8, lod_initial_resolution=8, tick_kimg_base=0.008, tick_kimg_dict={})
    opts = dict(data=tiny_dataset_8px, result_dir=str(tmp_path), total_kimg=0.016, minibatch_repeats=1, grid_size='1x1',
                G_kwargs=dict(fmap_base=8, fmap_max=4, latent_size=4), D_kwargs=dict(fmap_base=8, fmap_max=4),
                sched=sched, network_snapshot_ticks=1)
    monkeypatch.setattr(fast_path, 'device_kind', lambda strategy: 'avx512')
    first = training_loop(TrainingOptions(**opts), stop_after_ticks=1)
    assert json.load(open(os.path.join(first, 'training_options.json')))['xla'] == {'D': False, 'G': False}
    assert 'XLA: D G uncompiled (auto: a CPU with AVX-512' in open(os.path.join(first, 'log.txt')).read()
    monkeypatch.setattr(fast_path, 'device_kind', lambda strategy: 'GPU')
    resumed = training_loop(TrainingOptions(**opts, resume=first, run_dir=first))
    assert json.load(open(os.path.join(resumed, 'training_options.json')))['xla'] == {'D': False, 'G': False}
    assert 'XLA: D G uncompiled (as the run being continued started)' in open(os.path.join(resumed, 'log.txt')).read()
