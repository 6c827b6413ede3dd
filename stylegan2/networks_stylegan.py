"""The original StyleGAN networks (Karras et al. 2019) of config-a, as `training/networks_stylegan.py` of
NVlabs/stylegan2 (the same code as NVlabs/stylegan): `G_style` (mapping + AdaIN synthesis) and `D_basic`.
Same arguments, defaults, variable names and outputs, NHWC inside; progressive growing as in
`stylegan2/networks_progressive.py`.

Where StyleGAN differs from StyleGAN2 (both as official):
  - the activation gain sqrt(2) lives in the equalized-LR weights, not after the activation, so biases
    are not scaled by it (`EqualizedDense` / `EqualizedConv2D` of common/ops/layers.py, as ProGAN);
  - each synthesis layer ends with the "epilogue": per-channel noise (`Noise/weight`), bias, activation,
    instance normalization, then AdaIN (`StyleMod`: x * (1 + ys) + yb from a dense layer on w);
  - upsampling is nearest (or ProGAN's fused transposed convolution from 128x128 up, `fused_scale='auto'`)
    followed by a [1, 2, 1] blur; the discriminator blurs before downsampling;
  - the learned constant starts at ones, and every layer (also 4x4/Const) has a noise input and a style.
"""
import numpy as np
import keras
import tensorflow as tf

from common.ops.conv import conv2d, conv2d_transpose
from common.ops.layers import (EqualizedConv2D, EqualizedDense, MinibatchStddev, _fused_kernel, add_lod, downscale2d,
                               feature_maps, leaky_relu, lod_value, refuse_unknown, upscale2d)
from stylegan2.networks import (NOISE_MODES, Mapping, Synthesis, _check_choice, _ScopedModel, add_noise_buffers,
                                resolution_log2)
from stylegan2.networks_progressive import grow_images, shrink_features

ACTIVATIONS_V1 = {'relu': tf.nn.relu, 'lrelu': leaky_relu}  # Both with gain sqrt(2) in the weights.
NETWORK_DEFAULT = 'network_default'


def _v1_activation(name):
    _check_choice('nonlinearity', name, ACTIVATIONS_V1)
    return ACTIVATIONS_V1[name]


def _fused(fused_scale, resolution):
    """Official fused_scale='auto': fused resampling convolutions at 128x128 and above."""
    return resolution >= 128 if fused_scale == 'auto' else bool(fused_scale)


def _require_defaults(where, **given):
    """Official options of the StyleGAN code that no published network changes and that we do not implement."""
    defaults = dict(use_wscale=True, use_styles=True, const_input_layer=True, use_pixel_norm=False,
                    use_instance_norm=True)
    bad = [f'{k}={v!r}' for k, v in given.items() if v != defaults[k]]
    if bad:
        raise ValueError(f'{where}: {", ".join(bad)} is not supported (only the official defaults)')


def blur2d(x, f):
    """Official `blur2d`: depthwise convolution with the normalized separable filter f (e.g. [1, 2, 1]), zero
    padding 'SAME'. x: [N, H, W, C]. The filter is symmetric, so the official flipped gradient is the same."""
    f = np.asarray(f, np.float32)
    f = f[:, None] * f[None, :]
    f = np.tile((f / f.sum())[:, :, None, None], [1, 1, int(x.shape[-1]), 1])
    return tf.nn.depthwise_conv2d(x, tf.constant(f), strides=[1, 1, 1, 1], padding='SAME')


def instance_norm(x, epsilon=1e-8):
    """Per sample and channel: zero mean and unit variance over H, W."""
    x = x - tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=[1, 2], keepdims=True) + epsilon)


class DenseAct(EqualizedDense):
    """Official StyleGAN mapping layer: dense (gain sqrt(2) in the weights), bias, activation."""

    def __init__(self, units, act='lrelu', **kwargs):
        super().__init__(units, **kwargs)
        self.act = act
        self._act = _v1_activation(act)

    def call(self, x):
        return self._act(super().call(x))

    def get_config(self):
        return {**super().get_config(), 'act': self.act}


