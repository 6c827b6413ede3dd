"""FIR resampling of NHWC feature maps, as StyleGAN2's `upfirdn_2d.py` (NVlabs/stylegan2, dnnlib/tflib/ops).

Every function is the official one with the same kernels and paddings, written with ops that TensorFlow can
differentiate twice on the CPU (R1 and path-length regularization need that): zero insertion by pad and
reshape, per-channel FIR filtering by `depthwise_conv2d` (by shifted slices for separable kernels under
XLA), fused resampling convolutions by the transposed and strided convolutions of `common.ops.conv`. Kernels are
given as in the official code: 1-D (separable, e.g. the default [1, 3, 3, 1]) or 2-D, and are normalized to
unit sum.
"""
import numpy as np
import tensorflow as tf

from common.ops.conv import conv2d, conv2d_transpose

DEFAULT_KERNEL = (1, 3, 3, 1)


def setup_kernel(k):
    """1-D or 2-D FIR kernel -> 2-D float32 kernel with unit sum (a 1-D kernel is its outer product)."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f'FIR kernel of shape {k.shape}: expected 1-D or square 2-D')
    return k / np.sum(k)


def upfirdn_2d(x, k, up=1, down=1, pad0=0, pad1=0):
    """Upsample (insert up-1 zeros after each pixel), pad (crop where negative), convolve with the 2-D FIR
    kernel `k` (a true convolution, as the official op) and keep every `down`-th pixel.

    x: [N, H, W, C] -> [N, (H*up + pad0 + pad1 - kh) // down + 1, ..., C]; the same on both spatial axes.
    """
    k = np.asarray(k, dtype=np.float32)
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    if up > 1:
        # Zeros after each row, then after each column: two rank-4 pads, as TFLite's PAD takes at most rank 5
        # (one rank-6 pad would keep the exported generators off the builtin ops).
        x = tf.reshape(tf.pad(tf.reshape(x, [-1, h, 1, w * c]), [[0, 0], [0, 0], [0, up - 1], [0, 0]]),
                       [-1, w, 1, c])
        x = tf.reshape(tf.pad(x, [[0, 0], [0, 0], [0, up - 1], [0, 0]]), [-1, h * up, w * up, c])
    x = tf.pad(x, [[0, 0], [max(pad0, 0), max(pad1, 0)], [max(pad0, 0), max(pad1, 0)], [0, 0]])
    if pad0 < 0 or pad1 < 0:
        x = x[:, max(-pad0, 0):x.shape[1] - max(-pad1, 0), max(-pad0, 0):x.shape[2] - max(-pad1, 0), :]
    # Both forms correlate; flipping the kernel makes them the convolution of the official op.
    k = k[::-1, ::-1]
    taps = _separable(k)
    if taps is not None and _in_xla():
        # XLA's CPU depthwise convolution is 10x slower than TensorFlow's; as shifted slices the filter fuses
        # into the surrounding element-wise work.
        return _fir_slices(_fir_slices(x, taps[0], down, axis=1), taps[1], down, axis=2)
    kernel = tf.constant(np.tile(k[:, :, np.newaxis, np.newaxis], [1, 1, c, 1]), dtype=x.dtype)
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, down, down, 1], padding='VALID')


def _separable(k):
    """(column taps, row taps) whose outer product is the 2-D kernel k, or None when k has rank > 1."""
    u, s, vt = np.linalg.svd(k.astype(np.float64))
    if s[0] == 0 or np.any(s[1:] > 1e-7 * s[0]):
        return None
    return u[:, 0] * s[0], vt[0]


def _fir_slices(x, taps, down, axis):
    """Correlation of x with 1-D taps along `axis` (1 or 2), keeping every `down`-th output."""
    n = (int(x.shape[axis]) - len(taps)) // down + 1
    out = 0
    for i, tap in enumerate(taps):
        index = [slice(None)] * 4
        index[axis] = slice(i, i + (n - 1) * down + 1, down)
        out = out + x[tuple(index)] * tf.cast(tap, x.dtype)
    return out


def _in_xla():
    """Whether the function being traced compiles with XLA (tf.function(jit_compile=True))."""
    try:
        from tensorflow.python.ops import control_flow_util
        return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except (ImportError, AttributeError):  # Private API: without it, the depthwise form is used everywhere.
        return False


def upsample_2d(x, k=DEFAULT_KERNEL, factor=2, gain=1):
    """[N, H, W, C] -> [N, H*factor, W*factor, C]; k=None is nearest-neighbour upsampling."""
    k = setup_kernel([1] * factor if k is None else k) * (gain * factor ** 2)
    p = k.shape[0] - factor
    return upfirdn_2d(x, k, up=factor, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2)


def downsample_2d(x, k=DEFAULT_KERNEL, factor=2, gain=1):
    """[N, H, W, C] -> [N, H/factor, W/factor, C]; k=None is average pooling."""
    k = setup_kernel([1] * factor if k is None else k) * gain
    p = k.shape[0] - factor
    return upfirdn_2d(x, k, down=factor, pad0=(p + 1) // 2, pad1=p // 2)


def upsample_conv_2d(x, w, k=DEFAULT_KERNEL, factor=2, gain=1):
    """`upsample_2d` followed by a 'SAME' convolution with w [kh, kw, in, out], computed as the official
    fused op: a stride-`factor` transposed convolution with the spatially flipped kernel, then the FIR
    filter with a single padding. [N, H, W, in] -> [N, H*factor, W*factor, out]."""
    kh, kw = int(w.shape[0]), int(w.shape[1])
    if kh != kw:
        raise ValueError(f'conv kernel {kh}x{kw}: expected square')
    fir = setup_kernel([1] * factor if k is None else k) * (gain * factor ** 2)
    p = (fir.shape[0] - factor) - (kw - 1)
    out_hw = ((x.shape[1] - 1) * factor + kh, (x.shape[2] - 1) * factor + kw)
    # conv2d_transpose takes [kh, kw, out, in]; the flip matches the official weight transposition.
    w = tf.transpose(w[::-1, ::-1], [0, 1, 3, 2])
    x = conv2d_transpose(x, w, out_hw, stride=factor, padding='VALID')
    return upfirdn_2d(x, fir, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2 + 1)


def conv_downsample_2d(x, w, k=DEFAULT_KERNEL, factor=2, gain=1):
    """A 'SAME' convolution with w [kh, kw, in, out] followed by `downsample_2d`, computed as the official
    fused op: FIR filter with a single padding, then a stride-`factor` convolution.
    [N, H, W, in] -> [N, H/factor, W/factor, out]."""
    kh, kw = int(w.shape[0]), int(w.shape[1])
    if kh != kw:
        raise ValueError(f'conv kernel {kh}x{kw}: expected square')
    fir = setup_kernel([1] * factor if k is None else k) * gain
    p = (fir.shape[0] - factor) + (kw - 1)
    x = upfirdn_2d(x, fir, pad0=(p + 1) // 2, pad1=p // 2)
    return conv2d(x, w, stride=factor, padding='VALID')
