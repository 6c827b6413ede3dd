"""Mixed precision as in StyleGAN2-ADA: the blocks of the `num_fp16_res` highest resolutions compute in
float16 (or bfloat16), everything else in float32.

Weights, Gs and the optimizer state stay float32; a layer casts its weights to the dtype of its input, as
the official `weight.to(x.dtype)`. Where a float16 block is used, conv outputs are clamped (`conv_clamp`,
official 256) and the loss is scaled dynamically (`LossScale`) so that small gradients survive float16.
bfloat16 has the float32 exponent range and needs no loss scaling.
"""
import tensorflow as tf

LOW_PRECISION_DTYPES = ('float16', 'bfloat16')


def check_precision(num_fp16_res, fp16_dtype):
    """Raises ValueError naming the kwarg for values the networks cannot use."""
    if int(num_fp16_res) < 0:
        raise ValueError(f'num_fp16_res={num_fp16_res}: expected 0 (float32) or more')
    if fp16_dtype is not None and fp16_dtype not in LOW_PRECISION_DTYPES:
        raise ValueError(f'fp16_dtype={fp16_dtype!r}: expected one of {list(LOW_PRECISION_DTYPES)} or None')


def block_dtype(res_log2, top_log2, num_fp16_res, fp16_dtype):
    """dtype of the block at resolution 2^res_log2 of a network whose top is 2^top_log2.

    As ada-pytorch: the blocks at resolution >= max(2^(top + 1 - num_fp16_res), 8) are low precision, so the
    4x4 block (and D's epilogue) always run in float32. fp16_dtype None: float32 everywhere (the networks
    loaded from official pickles for inference, as ada-pytorch's force_fp32)."""
    if not num_fp16_res or fp16_dtype is None:
        return tf.float32
    fp16_resolution = max(2 ** (top_log2 + 1 - num_fp16_res), 8)
    return tf.as_dtype(fp16_dtype) if 2 ** res_log2 >= fp16_resolution else tf.float32


class LossScale:
    """Dynamic loss scaling of the official tflib optimizer (`use_loss_scaling`): the loss is multiplied by
    2^log2 before the backward pass and the gradients divided by it; a step whose gradients are not all
    finite is skipped (no optimizer update) and lowers log2 by `dec`, every other step raises it by `inc`
    (doubling the scale after 1 / inc good steps).

    Official defaults are inc 0.0005 and dec 1.0; its init 64 would skip about 48 steps before the first
    update in float16, so ours starts at 2^15 (Keras and PyTorch GradScaler start at 2^15 and 2^16)."""

    def __init__(self, name, init=15.0, inc=0.0005, dec=1.0):
        self.name, self.inc, self.dec = name, float(inc), float(dec)
        # Identical on every replica: the finite check is all-reduced before the update.
        agg = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.log2 = tf.Variable(float(init), trainable=False, name=f'{name}/loss_scaling_var', aggregation=agg)
        self.overflows = tf.Variable(0, dtype=tf.int64, trainable=False, name=f'{name}/overflows', aggregation=agg)

    def multiplier(self):
        return tf.pow(2.0, self.log2)

    def update(self, finite):
        self.log2.assign_add(tf.where(finite, self.inc, -self.dec))
        self.overflows.assign_add(tf.where(finite, tf.constant(0, tf.int64), 1))

    def trackables(self):
        return {f'{self.name}_loss_scaling_var': self.log2, f'{self.name}_overflows': self.overflows}


def apply_if_finite(optimizer, grads, variables):
    """In replica context: all-reduce whether every gradient of every replica is finite, apply them only if
    so, and return that verdict (the same on all replicas, so every replica takes the same branch)."""
    ctx = tf.distribute.get_replica_context()
    bad = tf.add_n([tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.float32)) for g in grads])
    finite = tf.equal(ctx.all_reduce(tf.distribute.ReduceOp.SUM, bad), 0.0)

    def apply(grads):
        optimizer.apply_gradients(zip(grads, variables))

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(finite, lambda: apply(grads) or tf.no_op(), tf.no_op)
    else:
        # MirroredStrategy's optimizer update calls merge_call, which is not allowed inside a cond in replica
        # context: take the decision in cross-replica context and run the update per replica from there.
        def cross_replica(strategy, finite, grads):
            verdict = strategy.experimental_local_results(finite)[0]
            return tf.cond(verdict, lambda: strategy.extended.call_for_each_replica(apply, args=(grads,)) or tf.no_op(),
                           tf.no_op)
        ctx.merge_call(cross_replica, args=(finite, grads))
    return finite
