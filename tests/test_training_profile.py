"""--profile writes a TensorBoard profiler trace of the requested minibatch groups into the run directory."""
import glob
import os

from common.training.options import TrainingOptions
from common.training.schedule import ScheduleOptions
from common.training.loop import training_loop


def test_profile_writes_a_trace_of_the_steps_after_the_first(tiny_dataset_8px, tmp_path, capsys):
    nets = dict(fmap_base=16, fmap_max=8)
    run = training_loop(TrainingOptions(
        data=tiny_dataset_8px, result_dir=str(tmp_path), total_kimg=0.024, minibatch_repeats=1, profile=1,
        G_kwargs=dict(nets, latent_size=8), D_kwargs=dict(nets), grid_size='2x2',
        sched=ScheduleOptions(minibatch_base=8, lod_initial_resolution=8, tick_kimg_base=1, tick_kimg_dict={})))
    traces = glob.glob(os.path.join(run, 'profile', 'plugins', 'profile', '*', '*.xplane.pb'))
    assert len(traces) == 1 and os.path.getsize(traces[0]) > 0
    assert 'Profile of 1 minibatch group(s) written to' in capsys.readouterr().out
