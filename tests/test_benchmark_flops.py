"""The FLOP counter (benchmark and MFU per tick) gives the analytic matmul and convolution counts, forward and
backward, looks inside nested functions (as XLA-compiled gradients are) and counts a cond's costlier branch."""
import tensorflow as tf

from common.util.flops import graph_flops


def test_flops_of_matmul_and_conv_forward_and_backward_are_analytic():
    w = tf.Variable(tf.ones([8, 16]))
    k = tf.Variable(tf.ones([3, 3, 3, 5]))

    @tf.function(jit_compile=True)
    def inner(x, img):
        return tf.reduce_sum(tf.matmul(x, w)) + tf.reduce_sum(tf.nn.conv2d(img, k, 1, 'SAME'))

    @tf.function
    def step(x, img):
        with tf.GradientTape() as tape:
            loss = inner(x, img)
        return tape.gradient(loss, [w, k])

    concrete = step.get_concrete_function(tf.TensorSpec([4, 8]), tf.TensorSpec([2, 8, 8, 3]))
    matmul = 2 * 4 * 16 * 8                    # Forward; the backward of x is not needed (x is no variable).
    conv = 2 * (2 * 8 * 8 * 5) * (3 * 3 * 3)   # Forward; the gradient w.r.t. the kernel costs the same.
    assert graph_flops(concrete) == 2 * matmul + 2 * conv


def test_flops_of_a_cond_are_those_of_its_costlier_branch():
    # The float16 update is skipped on overflow by a tf.cond: counted as if it ran.
    @tf.function
    def step(x, flag):
        return tf.cond(flag, lambda: tf.matmul(x, x), lambda: x)

    concrete = step.get_concrete_function(tf.TensorSpec([6, 6]), tf.TensorSpec([], tf.bool))
    assert graph_flops(concrete) == 2 * 6 * 6 * 6
