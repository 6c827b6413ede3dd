"""StyleGAN2 losses (`training/loss.py` of NVlabs/stylegan2): non-saturating logistic loss with path-length
regularization for G, logistic loss with R1 for D.

Losses return per-replica *sums* over samples, to be divided by the global batch (the official per-GPU
`reduce_mean`, averaged over GPUs, is the same global mean). Regularizers are returned separately so that
they can run lazily; the caller multiplies them by the interval.

`level` (progressive configs a-d): floor(lod) of the current resolution, passed on to the growing networks
(see stylegan2/networks_progressive.py); None for networks that do not grow.

`augment` (StyleGAN2-ADA, ada-pytorch `run_D`): images -> augmented images, applied to everything D scores;
R1 is taken with respect to the un-augmented reals, through the augmentation. The signs of the real scores
are reported (`Loss/signs/real`, sums) for ADA's overfitting heuristic, as ada-pytorch reports them.
"""
import numpy as np
import tensorflow as tf


def _at(level):
    return {} if level is None else {'level': level}


def generate(G, latents, labels, noise=None, mixing_latents=None, mixing_cutoff=None, update_w_avg=True, level=None,
             assign=None):
    """Fakes and their ws as G_main does during training: the tracked dlatent_avg is updated from the
    batch (first ws, before mixing; written by `assign(variable, value)` when given), style mixing replaces
    the layers from `mixing_cutoff` on by those of `mixing_latents`, and `noise` (per-layer tensors, drawn
    by the caller) feeds the noise inputs."""
    ws = G.mapping(latents, labels)
    if update_w_avg and G.dlatent_avg_beta is not None:
        G.mapping.update_w_avg(tf.reduce_mean(ws[:, 0], axis=0), G.dlatent_avg_beta, assign)
    if mixing_latents is not None:
        ws2 = G.mapping(mixing_latents, labels)
        layer = tf.range(ws.shape[1])[tf.newaxis, :, tf.newaxis]
        ws = tf.where(layer < mixing_cutoff, ws, ws2)
    return G.synthesis(ws, noise_mode='random', noise=noise, **_at(level)), ws


def _scored(augment, images):
    return images if augment is None else augment(images)


def G_logistic_ns(G, D, latents, labels, level=None, augment=None, **mixing):
    fakes, _ = generate(G, latents, labels, level=level, **mixing)
    fake_scores = D(_scored(augment, fakes), labels, **_at(level))
    loss = tf.reduce_sum(tf.nn.softplus(-fake_scores))
    return loss, {'Loss/scores/fake': tf.reduce_sum(fake_scores)}


def G_pathreg(G, pl_latents, pl_labels, pl_noise, pl_mean, pl_decay=0.01, pl_weight=2.0, level=None, **mixing):
    """Path-length regularizer on a (shrunk) minibatch. Returns (sum of penalties, new pl_mean, stats).
    `pl_noise` is N(0, 1) of the images' shape; it is scaled by 1/sqrt(H*W) here as official.
    `pl_mean` is updated from the global mean of the lengths (the caller all-reduces it)."""
    with tf.GradientTape() as tape:
        fakes, ws = generate(G, pl_latents, pl_labels, update_w_avg=True, level=level, **mixing)
        tape.watch(ws)
        noise = pl_noise / np.sqrt(fakes.shape[1] * fakes.shape[2])
        out = tf.reduce_sum(fakes * noise)
    grads = tape.gradient(out, ws)
    lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=2), axis=1))
    ctx = tf.distribute.get_replica_context()
    global_mean = tf.reduce_mean(lengths)
    if ctx.num_replicas_in_sync > 1:  # (Alone, skipping it keeps this function free of sync points for XLA.)
        global_mean = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, global_mean)
    new_mean = pl_mean + pl_decay * (global_mean - pl_mean)
    penalty = tf.reduce_sum(tf.square(lengths - new_mean))
    return penalty * pl_weight, new_mean, {'Loss/pl_lengths': tf.reduce_sum(lengths), 'Loss/pl_penalty': penalty}


def D_logistic(G, D, latents, labels, reals, level=None, augment_reals=None, augment_fakes=None, **mixing):
    fakes, _ = generate(G, latents, labels, level=level, **mixing)
    real_scores = D(_scored(augment_reals, reals), labels, **_at(level))
    fake_scores = D(_scored(augment_fakes, fakes), labels, **_at(level))
    loss = tf.reduce_sum(tf.nn.softplus(fake_scores)) + tf.reduce_sum(tf.nn.softplus(-real_scores))
    return loss, {'Loss/scores/real': tf.reduce_sum(real_scores), 'Loss/scores/fake': tf.reduce_sum(fake_scores),
                  'Loss/signs/real': tf.reduce_sum(tf.sign(real_scores))}


def D_r1(D, reals, labels, gamma=10.0, level=None, augment=None):
    """R1: gamma/2 * |grad D(reals)|^2 per sample, summed."""
    with tf.GradientTape() as tape:
        tape.watch(reals)
        real_scores = D(_scored(augment, reals), labels, **_at(level))
        total = tf.reduce_sum(real_scores)
    grads = tape.gradient(total, reals)
    penalty = tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])
    return tf.reduce_sum(penalty) * (gamma * 0.5), {'Loss/r1_penalty': tf.reduce_sum(penalty),
                                                    'Loss/signs/real': tf.reduce_sum(tf.sign(real_scores))}
