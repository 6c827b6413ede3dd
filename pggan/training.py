"""What training needs that is ProGAN's own: networks, optimizers, the D and G steps, reals processing.

The shared loop (`common/training_loop.py`) calls `build()` once and then runs the phases it returns.
Randomness inside a step is stateless, keyed by (seed, step, purpose) and drawn for the *global* batch,
each replica taking its own rows: a step gives the same result on 1 or N replicas, and a resumed run
draws exactly what the uninterrupted run would.
"""
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from common.layers import downscale2d, lerp, upscale2d
from common.schedule import training_schedule
from common.training_loop import Phase, TrainingParts, global_slice
from pggan import loss as losses
from pggan.loading import build_networks


def network_kwargs(opts, dataset):
    """Constructor kwargs of G and D: the dataset decides channels, resolution and label size."""
    shape = dict(num_channels=dataset.num_channels, resolution=dataset.resolution, label_size=dataset.label_size)
    return {'G': {**opts.G_kwargs, **shape}, 'D': {**opts.D_kwargs, **shape}}


def process_reals(x, lod, full_resolution):
    """Official `process_reals` after the dynamic range (done by the input pipeline): cross-fade the reals
    between this resolution and the next lower one like the generator's fade-in, then upscale (nearest)
    to the networks' full resolution. x: [N, r, r, C] at the schedule's current resolution."""
    y = upscale2d(downscale2d(x))
    x = lerp(x, y, lod - tf.floor(lod))
    return upscale2d(x, full_resolution // x.shape[1])


def make_adam(opts_dict):
    return keras.optimizers.Adam(learning_rate=0.001, beta_1=opts_dict['beta1'], beta_2=opts_dict['beta2'],
                                 epsilon=opts_dict['epsilon'])


def apply(opt, grads, variables):
    """Adam step; layers not in use at this resolution get zero gradients, as under the official tf.cond:
    their first moment stays 0 (beta1 = 0), so they do not move, while the second moment decays."""
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    opt.apply_gradients(zip(grads, variables))


def build(opts, dataset, strategy):
    kwargs = network_kwargs(opts, dataset)
    with strategy.scope():
        G, D, Gs = build_networks(kwargs)
        Gs.set_weights(G.get_weights())
        G_opt, D_opt = make_adam(opts.G_opt), make_adam(opts.D_opt)
        G_opt.build(G.trainable_variables)  # Built eagerly: lazy creation inside a replica step fails.
        D_opt.build(D.trainable_variables)
    labels_table = tf.constant(dataset.labels if dataset.label_size else np.zeros([1, 0], np.float32))
    seed, beta = opts.random_seed, opts.G_smoothing
    full_res = dataset.resolution

    def level(resolution):  # floor(lod) of the schedule at this resolution: static within a resolution.
        return dataset.resolution_log2 - int(np.log2(resolution))

    def random_labels(step, global_batch, batch):
        if dataset.label_size == 0:
            return tf.zeros([batch, 0])
        idx = tf.random.stateless_uniform([global_batch], [seed, step * 8 + 3], maxval=labels_table.shape[0],
                                          dtype=tf.int32)
        return global_slice(tf.gather(labels_table, idx), batch)

    def d_step(step, global_batch, resolution, reals, labels):
        batch = tf.shape(reals)[0]
        latents = global_slice(tf.random.stateless_normal([global_batch, G.latent_size], [seed, step * 8 + 0]), batch)
        mixing = global_slice(tf.random.stateless_uniform([global_batch, 1, 1, 1], [seed, step * 8 + 1]), batch)
        reals = process_reals(reals, D.lod, full_res)
        with tf.GradientTape() as tape:
            loss, stats = losses.D_wgangp_acgan(G, D, latents, labels, reals, mixing, level=level(resolution),
                                                **opts.D_loss)
            loss = loss / global_batch
        apply(D_opt, tape.gradient(loss, D.trainable_variables), D.trainable_variables)
        return {'Loss/D': loss * global_batch, **stats}

    def g_step(step, global_batch, resolution, batch):
        latents = global_slice(tf.random.stateless_normal([global_batch, G.latent_size], [seed, step * 8 + 2]), batch)
        labels = random_labels(step, global_batch, batch)
        with tf.GradientTape() as tape:
            loss, stats = losses.G_wgan_acgan(G, D, latents, labels, level=level(resolution), **opts.G_loss)
            loss = loss / global_batch
        apply(G_opt, tape.gradient(loss, G.trainable_variables), G.trainable_variables)
        return {'Loss/G': loss * global_batch, **stats}

    def update_Gs():
        # Official: Gs = lerp(G, Gs, beta), run together with every D step (setup_as_moving_average_of).
        for gs_var, g_var in zip(Gs.trainable_variables, G.trainable_variables):
            gs_var.assign(g_var + (gs_var - g_var) * beta)

    def configure(sched):
        for net in (G, D, Gs):
            net.lod.assign(sched.lod)
        G_opt.learning_rate.assign(sched.G_lrate)
        D_opt.learning_rate.assign(sched.D_lrate)

    phases = [Phase('D', d_step, uses_reals=True, repeats=opts.D_repeats, after=update_Gs),
              Phase('G', g_step, uses_reals=False)]
    return TrainingParts(
        model='pggan', nets={'G': G, 'D': D, 'Gs': Gs}, optimizers={'G_opt': G_opt, 'D_opt': D_opt},
        network_kwargs=kwargs, phases=phases, configure=configure,
        schedule=lambda nimg: training_schedule(nimg, dataset.resolution_log2, strategy.num_replicas_in_sync,
                                                opts.sched),
        resets_optimizers=opts.reset_opt_for_new_lod,
        generate=lambda z, c: Gs(z, c),
        latent_size=G.latent_size)
