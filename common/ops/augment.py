"""StyleGAN2-ADA's augmentation pipe (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", appendix B), the function of ada-pytorch's `training/augment.py` on NHWC images.

Every transform, default, probability gate and debug-percentile rule is the official one, in the official
order: pixel blitting and general geometry as one inverse 2-D matrix executed once (reflect padding, 2x
upsampling with the sym6 wavelet, bilinear sampling with grid_sample's align_corners=False / zeros
semantics, downsampling), colour as one 4x4 matrix, the 4-band image-space filter, additive noise, cutout.

What differs is how, not what:
- Randomness comes from stateless Philox draws keyed by a [2] integer `seed`, so a resumed run draws the
  same augmentations, with and without XLA. Each parameter has fixed columns of one per-image draw, so a
  transform's draws do not change when other transforms are switched on or off. The distributions are the
  official ones; the numbers are not torch's.
- The official pads by a margin computed from the batch's matrices, a data-dependent shape. Here the image
  is reflect-padded by the largest margin the official clamp allows (side - 1) and everything outside the
  official margin is zeroed, before and after upsampling; bilinear sampling at the same points then reads
  the same values, while all shapes stay static for XLA.
- Sampling is a gather of four neighbours; its gradient (a scatter) and that gradient's gradient (a gather)
  are exact, which is what R1 through the pipe needs (the official needed `grid_sample_gradfix` for it;
  `tf.image.resize` would give a wrong second derivative).
"""
import numpy as np
import keras
import tensorflow as tf

from common.ops.augment_specs import AUGPIPE_SPECS  # noqa: F401 (the presets, importable without TensorFlow)
from common.ops.resample import _fir_slices, _in_xla

# Low-pass filters of orthogonal wavelets, the two the pipe uses (ada-pytorch's `wavelets` table).
SYM2 = (-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025)
SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148)

_GEOM_PAD = len(SYM6) // 4  # Hz_pad: output margin, in input pixels, that the downsampling filter crops away.
_FILTER_POWER = np.array([10, 1, 1, 1]) / 13  # Expected power spectrum (1/f) of the filter bands.

# Every random parameter's place in the per-image random words (_Draws); fixed, so that adding a transform
# never reshuffles the others.
_SLOTS = {name: i for i, name in enumerate([
    'xflip', 'rotate90', 'xint', 'scale', 'rotate_pre', 'aniso', 'rotate_post', 'xfrac',
    'brightness', 'contrast', 'lumaflip', 'hue', 'saturation', 'imgfilter0', 'imgfilter1', 'imgfilter2',
    'imgfilter3', 'noise_sigma', 'cutout_size', 'cutout_center'])}


def _filter_bank():
    """[4, 43] float32: the taps of the 4 octave bands of the image-space filter, built from sym2 as
    ada-pytorch builds `Hz_fbank` (each band's response is H(z) H(z^-1) at its octave)."""
    lo = np.asarray(SYM2)
    hi = lo * (-1) ** np.arange(lo.size)
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, bank.shape[0]):
        bank = np.dstack([bank, np.zeros_like(bank)]).reshape(bank.shape[0], -1)[:, :-1]
        bank = np.stack([np.convolve(row, lo2) for row in bank])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start:start + hi2.size] += hi2
    return bank.astype(np.float32)


def _unit(r, c, size=3):
    e = np.zeros([size, size], np.float32)
    e[r, c] = 1
    return e


def _affine(base, *terms):
    """[N, S, S] float32 matrices base + sum(coefficient * E) from a constant base and ([N] coefficient,
    constant E) terms: every matrix of the pipe is affine in its parameters (cos and sin count as two)."""
    out = tf.constant(base, tf.float32)
    for coefficient, e in terms:
        out = out + tf.cast(coefficient, tf.float32)[:, None, None] * tf.constant(e, tf.float32)
    return out


_E3 = {(r, c): _unit(r, c) for r in range(3) for c in range(3)}
_E4 = {(r, c): _unit(r, c, 4) for r in range(4) for c in range(4)}
_LUMA = np.array([1, 1, 1, 0]) / np.sqrt(3)  # The luma axis of colour space, homogeneous.
_VV = np.outer(_LUMA, _LUMA).astype(np.float32)


def _translate2d(tx, ty):
    return _affine(np.eye(3), (tx, _E3[0, 2]), (ty, _E3[1, 2]))


def _scale2d(sx, sy):
    return _affine(_E3[2, 2], (sx, _E3[0, 0]), (sy, _E3[1, 1]))


