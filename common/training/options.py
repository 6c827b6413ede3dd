"""The one options object of a training run: built from flags and presets, validated once, written to
the run directory as `training_options.json` (one flat object), and enough on its own to resume the run.

Every option is declared once (common/util/declare.py): the shared ones here, each family's own in its
`options.py` (fields flat in TrainingOptions, flags such as --structure or --gamma), the schedule's on
its `sched` dataclass. train.py's flags are derived from these declarations (`declared_flags`), and
`from_flags` applies the flags given over the preset, path by path.
"""
import copy
import dataclasses
import json
import os
from typing import Optional, Union

from common import families
from common.util.cli import OptionsError  # noqa: F401 (raised here; imported from here by callers)
from common.util.declare import Flag, at_least, field_flags, option, with_owner
from common.training.schedule import SCHEDULE_FLAGS


def _cond(text):
    if text == 'full' or text.isdigit():
        return text if text == 'full' else int(text)
    raise ValueError('expected 0, full or a number of label components')


def _grid(text):
    if text in ('1080p', '4k'):
        return True
    try:
        w, h = (int(v) for v in text.split('x'))
    except ValueError:
        return False
    return w > 0 and h > 0


def _xla_choice(x):
    return x is None or isinstance(x, bool) or (isinstance(x, dict) and all(isinstance(v, bool) for v in x.values()))


