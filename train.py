"""Trains a Progressive GAN (`--model=pggan`, the default) or a StyleGAN2 (`--model=stylegan2`).

    python train.py                                   # embedded Fashion-MNIST, 32x32, about 9 min on 2 CPU cores
    python train.py --data=datasets/celebahq --config=preset-v2-8gpus --num_gpus=8 --mirror_augment
    python train.py --resume=results/00003-pggan-celebahq      # continue exactly where it stopped
    python train.py --run_dir=results/ffhq --auto_resume     # the same command after every preemption
    python train.py --metrics=fid50k_full,ppl2_wend --inception=inception_v3_features.pkl --tensorboard
    python train.py --model=stylegan2 --config=config-e --data=datasets/ffhq --mirror_augment --gamma=10
    python train.py --model=stylegan2 --resume=afhqcat.pkl --data=datasets/cats512 --freezed=4   # fine-tune (README)
    python train.py --model=stylegan2 --cfg=auto --data=mydata.zip --aug=ada     # StyleGAN2-ADA (README)
    python train.py --data=... --run_dir=/shared/run --worker_hosts=a:2222,b:2222 --task_index=0   # on a; 1 on b

ada-pytorch's spellings work too: --outdir, --gpus, --cfg, --mirror=1, --snap, --kimg, --batch.
Flags are derived from the options' declarations (flags/__init__.py says where they are; one --help group per
module of flags/); the full options are written to <run_dir>/training_options.json.
"""
import os
import sys

from absl import app

import flags as train_flags
from common.util import cli  # Before TensorFlow: importing common sets its C++ log level (common/util/cli.py).
from flags import F

EMBEDDED_DATA = os.path.join('datasets', 'fashion-mnist-32')


def build_options(data_dir=None):
    """Preset, then command-line flags -> the run's TrainingOptions (and the network kwargs the flags set).
    Which flag sets what is in the options' declarations (flags/__init__.py lists where). `data_dir`: the
    TFRecord directory that --data was prepared into (default: --data itself)."""
    from common import families
    from common.training.options import from_flags
    given = train_flags.given()
    model = given['model']
    config = given.get('config') or families.declarations(model).default_config('data' in given)
    data = given.get('data', EMBEDDED_DATA)
    desc = f'{model}-{os.path.basename(data.rstrip("/"))}-{config}'
    return from_flags({'desc': desc, **given, 'config': config, 'data': data_dir or data})


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