class StyleMapping(Mapping):
    """StyleGAN mapping network; the StyleGAN2 one but for where the gain sits, and for truncation: G_style
    truncates only the first `truncation_cutoff` ws (official default 8) and a cutoff of None disables it."""

    def __init__(self, truncation_cutoff=8, **kwargs):
        self.truncation_cutoff = truncation_cutoff
        super().__init__(**kwargs)

    def _mapping_layer(self, scope, fmaps, lrmul, act):
        return self._add(scope, DenseAct, fmaps, act=act, gain=np.sqrt(2), lrmul=lrmul)

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff=NETWORK_DEFAULT):
        if truncation_cutoff == NETWORK_DEFAULT:
            truncation_cutoff = self.truncation_cutoff
        if truncation_cutoff is None:
            truncation_psi = 1.0
        return super().call(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)


class StyledLayer(keras.layers.Layer):
    """One synthesis layer with its epilogue (official `layer_epilogue`):

        x = conv(x)            (4x4/Const: the learned constant instead; Conv0_up: upsample, conv, blur)
        x = x + noise * noise_weight[c]
        x = instance_norm(act(x + bias))
        x = x * (1 + ys) + yb,   [ys, yb] = dense(w, StyleMod/weight) + StyleMod/bias

    Official names, relative to the layer's scope: `weight` (or `const`), `Noise/weight`, `bias`,
    `StyleMod/weight`, `StyleMod/bias` (see `official_variables`).
    """

    def __init__(self, filters, kernel_size, w_dim, up=False, fused=False, blur_filter=(1, 2, 1), act='lrelu',
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.w_dim = int(filters), int(kernel_size), int(w_dim)
        self.up, self.fused, self.act = bool(up), bool(fused), act
        self.blur_filter = list(blur_filter) if blur_filter else None
        self._act = _v1_activation(act)

    def build(self, input_shape):
        normal, zeros = keras.initializers.RandomNormal(0.0, 1.0), keras.initializers.Zeros()
        c, k = self.filters, self.kernel_size
        if k == 0:  # 4x4/Const
            self.const = self.add_weight(name='const', shape=(1, c, 4, 4), initializer='ones')
        else:
            cin = int(input_shape[-1])
            self.w_mul = float(np.sqrt(2) / np.sqrt(k * k * cin))
            # [k, k, in, out] also when fused: the official code transposes it for conv2d_transpose.
            self.weight = self.add_weight(name='weight', shape=(k, k, cin, c), initializer=normal)
        self.noise_weight = self.add_weight(name='noise_weight', shape=(c,), initializer=zeros)
        self.bias = self.add_weight(name='bias', shape=(c,), initializer=zeros)
        self.style_weight = self.add_weight(name='style_weight', shape=(self.w_dim, 2 * c), initializer=normal)
        self.style_bias = self.add_weight(name='style_bias', shape=(2 * c,), initializer=zeros)

    def official_variables(self):
        main = {'const': self.const} if self.kernel_size == 0 else {'weight': self.weight}
        return {**main, 'Noise/weight': self.noise_weight, 'bias': self.bias,
                'StyleMod/weight': self.style_weight, 'StyleMod/bias': self.style_bias}

    def call(self, x, w, noise=None):
        """x [N, H, W, in] (4x4/Const: ignored but for its batch size), w [N, w_dim], noise [N or 1, H', W', 1]."""
        if self.kernel_size == 0:
            x = tf.tile(tf.transpose(self.const, [0, 2, 3, 1]), [tf.shape(w)[0], 1, 1, 1])
        else:
            weight = self.weight * self.w_mul
            if self.up and self.fused:  # ProGAN's fused upscale2d_conv2d, kernel [k, k, out, in].
                x = conv2d_transpose(x, _fused_kernel(tf.transpose(weight, [0, 1, 3, 2]), down=False),
                                     (x.shape[1] * 2, x.shape[2] * 2), stride=2, padding='SAME')
            else:
                x = conv2d(upscale2d(x) if self.up else x, weight)
            if self.up and self.blur_filter:
                x = blur2d(x, self.blur_filter)
        if noise is not None:
            x = x + noise * self.noise_weight
        x = instance_norm(self._act(x + self.bias))
        style = tf.matmul(w, self.style_weight * float(1 / np.sqrt(self.w_dim))) + self.style_bias
        return x * (style[:, None, None, :self.filters] + 1) + style[:, None, None, self.filters:]

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, 'kernel_size': self.kernel_size, 'w_dim': self.w_dim,
                'up': self.up, 'fused': self.fused, 'blur_filter': self.blur_filter, 'act': self.act}