def _rotate2d(theta):
    return _affine(_E3[2, 2], (tf.cos(theta), _E3[0, 0] + _E3[1, 1]), (tf.sin(theta), _E3[1, 0] - _E3[0, 1]))


def _translate3d(t):
    return _affine(np.eye(4), (t, _E4[0, 3] + _E4[1, 3] + _E4[2, 3]))


def _scale3d(s):
    return _affine(_E4[3, 3], (s, np.diag([1, 1, 1, 0])))


def _rotate3d_luma(theta):
    """Rotation by theta around the luma axis v (Rodrigues: vv' + cos (I - vv') + sin [v]x), [N, 4, 4]."""
    vx, vy, vz = _LUMA[:3]
    cross = np.array([[0, -vz, vy, 0], [vz, 0, -vx, 0], [-vy, vx, 0, 0], [0, 0, 0, 0]])
    return _affine(_VV + _E4[3, 3], (tf.cos(theta), np.diag([1, 1, 1, 0]) - _VV), (tf.sin(theta), cross))


# Execution. Shapes are static; the data-dependent official quantities (the padding) become masks.

def _fir(x, taps, axis):
    """Correlation of x [N, H, W, C] with the fixed 1-D taps along `axis` (1 or 2), 'VALID'. Measured at
    32x380x190x3 and 12 taps: XLA runs shifted slices in 17 ms and its CPU depthwise convolution in 520 ms;
    without XLA the depthwise convolution takes 25 ms, the slices 150 ms."""
    if _in_xla():
        return _fir_slices(x, taps, 1, axis)
    shape = [1, 1, int(x.shape[3]), 1]
    shape[axis - 1] = len(taps)
    kernel = np.broadcast_to(np.reshape(taps, [-1, 1, 1, 1] if axis == 1 else [1, -1, 1, 1]), shape)
    return tf.nn.depthwise_conv2d(x, tf.constant(kernel, x.dtype), [1, 1, 1, 1], 'VALID')


def _upsample2x(x, axis):
    """ada-pytorch `upsample2d(x, Hz_geom, up=2)` along one axis (1 = height, 2 = width), as its two
    polyphase halves: the even outputs take the odd taps of the zero-stuffed convolution, the odd the even."""
    f = np.asarray(SYM6) / np.sum(SYM6) * 2  # Unit DC gain, times the upsampling factor per axis.
    n = int(x.shape[axis])
    pad = [[0, 0]] * 4
    pad[axis] = [3, 3]
    both = tf.pad(x, pad) if _in_xla() else None

    def padded(before, after):
        # Each half's input: forward plus backward at 32x190x190x3 took 62 ms under XLA as crops of one
        # padding and 173 ms as two paddings; without XLA 366 ms as crops and 121 ms as paddings.
        if both is not None:
            index = [slice(None)] * 4
            index[axis] = slice(3 - before, 3 + n + after)
            return both[tuple(index)]
        pad[axis] = [before, after]
        return tf.pad(x, pad)
    even = _fir(padded(3, 2), f[11::-2], axis)
    odd = _fir(padded(2, 3), f[10::-2], axis)
    y = tf.stack([even, odd], axis=axis + 1)
    shape = [-1] + [int(d) for d in y.shape[1:]]
    shape[axis:axis + 2] = [2 * n]
    return tf.reshape(y, shape)


def _downsample2x(x):
    """ada-pytorch `downsample2d(x, Hz_geom, down=2, padding=-2 * Hz_pad, flip_filter=True)`: a correlation
    with sym6 at every other sample, which also crops the 2 * Hz_pad margin. Without XLA as one 2-D depthwise
    convolution (TF's CPU kernel takes equal strides only, in float64 at least)."""
    f = np.asarray(SYM6) / np.sum(SYM6)
    x = x[:, 1:, 1:, :]
    if _in_xla():
        # Filtering every sample and then decimating: XLA's gradient of strided slices is 10x slower.
        return _fir_slices(_fir_slices(x, f, 1, 1)[:, ::2], f, 1, 2)[:, :, ::2]
    kernel = np.broadcast_to(np.outer(f, f)[:, :, None, None], [f.size, f.size, int(x.shape[3]), 1])
    return tf.nn.depthwise_conv2d(x, tf.constant(kernel, x.dtype), [1, 2, 2, 1], 'VALID')


