"""Progressive growing in the StyleGAN family: the fade-in shared by every growing network, and the networks
of configs b-d of NVlabs/stylegan2 (`training/networks_stylegan2.py`): `G_synthesis_stylegan_revised`
(StyleGAN2 Figure 2d: weight demodulation, progressive growing, no skips or residuals) and `D_stylegan`
(the original StyleGAN discriminator with StyleGAN2's FIR downsampling).

The level of detail `lod` is a non-trainable variable of each growing network (as the official `lod`), so
changing it changes the fade-in without retracing. Two ways to evaluate the same function:
  `level=None`  the official 'linear' structure: every level is computed and lerp_clip picks the mix;
                works for any lod and in any graph (generation, tests).
  `level=k`     training: the caller guarantees floor(lod) == k, so only the levels in use are built,
                as the official 'recursive' structure does, but without its nested tf.cond, which
                fails under R1's double backprop in TF 2.21 (see pggan/networks.py).
Resampling between levels is nearest-neighbour / box, as the official `naive_upsample_2d`,
`upsample_2d` with its default kernel, and `downsample_2d` / `naive_downsample_2d`.
"""
import tensorflow as tf

from common.ops.layers import (MinibatchStddev, add_lod, downscale2d, feature_maps, lerp, lerp_clip, lod_value,
                               refuse_unknown, upscale2d)
from common.ops.resample import DEFAULT_KERNEL
from stylegan2.networks import (ACTIVATIONS, NOISE_MODES, ConstantInput, Conv2DLayer, DenseLayer, ModulatedConv2D,
                                Synthesis, _check_choice, _ScopedModel, add_noise_buffers, resolution_log2)


def grow_images(x, top, block, torgb, lod, level=None):
    """Generator fade-in. x: the 4x4 features; block(x, res) -> features at 2^res; torgb(x, res) -> images.
    Returns images [N, 2^top, 2^top, C]: the output of level floor(lod), blended with the upsampled output
    of the level below by lod - floor(lod), and upsampled (nearest) to full resolution."""
    if level is not None:
        res, prev = top - level, x
        for r in range(3, res + 1):
            prev, x = x, block(x, r)
        images = torgb(x, res)
        if res > 2:
            images = lerp(images, upscale2d(torgb(prev, res - 1)), lod - level)
        return upscale2d(images, 2 ** level)
    images = torgb(x, 2)
    for r in range(3, top + 1):
        x = block(x, r)
        images = lerp_clip(torgb(x, r), upscale2d(images), lod - (top - r))
    return images


def shrink_features(images, top, fromrgb, block, lod, level=None):
    """Discriminator fade-in, the mirror of grow_images. images: [N, 2^top, 2^top, C] at full resolution
    (reals are upscaled to it by process_reals). fromrgb(img, res), block(x, res) -> features at 2^(res-1).
    Returns the 4x4 features that enter the final layers."""
    if level is not None:
        res = top - level
        x = fromrgb(downscale2d(images, 2 ** level), res)
        if res > 2:
            x = lerp(block(x, res), fromrgb(downscale2d(images, 2 ** (level + 1)), res - 1), lod - level)
        for r in range(res - 1, 2, -1):
            x = block(x, r)
        return x
    x = fromrgb(images, top)
    for r in range(top, 2, -1):
        images = downscale2d(images)
        x = lerp_clip(block(x, r), fromrgb(images, r - 1), lod - (top - r))
    return x


