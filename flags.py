"""Command-line flags of train.py and the official presets (`config.py` of the official ProGAN code).

A preset sets defaults; every flag given on the command line overrides it. Dicts keyed by resolution are
written `4:128,8:128,...`.
"""
from absl import flags

F = flags.FLAGS

flags.DEFINE_enum('model', 'pggan', ['pggan', 'stylegan2'], 'Model family.')
flags.DEFINE_string('config', None, 'Preset (see PRESETS / SG2_PRESETS). pggan default: "cpu-fashion32" without '
                    '--data, "preset-v2-1gpu" (the official default, with its fp32 per-GPU limits) with --data; '
                    'stylegan2 default: config-f (official run_training.py).')
flags.DEFINE_string('data', None, 'TFRecord dataset directory (data.dataset_tool). Default: the embedded '
                    'Fashion-MNIST test split, written once to datasets/fashion-mnist-32.')
flags.DEFINE_string('result_dir', 'results', 'Where numbered run directories are created.')
flags.DEFINE_string('desc', None, 'Run directory suffix (default: model-dataset-config).')
flags.DEFINE_string('resume', None, 'Continue from a snapshot directory, a run directory (its newest valid '
                    'snapshot; a new run directory is made), or "latest": the newest run with this --desc, in place.')
flags.DEFINE_string('run_dir', None, 'Use exactly this run directory instead of a new numbered one in --result_dir.')
flags.DEFINE_bool('auto_resume', False, 'If the run directory (--run_dir, or the newest run with this --desc) holds '
                  'a snapshot, continue from its newest valid one; otherwise start fresh. For job schedulers.')
flags.DEFINE_integer('keep_snapshots', None, 'Keep the newest N network snapshots plus the best by the first lower-is-'
                     'better metric and any holding a file named "keep" (default 0: keep all).')
flags.DEFINE_enum('nan_policy', None, ['rollback', 'stop'], 'On a non-finite loss or weight (checked once per tick): '
                  'roll back to the newest valid snapshot with lower learning rates, or stop.')
flags.DEFINE_float('nan_lr_factor', None, 'Learning-rate factor applied at each rollback (default 0.5).')
flags.DEFINE_integer('nan_max_rollbacks', None, 'Rollbacks allowed before the run stops (default 3).')
flags.DEFINE_integer('seed', None, 'Random seed (official: 1000).')
flags.DEFINE_integer('num_gpus', None, 'Replicas per machine (GPUs; logical CPU devices on a CPU-only host).')
flags.DEFINE_string('worker_hosts', None, 'Multi-machine training: host:port of every worker, comma-separated, the '
                    'same on all (writes TF_CONFIG; or set TF_CONFIG yourself). Needs --run_dir on a shared filesystem.')
flags.DEFINE_string('tpu', None, 'Train with TPUStrategy on this TPU: its name, grpc://host:port, or local (TPU VM). '
                    'Untried (see README).')
flags.DEFINE_integer('task_index', None, 'With --worker_hosts: this machine\'s position in the list (0 = chief).')
flags.DEFINE_float('total_kimg', None, 'Training length in thousands of real images.')
flags.DEFINE_bool('mirror_augment', None, 'Random left-right flips of the reals.')
flags.DEFINE_string('cond', None, 'Conditioning: 0 = none, full = all label components, N = first N components.')
flags.DEFINE_integer('shuffle_mb', None, 'Input shuffle window in MB (official 4096).')
flags.DEFINE_string('grid_size', None, 'Snapshot grid: 1080p, 4k or WxH.')
flags.DEFINE_integer('image_snapshot_ticks', None, 'Ticks between fakes grids.')
flags.DEFINE_integer('network_snapshot_ticks', None, 'Ticks between network snapshots.')
flags.DEFINE_bool('xla', None, 'Compile the loss/gradient computation with XLA (jit_compile).')
flags.DEFINE_integer('profile', None, 'Write a TensorBoard profiler trace of this many minibatch groups (each '
                     '--minibatch_repeats minibatches), after the first, into <run_dir>/profile.')
