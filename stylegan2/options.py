"""StyleGAN2's declarations: its name, its own options (flat in TrainingOptions and in training_options.json),
its network, schedule and loss flags, and the configs of the official run_training.py.

Light on purpose (no TensorFlow): train.py's flags are derived from these before anything is built.
"""
import dataclasses
from typing import Optional

from common.training.schedule import SG2ScheduleOptions
from common.ops.augment_specs import AUGPIPE_SPECS
from common.util.cli import OptionsError
from common.util.declare import Flag, at_least, option
from stylegan2 import ada_configs

NAME = 'stylegan2'
TITLE = 'StyleGAN2'
SCHEDULE_OPTIONS = SG2ScheduleOptions   # Its `sched` (field flags: --minibatch_size, --minibatch_gpu, ...).


@dataclasses.dataclass
class Options:
    G_smoothing_kimg: float = option(10.0, 'StyleGAN2: half-life of the Gs moving average.', 'schedule')
    lazy_regularization: bool = option(True, 'StyleGAN2: separate, less frequent regularization steps.',
                                       'regularization')
    G_reg_interval: int = option(4, 'StyleGAN2: minibatches between path-length steps.', 'regularization',
                                 check=at_least(1))
    D_reg_interval: int = option(16, 'StyleGAN2: minibatches between R1 steps.', 'regularization', check=at_least(1))
    loss_scaling_init: float = option(15.0, 'StyleGAN2 float16: initial log2 of the dynamic loss scale (15).', 'scale')
    G_smoothing_rampup: Optional[float] = None  # StyleGAN2-ADA configs: Gs half-life at most this x images shown.
    # StyleGAN2-ADA's augmentation of D's inputs (ada-pytorch's flags). None = not given: the defaults below
    # (ada_settings) apply, and ada-pytorch's checks of which flags go together can be made on the options.
    aug: str = option('noaug', 'StyleGAN2: augment everything D sees: ada (p adapts to keep E[sign(D(real))] at '
                      '--target), fixed (p = --p) or noaug. Default: ada for the ADA configs (auto, stylegan2, '
                      'paper256, paper512, paper1024, cifar), noaug for configs a-f.', 'augment',
                      check=(lambda a: a in ('noaug', 'ada', 'fixed'), 'expected noaug, ada or fixed'))
    augment_p: Optional[float] = option(None, 'Augmentation probability: with --aug=fixed the fixed p (required); '
                                        'with --aug=ada the initial p (default 0).', 'augment', flag='p',
                                        check=(lambda p: p is None or 0 <= p <= 1, 'expected a probability in [0, 1]'))
    ada_target: Optional[float] = option(None, 'ADA target of r_t = E[sign(D(real))] (0.6).', 'augment', flag='target',
                                         check=(lambda t: t is None or 0 <= t <= 1,
                                                'expected a value of E[sign(D(real))] in [0, 1]'))
    augpipe: Optional[str] = option(None, 'Augmentation pipeline: blit, geom, color, filter, noise, cutout, bg, bgc '
                                    '(default: blit, geometry, colour), bgcf, bgcfn or bgcfnc.', 'augment',
                                    check=(lambda a: a is None or a in AUGPIPE_SPECS,
                                           f'expected one of {", ".join(AUGPIPE_SPECS)}'))
    ada_kimg: Optional[float] = option(None, 'ADA speed: kimg for p to move by 1 (500; 100 when resuming from a '
                                       'pickle).', 'augment', check=(lambda k: k is None or k > 0, 'expected a '
                                                                      'positive number of kimg'))
    ada_interval: int = 4                   # ADA: minibatches between adjustments of p (ada-pytorch).


def _both(name, kind, help, group='network', **kwargs):
    return Flag(name, kind, help, group, to=(f'G_kwargs.{name}', f'D_kwargs.{name}'), **kwargs)


FLAGS = (
    Flag('lrate', float, 'StyleGAN2: learning rate of G and D (official 0.002).', 'schedule',
         to=('sched.G_lrate_base', 'sched.D_lrate_base')),
    Flag('mapping_layers', int, 'StyleGAN2: layers of the mapping network.', 'network', to=('G_kwargs.mapping_layers',)),
    Flag('dlatent_size', int, 'StyleGAN2: w dimensionality.', 'network', to=('G_kwargs.dlatent_size',)),
    Flag('gamma', float, 'StyleGAN2: R1 weight (config-e: 100, others: 10).', 'regularization', to=('D_loss.gamma',)),
    # Before the three below, which override what it implies.
    Flag('fp16', bool, 'StyleGAN2 mixed precision as StyleGAN2-ADA: --num_fp16_res=4 --conv_clamp=256.', 'scale',
         implies=tuple((f'{net}_kwargs.{k}', v) for net in 'GD' for k, v in (('num_fp16_res', 4), ('conv_clamp', 256)))),
    _both('num_fp16_res', int, 'StyleGAN2: run the N highest resolutions of G and D in --fp16_dtype (0 = float32).',
          'scale', check=(lambda n: isinstance(n, int) and n >= 0, 'expected 0 (float32) or a number of resolutions')),
    _both('conv_clamp', float, 'StyleGAN2: clamp conv outputs to +-X (ADA uses 256 with float16).', 'scale'),
    _both('fp16_dtype', str, 'StyleGAN2: dtype of the --num_fp16_res resolutions; bfloat16 needs no loss scaling.',
          'scale', choices=('float16', 'bfloat16')),
)
# Official run_training.py's values of the shared options, under every config.
RUN_DEFAULTS = dict(total_kimg=25000, image_snapshot_ticks=10, network_snapshot_ticks=10)


