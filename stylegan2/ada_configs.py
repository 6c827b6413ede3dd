"""StyleGAN2-ADA's training configurations (ada-pytorch train.py `--cfg`: auto, stylegan2, paper256, paper512,
paper1024, cifar) as presets of this project's StyleGAN2 (`--config`, alias `--cfg`).

The numbers are ada-pytorch's `cfg_specs`: reference GPU count (which sets the per-GPU minibatch), kimg,
minibatch, minibatch-stddev group, feature-map multiplier, learning rate, R1 gamma, G EMA half-life in kimg,
EMA ramp-up and mapping depth. `auto` computes them from the resolution and the GPU count. All use ADA
(`--aug=ada`, target 0.6, pipe bgc) and ada-pytorch's mixed precision (4 highest resolutions in float16,
conv clamp 256), a tick of 4 kimg and snapshots every 50 ticks.
"""

# ada-pytorch train.py cfg_specs (note: its cifar has fmaps=1; the TF stylegan2-ada cifar has 0.5).
CFG_SPECS = {
    'stylegan2': dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema=10, ramp=None, map=8),
    'paper256': dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20, ramp=None, map=8),
    'paper512': dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema=20, ramp=None, map=8),
    'paper1024': dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema=10, ramp=None, map=8),
    'cifar': dict(ref_gpus=2, kimg=100000, mb=64, mbstd=32, fmaps=1, lrate=0.0025, gamma=0.01, ema=500, ramp=0.05,
                  map=2),
}
NAMES = ('auto',) + tuple(CFG_SPECS)


def auto_spec(resolution, num_gpus):
    """ada-pytorch's `auto` formulas: minibatch by resolution and GPU count, gamma by resolution."""
    mb = max(min(num_gpus * min(4096 // resolution, 32), 64), num_gpus)  # Keeps GPU memory at bay (official).
    return dict(ref_gpus=num_gpus, kimg=25000, mb=mb, mbstd=min(mb // num_gpus, 4),
                fmaps=1 if resolution >= 512 else 0.5, lrate=0.002 if resolution >= 1024 else 0.0025,
                gamma=0.0002 * resolution ** 2 / mb, ema=mb * 10 / 32, ramp=0.05, map=2)


def preset(name, resolution=None, num_gpus=1):
    """The preset of `--config=name` in the format of stylegan2's presets (G, D, sched and top-level options).
    `auto` needs the dataset's resolution."""
    spec = auto_spec(resolution, num_gpus) if name == 'auto' else CFG_SPECS[name]
    # ada-pytorch channel_base = fmaps * 32768 with channels = channel_base / res; the TF1 networks' fmap_base
    # counts per stage (res / 2), hence fmaps * 16384, as the TF stylegan2-ada train.py writes it.
    net = dict(fmap_base=int(spec['fmaps'] * 16384), fmap_max=512, num_fp16_res=4, conv_clamp=256)
    G = dict(net, mapping_layers=spec['map'])
    D = dict(net, mbstd_group_size=spec['mbstd'])
    top = dict(total_kimg=spec['kimg'], G_smoothing_kimg=spec['ema'], G_smoothing_rampup=spec['ramp'], aug='ada',
               D_loss=dict(gamma=spec['gamma']), image_snapshot_ticks=50, network_snapshot_ticks=50,
               sched=dict(minibatch_size_base=spec['mb'], minibatch_gpu_base=spec['mb'] // spec['ref_gpus'],
                          G_lrate_base=spec['lrate'], D_lrate_base=spec['lrate'], tick_kimg_base=4, tick_kimg_dict={}))
    if name == 'cifar':  # ada-pytorch: no path length, no style mixing, no residual D.
        G['style_mixing_prob'] = 0.0
        D['architecture'] = 'orig'
        top['G_loss'] = dict(func_name='G_logistic_ns')
    return dict(G=G, D=D, **top)