flags.DEFINE_integer('swd_images', None, 'Images for the SWD printed at the end (0 = skip).')
# Loop.
flags.DEFINE_float('G_smoothing', None, 'Beta of the Gs moving average.')
flags.DEFINE_integer('D_repeats', None, 'D steps per G step.')
flags.DEFINE_integer('minibatch_repeats', None, 'Minibatches between schedule updates.')
flags.DEFINE_bool('reset_opt_for_new_lod', None, 'Reset Adam when new layers are faded in.')
# Schedule (official TrainingSchedule arguments).
flags.DEFINE_integer('lod_initial_resolution', None, 'Resolution at the start of training.')
flags.DEFINE_float('lod_training_kimg', None, 'kimg per resolution before fading in the next.')
flags.DEFINE_float('lod_transition_kimg', None, 'kimg of each fade-in.')
flags.DEFINE_integer('minibatch_base', None, 'Minibatch (global) where minibatch_dict has no entry.')
flags.DEFINE_string('minibatch_dict', None, 'Per-resolution minibatch, e.g. 4:128,8:128,16:128,32:64.')
flags.DEFINE_string('max_minibatch_per_gpu', None, 'Per-resolution limit per GPU, e.g. 256:16,512:8.')
flags.DEFINE_float('G_lrate_base', None, 'Generator learning rate.')
flags.DEFINE_string('G_lrate_dict', None, 'Per-resolution generator learning rate, e.g. 1024:0.0015.')
flags.DEFINE_float('D_lrate_base', None, 'Discriminator learning rate.')
flags.DEFINE_string('D_lrate_dict', None, 'Per-resolution discriminator learning rate.')
flags.DEFINE_float('tick_kimg_base', None, 'kimg per tick where tick_kimg_dict has no entry.')
flags.DEFINE_string('tick_kimg_dict', None, 'Per-resolution tick length.')
# Networks (official G_paper / D_paper arguments).
flags.DEFINE_integer('fmap_base', None, 'Overall multiplier for the number of feature maps.')
flags.DEFINE_float('fmap_decay', None, 'log2 feature map reduction when doubling the resolution.')
flags.DEFINE_integer('fmap_max', None, 'Maximum number of feature maps in any layer.')
flags.DEFINE_integer('latent_size', None, 'Latent dimensionality (default min(fmap_base, fmap_max)).')
flags.DEFINE_integer('mbstd_group_size', None, 'Minibatch stddev group size, 0 = off.')
flags.DEFINE_enum('structure', None, ['linear', 'recursive'], 'Network structure.')
flags.DEFINE_bool('fused_scale', None, 'Fused up/down-sampling convolutions.')
flags.DEFINE_bool('use_pixelnorm', None, 'Pixelwise feature normalization in G.')
flags.DEFINE_bool('use_wscale', None, 'Equalized learning rate.')
flags.DEFINE_bool('use_leakyrelu', None, 'Leaky ReLU (else ReLU) in G.')
flags.DEFINE_bool('normalize_latents', None, 'Pixel-normalize the latents.')
# StyleGAN2 (official run_training.py / training_loop.py arguments).
flags.DEFINE_float('gamma', None, 'StyleGAN2: R1 weight (config-e: 100, others: 10).')
flags.DEFINE_integer('minibatch_size', None, 'StyleGAN2: global minibatch at every resolution (official 32; '
                     'configs a-d: 256 at 8x8 down to 32 from 64x64).')
flags.DEFINE_integer('minibatch_gpu', None, 'StyleGAN2: samples per GPU and round (official 4); more rounds '
                     'accumulate gradients.')
flags.DEFINE_float('lrate', None, 'StyleGAN2: learning rate of G and D (official 0.002).')
flags.DEFINE_float('lrate_rampup_kimg', None, 'StyleGAN2: learning-rate ramp-up.')
flags.DEFINE_float('G_smoothing_kimg', None, 'StyleGAN2: half-life of the Gs moving average.')
flags.DEFINE_bool('lazy_regularization', None, 'StyleGAN2: separate, less frequent regularization steps.')
flags.DEFINE_integer('G_reg_interval', None, 'StyleGAN2: minibatches between path-length steps.')
flags.DEFINE_integer('D_reg_interval', None, 'StyleGAN2: minibatches between R1 steps.')
flags.DEFINE_integer('mapping_layers', None, 'StyleGAN2: layers of the mapping network.')
flags.DEFINE_integer('dlatent_size', None, 'StyleGAN2: w dimensionality.')
flags.DEFINE_bool('fp16', None, 'StyleGAN2 mixed precision as StyleGAN2-ADA: --num_fp16_res=4 --conv_clamp=256.')
flags.DEFINE_integer('num_fp16_res', None, 'StyleGAN2: run the N highest resolutions of G and D in --fp16_dtype '
                     '(0 = float32).')
flags.DEFINE_float('conv_clamp', None, 'StyleGAN2: clamp conv outputs to +-X (ADA uses 256 with float16).')
flags.DEFINE_enum('fp16_dtype', None, ['float16', 'bfloat16'], 'StyleGAN2: dtype of the --num_fp16_res resolutions; '
                  'bfloat16 needs no loss scaling.')
flags.DEFINE_float('loss_scaling_init', None, 'StyleGAN2 float16: initial log2 of the dynamic loss scale (15).')

_FP32_LIMITS = {'max_minibatch_per_gpu': {256: 16, 512: 8, 1024: 4}}  # Official "-fp32" line, on by default.

# Official config.py presets; "cpu-fashion32" is ours: the default run, about 12 minutes on 2 CPU cores.
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
    'cpu-fashion32': dict(num_gpus=1, total_kimg=54, grid_size='12x8', xla=True, image_snapshot_ticks=1,
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



# --------------------------------------------------------------------------------------------------------
# Metrics and monitoring (common/metrics, common/tensorboard.py).
flags.DEFINE_list('metrics', None, 'Metrics at each network snapshot (or none): fid50k_full, kid50k_full, '
                  'pr50k3_full, ppl2_wend, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, is50k, fid50k, kid50k, pr50k3, '
                  'swd, msssim; counts may vary (fid2k_full, swd4k). See common/metrics/metric_main.py.')
flags.DEFINE_enum('feature_net', None, ['official', 'random'], 'Feature networks of FID/KID/IS/PR/PPL: the files '
                  'below (official) or randomly initialised ones (random: a labelled smoke test, meaningless numbers).')
flags.DEFINE_string('inception', None, 'inception_v3_features.pkl (or Keras InceptionV3 .h5) for FID/KID/IS '
                    '(default: $STYLEGAN2_INCEPTION).')
flags.DEFINE_string('vgg16', None, 'vgg16_zhang_perceptual.pkl for PPL (default: $STYLEGAN2_VGG16).')
flags.DEFINE_string('vgg16_features', None, 'Keras VGG16 .h5 with its top for PR (default: $STYLEGAN2_VGG16_FEATURES).')
flags.DEFINE_integer('metric_images', None, 'Replaces the image count of every metric (cheap runs on CPU).')
flags.DEFINE_string('metrics_cache', None, 'Dataset statistics cache (default: $GAN_METRICS_CACHE or '
                    '~/.cache/gan-metrics).')
flags.DEFINE_bool('tensorboard', False, 'Start TensorBoard on the run directory beside the training.')


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
