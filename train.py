"""Trains a Progressive GAN (`--model=pggan`, the default) or a StyleGAN2 (`--model=stylegan2`).

    python train.py                                   # embedded Fashion-MNIST, 32x32, about 9 min on 2 CPU cores
    python train.py --data=datasets/celebahq --config=preset-v2-8gpus --num_gpus=8 --mirror_augment
    python train.py --resume=results/00003-pggan-celebahq      # continue exactly where it stopped
    python train.py --run_dir=results/ffhq --auto_resume     # the same command after every preemption
    python train.py --model=stylegan2 --resume=afhqcat.pkl --data=datasets/cats512 --freezed=4   # fine-tune (README)
    python train.py --metrics=fid50k_full,ppl2_wend --inception=inception_v3_features.pkl --tensorboard
    python train.py --model=stylegan2 --config=config-e --data=datasets/ffhq --mirror_augment --gamma=10
    python train.py --data=... --run_dir=/shared/run --worker_hosts=a:2222,b:2222 --task_index=0   # on a; 1 on b

ada-pytorch's spellings work too: --outdir, --gpus, --cfg, --mirror=1, --snap, --kimg, --batch.
Flags are in flags/ (one module per group); the full options are written to <run_dir>/training_options.json.
"""
import os
import sys

from absl import app

import flags as train_flags
from common.util import cli  # Before TensorFlow: importing common sets its C++ log level (common/util/cli.py).
from flags import F, PRESETS

EMBEDDED_DATA = os.path.join('datasets', 'fashion-mnist-32')


def _top_level_overrides(top):
    """Flags shared by both model families, onto the preset's top-level options."""
    for flag, field in (('num_gpus', 'num_gpus'), ('total_kimg', 'total_kimg'), ('mirror_augment', 'mirror_augment'),
                        ('seed', 'random_seed'), ('shuffle_mb', 'shuffle_mb'), ('grid_size', 'grid_size'),
                        ('image_snapshot_ticks', 'image_snapshot_ticks'), ('swd_images', 'swd_images'),
                        ('network_snapshot_ticks', 'network_snapshot_ticks'), ('G_smoothing', 'G_smoothing'),
                        ('D_repeats', 'D_repeats'), ('minibatch_repeats', 'minibatch_repeats'),
                        ('reset_opt_for_new_lod', 'reset_opt_for_new_lod'), ('resume', 'resume'), ('xla', 'xla'),
                        ('G_smoothing_kimg', 'G_smoothing_kimg'), ('lazy_regularization', 'lazy_regularization'),
                        ('G_reg_interval', 'G_reg_interval'), ('D_reg_interval', 'D_reg_interval'),
                        ('run_dir', 'run_dir'), ('auto_resume', 'auto_resume'), ('keep_snapshots', 'keep_snapshots'),
                        ('nan_policy', 'nan_policy'), ('nan_lr_factor', 'nan_lr_factor'),
                        ('nan_max_rollbacks', 'nan_max_rollbacks'), ('profile', 'profile'),
                        ('loss_scaling_init', 'loss_scaling_init'), ('tpu', 'tpu'),
                        ('resume_kimg', 'resume_kimg'), ('freezed', 'freezed'), ('freezeG', 'freezeG')):
        if F[flag].value is not None:
            top[field] = F[flag].value
    return top


def _network_overrides(G_kwargs, D_kwargs):
    """The network flags onto the preset's G and D kwargs; also {(net, kwarg): flag} of those given, which
    a resumed snapshot's architecture must not contradict."""
    given = {}

    def put(nets, key, value, flag):
        for net, kwargs in nets:
            kwargs[key] = value
            given[net, key] = flag
    G, D, both = [('G', G_kwargs)], [('D', D_kwargs)], [('G', G_kwargs), ('D', D_kwargs)]
    for name in ('fmap_base', 'fmap_decay', 'fmap_max', 'structure', 'fused_scale', 'use_wscale'):
        if F[name].value is not None:
            put(both, name, F[name].value, name)
    for name in ('latent_size', 'use_pixelnorm', 'use_leakyrelu', 'normalize_latents', 'mapping_layers', 'dlatent_size'):
        if F[name].value is not None:
            put(G, name, F[name].value, name)
    if F.mbstd_group_size is not None:
        put(D, 'mbstd_group_size', F.mbstd_group_size, 'mbstd_group_size')
    for key, value in train_flags.precision_overrides().items():
        put(both, key, value, key if F[key].value is not None else 'fp16')
    return G_kwargs, D_kwargs, given