class StyleSynthesis(_ScopedModel):
    """`G_synthesis`: ws [N, num_ws, dlatent_size] -> images [N, R, R, num_channels]. Layer i takes ws[i];
    noise buffer i (official `noise%d`, [1, 1, s, s]) has s = 2^(i // 2 + 2)."""

    def __init__(self,
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_channels=3,             # Number of output color channels.
                 resolution=1024,            # Output resolution.
                 fmap_base=8192,             # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 use_noise=True,             # Enable noise inputs?
                 randomize_noise=True,       # Default noise mode: True = 'random', False = 'const'.
                 nonlinearity='lrelu',       # Activation function: 'relu', 'lrelu'.
                 fused_scale='auto',         # Fused upscale convolution: True, False, 'auto' (from 128x128).
                 blur_filter=(1, 2, 1),      # Low-pass filter after upsampling; None = none.
                 use_wscale=True, use_styles=True, const_input_layer=True, use_pixel_norm=False,
                 use_instance_norm=True,     # Official switches: only their defaults are supported.
                 name='synthesis', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_synthesis', unknown)
        _require_defaults('G_synthesis', use_wscale=use_wscale, use_styles=use_styles, use_pixel_norm=use_pixel_norm,
                          const_input_layer=const_input_layer, use_instance_norm=use_instance_norm)
        self.resolution_log2 = top = resolution_log2(resolution)
        blur_filter = list(blur_filter) if blur_filter else None
        self.kwargs = dict(dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max, use_noise=bool(use_noise),
                           randomize_noise=randomize_noise, nonlinearity=nonlinearity, fused_scale=fused_scale,
                           blur_filter=blur_filter)
        nf = feature_maps(fmap_base, fmap_decay, fmap_max)
        self.num_ws = top * 2 - 2
        self.w_dim, self.img_channels, self.use_noise = dlatent_size, num_channels, bool(use_noise)
        self.default_noise_mode = 'random' if randomize_noise else 'const'
        self.layers_by_scope = {}
        layer = dict(w_dim=dlatent_size, act=nonlinearity, blur_filter=blur_filter)
        self._add('4x4/Const', StyledLayer, nf(1), 0, **layer)
        self._add('4x4/Conv', StyledLayer, nf(1), 3, **layer)
        for res in range(2, top + 1):
            if res > 2:
                r = f'{2 ** res}x{2 ** res}'
                self._add(f'{r}/Conv0_up', StyledLayer, nf(res - 1), 3, up=True, fused=_fused(fused_scale, 2 ** res),
                          **layer)
                self._add(f'{r}/Conv1', StyledLayer, nf(res - 1), 3, **layer)
            self._add(f'ToRGB_lod{top - res}', EqualizedConv2D, num_channels, 1, gain=1)
        add_noise_buffers(self, [2 ** (i // 2 + 2) for i in range(self.num_ws)] if self.use_noise else [])
        add_lod(self)
        self(tf.zeros([1, self.num_ws, dlatent_size]))

    _noise = Synthesis._noise

    def call(self, ws, noise_mode=None, noise=None, lod=None, level=None):
        """As RevisedSynthesis.call (networks_progressive.py)."""
        mode = self.default_noise_mode if noise_mode is None else noise_mode
        _check_choice('noise_mode', mode, NOISE_MODES)
        if noise is not None and len(noise) != len(self.noise_sizes):
            raise ValueError(f'noise: {len(noise)} inputs, expected {len(self.noise_sizes)} (noise_sizes)')
        ws = tf.cast(ws, tf.float32)
        batch = tf.shape(ws)[0]
        L, top = self.layers_by_scope, self.resolution_log2

        def layer(x, scope, index):
            return L[scope](x, ws[:, index], noise=self._noise(index, batch, mode, noise))

        def block(x, res):
            r = f'{2 ** res}x{2 ** res}'
            return layer(layer(x, f'{r}/Conv0_up', res * 2 - 4), f'{r}/Conv1', res * 2 - 3)

        def torgb(x, res):
            return L[f'ToRGB_lod{top - res}'](x)

        x = layer(layer(ws, '4x4/Const', 0), '4x4/Conv', 1)
        return grow_images(x, top, block, torgb, lod_value(self, lod), level)


class StyleGenerator(_ScopedModel):
    """`G_style`: z [N, latent_size], c [N, label_size] -> images [N, R, R, num_channels]. The same interface
    as stylegan2.generator.Generator (`mapping`, `synthesis`, `num_ws`, `z_dim`, ...)."""

    def __init__(self,
                 latent_size=512,            # Latent vector (z) dimensionality.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_channels=3,             # Number of output color channels.
                 resolution=1024,            # Output resolution.
                 mapping_layers=8,           # Number of mapping layers.
                 mapping_fmaps=512,          # Activations in the hidden mapping layers.
                 mapping_lrmul=0.01,         # Learning rate multiplier for the mapping layers.
                 mapping_nonlinearity='lrelu',  # Mapping activation function: 'relu', 'lrelu'.
                 normalize_latents=True,     # Normalize z before the mapping layers?
                 truncation_cutoff=8,        # Layers the truncation trick applies to (G_style default).
                 dlatent_avg_beta=0.995,     # Training: decay of the moving average of w.
                 style_mixing_prob=0.9,      # Training: probability of style mixing regularization.
                 name='G', **synthesis_kwargs):  # G_synthesis arguments (fmap_base, fused_scale, ...).
        super().__init__(name=name)
        self.synthesis = StyleSynthesis(dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution,
                                        name='synthesis', **synthesis_kwargs)
        self.mapping = StyleMapping(
            truncation_cutoff=truncation_cutoff, latent_size=latent_size, label_size=label_size,
            dlatent_size=dlatent_size, num_ws=self.synthesis.num_ws, mapping_layers=mapping_layers,
            mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul, mapping_nonlinearity=mapping_nonlinearity,
            normalize_latents=normalize_latents, label_layout='stylegan2', name='mapping')
        self.kwargs = dict(latent_size=latent_size, label_size=label_size, mapping_layers=mapping_layers,
                           mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul,
                           mapping_nonlinearity=mapping_nonlinearity, normalize_latents=normalize_latents,
                           truncation_cutoff=truncation_cutoff, dlatent_avg_beta=dlatent_avg_beta,
                           style_mixing_prob=style_mixing_prob, func_name='G_style', **self.synthesis.kwargs)
        self.num_ws, self.z_dim, self.w_dim, self.c_dim = self.synthesis.num_ws, latent_size, dlatent_size, label_size
        self.img_resolution, self.img_channels = resolution, num_channels
        self.dlatent_avg_beta, self.style_mixing_prob = dlatent_avg_beta, style_mixing_prob
        self(tf.zeros([1, latent_size]), tf.zeros([1, label_size]))

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff=NETWORK_DEFAULT, noise_mode=None, noise=None,
             lod=None):
        """As Generator.call; truncation_cutoff defaults to the network's (8), None disables truncation; `lod`
        overrides the synthesis network's state."""
        if c is None:
            c = tf.zeros([tf.shape(z)[0], self.c_dim])
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, noise=noise, lod=lod)


class BasicDiscriminator(_ScopedModel):
    """`D_basic`: images [N, R, R, C], c [N, label_size] -> logits [N, 1]. ProGAN's discriminator with a blur
    before each downsampling and one score per label (selected by the one-hot label)."""

    def __init__(self,
                 num_channels=1,             # Number of input color channels.
                 resolution=32,              # Input resolution.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 fmap_base=8192,             # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 nonlinearity='lrelu',       # Activation function: 'relu', 'lrelu'.
                 mbstd_group_size=4,         # Minibatch stddev group size; <= 1 disables the layer.
                 mbstd_num_features=1,       # Minibatch stddev features.
                 fused_scale='auto',         # Fused downscale convolution: True, False, 'auto' (from 128x128).
                 blur_filter=(1, 2, 1),      # Low-pass filter before downsampling; None = none.
                 use_wscale=True,            # Official switch: only its default is supported.
                 name='D', **unknown):
        super().__init__(name=name)
        refuse_unknown('D_basic', unknown)
        _require_defaults('D_basic', use_wscale=use_wscale)
        self.resolution_log2 = top = resolution_log2(resolution)
        blur_filter = list(blur_filter) if blur_filter else None
        self.kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max, nonlinearity=nonlinearity,
                           mbstd_group_size=mbstd_group_size, mbstd_num_features=mbstd_num_features,
                           fused_scale=fused_scale, blur_filter=blur_filter, func_name='D_basic')
        nf = feature_maps(fmap_base, fmap_decay, fmap_max)
        self.c_dim, self.blur_filter, self.act = label_size, blur_filter, _v1_activation(nonlinearity)
        self.layers_by_scope = {}
        for res in range(top, 1, -1):
            self._add(f'FromRGB_lod{top - res}', EqualizedConv2D, nf(res - 1), 1)
            if res > 2:
                r = f'{2 ** res}x{2 ** res}'
                fused = _fused(fused_scale, 2 ** res)
                self._add(f'{r}/Conv0', EqualizedConv2D, nf(res - 1), 3)
                self._add(f'{r}/Conv1_down', EqualizedConv2D, nf(res - 2), 3, resample='down' if fused else None)
        self.mbstd = MinibatchStddev(mbstd_group_size, mbstd_num_features, name='4x4.MinibatchStddev') \
            if mbstd_group_size > 1 else None
        self._add('4x4/Conv', EqualizedConv2D, nf(1), 3)
        self._add('4x4/Dense0', EqualizedDense, nf(0))
        self._add('4x4/Dense1', EqualizedDense, max(label_size, 1), gain=1)
        add_lod(self)
        self(tf.zeros([1, resolution, resolution, num_channels]), tf.zeros([1, label_size]))

    def call(self, images, c=None, lod=None, level=None):
        """images [N, R, R, C] in [-1, 1] at full resolution, c [N, label_size] -> logits [N, 1]."""
        L, top, act = self.layers_by_scope, self.resolution_log2, self.act

        def fromrgb(img, res):
            return act(L[f'FromRGB_lod{top - res}'](img))

        def block(x, res):
            r = f'{2 ** res}x{2 ** res}'
            x = act(L[f'{r}/Conv0'](x))
            if self.blur_filter:
                x = blur2d(x, self.blur_filter)
            down = L[f'{r}/Conv1_down']
            return act(down(x) if down.resample == 'down' else downscale2d(down(x)))

        x = shrink_features(tf.cast(images, tf.float32), top, fromrgb, block, lod_value(self, lod), level)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = L['4x4/Dense1'](act(L['4x4/Dense0'](act(L['4x4/Conv'](x)))))
        if not self.c_dim:
            return x
        return tf.reduce_sum(x * tf.cast(c, tf.float32), axis=1, keepdims=True)
