"""The layer zoo shared by ProGAN and StyleGAN2, NHWC throughout.

Weights keep the official layouts so that official pickles load by name alone: conv `[kh, kw, in, out]`
(fused upsampling: `[kh, kw, out, in]`, as TF1's conv2d_transpose), dense `[in, out]`. With `use_wscale`
(equalized learning rate, ProGAN paper section 4.1) weights are stored N(0, 1/lrmul) and scaled at run
time by `gain * lrmul / sqrt(fan_in)`; biases by `lrmul`.
"""
import numpy as np
import keras
import tensorflow as tf

from common.ops.conv import conv2d, conv2d_transpose


def _scale_init(std):
    return keras.initializers.RandomNormal(0.0, std)


def feature_maps(fmap_base, fmap_decay, fmap_max, fmap_min=0):
    """The official nf(stage): fmap_base / 2^(stage * fmap_decay), truncated and clipped to [fmap_min, fmap_max]
    (ProGAN and StyleGAN clip only from above; StyleGAN2 also from below, its fmap_min)."""
    return lambda stage: int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))


def refuse_unknown(network, kwargs):
    """A network constructor's leftover kwargs (a mistyped preset key or flag, a snapshot's unknown entry) are an
    error naming them, not silently ignored; the official pickles' loaders drop the keys they knowingly ignore."""
    if kwargs:
        keys = ', '.join(repr(k) for k in sorted(kwargs))
        raise TypeError(f'{network}: unknown argument{"s" if len(kwargs) > 1 else ""} {keys}')


def add_lod(model):
    """The official `lod` variable of a growing network: 0 = full resolution, k = 2^k times lower."""
    model.lod = model.add_weight(name='lod', shape=(), initializer='zeros', trainable=False)


def lod_value(model, lod):
    """`lod` as a float32 tensor; None means the model's own `lod` variable."""
    return model.lod.value if lod is None else tf.cast(lod, tf.float32)


def lerp(a, b, t):
    return a + (b - a) * t


def lerp_clip(a, b, t):
    """Fade-in used between levels of detail: `a` at t <= 0, `b` at t >= 1."""
    return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


class EqualizedDense(keras.layers.Layer):
    """Fully-connected layer with equalized learning rate. Inputs of rank > 2 are flattened in NCHW order
    (transposed first), because official weights were trained on NCHW feature maps."""

    def __init__(self, units, gain=np.sqrt(2), lrmul=1.0, use_wscale=True, use_bias=True, bias_init=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.gain, self.lrmul, self.use_wscale = units, float(gain), float(lrmul), use_wscale
        self.use_bias, self.bias_init = use_bias, float(bias_init)

    def build(self, input_shape):
        fan_in = int(np.prod(input_shape[1:]))
        he_std = self.gain / np.sqrt(fan_in)  # He initialization.
        init_std, w_mul = (1.0 / self.lrmul, he_std * self.lrmul) if self.use_wscale else (he_std / self.lrmul, self.lrmul)
        self.w_mul = float(w_mul)
        self.weight = self.add_weight(name='weight', shape=(fan_in, self.units), initializer=_scale_init(init_std))
        if self.use_bias:
            self.bias = self.add_weight(name='bias', shape=(self.units,),
                                        initializer=keras.initializers.Constant(self.bias_init / self.lrmul))

    def call(self, x):
        if len(x.shape) > 2:
            x = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, int(np.prod(x.shape[1:]))])
        x = tf.matmul(x, self.weight * self.w_mul)
        if self.use_bias:
            x = x + self.bias * self.lrmul
        return x

    def get_config(self):
        return {**super().get_config(), 'units': self.units, 'gain': self.gain, 'lrmul': self.lrmul,
                'use_wscale': self.use_wscale, 'use_bias': self.use_bias, 'bias_init': self.bias_init}


def _fused_kernel(w, down):
    """ProGAN's fused resampling: pad the kxk kernel to (k+1)x(k+1) and sum its four shifts, which equals
    nearest upsampling (box downsampling, hence the 1/4) followed (preceded) by the kxk convolution."""
    w = tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]])
    w = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]
    return w * 0.25 if down else w