@dataclasses.dataclass
class SharedOptions:
    """The options of every family. Field = default, help (the flag's), --help group, check."""
    model: str = option('pggan', 'Model family.', 'run', choices=families.names(), absl_default='pggan')
    config: str = option('', 'Preset (PRESETS of pggan/options.py, SG2_PRESETS of stylegan2/options.py). pggan '
                         'default: "cpu-fashion32" without --data, "preset-v2-1gpu" (the official default, with its '
                         'fp32 per-GPU limits) with --data; stylegan2 default: config-f (official run_training.py).',
                         'run', aliases=('cfg',))
    data: str = option('', 'TFRecord dataset directory (data.dataset_tool). Default: the embedded Fashion-MNIST test '
                       'split, written once to datasets/fashion-mnist-32.', 'data')
    result_dir: str = option('results', 'Where numbered run directories are created.', 'run', aliases=('outdir',),
                             absl_default='results')
    desc: str = option('', 'Run directory suffix (default: model-dataset-config).', 'run')
    random_seed: int = option(1000, 'Random seed (official: 1000).', 'run', flag='seed')
    num_gpus: int = option(1, 'Replicas per machine (GPUs; logical CPU devices on a CPU-only host).', 'scale',
                           aliases=('gpus',), check=(lambda n: n >= 1, 'must be at least 1'))
    tpu: Optional[str] = option(None, 'Train with TPUStrategy on this TPU: its name, grpc://host:port, or local (TPU '
                                'VM). Untried (see README).', 'scale')
    total_kimg: float = option(15000, 'Training length in thousands of real images.', 'run', aliases=('kimg',),
                               check=(lambda k: k > 0, 'must be positive'))
    mirror_augment: bool = option(False, 'Random left-right flips of the reals.', 'data', aliases=('mirror',))
    max_label_size: Union[int, str] = option(0, 'Conditioning: 0 = none, full = all label components, N = first N '
                                             'components.', 'data', flag='cond', type=str, parse=_cond)
    shuffle_mb: int = option(4096, 'Input shuffle window in MB (official 4096).', 'data')
    G_kwargs: dict = dataclasses.field(default_factory=dict)   # Generator constructor arguments.
    D_kwargs: dict = dataclasses.field(default_factory=dict)   # Discriminator constructor arguments.
    G_opt: dict = dataclasses.field(default_factory=lambda: dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    D_opt: dict = dataclasses.field(default_factory=lambda: dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    G_loss: dict = dataclasses.field(default_factory=dict)     # Generator loss arguments.
    D_loss: dict = dataclasses.field(default_factory=dict)     # Discriminator loss arguments.
    sched: object = None                    # The family's SCHEDULE_OPTIONS (None: its defaults).
    minibatch_repeats: int = option(4, 'Minibatches between schedule updates.', 'schedule', check=at_least(1))
    reset_opt_for_new_lod: bool = option(True, 'Reset Adam when new layers are faded in.', 'schedule')
    image_snapshot_ticks: int = option(1, 'Ticks between fakes grids.', 'run')
    network_snapshot_ticks: int = option(10, 'Ticks between network snapshots.', 'run', aliases=('snap',))
    # ada-pytorch's --snap sets both snapshot intervals; here it is the network one.
    grid_size: str = option('1080p', 'Snapshot grid: 1080p, 4k or WxH.', 'run',
                            check=(_grid, 'expected 1080p, 4k or WxH (e.g. 8x4)'))
    xla: Union[None, bool, dict] = option(None, "Compile each phase's loss/gradient computation with XLA "
                                          '(jit_compile); unset: per phase the faster path on this device (the log '
                                          'says which and why; a resumed run keeps its own, recorded per phase: '
                                          'common/training/fast_path.py).', 'scale', type=bool,
                                          check=(_xla_choice, 'expected true, false, or {phase: true or false}'))
    swd_images: int = option(0, 'Images for the SWD printed at the end (0 = skip).', 'metrics')
    metrics: list = option(help='Metrics at each network snapshot (or none): fid50k_full, kid50k_full, pr50k3_full, '
                           'ppl2_wend, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, is50k, fid50k, kid50k, pr50k3, swd, '
                           'msssim; counts may vary (fid2k_full, swd4k). See common/metrics/metric_main.py.',
                           group='metrics', default_factory=list, parse=lambda ms: [m for m in ms if m and m != 'none'])
    metric_kwargs: dict = dataclasses.field(default_factory=dict)  # feature_net, inception, vgg16, vgg16_features,
                                                                   # num_images, cache_dir (common/training/evaluation.py).
    resume: Optional[str] = option(None, 'Continue from a snapshot directory, a run directory (its newest valid '
                                   'snapshot; a new run directory is made), or "latest": the newest run with this '
                                   '--desc, in place. Or start from the weights of a network file: an official '
                                   'pickle of any format (ProGAN, StyleGAN, StyleGAN2, StyleGAN2-ADA TF or PyTorch) '
                                   'or an export; see --resume_kimg, --freezed.', 'run')
    run_dir: Optional[str] = option(None, 'Use exactly this run directory instead of a new numbered one in '
                                    '--result_dir.', 'run')
    auto_resume: bool = option(False, 'If the run directory (--run_dir, or the newest run with this --desc) holds a '
                               'snapshot, continue from its newest valid one; otherwise start fresh. For job '
                               'schedulers.', 'run', absl_default=False)
    keep_snapshots: int = option(0, 'Keep the newest N network snapshots plus the best by the first lower-is-better '
                                 'metric and any holding a file named "keep" (default 0: keep all).', 'run',
                                 check=(lambda n: n >= 0, 'expected 0 (keep all) or a positive count'))
    nan_policy: str = option('rollback', 'On a non-finite loss or weight (checked once per tick): roll back to the '
                             'newest valid snapshot with lower learning rates, or stop.', 'run',
                             choices=('rollback', 'stop'))
    nan_lr_factor: float = option(0.5, 'Learning-rate factor applied at each rollback (default 0.5).', 'run',
                                  check=(lambda f: 0 < f <= 1, 'expected a factor in (0, 1]'))
    nan_max_rollbacks: int = option(3, 'Rollbacks allowed before the run stops (default 3).', 'run',
                                    check=(lambda n: n >= 0, 'expected 0 or more'))
    resume_kimg: float = option(0.0, 'With --resume=FILE.pkl: the images-shown counter starts here (official '
                                'resume_kimg): it sets the lod and learning-rate schedule position and the reported '
                                'kimg; --total_kimg stays absolute. Not for snapshots, which continue exactly.',
                                'transfer')
    freezed: int = option(0, 'Freeze-D (ada-pytorch --freezed): keep the first N layers of D fixed, counted from the '
                          'highest resolution: FromRGB, Conv0, Conv1 (down), Skip, then the next block.', 'transfer',
                          check=(lambda n: n >= 0, 'expected 0 (nothing frozen) or a number of layers'))
    freezeG: int = option(0, "FreezeG: keep the first N layers of G's synthesis network fixed, in the order they run "
                          '(4x4 const / dense, each conv, each ToRGB and Skip; README).', 'transfer',
                          check=(lambda n: n >= 0, 'expected 0 (nothing frozen) or a number of layers'))
    profile: int = option(0, 'Write a TensorBoard profiler trace of this many minibatch groups (each '
                          '--minibatch_repeats minibatches), after the first, into <run_dir>/profile.', 'scale',
                          check=(lambda n: n >= 0, 'expected 0 (off) or a number of minibatch groups'))


def _net(name, kind, help, nets, **kwargs):
    return Flag(name, kind, help, 'network', to=tuple(f'{net}_kwargs.{name}' for net in nets), **kwargs)


def _metric(name, kind, help, key=None, **kwargs):
    return Flag(name, kind, help, 'metrics', to=(f'metric_kwargs.{key or name}',), **kwargs)


# Flags of both families that set values inside G_kwargs / D_kwargs / metric_kwargs (the preset's, else the
# network's or the metric's default).
SHARED_FLAGS = (
    _net('fmap_base', int, 'Overall multiplier for the number of feature maps.', 'GD'),
    _net('fmap_decay', float, 'log2 feature map reduction when doubling the resolution.', 'GD'),
    _net('fmap_max', int, 'Maximum number of feature maps in any layer.', 'GD'),
    _net('latent_size', int, 'Latent dimensionality (default min(fmap_base, fmap_max)).', 'G'),
    _net('normalize_latents', bool, 'Pixel-normalize the latents.', 'G'),
    _net('mbstd_group_size', int, 'Minibatch stddev group size, 0 = off.', 'D'),
    _metric('feature_net', str, 'Feature networks of FID/KID/IS/PR/PPL: the files below (official) or randomly '
            'initialised ones (random: a labelled smoke test, meaningless numbers).', choices=('official', 'random')),
    _metric('inception', str, 'inception_v3_features.pkl (or Keras InceptionV3 .h5) for FID/KID/IS (default: '
            '$STYLEGAN2_INCEPTION).'),
    _metric('vgg16', str, 'vgg16_zhang_perceptual.pkl for PPL (default: $STYLEGAN2_VGG16).'),
    _metric('vgg16_features', str, 'Keras VGG16 .h5 with its top for PR (default: $STYLEGAN2_VGG16_FEATURES).'),
    _metric('metric_images', int, 'Replaces the image count of every metric (cheap runs on CPU).', 'num_images'),
    _metric('metrics_cache', str, 'Dataset statistics cache (default: $GAN_METRICS_CACHE or ~/.cache/gan-metrics).',
            'cache_dir'),
)


# One flat dataclass: the shared fields, then each family's own (its options.py `Options`), so that a run's
# training_options.json stays one object and old ones load as they are.
@dataclasses.dataclass
class TrainingOptions(*reversed([d.Options for d in families.all_declarations()]), SharedOptions):

    def __post_init__(self):
        if self.sched is None and self.model in families.names():
            self.sched = families.declarations(self.model).SCHEDULE_OPTIONS()

    def validate(self):
        if self.model not in families.names():
            raise OptionsError(f'--model={self.model}: expected {" or ".join(families.names())}')
        if not self.data:
            raise OptionsError('--data: a TFRecord dataset directory is required')
        for flag in declared_flags():
            for path in flag.to:
                found, value, in_dict = _get(self, path)
                if found and in_dict and flag.owner not in (None, self.model):  # A family's key in G_kwargs, ...
                    raise OptionsError(f'--{flag.name}={value}: {_owned(flag, self.model)}')
                if found:
                    flag.validate(value)
        self.sched.validate(self.num_gpus)
        from common.metrics.metric_main import OFFICIAL_NAMES, is_valid_metric
        unknown = [m for m in self.metrics if not is_valid_metric(m)]
        if unknown:
            raise OptionsError(f'--metrics={",".join(self.metrics)}: unknown {unknown}; official names: '
                               f'{", ".join(OFFICIAL_NAMES)} (counts may vary: fid2k_full, kid1k, swd4k, ...)')
        self._validate_transfer()
        families.declarations(self.model).validate(self)
        family = families.get(self.model)
        if not family.HAS_MAPPING and any(m.startswith('ppl') and '_w' in m for m in self.metrics):
            raise OptionsError(f'--metrics={",".join(self.metrics)}: PPL in W needs a mapping network, which '
                               f'{family.TITLE} has not (use ppl_zfull or ppl_zend)')
        return self

    def _validate_transfer(self):
        if self.resume_kimg < 0 or self.resume_kimg >= self.total_kimg:
            raise OptionsError(f'--resume_kimg={self.resume_kimg:g}: expected 0 or more and below --total_kimg='
                               f'{self.total_kimg:g} (which counts from 0, not from --resume_kimg)')
        if self.resume_kimg and (not self.resume or self.resume == 'latest' or os.path.isdir(self.resume)):
            raise OptionsError(f'--resume_kimg={self.resume_kimg:g}: only with --resume=FILE.pkl (a snapshot or run '
                               f'directory continues exactly where it stopped, at its own kimg)')

    def to_json(self):
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, obj):
        """Also old runs' files: fields added since take their defaults, fields since removed are dropped."""
        obj = dict(obj)
        obj['sched'] = families.declarations(obj.get('model', cls.model)).SCHEDULE_OPTIONS(**obj.get('sched', {}))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})


