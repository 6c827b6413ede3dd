"""ProGAN losses (`loss.py` of the official code): WGAN-GP with the epsilon drift term, plus the AC-GAN
label terms when the networks are conditional.

Each function returns per-replica *sums* over its samples, to be divided by the global batch: the
official per-GPU `reduce_mean` averaged over GPUs is the same global mean. (The official code adds [N]
label penalties to [N, 1] scores, broadcasting to [N, N]; its mean equals the sum of the separate means
taken here.)
"""
import tensorflow as tf


def _xent(labels, logits):
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def G_wgan_acgan(G, D, latents, labels, cond_weight=1.0, level=None):
    fakes = G(latents, labels, level=level)
    fake_scores, fake_logits = D.scores_and_logits(fakes, level=level)
    loss = -tf.reduce_sum(fake_scores)
    stats = {'G/fake_scores': tf.reduce_sum(fake_scores)}
    if D.label_size > 0:
        penalty = tf.reduce_sum(_xent(labels, fake_logits))
        loss += penalty * cond_weight
        stats['G/label_penalty_fakes'] = penalty
    return loss, stats


def D_wgangp_acgan(G, D, latents, labels, reals, mixing_factors,
                   wgan_lambda=10.0,    # Weight for the gradient penalty term.
                   wgan_epsilon=0.001,  # Weight for the epsilon term, epsilon_drift.
                   wgan_target=1.0,     # Target value for gradient magnitudes.
                   cond_weight=1.0,     # Weight of the conditioning terms.
                   level=None):         # floor(lod), when known statically (training).
    fakes = G(latents, labels, level=level)
    real_scores, real_logits = D.scores_and_logits(reals, level=level)
    fake_scores, fake_logits = D.scores_and_logits(fakes, level=level)
    loss = tf.reduce_sum(fake_scores) - tf.reduce_sum(real_scores)

    mixed = reals + (fakes - reals) * mixing_factors           # [N, 1, 1, 1] factors in [0, 1).
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        mixed_scores, _ = D.scores_and_logits(mixed, level=level)
        mixed_sum = tf.reduce_sum(mixed_scores)
    mixed_grads = tape.gradient(mixed_sum, mixed)
    mixed_norms = tf.sqrt(tf.reduce_sum(tf.square(mixed_grads), axis=[1, 2, 3]))
    gradient_penalty = tf.reduce_sum(tf.square(mixed_norms - wgan_target))
    loss += gradient_penalty * (wgan_lambda / (wgan_target ** 2))

    epsilon_penalty = tf.reduce_sum(tf.square(real_scores))
    loss += epsilon_penalty * wgan_epsilon
    stats = {'D/real_scores': tf.reduce_sum(real_scores), 'D/fake_scores': tf.reduce_sum(fake_scores),
             'D/mixed_norms': tf.reduce_sum(mixed_norms), 'D/gradient_penalty': gradient_penalty,
             'D/epsilon_penalty': epsilon_penalty}
    if D.label_size > 0:
        real_pen = tf.reduce_sum(_xent(labels, real_logits))
        fake_pen = tf.reduce_sum(_xent(labels, fake_logits))
        loss += (real_pen + fake_pen) * cond_weight
        stats.update({'D/label_penalty_reals': real_pen, 'D/label_penalty_fakes': fake_pen})
    return loss, stats
