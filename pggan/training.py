"""What training needs that is ProGAN's own: networks, optimizers, losses as phases, reals processing.

The shared loop (`common/training/loop.py`, through `pggan/family.py`) calls `build()` once and then runs the phases: D (each run
followed by the Gs moving-average update, as the official code runs them together), then G.
"""
import keras
import numpy as np
import tensorflow as tf

from common.ops.layers import process_reals
from common.training.freeze import trained_variables
from common.training.schedule import training_schedule
from common.training.phases import Phase, TrainingParts
from pggan import loss as losses
from pggan.loading import build_networks

# Purposes of the stateless random draws (see RoundContext).
_D_LATENTS, _D_MIXING, _G_LATENTS, _G_LABELS = 0, 1, 2, 3


def network_kwargs(opts, dataset):
    """Constructor kwargs of G and D: the dataset decides channels, resolution and label size."""
    shape = dict(num_channels=dataset.num_channels, resolution=dataset.resolution, label_size=dataset.label_size)
    return {'G': {**opts.G_kwargs, **shape}, 'D': {**opts.D_kwargs, **shape}}


def make_adam(opts_dict):
    return keras.optimizers.Adam(learning_rate=0.001, beta_1=opts_dict['beta1'], beta_2=opts_dict['beta2'],
                                 epsilon=opts_dict['epsilon'])


def build(opts, dataset, strategy):
    kwargs = network_kwargs(opts, dataset)
    with strategy.scope():
        G, D, Gs = build_networks(kwargs)
        Gs.set_weights(G.get_weights())
        G_vars, D_vars = trained_variables(G, G.layers_by_scope, D, opts, dataset.resolution_log2)
        G_opt, D_opt = make_adam(opts.G_opt), make_adam(opts.D_opt)
        G_opt.build(G_vars)  # Built eagerly: lazy creation inside a replica step fails.
        D_opt.build(D_vars)
    labels_table = tf.constant(dataset.labels if dataset.label_size else np.zeros([1, 0], np.float32))

    def level(ctx):  # floor(lod) at this resolution: static within a resolution, so no tf.cond is needed.
        return dataset.resolution_log2 - int(np.log2(ctx.resolution))

    def D_loss(ctx, reals, labels):
        latents = ctx.normal([G.latent_size], _D_LATENTS)
        mixing = ctx.uniform([1, 1, 1], _D_MIXING)
        reals = process_reals(reals, D.lod, dataset.resolution)
        loss, stats = losses.D_wgangp_acgan(G, D, latents, labels, reals, mixing, level=level(ctx), **opts.D_loss)
        return loss, {'Loss/D': loss, **stats}

    def G_loss(ctx):
        latents = ctx.normal([G.latent_size], _G_LATENTS)
        if dataset.label_size:  # Official get_random_labels_tf: random rows of the dataset's labels.
            labels = tf.gather(labels_table, ctx.uniform([], _G_LABELS, maxval=labels_table.shape[0], dtype=tf.int32))
        else:
            labels = tf.zeros([ctx.per_round, 0])
        loss, stats = losses.G_wgan_acgan(G, D, latents, labels, level=level(ctx), **opts.G_loss)
        return loss, {'Loss/G': loss, **stats}

    def update_Gs(_global_batch):
        # Official: Gs = lerp(G, Gs, beta) with a fixed beta, run together with every D step.
        for gs_var, g_var in zip(Gs.trainable_variables, G.trainable_variables):
            gs_var.assign(g_var + (gs_var - g_var) * opts.G_smoothing)

    def configure(sched):
        for net in (G, D, Gs):
            net.lod.assign(sched.lod)
        G_opt.learning_rate.assign(sched.G_lrate)
        D_opt.learning_rate.assign(sched.D_lrate)

    phases = [Phase('D', D_loss, D_opt, D_vars, uses_reals=True, repeats=opts.D_repeats,
                    after=update_Gs, xla=opts.xla),
              Phase('G', G_loss, G_opt, G_vars, uses_reals=False, xla=opts.xla)]
    return TrainingParts(
        model='pggan', nets={'G': G, 'D': D, 'Gs': Gs}, optimizers={'G_opt': G_opt, 'D_opt': D_opt},
        network_kwargs=kwargs, phases=phases, configure=configure,
        schedule=lambda nimg: training_schedule(nimg, dataset.resolution_log2, strategy.num_replicas_in_sync,
                                                opts.sched),
        resets_optimizers=opts.reset_opt_for_new_lod)
