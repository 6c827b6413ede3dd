"""Each option is declared once: its declaration yields its flag (in train.py's --help group) and its field,
a flag given overrides the preset, a family's flag is refused for the other family, an old run's flat
training_options.json still loads, and a network constructor refuses an argument it does not know."""
import dataclasses
import json

import pytest
from common.training.options import OptionsError, SharedOptions, TrainingOptions, declared_flags

# training_options.json as commit 3fe5521 wrote it (before the options were declared once), one flat object.
OLD_SG2_JSON = '''{"model": "stylegan2", "config": "", "data": "/d", "result_dir": "results", "desc": "",
"random_seed": 1000, "num_gpus": 1, "tpu": null, "total_kimg": 15000, "mirror_augment": false, "max_label_size": 0,
"shuffle_mb": 4096, "G_kwargs": {"fmap_base": 64}, "D_kwargs": {}, "G_opt": {"beta1": 0.0, "beta2": 0.99,
"epsilon": 1e-08}, "D_opt": {"beta1": 0.0, "beta2": 0.99, "epsilon": 1e-08}, "G_loss": {}, "D_loss": {"gamma": 3.0},
"sched": {"lod_initial_resolution": null, "lod_training_kimg": 600, "lod_transition_kimg": 600,
"minibatch_size_base": 8, "minibatch_size_dict": {}, "minibatch_gpu_base": 4, "minibatch_gpu_dict": {},
"G_lrate_base": 0.002, "G_lrate_dict": {}, "D_lrate_base": 0.002, "D_lrate_dict": {}, "lrate_rampup_kimg": 0,
"tick_kimg_base": 4, "tick_kimg_dict": {"8": 28, "16": 24, "32": 20, "64": 16, "128": 12, "256": 8, "512": 6,
"1024": 4}}, "G_smoothing": 0.999, "G_smoothing_kimg": 10.0, "lazy_regularization": true, "G_reg_interval": 2,
"D_reg_interval": 16, "D_repeats": 1, "minibatch_repeats": 4, "reset_opt_for_new_lod": true,
"image_snapshot_ticks": 1, "network_snapshot_ticks": 10, "grid_size": "1080p", "xla": false, "swd_images": 0,
"metrics": [], "metric_kwargs": {}, "resume": null, "run_dir": null, "auto_resume": false, "keep_snapshots": 0,
"nan_policy": "rollback", "nan_lr_factor": 0.5, "nan_max_rollbacks": 3, "profile": 0, "loss_scaling_init": 15.0}'''


def _options(F, argv):
    import train
    F(['train.py'] + argv)
    return train.build_options()


def test_each_declared_option_is_one_flag_in_its_help_group_and_one_field(train_flags):
    import flags as train_flag_groups
    by_module = {name: {f.name for f in fl} for name, fl in train_flags.flags_by_module_dict().items()}
    names = [f.name for f in train_flag_groups.DECLARED]
    assert len(names) == len(set(names)) == 86
    for flag in train_flag_groups.DECLARED:
        assert {flag.name, *flag.aliases} <= by_module[f'flags.{flag.group}'], flag.name
        assert train_flags[flag.name].help.endswith(flag.help)   # (absl puts an enum's values first.)
    fields = {f.name for f in dataclasses.fields(TrainingOptions)}
    for flag in declared_flags():      # Every path a flag sets is a field of the options (or a key in one).
        assert all(path.split('.')[0] in fields for path in flag.to + tuple(p for p, _ in flag.implies)), flag.name
    # The family fields are flat in TrainingOptions, declared with their family.
    assert {'G_smoothing', 'D_repeats', 'G_reg_interval', 'lazy_regularization'} <= fields - {
        f.name for f in dataclasses.fields(SharedOptions)}
    owners = {f.name: f.owner for f in declared_flags()}
    assert (owners['G_smoothing'], owners['G_reg_interval'], owners['structure'], owners['gamma'],
            owners['total_kimg'], owners['minibatch_base'], owners['minibatch_size']) == (
        'pggan', 'stylegan2', 'pggan', 'stylegan2', None, 'pggan', 'stylegan2')


