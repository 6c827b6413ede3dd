"""Command-line flags of train.py and the official presets (`config.py` of the official ProGAN code).

The flags are defined by group, one module each (`flags.data`, `flags.run`, ...): absl lists a module's
flags under its name, so `python train.py --help` shows them grouped (GROUPS, in this order). A preset sets
defaults; every flag given on the command line overrides it. Dicts keyed by resolution are written
`4:128,8:128,...`.
"""
from absl import flags

from . import data, run, schedule, network, regularization, metrics, scale

F = flags.FLAGS
GROUPS = (data, run, schedule, network, regularization, metrics, scale)

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
SG2_PRESETS['config-e-Gorig'] = SG2_PRESETS['config-e-Gorig-Dresnet']
SG2_PRESETS['config-e-Gresnet'] = SG2_PRESETS['config-e-Gresnet-Dresnet']
SG2_PRESETS['config-e-Dorig'] = SG2_PRESETS['config-e-Gskip-Dorig']
SG2_PRESETS['config-e-Dskip'] = SG2_PRESETS['config-e-Gskip-Dskip']


def parse_resolution_dict(name, text, value_type):
    """'4:128,8:64' -> {4: 128, 8: 64}; a clear error naming the flag otherwise."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(','))):
        try:
            k, v = item.split(':')
            out[int(k)] = value_type(v)
        except ValueError:
            raise ValueError(f'--{name}={text}: expected RES:VALUE pairs such as 4:128,8:64')
    return out


def schedule_overrides():
    """Schedule fields given on the command line."""
    out = {}
    for name in ('lod_initial_resolution', 'lod_training_kimg', 'lod_transition_kimg', 'minibatch_base',
                 'G_lrate_base', 'D_lrate_base', 'tick_kimg_base'):
        if F[name].value is not None:
            out[name] = F[name].value
    for name, kind in (('minibatch_dict', int), ('max_minibatch_per_gpu', int), ('G_lrate_dict', float),
                       ('D_lrate_dict', float), ('tick_kimg_dict', float)):
        if F[name].value is not None:
            out[name] = parse_resolution_dict(name, F[name].value, kind)
    return out


def precision_overrides():
    """The mixed-precision flags -> kwargs for both StyleGAN2 networks (--fp16: StyleGAN2-ADA's settings)."""
    out = dict(num_fp16_res=4, conv_clamp=256) if F.fp16 else {}
    for name in ('num_fp16_res', 'conv_clamp', 'fp16_dtype'):
        if F[name].value is not None:
            out[name] = F[name].value
    return out


def metric_overrides():
    """The metric flags given on the command line -> TrainingOptions.metric_kwargs entries."""
    out = {}
    for flag, key in (('feature_net', 'feature_net'), ('inception', 'inception'), ('vgg16', 'vgg16'),
                      ('vgg16_features', 'vgg16_features'), ('metric_images', 'num_images'),
                      ('metrics_cache', 'cache_dir')):
        if F[flag].value is not None:
            out[key] = F[flag].value
    return out
