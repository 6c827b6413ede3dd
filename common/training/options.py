"""The one options object of a training run: built from flags and presets, validated once, written to
the run directory as `training_options.json`, and enough on its own to resume the run."""
import dataclasses
import json
from typing import Optional, Union

from common import families
from common.util.cli import OptionsError  # noqa: F401 (raised here; imported from here by callers)
from common.training.schedule import ScheduleOptions, SG2ScheduleOptions  # noqa: F401 (the sched types)


@dataclasses.dataclass
class TrainingOptions:
    model: str = 'pggan'                    # Model family (common/families.py).
    config: str = ''                        # The preset the options started from (documentation only).
    data: str = ''                          # TFRecord dataset directory.
    result_dir: str = 'results'             # Parent of the numbered run directories.
    desc: str = ''                          # Description appended to the run directory name.
    random_seed: int = 1000                 # Global seed: initialization, data order, latents (official 1000).
    num_gpus: int = 1                       # Replicas; on a CPU-only host they are logical CPU devices.
    tpu: Optional[str] = None               # TPUStrategy on this TPU (name, grpc:// address or 'local').
    total_kimg: float = 15000               # Length of training in thousands of real images.
    mirror_augment: bool = False            # Random left-right flips of the reals.
    max_label_size: Union[int, str] = 0     # 0 = unconditional, 'full' = all label components, N = the first N.
    shuffle_mb: int = 4096                  # Shuffle window of the input pipeline (official 4096 MB).
    G_kwargs: dict = dataclasses.field(default_factory=dict)   # Generator constructor arguments.
    D_kwargs: dict = dataclasses.field(default_factory=dict)   # Discriminator constructor arguments.
    G_opt: dict = dataclasses.field(default_factory=lambda: dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    D_opt: dict = dataclasses.field(default_factory=lambda: dict(beta1=0.0, beta2=0.99, epsilon=1e-8))
    G_loss: dict = dataclasses.field(default_factory=dict)     # Generator loss arguments.
    D_loss: dict = dataclasses.field(default_factory=dict)     # Discriminator loss arguments.
    sched: Union[ScheduleOptions, SG2ScheduleOptions] = dataclasses.field(default_factory=ScheduleOptions)
    G_smoothing: float = 0.999              # ProGAN: beta of the Gs moving average.
    G_smoothing_kimg: float = 10.0          # StyleGAN2: half-life of the Gs moving average in kimg.
    lazy_regularization: bool = True        # StyleGAN2: regularizers as separate, less frequent phases.
    G_reg_interval: int = 4                 # StyleGAN2: minibatches between path-length steps.
    D_reg_interval: int = 16                # StyleGAN2: minibatches between R1 steps.
    D_repeats: int = 1                      # D steps per G step.
    minibatch_repeats: int = 4              # Minibatches run before the schedule is evaluated again.
    reset_opt_for_new_lod: bool = True      # Reset the Adam state when the lod leaves or reaches an integer.
    image_snapshot_ticks: int = 1           # How often to write a fakes grid.
    network_snapshot_ticks: int = 10        # How often to write a network snapshot.
    grid_size: str = '1080p'                # Snapshot grid: '1080p', '4k' (official) or 'WxH'.
    xla: Union[None, bool, dict] = None     # Compile each phase's losses and gradients with XLA; None: the faster
                                            # path here (common/training/fast_path.py), recorded per phase.
    swd_images: int = 0                     # Images for the final SWD report (0 = skip).
    metrics: list = dataclasses.field(default_factory=list)  # Computed at each network snapshot (metric_main names).
    metric_kwargs: dict = dataclasses.field(default_factory=dict)  # feature_net, inception, vgg16, vgg16_features,
                                                                   # num_images, cache_dir (common/training/evaluation.py).
    resume: Optional[str] = None            # Run directory or snapshot to continue from, or 'latest'.
    run_dir: Optional[str] = None           # Exact run directory (default: a new numbered one in result_dir).
    auto_resume: bool = False               # Continue the run directory's newest valid snapshot if it has one.
    keep_snapshots: int = 0                 # Keep the newest N network snapshots plus the best (0 = keep all).
    nan_policy: str = 'rollback'            # On a non-finite loss or weight: 'rollback' or 'stop'.
    nan_lr_factor: float = 0.5              # Learning-rate factor applied at each rollback.
    nan_max_rollbacks: int = 3              # Rollbacks allowed in a run before it stops.
    profile: int = 0                        # Minibatch groups to trace with the TensorBoard profiler (0 = off).
    loss_scaling_init: float = 15.0         # StyleGAN2 float16: initial log2 of the dynamic loss scale.

    def validate(self):
        if self.model not in families.names():
            raise OptionsError(f'--model={self.model}: expected {" or ".join(families.names())}')
        family = families.get(self.model)
        if not self.data:
            raise OptionsError('--data: a TFRecord dataset directory is required')
        if self.total_kimg <= 0:
            raise OptionsError(f'--total_kimg={self.total_kimg}: must be positive')
        if self.num_gpus < 1:
            raise OptionsError(f'--num_gpus={self.num_gpus}: must be at least 1')
        res = self.sched.lod_initial_resolution
        if res is not None and (res < 4 or res & (res - 1)):
            raise OptionsError(f'--lod_initial_resolution={res}: expected a power of two >= 4')
        self.sched.validate(self.num_gpus)
        from common.metrics.metric_main import OFFICIAL_NAMES, is_valid_metric
        unknown = [m for m in self.metrics if not is_valid_metric(m)]
        if unknown:
            raise OptionsError(f'--metrics={",".join(self.metrics)}: unknown {unknown}; official names: '
                               f'{", ".join(OFFICIAL_NAMES)} (counts may vary: fid2k_full, kid1k, swd4k, ...)')
        if self.metric_kwargs.get('feature_net', 'official') not in ('official', 'random'):
            raise OptionsError(f'--feature_net={self.metric_kwargs["feature_net"]}: expected official or random')
        if not family.HAS_MAPPING and any(m.startswith('ppl') and '_w' in m for m in self.metrics):
            raise OptionsError(f'--metrics={",".join(self.metrics)}: PPL in W needs a mapping network, which '
                               f'{family.TITLE} has not (use ppl_zfull or ppl_zend)')
        if self.keep_snapshots < 0:
            raise OptionsError(f'--keep_snapshots={self.keep_snapshots}: expected 0 (keep all) or a positive count')
        if self.nan_policy not in ('rollback', 'stop'):
            raise OptionsError(f'--nan_policy={self.nan_policy}: expected rollback or stop')
        if not 0 < self.nan_lr_factor <= 1:
            raise OptionsError(f'--nan_lr_factor={self.nan_lr_factor}: expected a factor in (0, 1]')
        if self.profile < 0:
            raise OptionsError(f'--profile={self.profile}: expected 0 (off) or a number of minibatch groups')
        from common.ops.mixed_precision import LOW_PRECISION_DTYPES
        for flag, kwargs in (('G', self.G_kwargs), ('D', self.D_kwargs)):
            fp16 = kwargs.get('num_fp16_res', 0)
            if fp16 and not family.MIXED_PRECISION:
                raise OptionsError(f'--num_fp16_res={fp16}: mixed precision is for '
                                   f'{" or ".join("--model=" + f.NAME for f in families.all_families() if f.MIXED_PRECISION)}')
            if not isinstance(fp16, int) or fp16 < 0:
                raise OptionsError(f'--num_fp16_res={fp16} ({flag}): expected 0 (float32) or a number of resolutions')
            if kwargs.get('fp16_dtype', 'float16') not in LOW_PRECISION_DTYPES:
                raise OptionsError(f'--fp16_dtype={kwargs["fp16_dtype"]}: expected {" or ".join(LOW_PRECISION_DTYPES)}')
        if not (self.xla is None or isinstance(self.xla, bool) or
                (isinstance(self.xla, dict) and all(isinstance(v, bool) for v in self.xla.values()))):
            raise OptionsError(f'xla={self.xla!r}: expected true, false, or {{phase: true or false}}')
        if self.nan_max_rollbacks < 0:
            raise OptionsError(f'--nan_max_rollbacks={self.nan_max_rollbacks}: expected 0 or more')
        if self.G_reg_interval < 1 or self.D_reg_interval < 1:
            raise OptionsError('--G_reg_interval and --D_reg_interval must be at least 1')
        if self.D_repeats < 1 or self.minibatch_repeats < 1:
            raise OptionsError('--D_repeats and --minibatch_repeats must be at least 1')
        if self.grid_size not in ('1080p', '4k'):
            try:
                w, h = (int(v) for v in self.grid_size.split('x'))
                assert w > 0 and h > 0
            except (ValueError, AssertionError):
                raise OptionsError(f'--grid_size={self.grid_size}: expected 1080p, 4k or WxH (e.g. 8x4)')
        return self

    def to_json(self):
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, obj):
        obj = dict(obj)
        obj['sched'] = families.get(obj.get('model', cls.model)).SCHEDULE_OPTIONS(**obj.get('sched', {}))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})