def test_a_flag_given_overrides_the_preset_and_the_family_defaults(train_flags):
    opts, _ = _options(train_flags, ['--model=stylegan2', '--config=config-e'])
    assert (opts.D_loss['gamma'], opts.total_kimg, opts.sched.minibatch_size_base) == (100.0, 25000, 32)
    train_flags.unparse_flags()
    opts, network_flags = _options(train_flags, ['--model=stylegan2', '--config=config-e', '--gamma=3', '--kimg=2',
                                                 '--batch=8', '--fp16', '--num_fp16_res=2', '--fmap_base=64'])
    assert (opts.D_loss['gamma'], opts.total_kimg, opts.sched.minibatch_size_base) == (3.0, 2, 8)
    assert opts.G_kwargs == dict(fmap_base=64, num_fp16_res=2, conv_clamp=256) == opts.D_kwargs
    assert network_flags == {(n, k): f for n in 'GD' for k, f in (('fmap_base', 'fmap_base'), ('conv_clamp', 'fp16'),
                                                                 ('num_fp16_res', 'num_fp16_res'))}
    train_flags.unparse_flags()
    opts, _ = _options(train_flags, ['--G_smoothing=0.5', '--G_lrate_dict=4:0.1,8:0.2'])  # cpu-fashion32: 0.99.
    assert (opts.G_smoothing, opts.sched.G_lrate_dict, opts.sched.minibatch_base) == (0.5, {4: 0.1, 8: 0.2}, 16)


@pytest.mark.parametrize('argv, message', [
    (['--model=stylegan2', '--structure=linear'], '--structure: a Progressive GAN option (--model=pggan)'),
    (['--G_reg_interval=2'], '--G_reg_interval: a StyleGAN2 option (--model=stylegan2)'),
    (['--model=stylegan2', '--minibatch_base=8'], '--minibatch_base: a Progressive GAN option'),
    (['--D_repeats=0'], '--D_repeats=0: expected at least 1'),
])
def test_a_flag_of_the_other_family_or_out_of_range_is_one_error_naming_it(train_flags, argv, message):
    with pytest.raises(OptionsError, match=message.replace('(', r'\(').replace(')', r'\)')):
        _options(train_flags, argv)


def test_an_old_flat_training_options_json_loads_and_is_written_back_the_same():
    old = json.loads(OLD_SG2_JSON)
    opts = TrainingOptions.from_json(old)
    assert (opts.G_reg_interval, opts.D_loss, opts.sched.minibatch_size_base, opts.sched.tick_kimg_dict[8]) == \
        (2, {'gamma': 3.0}, 8, 28)
    written = opts.to_json()
    assert {k: v for k, v in written.items() if k in old} == old   # Still one flat object, key for key,
    assert {k: v for k, v in written.items() if k not in old} == {  # plus the options added since, at defaults.
        'resume_kimg': 0.0, 'freezed': 0, 'freezeG': 0, 'G_smoothing_rampup': None, 'aug': 'noaug',
        'augment_p': None, 'ada_target': None, 'augpipe': None, 'ada_kimg': None, 'ada_interval': 4}
    opts.validate()


def test_an_unknown_network_argument_is_one_error_naming_it_and_the_network():
    from pggan.networks import D_paper, G_paper
    from stylegan2.loading import build_network
    from stylegan2.networks import Synthesis
    with pytest.raises(TypeError, match=r"^G_paper: unknown argument 'fmap_bse'$"):
        G_paper(resolution=8, fmap_bse=16)
    with pytest.raises(TypeError, match=r"^D_paper: unknown arguments 'a', 'b'$"):
        D_paper(resolution=8, a=1, b=2)
    with pytest.raises(TypeError, match=r"^G_main: unknown argument 'fmap_bse'$"):
        build_network(dict(resolution=8, fmap_bse=16), 'G')
    with pytest.raises(TypeError, match=r"^G_synthesis_stylegan2: unknown argument 'fmap_bse'$"):
        Synthesis(resolution=8, fmap_bse=16)
    with pytest.raises(TypeError, match=r"^D_stylegan2: unknown argument 'structure'$"):
        build_network(dict(resolution=8, structure='linear'), 'D')
