"""The progressive-growing training schedule (`TrainingSchedule` of the official ProGAN `train.py`, also
used by the progressive StyleGAN configs): images shown -> lod, resolution, minibatch, learning rates
and tick length."""
import dataclasses
from typing import Optional

import numpy as np

from common.util.cli import OptionsError
from common.util.declare import Flag, option, resolution_dict

DEFAULT_TICK_KIMG = {4: 160, 8: 140, 16: 120, 32: 100, 64: 80, 128: 60, 256: 40, 512: 20, 1024: 10}


def _int_keys(d):
    return {int(k): v for k, v in (d or {}).items()}  # JSON round trips turn the resolution keys into strings.


def _power_of_two(r):
    return r is None or (r >= 4 and not r & (r - 1))


# The schedule flags of both families (each family's own are declared on its fields below).
SCHEDULE_FLAGS = (
    Flag('lod_initial_resolution', int, 'Resolution at the start of training.', 'schedule',
         to=('sched.lod_initial_resolution',), check=(_power_of_two, 'expected a power of two >= 4')),
    Flag('lod_training_kimg', float, 'kimg per resolution before fading in the next.', 'schedule',
         to=('sched.lod_training_kimg',)),
    Flag('lod_transition_kimg', float, 'kimg of each fade-in.', 'schedule', to=('sched.lod_transition_kimg',)),
    Flag('tick_kimg_base', float, 'kimg per tick where tick_kimg_dict has no entry.', 'schedule',
         to=('sched.tick_kimg_base',)),
)
_INT_DICT, _FLOAT_DICT = dict(type=str, parse=resolution_dict(int)), dict(type=str, parse=resolution_dict(float))


@dataclasses.dataclass(frozen=True)
class ScheduleOptions:
    """Progressive GAN's `sched`; field flags are its own (--model=pggan)."""
    lod_initial_resolution: int = 4         # Image resolution used at the beginning.
    lod_training_kimg: float = 600          # Thousands of real images to show before doubling the resolution.
    lod_transition_kimg: float = 600        # Thousands of real images to show when fading in new layers.
    minibatch_base: int = option(16, 'Minibatch (global) where minibatch_dict has no entry.', 'schedule')
    minibatch_dict: dict = option(help='Per-resolution minibatch, e.g. 4:128,8:128,16:128,32:64.', group='schedule',
                                  default_factory=dict, **_INT_DICT)
    max_minibatch_per_gpu: dict = option(help='Per-resolution limit per GPU, e.g. 256:16,512:8.', group='schedule',
                                         default_factory=dict, **_INT_DICT)
    G_lrate_base: float = option(0.001, 'Generator learning rate.', 'schedule')
    G_lrate_dict: dict = option(help='Per-resolution generator learning rate, e.g. 1024:0.0015.', group='schedule',
                                default_factory=dict, **_FLOAT_DICT)
    D_lrate_base: float = option(0.001, 'Discriminator learning rate.', 'schedule')
    D_lrate_dict: dict = option(help='Per-resolution discriminator learning rate.', group='schedule',
                                default_factory=dict, **_FLOAT_DICT)
    tick_kimg_base: float = 160             # Default interval of progress snapshots.
    tick_kimg_dict: dict = option(help='Per-resolution tick length.', group='schedule',
                                  default_factory=lambda: dict(DEFAULT_TICK_KIMG), **_FLOAT_DICT)

    def validate(self, num_gpus):
        for r, mb in {**self.minibatch_dict, 0: self.minibatch_base}.items():
            if mb < num_gpus:
                raise OptionsError(f'minibatch {mb}{f" at {r}px" if r else ""} is smaller than --num_gpus={num_gpus}')

    def __post_init__(self):
        for name in ('minibatch_dict', 'max_minibatch_per_gpu', 'G_lrate_dict', 'D_lrate_dict', 'tick_kimg_dict'):
            object.__setattr__(self, name, _int_keys(getattr(self, name)))


@dataclasses.dataclass(frozen=True)
class Schedule:
    kimg: float
    lod: float
    resolution: int
    minibatch: int
    G_lrate: float
    D_lrate: float
    tick_kimg: float
    minibatch_gpu: int = 0      # Samples per replica and round (StyleGAN2); ProGAN: minibatch / num_gpus.


def _lod(kimg, resolution_log2, lod_initial_resolution, lod_training_kimg, lod_transition_kimg):
    """Level of detail after `kimg` thousand images: the official formula, step for step (float64)."""
    phase_dur = lod_training_kimg + lod_transition_kimg
    phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
    phase_kimg = kimg - phase_idx * phase_dur
    lod = resolution_log2
    lod -= np.floor(np.log2(lod_initial_resolution))
    lod -= phase_idx
    if lod_transition_kimg > 0:
        lod -= max(phase_kimg - lod_training_kimg, 0.0) / lod_transition_kimg
    return max(lod, 0.0)


def lod_changed_phase(prev_lod, lod):
    """True when the official code resets the optimizers: lod crossed or left an integer."""
    return np.floor(lod) != np.floor(prev_lod) or np.ceil(lod) != np.ceil(prev_lod)


