"""The benchmark's FLOP counter gives the analytic matmul and convolution counts, forward and backward, and
looks inside nested functions (as XLA-compiled gradients are)."""
import tensorflow as tf

from common.flops import graph_flops


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