def build_options(data_dir=None):
    """Preset, then command-line flags -> the run's TrainingOptions. `data_dir`: the TFRecord directory that
    --data was prepared into (default: --data itself)."""
    from common.training.options import TrainingOptions
    from common.training.schedule import ScheduleOptions, SG2ScheduleOptions
    if F.model == 'stylegan2':
        presets, default = train_flags.SG2_PRESETS, 'config-f'
    else:
        presets, default = PRESETS, ('cpu-fashion32' if F.data is None else 'preset-v2-1gpu')
    config = F.config or default
    if config not in presets:
        raise ValueError(f'--config={config}: expected one of {", ".join(presets)} for --model={F.model}')
    data = data_dir or F.data or EMBEDDED_DATA
    preset = presets[config]
    if callable(preset):  # StyleGAN2-ADA 'auto': its formulas take the resolution and the GPU count.
        from data.tfrecord_io import DatasetInfo
        preset = preset(config, DatasetInfo(data).resolution, F.num_gpus or 1)
    G_kwargs, D_kwargs, network_flags = _network_overrides(dict(preset.get('G', {})), dict(preset.get('D', {})))
    top = _top_level_overrides({k: v for k, v in preset.items() if k not in ('G', 'D', 'sched')})
    if F.model == 'stylegan2':
        sched = dict(preset.get('sched', {}))
        for flag, field in (('minibatch_size', 'minibatch_size_base'), ('minibatch_gpu', 'minibatch_gpu_base'),
                            ('lrate', 'G_lrate_base'), ('lrate', 'D_lrate_base'), ('lrate_rampup_kimg', 'lrate_rampup_kimg'),
                            ('tick_kimg_base', 'tick_kimg_base'), ('lod_initial_resolution', 'lod_initial_resolution'),
                            ('lod_training_kimg', 'lod_training_kimg'), ('lod_transition_kimg', 'lod_transition_kimg')):
            if F[flag].value is not None:
                sched[field] = F[flag].value
        for flag, field in (('minibatch_size', 'minibatch_size_dict'), ('minibatch_gpu', 'minibatch_gpu_dict')):
            if F[flag].value is not None:
                sched[field] = {}  # One value at every resolution (configs a-d have per-resolution ones).
        sched = SG2ScheduleOptions(**sched)
        top.setdefault('total_kimg', 25000)
        top.setdefault('image_snapshot_ticks', 10)
        top.setdefault('network_snapshot_ticks', 10)
        if F.gamma is not None:
            top['D_loss'] = {**top.get('D_loss', {}), 'gamma': F.gamma}
    else:
        sched = ScheduleOptions(**{**preset.get('sched', {}), **train_flags.schedule_overrides()})
    top.update(train_flags.augment_overrides(top.get('aug', 'noaug')))
    from common.training.resume import is_network_file
    if is_network_file(F.resume):  # ada-pytorch when fine-tuning: ADA reacts faster, no EMA ramp-up.
        top['G_smoothing_rampup'] = None
        if F.ada_kimg is None:
            top['ada_kimg'] = 100
    if F.metrics is not None:
        top['metrics'] = [m for m in F.metrics if m and m != 'none']
    top['metric_kwargs'] = {**top.get('metric_kwargs', {}), **train_flags.metric_overrides()}
    cond = F.cond or '0'  # Official default for both (dataset max_label_size=0): unconditional.
    if cond not in ('0', 'full') and not cond.isdigit():
        raise ValueError(f'--cond={cond}: expected 0, full or a number of label components')
    desc = F.desc or f'{F.model}-{os.path.basename((F.data or EMBEDDED_DATA).rstrip("/"))}-{config}'
    opts = TrainingOptions(model=F.model, config=config, data=data, result_dir=F.result_dir, desc=desc,
                           max_label_size=cond if cond == 'full' else int(cond),
                           G_kwargs=G_kwargs, D_kwargs=D_kwargs, sched=sched, **top).validate()
    return opts, network_flags


def ensure_embedded_dataset(path):
    """Writes the embedded Fashion-MNIST dataset once (atomically) so that `python train.py` has data."""
    if os.path.isdir(path):
        return
    from data import sources
    from data.writer import write_dataset
    print(f'Creating the embedded default dataset in {path}')
    write_dataset(path, sources.embedded_source(), shuffle=True)


def resume_command(argv):
    """The command line that continues a stopped run in place: this one, with its resume flags replaced."""
    import shlex
    dropped = ('--resume', '--run_dir', '--auto_resume', '--noauto_resume')
    kept = [a for a in argv[1:] if not any(a == d or a.startswith(d + '=') for d in dropped)]
    return lambda run_dir: shlex.join(['python', 'train.py'] + kept + [f'--run_dir={run_dir}', '--auto_resume'])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f'unexpected arguments {argv[1:]}')
    from absl import logging
    if not F['verbosity'].present:  # TensorFlow's Python INFO lines (strategy, checkpoint sharding) are noise here.
        logging.set_verbosity(logging.WARNING)
    from common.training.options import OptionsError
    from common.training.loop import NothingToTrain, TrainingError, training_loop
    from data.tfrecord_io import DatasetError
    try:
        # The data first (plain Python, no TensorFlow): ADA's 'auto' config depends on its resolution.
        if F.data is None:
            ensure_embedded_dataset(EMBEDDED_DATA)
            data_dir = EMBEDDED_DATA
        else:  # An image folder or ada-pytorch zip: converted once into the TFRecord cache.
            from data.prepare import resolve_dataset
            data_dir = resolve_dataset(F.data)
        opts, network_flags = build_options(data_dir)
        if F.worker_hosts:
            from common.training.distribute import configure_cluster
            configure_cluster(F.worker_hosts, F.task_index)
        from common.training.distribute import make_strategy
        make_strategy(opts.num_gpus, opts.tpu)  # First: a multi-worker strategy must exist before TensorFlow runs anything.
        if F.tensorboard:
            from common.training.tensorboard import start_tensorboard
            start_tensorboard(opts.run_dir or opts.result_dir)
        try:
            run_dir = training_loop(opts, resume_command=resume_command(sys.argv), network_flags=network_flags)
        except NothingToTrain as e:
            print(e)
            return
        if opts.swd_images:
            from common.training.evaluation import report_swd
            report_swd(run_dir, opts)
    except (ValueError, OptionsError, DatasetError, TrainingError, OSError) as e:
        print(f'error: {" ".join(str(e).split())}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    cli.use_grouped_help(__doc__, train_flags.GROUPS)
    app.run(main)