def declared_flags():
    """Every option flag of train.py, each declared once, in the order they are applied: the shared ones
    (fields here, the schedule's, SHARED_FLAGS), then each family's (`owner` = its name)."""
    out = field_flags(SharedOptions) + list(SCHEDULE_FLAGS) + list(SHARED_FLAGS)
    for d in families.all_declarations():
        out += (field_flags(d.Options, owner=d.NAME) + field_flags(d.SCHEDULE_OPTIONS, 'sched.', owner=d.NAME)
                + with_owner(d.FLAGS, d.NAME))
    return out


def from_flags(given):
    """(TrainingOptions, {(net, kwarg): flag}) from {flag name: value} of the flags given: the family's run
    defaults, then the preset `given['config']`, then each flag given at its paths. The second value lists
    the network kwargs the flags set, which a resumed snapshot's architecture must not contradict."""
    model = given.get('model', SharedOptions.model)
    decl = families.declarations(model)
    config = given['config']
    if config not in decl.PRESETS:
        raise ValueError(f'--config={config}: expected one of {", ".join(decl.PRESETS)} for --model={model}')
    preset = decl.PRESETS[config]
    if callable(preset):  # StyleGAN2-ADA 'auto': its formulas take the dataset's resolution and the GPU count.
        from data.tfrecord_io import DatasetInfo
        preset = preset(config, DatasetInfo(given['data']).resolution, given.get('num_gpus', 1))
    preset = copy.deepcopy(preset)
    tree = {**copy.deepcopy(decl.RUN_DEFAULTS), **{k: v for k, v in preset.items() if k not in ('G', 'D')},
            'G_kwargs': preset.get('G', {}), 'D_kwargs': preset.get('D', {}), 'sched': preset.get('sched', {})}
    network_flags = apply_flags(tree, given, model)
    tree['sched'] = decl.SCHEDULE_OPTIONS(**tree['sched'])
    return TrainingOptions(**tree).validate(), network_flags