def validate(opts):
    """ada-pytorch's checks of which augmentation flags go together."""
    if opts.aug == 'fixed' and opts.augment_p is None:
        raise OptionsError('--aug=fixed requires --p (the fixed augmentation probability)')
    given = [flag for flag, value in (('p', opts.augment_p), ('target', opts.ada_target), ('augpipe', opts.augpipe),
                                      ('ada_kimg', opts.ada_kimg)) if value is not None]
    if opts.aug == 'noaug' and given:
        raise OptionsError(f'--{given[0]}: needs --aug=ada or --aug=fixed (this run has --aug=noaug)')
    if opts.ada_target is not None and opts.aug != 'ada':
        raise OptionsError(f'--target={opts.ada_target:g}: only with --aug=ada')


def default_config(data_given):
    return 'config-f'


def _sg2(G=None, D=None, gamma=10.0, **top):
    return dict(G=dict(G or {}), D=dict(D or {}), D_loss=dict(gamma=gamma), **top)


# NVlabs/stylegan2 run_training.py: configs a-f (Table 1) and the Table 2 architecture variants of config e.
# Configs a-e shrink the networks to fmap_base 8192. Configs a-d grow progressively from 8x8 with the
# schedule below; a-c have no path-length regularization, a-b no lazy regularization, and a uses the original
# StyleGAN networks (G_style / D_basic, whose default fmap_base is 8192).
_PROGRESSIVE = dict(lod_initial_resolution=8, G_lrate_base=0.001, D_lrate_base=0.001,
                    G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
                    D_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
                    minibatch_size_base=32, minibatch_size_dict={8: 256, 16: 128, 32: 64, 64: 32},
                    minibatch_gpu_base=4, minibatch_gpu_dict={8: 32, 16: 16, 32: 8, 64: 4})
_NO_PATH_LENGTH = dict(func_name='G_logistic_ns')
_REVISED = dict(G=dict(fmap_base=8 << 10, synthesis_func='G_synthesis_stylegan_revised'),
                D=dict(fmap_base=8 << 10, func_name='D_stylegan'), sched=_PROGRESSIVE)

SG2_PRESETS = {
    'config-a': _sg2(G=dict(func_name='G_style', fmap_base=8 << 10), D=dict(func_name='D_basic', fmap_base=8 << 10),
                     sched=_PROGRESSIVE, G_loss=_NO_PATH_LENGTH, lazy_regularization=False),
    'config-b': _sg2(**_REVISED, G_loss=_NO_PATH_LENGTH, lazy_regularization=False),
    'config-c': _sg2(**_REVISED, G_loss=_NO_PATH_LENGTH),
    'config-d': _sg2(**_REVISED),
    'config-f': _sg2(G=dict(fmap_base=16 << 10), D=dict(fmap_base=16 << 10)),
    'config-e': _sg2(G=dict(fmap_base=8 << 10), D=dict(fmap_base=8 << 10), gamma=100.0),
    **{f'config-e-G{g}-D{d}': _sg2(G=dict(fmap_base=8 << 10, architecture=g),
                                   D=dict(fmap_base=8 << 10, architecture=d), gamma=100.0)
       for g in ('orig', 'skip', 'resnet') for d in ('orig', 'skip', 'resnet')},
    # Ours: a CPU-sized config-e for smoke runs and benchmarks (32 px, narrow networks).
    'cpu-config-e': _sg2(G=dict(fmap_base=512, fmap_max=128, latent_size=128, dlatent_size=128, mapping_layers=4),
                         D=dict(fmap_base=512, fmap_max=128), gamma=10.0, total_kimg=20, grid_size='8x4',
                         image_snapshot_ticks=1, network_snapshot_ticks=5, sched=dict(tick_kimg_base=2, tick_kimg_dict={})),
}
# StyleGAN2-ADA's configs (ada-pytorch --cfg); 'auto' is computed from the dataset's resolution and --num_gpus.
SG2_PRESETS.update({name: ada_configs.preset(name) for name in ada_configs.CFG_SPECS})
SG2_PRESETS['auto'] = ada_configs.preset
SG2_PRESETS['config-e-Gorig'] = SG2_PRESETS['config-e-Gorig-Dresnet']
SG2_PRESETS['config-e-Gresnet'] = SG2_PRESETS['config-e-Gresnet-Dresnet']
SG2_PRESETS['config-e-Dorig'] = SG2_PRESETS['config-e-Gskip-Dorig']
SG2_PRESETS['config-e-Dskip'] = SG2_PRESETS['config-e-Gskip-Dskip']
PRESETS = SG2_PRESETS                   # The interface's name (common/families.py).
