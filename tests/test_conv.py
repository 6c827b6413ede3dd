"""common.ops.conv: convolutions whose gradients run as forward convolutions equal tf.nn's convolutions in value,
gradient and second-order gradient (the R1 and path-length double backward), in and out of XLA."""
import numpy as np
import pytest
import tensorflow as tf

from common.ops.conv import conv2d, conv2d_transpose


def _first_and_second_order(f, x, w):
    """y, dL1/dx, dL1/dw and the gradients of L2 = |dL1/dx|^2 + sum(cos(dL1/dw)) w.r.t. x and w."""
    with tf.GradientTape(persistent=True) as outer:
        outer.watch([x, w])
        with tf.GradientTape() as inner:
            inner.watch([x, w])
            y = f(x, w)
            l1 = tf.reduce_sum(tf.sin(y))  # Non-linear: every output pixel gets its own gradient.
        gx, gw = inner.gradient(l1, [x, w])
        l2 = tf.reduce_sum(gx ** 2) + tf.reduce_sum(tf.cos(gw))
    return [y, gx, gw] + outer.gradient(l2, [x, w])


def _assert_same(ours, reference, rtol):
    for name, a, b in zip(['y', 'dx', 'dw', 'd2x', 'd2w'], ours, reference):
        assert a.shape == b.shape, name
        scale = float(tf.reduce_max(tf.abs(b)))
        assert scale > 0, name
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize('size,k,stride,padding', [
    (8, 3, 1, 'SAME'), (8, 1, 1, 'SAME'), (8, 3, 1, 'VALID'), (8, 4, 1, 'SAME'), (8, 2, 1, 'SAME'),
    (9, 3, 2, 'VALID'), (10, 3, 2, 'VALID'), (8, 1, 2, 'VALID'), (8, 4, 2, 'SAME'), (7, 4, 2, 'SAME'),
    (9, 3, 2, 'SAME')])
def test_conv2d_equals_tf_nn_conv2d_to_second_order(size, k, stride, padding):
    rng = np.random.RandomState(size * 100 + k * 10 + stride)
    x, w = tf.constant(rng.randn(2, size, size, 3)), tf.constant(rng.randn(k, k, 3, 4))
    _assert_same(_first_and_second_order(lambda x, w: conv2d(x, w, stride, padding), x, w),
                 _first_and_second_order(lambda x, w: tf.nn.conv2d(x, w, stride, padding), x, w), 1e-12)


@pytest.mark.parametrize('size,k,stride,padding,out', [
    (4, 3, 2, 'VALID', 9), (4, 3, 2, 'VALID', 10), (4, 4, 2, 'SAME', 8), (4, 1, 2, 'VALID', 7),
    (5, 3, 1, 'VALID', 7), (4, 5, 2, 'VALID', 11), (3, 3, 3, 'VALID', 9)])
def test_conv2d_transpose_equals_tf_nn_conv2d_transpose_to_second_order(size, k, stride, padding, out):
    rng = np.random.RandomState(size * 100 + k * 10 + stride)
    x, w = tf.constant(rng.randn(2, size, size, 4)), tf.constant(rng.randn(k, k, 3, 4))
    _assert_same(_first_and_second_order(lambda x, w: conv2d_transpose(x, w, (out, out), stride, padding), x, w),
                 _first_and_second_order(lambda x, w: tf.nn.conv2d_transpose(x, w, [2, out, out, 3], stride, padding),
                                         x, w), 1e-12)


@pytest.mark.parametrize('jit', [False, True], ids=['graph', 'xla'])
def test_fast_gradients_hold_inside_compiled_functions(jit):
    rng = np.random.RandomState(0)
    x, w = tf.constant(rng.randn(2, 4, 4, 4), tf.float32), tf.constant(rng.randn(3, 3, 4, 4), tf.float32)
    ours = tf.function(lambda x, w: _first_and_second_order(
        lambda x, w: conv2d(conv2d_transpose(x, w, (9, 9), 2), w, 2, 'VALID') + conv2d(x, w), x, w),
        jit_compile=jit)(x, w)
    reference = _first_and_second_order(
        lambda x, w: tf.nn.conv2d(tf.nn.conv2d_transpose(x, w, [2, 9, 9, 4], 2, 'VALID'), w, 2, 'VALID')
        + tf.nn.conv2d(x, w, 1, 'SAME'), x, w)
    _assert_same(ours, reference, 1e-5)


def test_mismatched_transpose_output_size_is_refused():
    with pytest.raises(ValueError, match='does not map to input 4x4'):
        conv2d_transpose(tf.zeros([1, 4, 4, 2]), tf.zeros([3, 3, 2, 2]), (12, 12), 2)
