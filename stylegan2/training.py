"""What training needs that is StyleGAN2's own (configs a-f of NVlabs/stylegan2): networks, the four
phases with lazy regularization, and the Gs moving average with a half-life in images.

Configs a-d grow progressively (`sched.lod_initial_resolution`): G, D and Gs hold `lod`, set from the
schedule; each phase is traced for its resolution with the static `level` = floor(lod) (one graph per
resolution, no tf.cond); reals are faded and upscaled by `process_reals`; style mixing draws its cutoff from
the layers in use; the optimizers are reset when new layers come in (`reset_opt_for_new_lod`).
Configs a-c have no path-length regularization (`G_loss.func_name = 'G_logistic_ns'`), a and b no lazy
regularization: their R1 (and path length, if any) is added to every main step.

Phases, in the official order of one minibatch: Gmain, Greg (every G_reg_interval), Dmain (followed by
the Gs update), Dreg (every D_reg_interval). With lazy regularization one Adam per network serves both
its main and its reg phase (the official `share=`), with learning rate x k/(k+1) and betas ^ k/(k+1),
and the regularizer is multiplied by k.
"""
import keras
import numpy as np
import tensorflow as tf

from common.ops.augment import AugmentPipe
from common.ops.layers import process_reals
from common.training.ada import AdaptiveAugment
from common.training.run_dir import resumes_from_pickle
from common.ops.mixed_precision import LossScale
from common.util.cli import OptionsError
from common.training.freeze import trained_variables
from common.training.schedule import training_schedule
from common.training.phases import Phase, TrainingParts
from stylegan2 import loss as losses
from stylegan2.loading import build_networks

# Purposes of the stateless random draws (see RoundContext); noise layers take a block of 32 each.
_GMAIN, _GREG, _DMAIN = 0, 64, 128
_NOISE = 32
# Purposes of the augmentations of D's inputs (RoundContext.augment keys them apart from the draws above).
_AUG_GMAIN_FAKES, _AUG_DMAIN_FAKES, _AUG_DMAIN_REALS, _AUG_DREG_REALS = range(4)


def network_kwargs(opts, dataset):
    shape = dict(num_channels=dataset.num_channels, resolution=dataset.resolution, label_size=dataset.label_size)
    return {'G': {**opts.G_kwargs, **shape}, 'D': {**opts.D_kwargs, **shape}}


def make_adam(opt_args, reg_interval, lazy):
    """Official lazy-regularization adjustment of Adam: lr x mb_ratio (applied in configure) and betas ^ mb_ratio."""
    ratio = reg_interval / (reg_interval + 1) if lazy else 1.0
    adam = keras.optimizers.Adam(learning_rate=0.002, beta_1=opt_args['beta1'] ** ratio,
                                 beta_2=opt_args['beta2'] ** ratio, epsilon=opt_args['epsilon'])
    return adam, ratio


