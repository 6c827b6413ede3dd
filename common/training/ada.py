"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", section 3): the strength p of the AugmentPipe on D's inputs follows the overfitting heuristic
r_t = E[sign(D(real))].

As ada-pytorch's training loop: every `interval` minibatches, r_t is the mean sign of the real scores of every
phase that scored reals since the last adjustment (Dmain and Dreg, all replicas), and

    p <- max(p + sign(r_t - target) * minibatch * interval / (ada_kimg * 1000), 0).

Unlike ada-pytorch, the running sums are variables of the snapshot and p is not reset on resume, so a resumed
run adjusts p exactly as the uninterrupted one. The sums and the update stay on the device: no host read.
"""
import tensorflow as tf

SIGNS = 'Loss/signs/real'  # The per-phase statistic: sum of sign(D(augmented real)) over the phase's images.


class AdaptiveAugment:
    """The augmentation of one run: `pipe` (common.ops.augment.AugmentPipe, whose `p` is the strength) and,
    with a `target`, its adjustment; without one p stays fixed (--aug=fixed). Build inside the strategy's
    scope: the sums are replicated variables."""

    def __init__(self, pipe, target=None, interval=4, kimg=500.0):
        self.pipe, self.target, self.interval, self.kimg = pipe, target, int(interval), float(kimg)
        aggregation = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.sign_sum = tf.Variable(0.0, trainable=False, name='ada_sign_sum', aggregation=aggregation)
        self.sign_count = tf.Variable(0.0, trainable=False, name='ada_sign_count', aggregation=aggregation)

    @property
    def p(self):
        return self.pipe.p

    def trackables(self):
        """What a snapshot holds of it: p and, for an exact resume mid-interval, the running sums."""
        return {'augment_p': self.pipe.p, 'ada_sign_sum': self.sign_sum, 'ada_sign_count': self.sign_count}

    def observe(self, stats, minibatch):
        """Adds one phase run's cross-replica statistics (sums over `minibatch` images)."""
        if self.target is not None and SIGNS in stats:
            self.sign_sum.assign_add(stats[SIGNS])
            self.sign_count.assign_add(float(minibatch))

    def after_minibatch(self, step, minibatch):
        """Called with the number of minibatches run so far; adjusts p every `interval` of them."""
        if self.target is not None and step % self.interval == 0:
            self._adjust(tf.constant(minibatch * self.interval / (self.kimg * 1000), tf.float32))

    @tf.function
    def _adjust(self, rate):
        count = self.sign_count.read_value()
        r_t = self.sign_sum / tf.maximum(count, 1.0)
        adjust = tf.where(count > 0, tf.sign(r_t - self.target) * rate, 0.0)
        self.pipe.p.assign(tf.maximum(self.pipe.p + adjust, 0.0))
        self.sign_sum.assign(0.0)
        self.sign_count.assign(0.0)