class EqualizedConv2D(keras.layers.Layer):
    """Convolution with equalized learning rate and optional fused 2x resampling.

    resample: None, 'up' (nearest upscale + conv as one transposed convolution, ProGAN `upscale2d_conv2d`)
    or 'down' (conv + box downscale as one strided convolution, ProGAN `conv2d_downscale2d`).
    """

    def __init__(self, filters, kernel_size, gain=np.sqrt(2), lrmul=1.0, use_wscale=True, use_bias=True,
                 resample=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.gain, self.lrmul = filters, kernel_size, float(gain), float(lrmul)
        self.use_wscale, self.use_bias, self.resample = use_wscale, use_bias, resample

    def build(self, input_shape):
        k, cin = self.kernel_size, int(input_shape[-1])
        he_std = self.gain / np.sqrt(k * k * cin)
        init_std, w_mul = (1.0 / self.lrmul, he_std * self.lrmul) if self.use_wscale else (he_std / self.lrmul, self.lrmul)
        self.w_mul = float(w_mul)
        shape = (k, k, self.filters, cin) if self.resample == 'up' else (k, k, cin, self.filters)
        self.weight = self.add_weight(name='weight', shape=shape, initializer=_scale_init(init_std))
        if self.use_bias:
            self.bias = self.add_weight(name='bias', shape=(self.filters,), initializer='zeros')

    def call(self, x):
        w = self.weight * self.w_mul
        if self.resample == 'up':
            w = _fused_kernel(w, down=False)
            x = conv2d_transpose(x, w, (x.shape[1] * 2, x.shape[2] * 2), stride=2, padding='SAME')
        elif self.resample == 'down':
            x = conv2d(x, _fused_kernel(w, down=True), stride=2, padding='SAME')
        else:
            x = conv2d(x, w, stride=1, padding='SAME')
        if self.use_bias:
            x = x + self.bias * self.lrmul
        return x

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, 'kernel_size': self.kernel_size, 'gain': self.gain,
                'lrmul': self.lrmul, 'use_wscale': self.use_wscale, 'use_bias': self.use_bias, 'resample': self.resample}


class PixelNorm(keras.layers.Layer):
    """Pixelwise feature vector normalization (ProGAN section 4.2): x / sqrt(mean_c(x^2) + eps)."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), 'epsilon': self.epsilon}


class MinibatchStddev(keras.layers.Layer):
    """Appends the mean standard deviation over groups of `group_size` samples as `num_features` new
    feature maps (ProGAN section 3; StyleGAN2 splits channels into `num_features` groups).

    Sample n belongs to group n mod (N / group_size), as the official reshape [G, M, ...] makes it.
    """

    def __init__(self, group_size=4, num_features=1, **kwargs):
        super().__init__(**kwargs)
        self.group_size, self.num_features = int(group_size), int(num_features)

    def call(self, x):
        s = tf.shape(x)
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        g = tf.minimum(self.group_size, s[0])
        f = self.num_features
        y = tf.reshape(x, [g, -1, h, w, f, c // f])                       # [GMHWFc]
        y = y - tf.reduce_mean(y, axis=0, keepdims=True)
        y = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + 1e-8)         # [MHWFc]
        y = tf.reduce_mean(y, axis=[1, 2, 4])                            # [MF]
        y = tf.tile(y[:, None, None, :], [g, h, w, 1])                   # [NHWF]
        return tf.concat([x, y], axis=-1)

    def get_config(self):
        return {**super().get_config(), 'group_size': self.group_size, 'num_features': self.num_features}


def upscale2d(x, factor=2):
    """Nearest-neighbour upscaling, NHWC; a reshape and broadcast (differentiable twice, unlike tf.image)."""
    if factor == 1:
        return x
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = tf.reshape(x, [-1, h, 1, w, 1, c])
    x = tf.tile(x, [1, 1, factor, 1, factor, 1])
    return tf.reshape(x, [-1, h * factor, w * factor, c])


def downscale2d(x, factor=2):
    """Box-filter downscaling, NHWC."""
    if factor == 1:
        return x
    return tf.nn.avg_pool2d(x, ksize=factor, strides=factor, padding='VALID')


def leaky_relu(x, alpha=0.2):
    return tf.maximum(x * alpha, x)


def process_reals(x, lod, full_resolution):
    """Official `process_reals` (ProGAN and StyleGAN2) after the dynamic range, which the input pipeline does:
    cross-fade the reals between this resolution and the next lower one like the generator's fade-in, then
    upscale (nearest) to the networks' full resolution. x: [N, r, r, C] at the schedule's current resolution."""
    y = upscale2d(downscale2d(x))
    x = lerp(x, y, lod - tf.floor(lod))
    return upscale2d(x, full_resolution // x.shape[1])