def build(opts, dataset, strategy):
    kwargs = network_kwargs(opts, dataset)
    lazy = opts.lazy_regularization
    with strategy.scope():
        G, D, Gs = build_networks(kwargs)
        Gs.set_weights(G.get_weights())
        G_opt, G_ratio = make_adam(opts.G_opt, opts.G_reg_interval, lazy)
        D_opt, D_ratio = make_adam(opts.D_opt, opts.D_reg_interval, lazy)
        G_vars, D_vars = trained_variables(G, G.synthesis.layers_by_scope, D, opts, dataset.resolution_log2)
        G_opt.build(G_vars)
        D_opt.build(D_vars)
        pl_mean = tf.Variable(0.0, trainable=False, name='pl_mean',
                              aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        augment = augmentation(opts, dataset.resolution)
        images_shown = tf.Variable(0.0, trainable=False, dtype=tf.float64, name='images_shown',
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        # One dynamic loss scale per optimizer (official tflib), where that network has float16 blocks.
        G_scale, D_scale = (LossScale(name, opts.loss_scaling_init) if _uses_float16(net, kwargs[key], key) else None
                            for name, net, key in (('TrainG', G.synthesis, 'G'), ('TrainD', D, 'D')))
    progressive = opts.sched.lod_initial_resolution is not None
    growing = [net for net in (G.synthesis, Gs.synthesis, D) if hasattr(net, 'lod')]
    if progressive and len(growing) < 3:
        raise OptionsError(f'lod_initial_resolution={opts.sched.lod_initial_resolution}: progressive growing needs '
                           f'networks that grow (config-a..d: G_style / G_synthesis_stylegan_revised, D_basic / '
                           f'D_stylegan), not {type(G.synthesis).__name__} / {type(D).__name__}')
    labels_table = tf.constant(dataset.labels if dataset.label_size else np.zeros([1, 0], np.float32))
    noise_sizes = G.synthesis.noise_sizes
    mixing_prob = G.style_mixing_prob
    pl_args = dict(opts.G_loss)
    path_length = pl_args.pop('func_name', 'G_logistic_ns_pathreg') == 'G_logistic_ns_pathreg'
    shrink = int(pl_args.pop('pl_minibatch_shrink', 2))

    def level(ctx):  # floor(lod) at this resolution: static within a resolution (see module doc).
        return dataset.resolution_log2 - int(np.log2(ctx.resolution)) if progressive else None

    def full_reals(reals):
        return process_reals(reals, D.lod.value, dataset.resolution) if progressive else reals

    def random_labels(ctx, purpose, shrink=1):
        if not dataset.label_size:
            return tf.zeros([ctx.per_round // shrink, 0])
        idx = ctx.uniform([], purpose, shrink=shrink, maxval=labels_table.shape[0], dtype=tf.int32)
        return tf.gather(labels_table, idx)

    def fakes_args(ctx, base, shrink=1):
        """Latents, style mixing (one cutoff for the whole batch, as official, among the layers in use:
        2 * floor(lod) fewer while growing) and per-layer noise; the level of detail."""
        args = dict(noise=[ctx.normal([s, s, 1], base + _NOISE + i, shrink) for i, s in enumerate(noise_sizes)],
                    level=level(ctx), assign=ctx.assign_after)
        if mixing_prob:
            cur_layers = G.num_ws - 2 * (level(ctx) or 0)
            mix = ctx.scalar_uniform(base + 2) < mixing_prob
            cutoff = ctx.scalar_uniform(base + 3, minval=1, maxval=cur_layers, dtype=tf.int32)
            args.update(mixing_latents=ctx.normal([G.z_dim], base + 1, shrink),
                        mixing_cutoff=tf.where(mix, cutoff, cur_layers))
        return args

    def augmented(ctx, purpose):  # ada-pytorch run_D: the pipe on every image D scores (None: --aug=noaug).
        return (lambda images: ctx.augment(augment.pipe, images, purpose)) if augment else None

    def G_main(ctx):
        loss, stats = losses.G_logistic_ns(G, D, ctx.normal([G.z_dim], _GMAIN), random_labels(ctx, _GMAIN + 4),
                                           augment=augmented(ctx, _AUG_GMAIN_FAKES), **fakes_args(ctx, _GMAIN))
        if not lazy and path_length:
            reg, reg_stats = G_reg_term(ctx)
            loss, stats = loss + reg, {**stats, **reg_stats}
        return loss, {'Loss/G': loss, **stats}

    def G_reg_term(ctx):
        pl_noise_shape = [dataset.resolution, dataset.resolution, dataset.num_channels]
        reg, new_mean, stats = losses.G_pathreg(
            G, ctx.normal([G.z_dim], _GREG, shrink), random_labels(ctx, _GREG + 4, shrink),
            ctx.normal(pl_noise_shape, _GREG + 5, shrink), pl_mean.value(), **pl_args, **fakes_args(ctx, _GREG, shrink))
        ctx.assign_after(pl_mean, new_mean)
        # Shrunk batch: each sample's penalty counts `shrink` times so that the sum / global batch is the
        # official mean over the shrunk batch.
        return reg * shrink, {**stats, 'Loss/pl_mean': new_mean * ctx.per_round}

    def G_reg(ctx):
        reg, stats = G_reg_term(ctx)
        return reg * opts.G_reg_interval, {'Loss/G_reg': reg, **stats}

    def D_main(ctx, reals, labels):
        reals = full_reals(reals)
        loss, stats = losses.D_logistic(G, D, ctx.normal([G.z_dim], _DMAIN), labels, reals,
                                        augment_reals=augmented(ctx, _AUG_DMAIN_REALS),
                                        augment_fakes=augmented(ctx, _AUG_DMAIN_FAKES), **fakes_args(ctx, _DMAIN))
        if not lazy:  # ada-pytorch 'Dboth': R1 of the same augmented reals (their signs counted once).
            reg, reg_stats = losses.D_r1(D, reals, labels, level=level(ctx), augment=augmented(ctx, _AUG_DMAIN_REALS),
                                         **opts.D_loss)
            loss, stats = loss + reg, {**stats, **reg_stats}
        return loss, {'Loss/D': loss, **stats}

    def D_reg(ctx, reals, labels):
        reg, stats = losses.D_r1(D, full_reals(reals), labels, level=level(ctx),
                                 augment=augmented(ctx, _AUG_DREG_REALS), **opts.D_loss)
        return reg * opts.D_reg_interval, {'Loss/D_reg': reg, **stats}

    rampup = ema_rampup(opts)

    def update_Gs(global_batch):
        if rampup is not None:  # StyleGAN2-ADA: a shorter half-life early in training.
            ema_nimg = tf.minimum(tf.constant(opts.G_smoothing_kimg * 1000.0, tf.float64),
                                  images_shown * rampup)
            beta = tf.cast(tf.pow(tf.constant(0.5, tf.float64), global_batch / tf.maximum(ema_nimg, 1e-8)), tf.float32)
        else:
            beta = 0.5 ** (global_batch / (opts.G_smoothing_kimg * 1000.0)) if opts.G_smoothing_kimg > 0 else 0.0
        for gs_var, g_var in zip(Gs.weights, G.weights):  # dlatent_avg too (official: non-trainables beta 0).
            gs_var.assign(g_var + (gs_var - g_var) * (beta if g_var.trainable else 0.0))

    def configure(sched):
        for net in growing:
            net.lod.assign(sched.lod)
        G_opt.learning_rate.assign(sched.G_lrate * G_ratio)
        D_opt.learning_rate.assign(sched.D_lrate * D_ratio)

    phases = [Phase('Gmain', G_main, G_opt, G_vars, uses_reals=False, loss_scale=G_scale,
                    xla=opts.xla, all_reduces=path_length and not lazy)]
    if lazy and path_length:
        phases.append(Phase('Greg', G_reg, G_opt, G_vars, uses_reals=False, interval=opts.G_reg_interval,
                            loss_scale=G_scale, xla=opts.xla, all_reduces=True))
    phases.append(Phase('Dmain', D_main, D_opt, D_vars, uses_reals=True, after=update_Gs,
                        loss_scale=D_scale, xla=opts.xla))
    if lazy:
        phases.append(Phase('Dreg', D_reg, D_opt, D_vars, uses_reals=True, interval=opts.D_reg_interval,
                            loss_scale=D_scale, xla=opts.xla))
    extra_state = {'pl_mean': pl_mean, **(augment.trackables() if augment else {})}
    loss_scales = {scale.name: scale for scale in (G_scale, D_scale) if scale}
    for scale in loss_scales.values():
        extra_state.update(scale.trackables())
    return TrainingParts(
        model='stylegan2', nets={'G': G, 'D': D, 'Gs': Gs}, optimizers={'G_opt': G_opt, 'D_opt': D_opt},
        network_kwargs=kwargs, phases=phases, configure=configure,
        schedule=lambda nimg: training_schedule(nimg, dataset.resolution_log2, strategy.num_replicas_in_sync,
                                                opts.sched),
        resets_optimizers=progressive and opts.reset_opt_for_new_lod,  # Configs e and f do not grow.
        extra_state=extra_state, loss_scales=loss_scales, augment=augment,
        images_shown=images_shown if rampup is not None else None)


def ema_rampup(opts):
    """The Gs half-life ramp-up of a run: none when fine-tuning a published network, as ada-pytorch."""
    return None if resumes_from_pickle(opts) else opts.G_smoothing_rampup


def augmentation(opts, resolution):
    """StyleGAN2-ADA's augmentation of D's inputs (ada-pytorch: a pipe only where p > 0 or p adapts), with
    ada-pytorch's defaults for the flags not given: p 0, target 0.6, pipe bgc, ada_kimg 500 (100 from a pickle)."""
    p = opts.augment_p or 0.0
    if opts.aug == 'noaug' or (opts.aug == 'fixed' and p == 0):
        return None
    name = opts.augpipe or 'bgc'
    pipe = AugmentPipe.from_preset(name)
    if resolution < pipe.min_resolution:
        m = pipe.min_resolution
        raise OptionsError(f'--augpipe={name}: its image filter needs images of at least {m}x{m} (this dataset: '
                           f'{resolution}x{resolution}); use a pipe without it, such as bgc')
    pipe.p.assign(p)
    kimg = opts.ada_kimg or (100 if resumes_from_pickle(opts) else 500)
    target = (0.6 if opts.ada_target is None else opts.ada_target) if opts.aug == 'ada' else None
    return AdaptiveAugment(pipe, target=target, interval=opts.ada_interval, kimg=kimg)


def _uses_float16(net, kwargs, key):
    """Whether `net` has float16 blocks (which need loss scaling; bfloat16 does not)."""
    if kwargs.get('num_fp16_res') and not hasattr(net, 'dtypes'):
        raise OptionsError(f'--num_fp16_res={kwargs["num_fp16_res"]}: mixed precision needs the StyleGAN2 networks '
                           f'of configs e and f, not {type(net).__name__} ({key})')
    return tf.float16 in getattr(net, 'dtypes', {}).values()