class RevisedSynthesis(_ScopedModel):
    """`G_synthesis_stylegan_revised`: ws [N, num_ws, dlatent_size] -> images [N, R, R, num_channels].

    The StyleGAN2 layers (modulated, demodulated convolutions, noise after demodulation) in the original
    StyleGAN layout: `4x4/Const`, `4x4/Conv`, per resolution `Conv0_up` and `Conv1`, and one
    `ToRGB_lod%d` per level for progressive growing. ToRGB at resolution 2^r takes ws[2r - 3].
    """

    def __init__(self,
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_channels=3,             # Number of output color channels.
                 resolution=1024,            # Output resolution.
                 fmap_base=16 << 10,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_min=1,                 # Minimum number of feature maps in any layer.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 randomize_noise=False,      # Default noise mode: True = 'random', False = 'const'.
                 nonlinearity='lrelu',       # Activation function.
                 resample_kernel=DEFAULT_KERNEL,  # Low-pass FIR filter of Conv0_up.
                 fused_modconv=True,         # Official grouped-conv switch: the same function.
                 name='synthesis', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_synthesis_stylegan_revised', unknown)
        self.resolution_log2 = resolution_log2(resolution)
        _check_choice('nonlinearity', nonlinearity, ACTIVATIONS)
        resample_kernel = list(resample_kernel) if resample_kernel is not None else None
        self.kwargs = dict(dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_min=fmap_min, fmap_max=fmap_max,
                           randomize_noise=randomize_noise, nonlinearity=nonlinearity,
                           resample_kernel=resample_kernel, fused_modconv=fused_modconv)
        nf = feature_maps(fmap_base, fmap_decay, fmap_max, fmap_min)
        top = self.resolution_log2
        self.num_ws = top * 2 - 2
        self.w_dim, self.img_channels, self.use_noise = dlatent_size, num_channels, True
        self.default_noise_mode = 'random' if randomize_noise else 'const'
        self.layers_by_scope = {}
        conv = dict(w_dim=dlatent_size, act=nonlinearity, resample_kernel=resample_kernel)
        self._add('4x4/Const', ConstantInput, nf(1))
        self._add('4x4/Conv', ModulatedConv2D, nf(1), 3, **conv)
        for res in range(2, top + 1):
            if res > 2:
                self._add(f'{2 ** res}x{2 ** res}/Conv0_up', ModulatedConv2D, nf(res - 1), 3, up=True, **conv)
                self._add(f'{2 ** res}x{2 ** res}/Conv1', ModulatedConv2D, nf(res - 1), 3, **conv)
            self._add(f'ToRGB_lod{top - res}', ModulatedConv2D, num_channels, 1, w_dim=dlatent_size, demodulate=False,
                      use_noise=False, act='linear')
        add_noise_buffers(self, [2 ** ((i + 5) // 2) for i in range(self.num_ws - 1)])
        add_lod(self)
        self(tf.zeros([1, self.num_ws, dlatent_size]))

    _noise = Synthesis._noise

    def call(self, ws, noise_mode=None, noise=None, lod=None, level=None):
        """ws [N, num_ws, w_dim] -> images [N, R, R, C]; noise_mode, noise as Synthesis.call; `lod` overrides
        the state; `level` as in the module doc."""
        mode = self.default_noise_mode if noise_mode is None else noise_mode
        _check_choice('noise_mode', mode, NOISE_MODES)
        mode = 'explicit' if noise is not None else mode
        ws = tf.cast(ws, tf.float32)
        batch = tf.shape(ws)[0]
        L = self.layers_by_scope
        top = self.resolution_log2

        def conv(x, scope, index):
            return L[scope](x, ws[:, index], noise=self._noise(index, batch, mode, noise))

        def block(x, res):
            r = f'{2 ** res}x{2 ** res}'
            return conv(conv(x, f'{r}/Conv0_up', res * 2 - 5), f'{r}/Conv1', res * 2 - 4)

        def torgb(x, res):
            return L[f'ToRGB_lod{top - res}'](x, ws[:, res * 2 - 3])

        x = conv(L['4x4/Const'](ws), '4x4/Conv', 0)
        return grow_images(x, top, block, torgb, lod_value(self, lod), level)



class StyleGANDiscriminator(_ScopedModel):
    """`D_stylegan`: images [N, R, R, C], c [N, label_size] -> logits [N, 1]. FromRGB_lod%d per level,
    Conv0 / Conv1_down (FIR downsampling) per resolution, then minibatch stddev, 4x4/Conv, 4x4/Dense0 and
    Output (one score per label, selected by the one-hot label, as D_stylegan2)."""

    def __init__(self,
                 num_channels=3,             # Number of input color channels.
                 resolution=1024,            # Input resolution.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 fmap_base=16 << 10,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_min=1,                 # Minimum number of feature maps in any layer.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 nonlinearity='lrelu',       # Activation function.
                 mbstd_group_size=4,         # Minibatch stddev group size; <= 1 disables the layer.
                 mbstd_num_features=1,       # Minibatch stddev features.
                 resample_kernel=DEFAULT_KERNEL,  # Low-pass FIR filter of Conv1_down.
                 name='D', **unknown):
        super().__init__(name=name)
        refuse_unknown('D_stylegan', unknown)
        self.resolution_log2 = resolution_log2(resolution)
        _check_choice('nonlinearity', nonlinearity, ACTIVATIONS)
        resample_kernel = list(resample_kernel) if resample_kernel is not None else None
        self.kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_min=fmap_min, fmap_max=fmap_max,
                           nonlinearity=nonlinearity, mbstd_group_size=mbstd_group_size,
                           mbstd_num_features=mbstd_num_features, resample_kernel=resample_kernel)
        nf = feature_maps(fmap_base, fmap_decay, fmap_max, fmap_min)
        top = self.resolution_log2
        self.num_channels, self.c_dim = num_channels, label_size
        self.layers_by_scope = {}
        for res in range(top, 1, -1):
            self._add(f'FromRGB_lod{top - res}', Conv2DLayer, nf(res - 1), 1, act=nonlinearity)
            if res > 2:
                r = f'{2 ** res}x{2 ** res}'
                self._add(f'{r}/Conv0', Conv2DLayer, nf(res - 1), 3, act=nonlinearity)
                self._add(f'{r}/Conv1_down', Conv2DLayer, nf(res - 2), 3, down=True, resample_kernel=resample_kernel,
                          act=nonlinearity)
        self.mbstd = MinibatchStddev(mbstd_group_size, mbstd_num_features, name='4x4.MinibatchStddev') \
            if mbstd_group_size > 1 else None
        self._add('4x4/Conv', Conv2DLayer, nf(1), 3, act=nonlinearity)
        self._add('4x4/Dense0', DenseLayer, nf(0), act=nonlinearity)
        self._add('Output', DenseLayer, max(label_size, 1))
        add_lod(self)
        self(tf.zeros([1, resolution, resolution, num_channels]), tf.zeros([1, label_size]))

    def call(self, images, c=None, lod=None, level=None):
        """images [N, R, R, C] in [-1, 1] at full resolution, c [N, label_size] -> logits [N, 1]."""
        L, top = self.layers_by_scope, self.resolution_log2

        def fromrgb(img, res):
            return L[f'FromRGB_lod{top - res}'](img)

        def block(x, res):
            r = f'{2 ** res}x{2 ** res}'
            return L[f'{r}/Conv1_down'](L[f'{r}/Conv0'](x))

        x = shrink_features(tf.cast(images, tf.float32), top, fromrgb, block, lod_value(self, lod), level)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = L['Output'](L['4x4/Dense0'](L['4x4/Conv'](x)))
        if not self.c_dim:
            return x
        return tf.reduce_sum(x * tf.cast(c, tf.float32), axis=1, keepdims=True)