def apply_flags(tree, given, model):
    """Puts the value of each declared flag in `given` at its paths in `tree` ({field: value}, dicts for G_kwargs,
    sched, ...), in declaration order; returns {(net, kwarg): flag} of the network kwargs set. A flag of
    another family is an OptionsError naming it."""
    network_flags = {}
    for flag in declared_flags():
        if flag.name not in given or not (flag.to or flag.implies):
            continue
        if flag.owner not in (None, model):
            raise OptionsError(f'--{flag.name}: {_owned(flag, model)}')
        value = flag.convert(given[flag.name])
        for path, v in [(p, value) for p in flag.to] + (list(flag.implies) if value else []):
            _put(tree, path, copy.deepcopy(v))
            if path.startswith(('G_kwargs.', 'D_kwargs.')):
                network_flags[path[0], path.partition('.')[2]] = flag.name
    return network_flags


def _owned(flag, model):
    return f'a {families.title(flag.owner)} option (--model={flag.owner}), not one of --model={model}'


def _get(opts, path):
    """(found, value, whether it is a dict's) at 'field' or 'field.key' of opts (the key of a dataclass or dict)."""
    head, _, key = path.partition('.')
    value = getattr(opts, head)
    if not key:
        return True, value, False
    if dataclasses.is_dataclass(value):
        return hasattr(value, key), getattr(value, key, None), False
    return key in value, value.get(key), True


def _put(tree, path, value):
    head, _, key = path.partition('.')
    if key:
        tree.setdefault(head, {})[key] = value
    else:
        tree[head] = value