def _bilinear_sample(images, x, y):
    """torch grid_sample(mode='bilinear', padding_mode='zeros', align_corners=False) at pixel coordinates:
    images [N, H, W, C], x and y [N, P] (pixel centres at integers) -> [N, P, C]. The coordinates carry no
    gradient; with respect to the images this is linear, one weighted gather of the four neighbours (one
    gather, so that its gradient is one scatter)."""
    h, w = int(images.shape[1]), int(images.shape[2])
    flat = tf.reshape(images, [tf.shape(images)[0], h * w, images.shape[3]])
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = x - x0, y - y0
    xi = tf.cast(x0, tf.int32)[:, None, :] + np.array([0, 1, 0, 1])[None, :, None]  # [N, corner, P]
    yi = tf.cast(y0, tf.int32)[:, None, :] + np.array([0, 0, 1, 1])[None, :, None]
    weight = tf.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)
    weight = tf.where((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h), weight, 0.0)
    index = tf.clip_by_value(yi, 0, h - 1) * w + tf.clip_by_value(xi, 0, w - 1)
    p = int(x.shape[1])
    corners = tf.gather(flat, tf.reshape(index, [-1, 4 * p]), batch_dims=1)  # [N, 4P, C]
    corners = tf.reshape(corners, [-1, 4, p, images.shape[3]])
    return tf.reduce_sum(corners * tf.cast(weight, images.dtype)[:, :, :, None], axis=1)


def _execute_geometry(images, g_inv):
    """Applies the inverse transforms g_inv [N, 3, 3] (centred pixel coordinates, output -> input) as
    ada-pytorch does: reflect pad, upsample 2x, sample bilinearly, downsample 2x and crop."""
    n = tf.shape(images)[0]
    h, w = int(images.shape[1]), int(images.shape[2])
    cx, cy = (w - 1) / 2, (h - 1) / 2

    # The official reflect padding: enough for the image corners, mapped by every matrix of the batch, plus
    # twice the filter margin, clamped to side - 1 (the most reflect padding can give).
    corners = tf.constant([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], tf.float32)
    corners = (g_inv @ corners)[:, :2, :]  # [N, xy, corner]
    margin = tf.concat([tf.reduce_max(-corners, axis=[0, 2]), tf.reduce_max(corners, axis=[0, 2])], 0)
    margin = margin + tf.constant([_GEOM_PAD * 2 - cx, _GEOM_PAD * 2 - cy] * 2, tf.float32)
    margin = tf.minimum(tf.maximum(margin, 0), tf.constant([w - 1, h - 1] * 2, tf.float32))
    mx0, my0, mx1, my1 = tf.unstack(tf.cast(tf.math.ceil(margin), tf.int32))

    # A static canvas, reflect-padded by the clamp on every side. The official padded image is the part within
    # its margins; around it the official op sees zeros (upsample2d and grid_sample pad with zeros).
    x = tf.pad(images, [[0, 0], [h - 1, h - 1], [w - 1, w - 1], [0, 0]], mode='REFLECT')

    def inside(side, pad0, pad1, scale):
        i = tf.range((3 * side - 2) * scale)
        return tf.cast((i >= (side - 1 - pad0) * scale) & (i < (2 * side - 1 + pad1) * scale), x.dtype)
    x = x * inside(h, my0, my1, 1)[None, :, None, None] * inside(w, mx0, mx1, 1)[None, None, :, None]
    x = _upsample2x(_upsample2x(x, 1), 2)
    x = x * inside(h, my0, my1, 2)[None, :, None, None] * inside(w, mx0, mx1, 2)[None, None, :, None]

    # The output grid (the image plus the filter margin, at twice the resolution), centred. The canvas centre
    # is the image centre, so the official shift of the origin by the padding difference cancels.
    g = tf.constant(np.diag([2, 2, 1]), tf.float32) @ g_inv @ tf.constant(np.diag([0.5, 0.5, 1]), tf.float32)
    g = tf.constant(np.eye(3) - _E3[0, 2] / 2 - _E3[1, 2] / 2, tf.float32) @ g @ tf.constant(
        np.eye(3) + _E3[0, 2] / 2 + _E3[1, 2] / 2, tf.float32)
    out_h, out_w = (h + _GEOM_PAD * 2) * 2, (w + _GEOM_PAD * 2) * 2
    v, u = tf.meshgrid(tf.range(out_h, dtype=tf.float32) + 0.5 - out_h / 2,
                       tf.range(out_w, dtype=tf.float32) + 0.5 - out_w / 2, indexing='ij')
    uv1 = tf.stack([tf.reshape(u, [-1]), tf.reshape(v, [-1]), tf.ones([out_h * out_w])])  # [3, P]
    src = g[:, :2, :] @ uv1  # [N, xy, P], centred on the upsampled canvas of (6h - 4) x (6w - 4)
    x = _bilinear_sample(x, src[:, 0] + (3 * w - 2.5), src[:, 1] + (3 * h - 2.5))
    x = tf.reshape(x, [-1, out_h, out_w, images.shape[3]])
    return _downsample2x(x)


