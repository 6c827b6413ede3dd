"""2-D convolutions (NHWC) whose gradients are forward convolutions, to every order.

On the CPU, TensorFlow's input-gradient kernel (Conv2DBackpropInput, which `conv2d_transpose` also runs)
is 2-3x slower than Conv2D at 16x16 and below, and took half of a StyleGAN2 step. Both linear maps have
forward-convolution forms with the same multiply-adds (plus, for the phases below, those of the zero border
each phase pads: +1% FLOPs on a StyleGAN2 step):

- the input gradient of a stride-1 convolution is a convolution of the output gradient with the spatially
  flipped, in/out-transposed kernel ('SAME' stays 'SAME'; 'VALID' pads by k-1 first);
- a stride-s transposed convolution splits into s*s output phases, each a stride-1 convolution of the input
  with that phase's taps of the kernel; interleaving the phases (depth_to_space) gives the result.

The two functions here are each other's adjoints and are differentiated through each other (the filter
gradient stays Conv2DBackpropFilter, which runs near forward speed), so the double backward of R1 and
path-length regularization takes the fast forms too. Values equal tf.nn's to float rounding.
"""
import contextlib
import math
import threading

import tensorflow as tf

_state = threading.local()


def conv2d(x, w, stride=1, padding='SAME'):
    """tf.nn.conv2d(x, w, stride, padding) for x [N, H, W, in], w [kh, kw, in, out], static H and W."""
    kh, kw = int(w.shape[0]), int(w.shape[1])
    if padding == 'SAME' and not (stride == 1 and kh % 2 and kw % 2):
        # TF's 'SAME' puts the odd pixel of padding at the end; make it explicit so that only the
        # symmetric stride-1 case reaches the kernel as 'SAME'.
        (t, b), (l, r) = _same_pads(int(x.shape[1]), kh, stride), _same_pads(int(x.shape[2]), kw, stride)
        x, padding = tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), 'VALID'
    if padding not in ('SAME', 'VALID'):
        raise ValueError(f"conv2d padding {padding!r}: expected 'SAME' or 'VALID'")
    return _conv(x, w, int(stride), padding)


def conv2d_transpose(x, w, output_hw, stride=2, padding='VALID'):
    """The adjoint of conv2d(., w, stride, padding) on [N, *output_hw, out] inputs, as
    tf.nn.conv2d_transpose(x, w, [N, *output_hw, w.shape[2]], stride, padding): x [N, h, w, w.shape[3]]."""
    oh, ow = int(output_hw[0]), int(output_hw[1])
    if padding == 'SAME':
        kh, kw = int(w.shape[0]), int(w.shape[1])
        (t, b), (l, r) = _same_pads(oh, kh, stride), _same_pads(ow, kw, stride)
        z = _conv_transpose(x, w, int(stride), (oh + t + b, ow + l + r))
        return z[:, t:t + oh, l:l + ow, :]
    if padding != 'VALID':
        raise ValueError(f"conv2d_transpose padding {padding!r}: expected 'SAME' or 'VALID'")
    return _conv_transpose(x, w, int(stride), (oh, ow))


@contextlib.contextmanager
def inference_ops():
    """Within the block, conv2d and conv2d_transpose build their forward ops alone, without tf.custom_gradient:
    the same values, and TensorFlow's own gradients if any are taken. For functions traced for export: a
    SavedModel loader warns about each function that holds custom gradients (also when SaveOptions'
    experimental_custom_gradients=False left them out), and the fast gradient forms only matter in training."""
    previous = getattr(_state, 'inference', False)
    _state.inference = True
    try:
        yield
    finally:
        _state.inference = previous


def _inference():
    return getattr(_state, 'inference', False)


def _same_pads(size, k, stride):
    total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _flip_transpose(w):
    """[kh, kw, in, out] -> [kh, kw, out, in], spatially flipped: the kernel of the adjoint convolution."""
    return tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])


def _filter_grad(x, dy, w, stride, padding):
    return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(w), out_backprop=dy,
                                           strides=[1, stride, stride, 1], padding=padding)


def _conv(x, w, stride, padding):
    if _inference():
        return tf.nn.conv2d(x, w, stride, padding)
    in_hw = (int(x.shape[1]), int(x.shape[2]))

    @tf.custom_gradient
    def op(x, w):
        def grad(dy):
            if stride == 1 and padding == 'SAME':
                dx = _conv(dy, _flip_transpose(w), 1, 'SAME')
            else:
                dx = _conv_transpose(dy, w, stride, in_hw)
            return dx, _filter_grad(x, dy, w, stride, padding)
        return tf.nn.conv2d(x, w, stride, padding), grad
    return op(x, w)


def _conv_transpose(x, w, stride, out_hw):
    """The adjoint of the 'VALID' stride-`stride` convolution with w [kh, kw, A, B] on [N, *out_hw, A]:
    x [N, h, w, B] -> [N, *out_hw, A], rows beyond the convolution's reach being zero."""
    kh, kw = int(w.shape[0]), int(w.shape[1])
    h, wd = int(x.shape[1]), int(x.shape[2])
    if (out_hw[0] - kh) // stride + 1 != h or (out_hw[1] - kw) // stride + 1 != wd:
        raise ValueError(f'conv2d_transpose: output {out_hw} does not map to input {h}x{wd} with a {kh}x{kw} '
                         f'kernel at stride {stride}')
    if _inference():
        return _phases(x, w, stride, out_hw)

    @tf.custom_gradient
    def op(x, w):
        def grad(dz):
            return _conv(dz, w, stride, 'VALID'), _filter_grad(dz, x, w, stride, 'VALID')
        return _phases(x, w, stride, out_hw), grad

    return op(x, w)


def _phases(x, w, s, out_hw):
    """Output pixel (s*m + a, s*n + b) gathers the kernel taps u = a + s*t (t = 0, 1, ...) from input pixel
    m - t: per phase (a, b), a stride-1 'VALID' convolution of the input padded by (taps - 1) with those taps
    in reverse order, transposed to [.., B, A]."""
    kh, kw, cout = int(w.shape[0]), int(w.shape[1]), int(w.shape[2])
    h, wd = int(x.shape[1]), int(x.shape[2])
    th, tw = math.ceil(kh / s), math.ceil(kw / s)  # Taps of phase 0, the most of any phase.
    wt = tf.transpose(w, [0, 1, 3, 2])
    outs = []
    for a in range(s):
        for b in range(s):
            rows, cols = len(range(a, kh, s)), len(range(b, kw, s))
            if not rows or not cols:
                outs.append(tf.zeros([tf.shape(x)[0], h + th - 1, wd + tw - 1, cout], x.dtype))
                continue
            xp = tf.pad(x, [[0, 0], [rows - 1] * 2, [cols - 1] * 2, [0, 0]])
            y = tf.nn.conv2d(xp, tf.reverse(wt[a::s, b::s], [0, 1]), 1, 'VALID')  # [N, h + rows - 1, wd + cols - 1, A]
            outs.append(tf.pad(y, [[0, 0], [0, th - rows], [0, tw - cols], [0, 0]]))
    z = tf.nn.depth_to_space(tf.concat(outs, axis=-1), s) if s > 1 else outs[0]
    z = z[:, :out_hw[0], :out_hw[1], :]
    return tf.pad(z, [[0, 0], [0, out_hw[0] - int(z.shape[1])], [0, out_hw[1] - int(z.shape[2])], [0, 0]])