SG2_TICK_KIMG = {8: 28, 16: 24, 32: 20, 64: 16, 128: 12, 256: 8, 512: 6, 1024: 4}


@dataclasses.dataclass(frozen=True)
class SG2ScheduleOptions:
    """`training_schedule` of NVlabs/stylegan2 (training_loop.py); defaults as run_training.py sets them.
    Configs a-d grow progressively (lod_initial_resolution 8), e and f do not."""
    lod_initial_resolution: Optional[int] = None   # None = no progressive growing (configs e, f).
    lod_training_kimg: float = 600
    lod_transition_kimg: float = 600
    minibatch_size_base: int = option(            # Global minibatch.
        32, 'StyleGAN2: global minibatch at every resolution (official 32; configs a-d: 256 at 8x8 down to 32 from '
        '64x64).', 'schedule', flag='minibatch_size', aliases=('batch',), implies=(('sched.minibatch_size_dict', {}),))
    minibatch_size_dict: dict = dataclasses.field(default_factory=dict)
    minibatch_gpu_base: int = option(             # Samples per GPU and round; more rounds accumulate gradients.
        4, 'StyleGAN2: samples per GPU and round (official 4); more rounds accumulate gradients.', 'schedule',
        flag='minibatch_gpu', implies=(('sched.minibatch_gpu_dict', {}),))
    minibatch_gpu_dict: dict = dataclasses.field(default_factory=dict)
    G_lrate_base: float = 0.002                     # Both set by --lrate (stylegan2/options.py).
    G_lrate_dict: dict = dataclasses.field(default_factory=dict)
    D_lrate_base: float = 0.002
    D_lrate_dict: dict = dataclasses.field(default_factory=dict)
    lrate_rampup_kimg: float = option(0, 'StyleGAN2: learning-rate ramp-up.', 'schedule')
    tick_kimg_base: float = 4
    tick_kimg_dict: dict = dataclasses.field(default_factory=lambda: dict(SG2_TICK_KIMG))

    def validate(self, num_gpus):
        gpu = {**self.minibatch_gpu_dict, 0: self.minibatch_gpu_base}
        for r, mb in {**self.minibatch_size_dict, 0: self.minibatch_size_base}.items():
            per = gpu.get(r, self.minibatch_gpu_base) * num_gpus
            if mb % per:
                raise OptionsError(f'--minibatch_size={mb}{f" at {r}px" if r else ""} is not a multiple of '
                                   f'--minibatch_gpu x --num_gpus = {per}')

    def __post_init__(self):
        for name in ('minibatch_size_dict', 'minibatch_gpu_dict', 'G_lrate_dict', 'D_lrate_dict', 'tick_kimg_dict'):
            object.__setattr__(self, name, _int_keys(getattr(self, name)))


def training_schedule(cur_nimg, resolution_log2, num_gpus, opts) -> Schedule:
    """The official TrainingSchedule: ProGAN's (`ScheduleOptions`) or StyleGAN2's (`SG2ScheduleOptions`, whose
    progressive configs a-d grow with the same lod formula). They differ only in how the minibatch is chosen:
    ProGAN splits one global minibatch over the GPUs (with per-GPU limits), StyleGAN2 has a per-GPU minibatch
    of its own and accumulates gradients over rounds; StyleGAN2 also has a learning-rate ramp-up."""
    kimg = cur_nimg / 1000.0
    lod = 0.0  # StyleGAN2 without lod_initial_resolution (configs e, f): no growing.
    if opts.lod_initial_resolution is not None:
        lod = _lod(kimg, resolution_log2, opts.lod_initial_resolution, opts.lod_training_kimg,
                   opts.lod_transition_kimg)
    resolution = 2 ** (resolution_log2 - int(np.floor(lod)))
    G_lrate = opts.G_lrate_dict.get(resolution, opts.G_lrate_base)
    D_lrate = opts.D_lrate_dict.get(resolution, opts.D_lrate_base)
    if isinstance(opts, SG2ScheduleOptions):
        minibatch = opts.minibatch_size_dict.get(resolution, opts.minibatch_size_base)
        minibatch_gpu = opts.minibatch_gpu_dict.get(resolution, opts.minibatch_gpu_base)
        if opts.lrate_rampup_kimg > 0:
            rampup = min(kimg / opts.lrate_rampup_kimg, 1.0)
            G_lrate *= rampup
            D_lrate *= rampup
    else:
        minibatch = opts.minibatch_dict.get(resolution, opts.minibatch_base)
        minibatch -= minibatch % num_gpus
        if resolution in opts.max_minibatch_per_gpu:
            minibatch = min(minibatch, opts.max_minibatch_per_gpu[resolution] * num_gpus)
        minibatch_gpu = minibatch // num_gpus
    return Schedule(kimg=kimg, lod=float(lod), resolution=int(resolution), minibatch=int(minibatch),
                    G_lrate=float(G_lrate), D_lrate=float(D_lrate),
                    tick_kimg=float(opts.tick_kimg_dict.get(resolution, opts.tick_kimg_base)),
                    minibatch_gpu=int(minibatch_gpu))