def _execute_color(images, c):
    """Applies the homogeneous colour transforms c [N, 4, 4]; a luma image takes the mean of the three colour
    rows (ada-pytorch's rule for 1 channel)."""
    c = tf.cast(c, images.dtype)
    if images.shape[3] == 3:
        return tf.einsum('nij,nhwj->nhwi', c[:, :3, :3], images) + c[:, None, None, :3, 3]
    c = tf.reduce_mean(c[:, :3, :], axis=1)  # [N, 4]
    return images * tf.reduce_sum(c[:, :3], axis=1)[:, None, None, None] + c[:, None, None, 3:]


def _toeplitz_filter(x, taps, axis):
    """'VALID' correlation along `axis` (1 or 2) with per-image taps [N, K], as a product with each image's
    banded matrix: one batched matmul, fast with and without XLA (a per-image kernel is a grouped
    convolution otherwise, the official form, which TF's CPU kernels lack)."""
    k = int(taps.shape[1])
    size = int(x.shape[axis])
    offset = np.arange(size)[None, :] - np.arange(size - k + 1)[:, None]  # [out, in]: tap index
    band = tf.gather(taps, np.clip(offset, 0, k - 1), axis=1)  # [N, out, in]
    band *= tf.constant((offset >= 0) & (offset < k), taps.dtype)
    return tf.einsum('nvh,nhwc->nvwc' if axis == 1 else 'nvw,nhwc->nhvc', band, x)


def _execute_filter(images, taps):
    """Filters every image with its own separable kernel taps [N, K] (the same for every channel), on the
    image reflect-padded by K // 2, as ada-pytorch."""
    h, w = int(images.shape[1]), int(images.shape[2])
    pad = int(taps.shape[1]) // 2
    if min(h, w) <= pad:
        raise ValueError(f'AugmentPipe imgfilter: images of {h}x{w}: expected sides above {pad} pixels '
                         f'(reflect padding by {pad}, as ada-pytorch)')
    x = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode='REFLECT')
    taps = tf.cast(taps, images.dtype)
    return _toeplitz_filter(_toeplitz_filter(x, taps, 2), taps, 1)


def _execute_cutout(images, size, center):
    """Zeroes the rectangle of relative size [N, 2] (x, y) around the relative centre [N, 2]."""
    h, w = int(images.shape[1]), int(images.shape[2])
    x = (tf.range(w, dtype=tf.float32) + 0.5) / w
    y = (tf.range(h, dtype=tf.float32) + 0.5) / h
    keep_x = tf.abs(x[None, :] - center[:, :1]) >= size[:, :1] / 2  # [N, W]
    keep_y = tf.abs(y[None, :] - center[:, 1:]) >= size[:, 1:] / 2  # [N, H]
    keep = keep_x[:, None, :] | keep_y[:, :, None]
    return images * tf.cast(keep, images.dtype)[:, :, :, None]


# Random draws.

def _exp2(x):
    return tf.pow(tf.constant(2, x.dtype), x)


def _erfinv_percentile(q):
    """The debug value of a normal draw: the q-quantile of N(0, 1), divided by sqrt(2), as ada-pytorch."""
    return tf.math.erfinv(q * 2 - 1)


