"""Progressive GAN's declarations: its name, its own options (flat in TrainingOptions and in
training_options.json), its network flags and the presets of the official `config.py`.

Light on purpose (no TensorFlow): train.py's flags are derived from these before anything is built.
"""
import dataclasses

from common.training.schedule import ScheduleOptions
from common.util.declare import Flag, at_least, option

NAME = 'pggan'
TITLE = 'Progressive GAN'
SCHEDULE_OPTIONS = ScheduleOptions      # Its `sched` (field flags: --minibatch_base, --G_lrate_dict, ...).


@dataclasses.dataclass
class Options:
    G_smoothing: float = option(0.999, 'Beta of the Gs moving average.', 'schedule')
    D_repeats: int = option(1, 'D steps per G step.', 'schedule', check=at_least(1))


def _both(name, kind, help, **kwargs):
    return Flag(name, kind, help, 'network', to=(f'G_kwargs.{name}', f'D_kwargs.{name}'), **kwargs)


def _G(name, kind, help, **kwargs):
    return Flag(name, kind, help, 'network', to=(f'G_kwargs.{name}',), **kwargs)


# Arguments of G_paper / D_paper (pggan/networks.py); the preset's value, else the constructor's default.
FLAGS = (
    _both('structure', str, 'Network structure.', choices=('linear', 'recursive')),
    _both('fused_scale', bool, 'Fused up/down-sampling convolutions.'),
    _both('use_wscale', bool, 'Equalized learning rate.'),
    _G('use_pixelnorm', bool, 'Pixelwise feature normalization in G.'),
    _G('use_leakyrelu', bool, 'Leaky ReLU (else ReLU) in G.'),
)
RUN_DEFAULTS = {}                       # The shared options' defaults are the official ProGAN ones.


def validate(opts):
    """No checks of its own beyond the declared ones."""


def default_config(data_given):
    """Without --data the embedded Fashion-MNIST run; with it the official default (with its fp32 limits)."""
    return 'preset-v2-1gpu' if data_given else 'cpu-fashion32'


_FP32_LIMITS = {'max_minibatch_per_gpu': {256: 16, 512: 8, 1024: 4}}  # Official "-fp32" line, on by default.

# Official config.py presets; "cpu-fashion32" is ours: the default run, about 9 minutes on 2 CPU cores (README).
PRESETS = {
    'preset-v1-1gpu': dict(num_gpus=1, D=dict(mbstd_group_size=16), total_kimg=19000,
                           sched=dict(minibatch_base=16, minibatch_dict={256: 14, 512: 6, 1024: 3},
                                      lod_training_kimg=800, lod_transition_kimg=800, **_FP32_LIMITS)),
    'preset-v2-1gpu': dict(num_gpus=1, total_kimg=12000,
                           sched=dict(minibatch_base=4, minibatch_dict={4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4},
                                      G_lrate_dict={1024: 0.0015}, D_lrate_dict={1024: 0.0015}, **_FP32_LIMITS)),
    'preset-v2-2gpus': dict(num_gpus=2, total_kimg=12000,
                            sched=dict(minibatch_base=8, minibatch_dict={4: 256, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8},
                                       G_lrate_dict={512: 0.0015, 1024: 0.002}, D_lrate_dict={512: 0.0015, 1024: 0.002}, **_FP32_LIMITS)),
    'preset-v2-4gpus': dict(num_gpus=4, total_kimg=12000,
                            sched=dict(minibatch_base=16, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32, 128: 16},
                                       G_lrate_dict={256: 0.0015, 512: 0.002, 1024: 0.003},
                                       D_lrate_dict={256: 0.0015, 512: 0.002, 1024: 0.003}, **_FP32_LIMITS)),
    'preset-v2-8gpus': dict(num_gpus=8, total_kimg=12000,
                            sched=dict(minibatch_base=32, minibatch_dict={4: 512, 8: 256, 16: 128, 32: 64, 64: 32},
                                       G_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003},
                                       D_lrate_dict={128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}, **_FP32_LIMITS)),
    'cpu-fashion32': dict(num_gpus=1, total_kimg=54, grid_size='12x8', image_snapshot_ticks=1,
                          network_snapshot_ticks=6, swd_images=2048,
                          G_smoothing=0.99,  # Half-life of ~2 kimg: 0.999 would leave Gs mostly at its init in 54 kimg.
                          G=dict(fmap_base=256, fmap_max=64, latent_size=64), D=dict(fmap_base=256, fmap_max=64),
                          # Minibatch 16 and lr 0.0015 (official 0.001) reach clothing-like samples within the budget.
                          sched=dict(minibatch_base=16, G_lrate_base=0.0015, D_lrate_base=0.0015, lod_training_kimg=6,
                                     lod_transition_kimg=6, tick_kimg_base=3, tick_kimg_dict={})),
}
