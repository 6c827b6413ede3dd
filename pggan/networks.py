"""Progressive GAN generator and discriminator (Karras et al. 2018), as `networks.py` of
tkarras/progressive_growing_of_gans: same arguments, defaults, layer names and outputs, NHWC inside.

Layers are named after the official variable scopes with '/' written as '.', e.g. `8x8.Conv0_up`,
`ToRGB_lod2`, so that official weights map one to one. The level of detail `lod` is a non-trainable
variable of each network: setting it changes the fade-in without retracing anything.
"""
import numpy as np
import keras
import tensorflow as tf

from common.ops.layers import (EqualizedConv2D, EqualizedDense, MinibatchStddev, PixelNorm, add_lod, downscale2d,
                               feature_maps, leaky_relu, lerp, lerp_clip, lod_value, refuse_unknown, upscale2d)


class DenseToFeatureMap(EqualizedDense):
    """G's 4x4/Dense: a dense layer whose output is reshaped to a [4, 4, C] feature map before its
    per-channel bias is added (the official reshape is NCHW, hence the transpose)."""

    def build(self, input_shape):
        use_bias, self.use_bias = self.use_bias, False
        super().build(input_shape)
        self.use_bias = use_bias
        if use_bias:
            self.bias = self.add_weight(name='bias', shape=(self.units // 16,), initializer='zeros')

    def call(self, x):
        x = tf.matmul(x, self.weight * self.w_mul)
        x = tf.transpose(tf.reshape(x, [-1, self.units // 16, 4, 4]), [0, 2, 3, 1])
        return x + self.bias * self.lrmul if self.use_bias else x


class _LodNetwork(keras.Model):
    """Shared by G and D: the `lod` state variable and the official constructor arguments."""

    def _init_lod(self, resolution, structure):
        self.resolution_log2 = int(np.log2(resolution))
        if resolution != 2 ** self.resolution_log2 or resolution < 4:
            raise ValueError(f'resolution={resolution}: expected a power of two >= 4')
        if structure not in ('linear', 'recursive'):
            raise ValueError(f'structure={structure!r}: expected "linear" or "recursive"')
        add_lod(self)

    def get_config(self):
        return dict(self.kwargs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class G_paper(_LodNetwork):
    """Generator: latents [N, latent_size] and labels [N, label_size] -> images [N, R, R, num_channels]."""

    def __init__(self,
                 num_channels=1,         # Number of output color channels.
                 resolution=32,          # Output resolution.
                 label_size=0,           # Dimensionality of the labels, 0 if no labels.
                 fmap_base=8192,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,         # log2 feature map reduction when doubling the resolution.
                 fmap_max=512,           # Maximum number of feature maps in any layer.
                 latent_size=None,       # Dimensionality of the latent vectors. None = min(fmap_base, fmap_max).
                 normalize_latents=True, # Normalize latent vectors before feeding them to the network?
                 use_wscale=True,        # Enable equalized learning rate?
                 use_pixelnorm=True,     # Enable pixelwise feature vector normalization?
                 pixelnorm_epsilon=1e-8, # Constant epsilon for pixelwise feature vector normalization.
                 use_leakyrelu=True,     # True = leaky ReLU, False = ReLU.
                 fused_scale=True,       # True = fused upscale2d + conv2d, False = separate upscale2d layers.
                 structure='recursive',  # 'linear' = computes every level, 'recursive' = only the levels in use.
                 name='G', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_paper', unknown)
        nf = feature_maps(fmap_base, fmap_decay, fmap_max)
        latent_size = nf(0) if latent_size is None else latent_size
        self.kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max, latent_size=latent_size,
                           normalize_latents=normalize_latents, use_wscale=use_wscale, use_pixelnorm=use_pixelnorm,
                           pixelnorm_epsilon=pixelnorm_epsilon, use_leakyrelu=use_leakyrelu,
                           fused_scale=fused_scale, structure=structure)
        self._init_lod(resolution, structure)
        self.latent_size, self.label_size, self.num_channels = latent_size, label_size, num_channels
        self.structure, self.normalize_latents, self.use_pixelnorm = structure, normalize_latents, use_pixelnorm
        self.act = leaky_relu if use_leakyrelu else tf.nn.relu
        self.pixel_norm = PixelNorm(pixelnorm_epsilon, name='PixelNorm')
        ws = dict(use_wscale=use_wscale)
        self.layers_by_scope = {}
        for res in range(2, self.resolution_log2 + 1):
            r = f'{2 ** res}x{2 ** res}'
            if res == 2:  # Dense gain sqrt(2)/4 matches the original Theano implementation (official comment).
                self._add(f'{r}/Dense', DenseToFeatureMap, nf(res - 1) * 16, gain=np.sqrt(2) / 4, **ws)
                self._add(f'{r}/Conv', EqualizedConv2D, nf(res - 1), 3, **ws)
            else:
                if fused_scale:
                    self._add(f'{r}/Conv0_up', EqualizedConv2D, nf(res - 1), 3, resample='up', **ws)
                else:
                    self._add(f'{r}/Conv0', EqualizedConv2D, nf(res - 1), 3, **ws)
                self._add(f'{r}/Conv1', EqualizedConv2D, nf(res - 1), 3, **ws)
            self._add(f'ToRGB_lod{self.resolution_log2 - res}', EqualizedConv2D, num_channels, 1, gain=1, **ws)
        self.nf = nf
        self.build_all()

    def _add(self, scope, cls, *args, **kwargs):
        layer = cls(*args, name=scope.replace('/', '.'), **kwargs)
        self.layers_by_scope[scope] = layer
        # Also a plain attribute: tf.train.Checkpoint (snapshots, resume) does not see layers held in a dict.
        setattr(self, 'layer_' + scope.replace('/', '_'), layer)

    def build_all(self):
        self(tf.zeros([1, self.latent_size]), tf.zeros([1, self.label_size]))

    def _pn(self, x):
        return self.pixel_norm(x) if self.use_pixelnorm else x

    def block(self, x, res):
        """One resolution of the generator; 4x4 takes the (latent, label) vector."""
        r, L = f'{2 ** res}x{2 ** res}', self.layers_by_scope
        if res == 2:
            if self.normalize_latents:
                x = self.pixel_norm(x)
            x = self._pn(self.act(L[f'{r}/Dense'](x)))
            return self._pn(self.act(L[f'{r}/Conv'](x)))
        if f'{r}/Conv0_up' in L:
            x = self._pn(self.act(L[f'{r}/Conv0_up'](x)))
        else:
            x = self._pn(self.act(L[f'{r}/Conv0'](upscale2d(x))))
        return self._pn(self.act(L[f'{r}/Conv1'](x)))

    def torgb(self, x, res):
        return self.layers_by_scope[f'ToRGB_lod{self.resolution_log2 - res}'](x)

    def call(self, latents, labels=None, lod=None, level=None):
        """latents [N, latent_size], labels [N, label_size] -> images [N, R, R, C]; `lod` overrides the state.

        `level` (training): the caller guarantees floor(lod) == level, so only the levels in use are built,
        with no tf.cond (whose nested double backprop is slow to trace and fails in TF 2.21). Same result.
        """
        if labels is None:
            labels = tf.zeros([tf.shape(latents)[0], self.label_size])
        lod_in = lod_value(self, lod)
        x = tf.concat([tf.cast(latents, tf.float32), tf.cast(labels, tf.float32)], axis=1)
        top = self.resolution_log2
        if level is not None:
            res = top - level
            x = self.block(x, 2)
            for r in range(3, res + 1):
                x, prev = self.block(x, r), x
            images = self.torgb(x, res)
            if res > 2:
                images = lerp(images, upscale2d(self.torgb(prev, res - 1)), lod_in - level)
            return upscale2d(images, 2 ** level)
        if self.structure == 'linear':
            x = self.block(x, 2)
            images = self.torgb(x, 2)
            for res in range(3, top + 1):
                lod = top - res
                x = self.block(x, res)
                images = lerp_clip(self.torgb(x, res), upscale2d(images), lod_in - lod)
            return images

        def grow(x, res, lod):  # The official recursive structure: only levels with lod_in < lod + 1 run.
            y = self.block(x, res)
            img = lambda: upscale2d(self.torgb(y, res), 2 ** lod)
            if res > 2:
                img = _cset(img, lod_in > lod, lambda: upscale2d(
                    lerp(self.torgb(y, res), upscale2d(self.torgb(x, res - 1)), lod_in - lod), 2 ** lod))
            if lod > 0:
                img = _cset(img, lod_in < lod, lambda: grow(y, res + 1, lod - 1))
            return img()
        return grow(x, 2, top - 2)


class D_paper(_LodNetwork):
    """Discriminator: images [N, R, R, C] -> (scores [N, 1], label logits [N, label_size])."""

    def __init__(self,
                 num_channels=1,         # Number of input color channels.
                 resolution=32,          # Input resolution.
                 label_size=0,           # Dimensionality of the labels, 0 if no labels.
                 fmap_base=8192,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,         # log2 feature map reduction when doubling the resolution.
                 fmap_max=512,           # Maximum number of feature maps in any layer.
                 use_wscale=True,        # Enable equalized learning rate?
                 mbstd_group_size=4,     # Group size for the minibatch standard deviation layer, 0 = disable.
                 fused_scale=True,       # True = fused conv2d + downscale2d, False = separate downscale2d layers.
                 structure='recursive',  # 'linear' = computes every level, 'recursive' = only the levels in use.
                 name='D', **unknown):
        super().__init__(name=name)
        refuse_unknown('D_paper', unknown)
        nf = feature_maps(fmap_base, fmap_decay, fmap_max)
        self.kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max, use_wscale=use_wscale,
                           mbstd_group_size=mbstd_group_size, fused_scale=fused_scale, structure=structure)
        self._init_lod(resolution, structure)
        self.num_channels, self.label_size, self.structure = num_channels, label_size, structure
        ws = dict(use_wscale=use_wscale)
        self.layers_by_scope = {}
        self.mbstd = MinibatchStddev(mbstd_group_size, name='MinibatchStddev') if mbstd_group_size > 1 else None
        for res in range(self.resolution_log2, 1, -1):
            r = f'{2 ** res}x{2 ** res}'
            self._add(f'FromRGB_lod{self.resolution_log2 - res}', EqualizedConv2D, nf(res - 1), 1, **ws)
            if res >= 3:
                self._add(f'{r}/Conv0', EqualizedConv2D, nf(res - 1), 3, **ws)
                if fused_scale:
                    self._add(f'{r}/Conv1_down', EqualizedConv2D, nf(res - 2), 3, resample='down', **ws)
                else:
                    self._add(f'{r}/Conv1', EqualizedConv2D, nf(res - 2), 3, **ws)
            else:
                self._add(f'{r}/Conv', EqualizedConv2D, nf(res - 1), 3, **ws)
                self._add(f'{r}/Dense0', EqualizedDense, nf(res - 2), **ws)
                self._add(f'{r}/Dense1', EqualizedDense, 1 + label_size, gain=1, **ws)
        self.build_all()

    _add = G_paper._add

    @property
    def input_shape_hw(self):
        return [2 ** self.resolution_log2, 2 ** self.resolution_log2, self.num_channels]

    def build_all(self):
        self(tf.zeros([max(1, self.kwargs['mbstd_group_size'])] + self.input_shape_hw))

    def fromrgb(self, x, res):
        return leaky_relu(self.layers_by_scope[f'FromRGB_lod{self.resolution_log2 - res}'](x))

    def block(self, x, res):
        r, L = f'{2 ** res}x{2 ** res}', self.layers_by_scope
        if res >= 3:
            x = leaky_relu(L[f'{r}/Conv0'](x))
            if f'{r}/Conv1_down' in L:
                return leaky_relu(L[f'{r}/Conv1_down'](x))
            return downscale2d(leaky_relu(L[f'{r}/Conv1'](x)))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = leaky_relu(L[f'{r}/Conv'](x))
        x = leaky_relu(L[f'{r}/Dense0'](x))
        return L[f'{r}/Dense1'](x)

    def call(self, images, labels=None, lod=None):
        """images [N, R, R, C] in [-1, 1] -> scores [N, 1], or (scores, label logits [N, label_size]) when
        label_size > 0. `labels` is accepted for a uniform API and unused (the ProGAN D classifies, AC-GAN)."""
        scores, logits = self.scores_and_logits(images, lod)
        return (scores, logits) if self.label_size > 0 else scores

    def scores_and_logits(self, images, lod=None, level=None):
        """(scores, logits) always; `level` as in G_paper.call (training: floor(lod) == level)."""
        lod_in = lod_value(self, lod)
        images = tf.cast(images, tf.float32)
        top = self.resolution_log2
        if level is not None:
            res = top - level
            x = self.block(self.fromrgb(downscale2d(images, 2 ** level), res), res)
            if res > 2:
                x = lerp(x, self.fromrgb(downscale2d(images, 2 ** (level + 1)), res - 1), lod_in - level)
            for r in range(res - 1, 1, -1):
                x = self.block(x, r)
            out = x
        elif self.structure == 'linear':
            img = images
            x = self.fromrgb(img, top)
            for res in range(top, 2, -1):
                lod = top - res
                x = self.block(x, res)
                img = downscale2d(img)
                x = lerp_clip(x, self.fromrgb(img, res - 1), lod_in - lod)
            out = self.block(x, 2)
        else:
            def grow(res, lod):
                x = lambda: self.fromrgb(downscale2d(images, 2 ** lod), res)
                if lod > 0:
                    x = _cset(x, lod_in < lod, lambda: grow(res + 1, lod - 1))
                x = self.block(x(), res)
                y = lambda: x
                if res > 2:
                    y = _cset(y, lod_in > lod, lambda: lerp(x, self.fromrgb(downscale2d(images, 2 ** (lod + 1)), res - 1),
                                                            lod_in - lod))
                return y()
            out = grow(2, top - 2)
        return out[:, :1], out[:, 1:]


def _cset(cur_lambda, new_cond, new_lambda):
    return lambda: tf.cond(new_cond, new_lambda, cur_lambda)