class _Draws:
    """The random numbers of one call, keyed by a [2] integer seed. One Philox draw gives every image a row of
    random words; each parameter owns fixed columns of it (_SLOTS: two for its value, one for its gate), so a
    transform's draws do not change when other transforms are switched on or off."""

    def __init__(self, seed, batch_size, p, debug_percentile, rows=None):
        self.seed, self.n, self.p = tf.convert_to_tensor(seed), batch_size, tf.convert_to_tensor(p)
        self.q = None if debug_percentile is None else tf.cast(debug_percentile, tf.float32)
        self.rows = rows
        # Philox integers are the same bits with and without XLA; TF's float conversion is not (XLA reads the
        # high bits, the CPU kernel the low ones), so the floats are made here from the integers.
        self.words = self._words([3 * len(_SLOTS)], self.seed)

    def _words(self, tail, key):
        """[N, *tail] random uint32: this call's rows of a draw for the whole batch of `rows` (see call)."""
        if self.rows is None:
            return tf.random.stateless_uniform([self.n, *tail], key, minval=None, maxval=None, dtype=tf.uint32,
                                               alg='philox')
        offset, total = self.rows
        words = tf.random.stateless_uniform([total, *tail], key, minval=None, maxval=None, dtype=tf.uint32,
                                            alg='philox')
        return tf.slice(words, [offset] + [0] * len(tail), [self.n] + [-1] * len(tail))

    def _columns(self, slot, offset, shape):
        first = 3 * _SLOTS[slot] + offset
        return self.words[:, first:first + 2] if shape == (2,) else self.words[:, first]

    def uniform(self, slot, shape=()):
        """[N] or [N, 2] U[0, 1), from the top 24 bits (exact in float32)."""
        return _uniform24(self._columns(slot, 0, tuple(shape)))

    def normal(self, slot, shape=()):
        """[N] or [N, 2] N(0, 1)."""
        return _normal23(self._columns(slot, 0, tuple(shape)))

    def pixel_normal(self, shape):
        """[N, *shape] N(0, 1), from its own Philox stream."""
        return _normal23(self._words(shape, tf.random.experimental.stateless_fold_in(self.seed, 1, alg='philox')))

    def gated(self, slot, value, identity, probability, debug):
        """The official `torch.where(rand < probability, value, identity)` per image, then in debug mode the
        value replaced by debug(q) for every image (after the gate, so every transform applies)."""
        if self.q is not None:
            return tf.broadcast_to(tf.cast(debug(self.q), tf.float32), tf.shape(value))
        gate = _uniform24(self._columns(slot, 2, ())) < probability
        return tf.where(tf.reshape(gate, [-1] + [1] * (value.shape.rank - 1)), value, identity)


def _uniform24(words):
    return tf.cast(tf.bitwise.right_shift(words, 8), tf.float32) * 2.0 ** -24


def _normal23(words):
    """N(0, 1) by the inverse CDF, at the centre of one of 2^23 equal bins (never at 0 or 1)."""
    odd = tf.bitwise.right_shift(words, 9) * 2 + 1
    return np.sqrt(2) * tf.math.erfinv(tf.cast(odd, tf.float32) * 2.0 ** -23 - 1)


class AugmentPipe(keras.layers.Layer):
    """ada-pytorch's `AugmentPipe`: [N, H, W, C] images in [-1, 1], C = 3 (RGB) or 1 (luma), to augmented
    images of the same shape. All transforms are off by default; a multiplier of 1 applies the transform
    with probability `p` (the adaptive augmentation strength). Arguments as ada-pytorch's."""

    def __init__(self,
                 xflip=0, rotate90=0, xint=0, xint_max=0.125,
                 scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
                 brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0, brightness_std=0.2, contrast_std=0.5,
                 hue_max=1, saturation_std=1,
                 imgfilter=0, imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1,
                 noise=0, cutout=0, noise_std=0.1, cutout_size=0.5,
                 **kwargs):
        super().__init__(**kwargs)
        # Pixel blitting.
        self.xflip = float(xflip)                      # Probability multiplier for x-flip.
        self.rotate90 = float(rotate90)                # Probability multiplier for 90 degree rotations.
        self.xint = float(xint)                        # Probability multiplier for integer translation.
        self.xint_max = float(xint_max)                # Range of integer translation, relative to image size.
        # General geometric transformations.
        self.scale = float(scale)                      # Probability multiplier for isotropic scaling.
        self.rotate = float(rotate)                    # Probability multiplier for arbitrary rotation.
        self.aniso = float(aniso)                      # Probability multiplier for anisotropic scaling.
        self.xfrac = float(xfrac)                      # Probability multiplier for fractional translation.
        self.scale_std = float(scale_std)              # Log2 standard deviation of isotropic scaling.
        self.rotate_max = float(rotate_max)            # Range of arbitrary rotation, 1 = full circle.
        self.aniso_std = float(aniso_std)              # Log2 standard deviation of anisotropic scaling.
        self.xfrac_std = float(xfrac_std)              # Standard deviation of fractional translation, relative.
        # Colour transformations.
        self.brightness = float(brightness)            # Probability multiplier for brightness.
        self.contrast = float(contrast)                # Probability multiplier for contrast.
        self.lumaflip = float(lumaflip)                # Probability multiplier for luma flip.
        self.hue = float(hue)                          # Probability multiplier for hue rotation.
        self.saturation = float(saturation)            # Probability multiplier for saturation.
        self.brightness_std = float(brightness_std)    # Standard deviation of brightness.
        self.contrast_std = float(contrast_std)        # Log2 standard deviation of contrast.
        self.hue_max = float(hue_max)                  # Range of hue rotation, 1 = full circle.
        self.saturation_std = float(saturation_std)    # Log2 standard deviation of saturation.
        # Image-space filtering.
        self.imgfilter = float(imgfilter)              # Probability multiplier for image-space filtering.
        self.imgfilter_bands = tuple(float(b) for b in imgfilter_bands)  # Multipliers of the 4 bands.
        self.imgfilter_std = float(imgfilter_std)      # Log2 standard deviation of the band amplification.
        # Image-space corruptions.
        self.noise = float(noise)                      # Probability multiplier for additive RGB noise.
        self.cutout = float(cutout)                    # Probability multiplier for cutout.
        self.noise_std = float(noise_std)              # Standard deviation of additive RGB noise.
        self.cutout_size = float(cutout_size)          # Size of the cutout rectangle, relative to image size.
        if len(self.imgfilter_bands) != 4:
            raise ValueError(f'AugmentPipe imgfilter_bands={list(imgfilter_bands)}: expected 4 band multipliers')
        # The overall probability multiplier, ada-pytorch's buffer `p` (1 at construction, as there). It does not
        # depend on the input shape, so it exists before the first call and a checkpoint can restore it then.
        self.p = self.add_weight(name='p', shape=(), dtype='float32', initializer='ones', trainable=False)
        self._fbank = _filter_bank()

    @property
    def min_resolution(self):
        """The smallest image side the pipe takes: the image filter reflect-pads by half its kernel, which
        needs sides above that (as ada-pytorch)."""
        return np.shape(self._fbank)[1] // 2 + 1 if self.imgfilter > 0 else 1

    @classmethod
    def from_preset(cls, name, **kwargs):
        """The pipe of an ada-pytorch `--augpipe` preset (AUGPIPE_SPECS); kwargs override strengths."""
        if name not in AUGPIPE_SPECS:
            raise ValueError(f'unknown augment pipe preset {name!r}: expected one of {", ".join(AUGPIPE_SPECS)}')
        return cls(**{**AUGPIPE_SPECS[name], **kwargs})

    def call(self, images, seed=None, debug_percentile=None, row_offset=None, total_rows=None):
        """images [N, H, W, C] -> [N, H, W, C].

        seed: [2] int32/int64 tensor, the key of every random draw (required).
        row_offset, total_rows: when `images` are rows row_offset .. row_offset + N - 1 of a batch of
            `total_rows` (an int) split over replicas and rounds: each image then gets the draws it would get
            in one call on the whole batch, so training does not depend on the split (N must be static).
        debug_percentile: None, or q in [0, 1): every transform's parameter after the probability gate is
            replaced by ada-pytorch's fixed function of q, so each enabled transform is applied (the per-pixel
            noise itself stays random).
        """
        if images.shape.rank != 4 or images.shape[3] not in (1, 3) or None in images.shape[1:]:
            raise ValueError(f'AugmentPipe: images of shape {images.shape}: expected [N, H, W, 3] (RGB) or '
                             '[N, H, W, 1] (luma) with static H, W')
        if seed is None:
            raise ValueError('AugmentPipe: seed is required (a [2] integer tensor keying the random draws)')
        n, h, w, channels = tf.shape(images)[0], int(images.shape[1]), int(images.shape[2]), int(images.shape[3])
        rows = None
        if total_rows is not None:
            n, rows = int(images.shape[0]), (row_offset, int(total_rows))
        d = _Draws(seed, n, self.p, debug_percentile, rows)
        params = self._draw(d, channels)
        g_inv = self._geometry_matrix(params, n, h, w)
        if g_inv is not None:
            images = _execute_geometry(images, g_inv)
        c = self._color_matrix(params, n)
        if c is not None:
            images = _execute_color(images, c)
        if 'imgfilter' in params:
            images = _execute_filter(images, self._filter_taps(params['imgfilter']))
        if 'noise_sigma' in params:
            noise = tf.cast(d.pixel_normal(images.shape[1:]), images.dtype)
            images = images + noise * tf.cast(params['noise_sigma'], images.dtype)[:, None, None, None]
        if 'cutout_size' in params:
            images = _execute_cutout(images, params['cutout_size'], params['cutout_center'])
        return images

    def draw_parameters(self, batch_size, seed, debug_percentile=None, channels=3):
        """{name: [N] or [N, 2] float32}: the parameter of every enabled transform, after its probability gate
        (identity where the gate stays shut) and the debug override, as a call with the same arguments
        draws them. Keys follow the official order; hue and saturation are skipped on 1-channel images."""
        return self._draw(_Draws(seed, batch_size, self.p, debug_percentile), channels)

    def _draw(self, d, channels):
        p, out = d.p, {}
        if self.xflip > 0:  # 0 or 1: mirror x.
            out['xflip'] = d.gated('xflip', tf.floor(d.uniform('xflip') * 2), 0.0, self.xflip * p,
                                   lambda q: tf.floor(q * 2))
        if self.rotate90 > 0:  # 0..3 quarter turns.
            out['rotate90'] = d.gated('rotate90', tf.floor(d.uniform('rotate90') * 4), 0.0, self.rotate90 * p,
                                      lambda q: tf.floor(q * 4))
        if self.xint > 0:  # Integer translation, relative to the image size (rounded to pixels later).
            out['xint'] = d.gated('xint', (d.uniform('xint', [2]) * 2 - 1) * self.xint_max, 0.0, self.xint * p,
                                  lambda q: (q * 2 - 1) * self.xint_max)
        if self.scale > 0:
            out['scale'] = d.gated('scale', _exp2(d.normal('scale') * self.scale_std), 1.0, self.scale * p,
                                   lambda q: _exp2(_erfinv_percentile(q) * self.scale_std))
        # Rotation before and after the anisotropic scaling, each with p_rot: P(pre or post) = rotate * p.
        p_rot = 1 - tf.sqrt(tf.clip_by_value(1 - self.rotate * p, 0, 1))
        if self.rotate > 0:
            out['rotate_pre'] = d.gated('rotate_pre', (d.uniform('rotate_pre') * 2 - 1) * np.pi * self.rotate_max,
                                        0.0, p_rot, lambda q: (q * 2 - 1) * np.pi * self.rotate_max)
        if self.aniso > 0:
            out['aniso'] = d.gated('aniso', _exp2(d.normal('aniso') * self.aniso_std), 1.0, self.aniso * p,
                                   lambda q: _exp2(_erfinv_percentile(q) * self.aniso_std))
        if self.rotate > 0:  # Debug mode shows the pre-rotation alone.
            out['rotate_post'] = d.gated('rotate_post', (d.uniform('rotate_post') * 2 - 1) * np.pi * self.rotate_max,
                                         0.0, p_rot, lambda q: 0.0)
        if self.xfrac > 0:  # Fractional translation, relative to the image size.
            out['xfrac'] = d.gated('xfrac', d.normal('xfrac', [2]) * self.xfrac_std, 0.0, self.xfrac * p,
                                   lambda q: _erfinv_percentile(q) * self.xfrac_std)
        if self.brightness > 0:
            out['brightness'] = d.gated('brightness', d.normal('brightness') * self.brightness_std, 0.0,
                                        self.brightness * p, lambda q: _erfinv_percentile(q) * self.brightness_std)
        if self.contrast > 0:
            out['contrast'] = d.gated('contrast', _exp2(d.normal('contrast') * self.contrast_std), 1.0,
                                      self.contrast * p, lambda q: _exp2(_erfinv_percentile(q) * self.contrast_std))
        if self.lumaflip > 0:  # 0 or 1: mirror the luma axis.
            out['lumaflip'] = d.gated('lumaflip', tf.floor(d.uniform('lumaflip') * 2), 0.0, self.lumaflip * p,
                                      lambda q: tf.floor(q * 2))
        if self.hue > 0 and channels > 1:  # Rotation around the luma axis.
            out['hue'] = d.gated('hue', (d.uniform('hue') * 2 - 1) * np.pi * self.hue_max, 0.0, self.hue * p,
                                 lambda q: (q * 2 - 1) * np.pi * self.hue_max)
        if self.saturation > 0 and channels > 1:
            out['saturation'] = d.gated('saturation', _exp2(d.normal('saturation') * self.saturation_std), 1.0,
                                        self.saturation * p,
                                        lambda q: _exp2(_erfinv_percentile(q) * self.saturation_std))
        if self.imgfilter > 0:  # [N, 4]: the amplification of each band, band by band.
            bands = []
            for i, strength in enumerate(self.imgfilter_bands):
                debug = (lambda q: _exp2(_erfinv_percentile(q) * self.imgfilter_std)) if strength > 0 else \
                    (lambda q: 1.0)
                bands.append(d.gated(f'imgfilter{i}', _exp2(d.normal(f'imgfilter{i}') * self.imgfilter_std), 1.0,
                                     self.imgfilter * p * strength, debug))
            out['imgfilter'] = tf.stack(bands, axis=1)
        if self.noise > 0:  # Standard deviation of the additive noise.
            out['noise_sigma'] = d.gated('noise_sigma', tf.abs(d.normal('noise_sigma')) * self.noise_std, 0.0,
                                         self.noise * p, lambda q: tf.math.erfinv(q) * self.noise_std)
        if self.cutout > 0:  # [N, 2] relative size (0 = no cutout) and [N, 2] relative centre, x then y.
            out['cutout_size'] = d.gated('cutout_size', tf.fill([d.n, 2], self.cutout_size), 0.0,
                                         self.cutout * p, lambda q: self.cutout_size)
            out['cutout_center'] = (d.uniform('cutout_center', [2]) if d.q is None else
                                    tf.fill([d.n, 2], d.q))  # Debug: centred at (q, q).
        return out

    def _geometry_matrix(self, params, n, h, w):
        """[N, 3, 3] inverse transform (output pixel -> input pixel, centred coordinates), the product of the
        inverses in the official order; None when no geometric transform is enabled."""
        g_inv, identity = tf.eye(3, batch_shape=[n]), True
        for name, inverse in [
                ('xflip', lambda i: _scale2d(1 / (1 - 2 * i), tf.ones_like(i))),
                ('rotate90', lambda i: _rotate2d(-(-np.pi / 2 * i))),
                ('xint', lambda t: _translate2d(-tf.round(t[:, 0] * w), -tf.round(t[:, 1] * h))),
                ('scale', lambda s: _scale2d(1 / s, 1 / s)),
                ('rotate_pre', lambda theta: _rotate2d(theta)),
                ('aniso', lambda s: _scale2d(1 / s, 1 / (1 / s))),
                ('rotate_post', lambda theta: _rotate2d(theta)),
                ('xfrac', lambda t: _translate2d(-t[:, 0] * w, -t[:, 1] * h))]:
            if name in params:
                g_inv, identity = g_inv @ inverse(params[name]), False
        return None if identity else g_inv

    def _color_matrix(self, params, n):
        """[N, 4, 4] homogeneous colour transform (colour_in -> colour_out), the official product; None when
        no colour transform applies."""
        c, identity = tf.eye(4, batch_shape=[n]), True
        for name, transform in [
                ('brightness', _translate3d),
                ('contrast', _scale3d),
                ('lumaflip', lambda i: _affine(np.eye(4), (i, -2 * _VV))),  # Householder reflection.
                ('hue', _rotate3d_luma),
                ('saturation', lambda s: _affine(_VV, (s, np.eye(4) - _VV)))]:
            if name in params:
                c, identity = transform(params[name]) @ c, False
        return None if identity else c

    def _filter_taps(self, amplification):
        """[N, K] separable kernel from the band amplifications [N, 4]: each band's gain normalized so that a
        1/f spectrum keeps its power, the gains multiplied, the bands summed."""
        power = tf.constant(_FILTER_POWER, tf.float32)
        g = 1.0
        for i in range(4):
            t = tf.concat([tf.ones_like(amplification[:, :i]), amplification[:, i:i + 1],
                           tf.ones_like(amplification[:, i + 1:])], axis=1)
            g *= t / tf.sqrt(tf.reduce_sum(power * tf.square(t), axis=-1, keepdims=True))
        return g @ tf.constant(self._fbank)

    def get_config(self):
        names = ['xflip', 'rotate90', 'xint', 'xint_max', 'scale', 'rotate', 'aniso', 'xfrac', 'scale_std',
                 'rotate_max', 'aniso_std', 'xfrac_std', 'brightness', 'contrast', 'lumaflip', 'hue', 'saturation',
                 'brightness_std', 'contrast_std', 'hue_max', 'saturation_std', 'imgfilter', 'imgfilter_std',
                 'noise', 'cutout', 'noise_std', 'cutout_size']
        return {**super().get_config(), **{k: getattr(self, k) for k in names},
                'imgfilter_bands': list(self.imgfilter_bands)}
