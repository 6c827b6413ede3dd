"""StyleGAN2 mapping, synthesis and discriminator networks (Karras et al. 2020), as
`training/networks_stylegan2.py` of NVlabs/stylegan2 and `training/networks.py` of NVlabs/stylegan2-ada:
same arguments, defaults (TF1 StyleGAN2's where the two differ), variable names and outputs, NHWC inside.

Layers are named after the official variable scopes with '/' written as '.', e.g. `32x32.Conv0_up`,
`4x4.ToRGB`, `Dense0`, and own the official variables under the official names (`weight`, `mod_weight`,
`mod_bias`, `noise_strength`, `bias`), so official weights map one to one (`stylegan2/loading.py`).
The learned constant (`4x4/Const/const`, [1, C, 4, 4]) and the noise buffers (`noise%d`, [1, 1, R, R])
keep their official NCHW shapes and are permuted when used.

Labels enter in one of the two official ways (`label_layout`):
  'stylegan2'  TF1 StyleGAN2. G: labels times an unscaled `LabelConcat` matrix are concatenated to z before
               normalization. D: `Output` has one score per label; the one-hot label selects it.
  'ada'        StyleGAN2-ADA. G: `LabelEmbed` (dense + bias), normalized, concatenated to normalized z.
               D: projection: score = sum(out * cmap) / sqrt(cmap_dim), cmap = normalized `LabelEmbed(c)`
               followed by `mapping_layers` dense layers `Mapping%d`.
"""
import numpy as np
import keras
import tensorflow as tf

from common.ops.conv import conv2d
from common.ops.layers import (EqualizedConv2D, EqualizedDense, MinibatchStddev, feature_maps, leaky_relu,
                               refuse_unknown)
from common.ops.mixed_precision import block_dtype, check_precision
from common.ops.resample import DEFAULT_KERNEL, conv_downsample_2d, downsample_2d, upsample_2d, upsample_conv_2d

# The official fused_bias_act activations with their default gains: ReLU-like ones are scaled by sqrt(2)
# so that, with gain-1 equalized weights, activations keep unit variance.
ACTIVATIONS = {
    'linear': (lambda x: x, 1.0),
    'relu': (tf.nn.relu, float(np.sqrt(2))),
    'lrelu': (lambda x: leaky_relu(x, 0.2), float(np.sqrt(2))),
    'tanh': (tf.tanh, 1.0),
    'sigmoid': (tf.sigmoid, 1.0),
    'elu': (tf.nn.elu, 1.0),
    'selu': (tf.nn.selu, 1.0),
    'softplus': (tf.nn.softplus, 1.0),
    'swish': (lambda x: tf.sigmoid(x) * x, float(np.sqrt(2))),
}
LABEL_LAYOUTS = ('stylegan2', 'ada')
NOISE_MODES = ('const', 'none', 'random')
SYNTHESIS_FUNCS = ('G_synthesis_stylegan2', 'G_synthesis_stylegan_revised')


def activate(x, act='linear', clamp=None):
    """fused_bias_act after the bias: activation, its gain, then the optional clamp (StyleGAN2-ADA)."""
    func, gain = ACTIVATIONS[act]
    x = func(x)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = tf.clip_by_value(x, -clamp, clamp)
    return x


def normalize_2nd_moment(x, eps=1e-8):
    """x / sqrt(mean(x^2) + eps) over the last axis (`normalize_latents`, label embeddings)."""
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + eps)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f'{name}={value!r}: expected one of {list(choices)}')


def resolution_log2(resolution, minimum=4):
    """log2 of a network's output / input resolution, which must be a power of two >= `minimum`."""
    log2 = int(np.log2(resolution))
    if resolution != 2 ** log2 or resolution < minimum:
        raise ValueError(f'resolution={resolution}: expected a power of two >= {minimum}')
    return log2


def add_noise_buffers(layer, sizes):
    """The official per-layer constant noise inputs `noise<i>` [1, 1, size, size] (non-trainable, N(0, 1))."""
    layer.noise_sizes, layer.noise_buffers = list(sizes), []
    for i, size in enumerate(layer.noise_sizes):
        var = layer.add_weight(name=f'noise{i}', shape=(1, 1, size, size),
                               initializer=keras.initializers.RandomNormal(0.0, 1.0), trainable=False)
        layer.noise_buffers.append(var)
        setattr(layer, f'noise{i}', var)  # An attribute too: tf.train.Checkpoint tracks attributes, not lists.


class DenseLayer(EqualizedDense):
    """Official `dense_layer` + `apply_bias_act`: equalized-LR dense with gain 1 (the activation carries
    the gain), bias scaled by lrmul, activation. Inputs of rank 4 are flattened in NCHW order."""

    def __init__(self, units, act='linear', gain=1.0, **kwargs):
        super().__init__(units, gain=gain, **kwargs)
        self.act = act

    def call(self, x):
        return activate(super().call(x), self.act)

    def get_config(self):
        return {**super().get_config(), 'act': self.act}


class Conv2DLayer(EqualizedConv2D):
    """Official `conv2d_layer` + `apply_bias_act`: equalized-LR convolution with gain 1, optional 2x FIR
    upsampling (`up`) or downsampling (`down`) fused with it, bias, activation and clamp."""

    def __init__(self, filters, kernel_size, up=False, down=False, resample_kernel=DEFAULT_KERNEL, act='linear',
                 conv_clamp=None, gain=1.0, **kwargs):
        # autocast off: float16 inputs stay float16 (Keras would cast them to the float32 policy).
        super().__init__(filters, kernel_size, gain=gain, autocast=False, **kwargs)
        self.up, self.down, self.act, self.conv_clamp = bool(up), bool(down), act, conv_clamp
        self.resample_kernel = list(resample_kernel) if resample_kernel is not None else None

    def call(self, x):
        w = tf.cast(self.weight * self.w_mul, x.dtype)
        if self.up:
            x = upsample_conv_2d(x, w, self.resample_kernel)
        elif self.down:
            x = conv_downsample_2d(x, w, self.resample_kernel)
        else:
            x = conv2d(x, w)
        if self.use_bias:
            x = x + tf.cast(self.bias * self.lrmul, x.dtype)
        return activate(x, self.act, self.conv_clamp)

    def get_config(self):
        return {**super().get_config(), 'up': self.up, 'down': self.down, 'resample_kernel': self.resample_kernel,
                'act': self.act, 'conv_clamp': self.conv_clamp}


class ModulatedConv2D(keras.layers.Layer):
    """One styled layer of the synthesis network (StyleGAN2 section 2.2, official `layer()`/`torgb()`):

        style = dense(w, mod_weight) / sqrt(w_dim) + mod_bias + 1          [N, in]
        x     = conv(x * style, weight)    (2x FIR upsampling fused in when `up`)
        x     = x * rsqrt(sum_{kh,kw,in} (weight * style)^2 + 1e-8)    when `demodulate`
        x     = act(x + noise * noise_strength + bias)

    This is the official non-fused formulation; `fused_modconv` (grouped convolution) computes the same
    function and is slower on the CPU, where grouped convolutions have no gradient.
    ToRGB is this layer with kernel 1, `demodulate=False`, no noise and a linear activation.
    """

    def __init__(self, filters, kernel_size, w_dim, up=False, demodulate=True, use_noise=True, act='lrelu',
                 resample_kernel=DEFAULT_KERNEL, conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)  # x keeps its dtype (float16 blocks); w is float32.
        self.filters, self.kernel_size, self.w_dim = int(filters), int(kernel_size), int(w_dim)
        self.up, self.demodulate, self.use_noise, self.act, self.conv_clamp = up, demodulate, use_noise, act, conv_clamp
        self.resample_kernel = list(resample_kernel) if resample_kernel is not None else None

    def build(self, input_shape):
        k, cin = self.kernel_size, int(input_shape[-1])
        normal, zeros = keras.initializers.RandomNormal(0.0, 1.0), keras.initializers.Zeros()
        self.w_mul = float(1.0 / np.sqrt(k * k * cin))
        self.mod_mul = float(1.0 / np.sqrt(self.w_dim))
        self.weight = self.add_weight(name='weight', shape=(k, k, cin, self.filters), initializer=normal)
        self.mod_weight = self.add_weight(name='mod_weight', shape=(self.w_dim, cin), initializer=normal)
        self.mod_bias = self.add_weight(name='mod_bias', shape=(cin,), initializer=zeros)  # +1 at run time.
        if self.use_noise:
            self.noise_strength = self.add_weight(name='noise_strength', shape=(), initializer=zeros)
        self.bias = self.add_weight(name='bias', shape=(self.filters,), initializer=zeros)

    def call(self, x, w, noise=None):
        """x [N, H, W, in] (float32 or the block's low precision), w [N, w_dim] float32, noise [N or 1, H', W', 1]
        or None -> [N, H', W', filters] in the dtype of x. Styles and demodulation are computed in float32."""
        styles = tf.matmul(w, self.mod_weight * self.mod_mul) + self.mod_bias + 1
        weight = self.weight * self.w_mul
        if x.dtype != tf.float32 and self.demodulate:
            # Official pre-normalization against float16 overflow: demodulation cancels both scales.
            weight = weight * (self.w_mul / tf.reduce_max(tf.abs(weight), axis=[0, 1, 2], keepdims=True))
            styles = styles / tf.reduce_max(tf.abs(styles), axis=1, keepdims=True)
        x = x * tf.cast(styles[:, None, None, :], x.dtype)
        if self.up:
            x = upsample_conv_2d(x, tf.cast(weight, x.dtype), self.resample_kernel)
        else:
            x = conv2d(x, tf.cast(weight, x.dtype))
        if self.demodulate:
            # sum over (kh, kw, in) of (weight * style)^2, factored so that no [N, kh, kw, in, out] tensor exists.
            d = tf.math.rsqrt(tf.matmul(tf.square(styles), tf.reduce_sum(tf.square(weight), axis=[0, 1])) + 1e-8)
            x = x * tf.cast(d[:, None, None, :], x.dtype)
        if self.use_noise and noise is not None:
            x = x + tf.cast(noise * self.noise_strength, x.dtype)
        return activate(x + tf.cast(self.bias, x.dtype), self.act, self.conv_clamp)

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, 'kernel_size': self.kernel_size, 'w_dim': self.w_dim,
                'up': self.up, 'demodulate': self.demodulate, 'use_noise': self.use_noise, 'act': self.act,
                'resample_kernel': self.resample_kernel, 'conv_clamp': self.conv_clamp}


class ConstantInput(keras.layers.Layer):
    """The learned 4x4 input of the synthesis network, stored [1, C, 4, 4] as in the official code."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape):
        self.const = self.add_weight(name='const', shape=(1, self.channels, 4, 4),
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, ws):
        """ws [N, ...] (only its batch size is used) -> [N, 4, 4, C]."""
        return tf.tile(tf.transpose(self.const, [0, 2, 3, 1]), [tf.shape(ws)[0], 1, 1, 1])

    def get_config(self):
        return {**super().get_config(), 'channels': self.channels}


class LabelConcat(keras.layers.Layer):
    """TF1 StyleGAN2 label embedding: labels [N, label_size] @ weight [label_size, latent_size], with an
    unscaled N(0, 1) weight (no equalized learning rate, as the official code)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.weight = self.add_weight(name='weight', shape=(int(input_shape[-1]), self.units),
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, c):
        return tf.matmul(c, self.weight)

    def get_config(self):
        return {**super().get_config(), 'units': self.units}


class _ScopedModel(keras.Model):
    """Layers registered under their official scope names; `get_config` returns the constructor kwargs."""

    def _add(self, scope, cls, *args, **kwargs):
        layer = cls(*args, name=scope.replace('/', '.'), **kwargs)
        self.layers_by_scope[scope] = layer
        # Also a plain attribute: tf.train.Checkpoint (snapshots, resume) does not see layers held in a dict.
        setattr(self, 'layer_' + scope.replace('/', '_'), layer)
        return layer

    def get_config(self):
        return dict(self.kwargs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mapping(_ScopedModel):
    """Mapping network: z [N, latent_size], c [N, label_size] -> ws [N, num_ws, dlatent_size].

    Holds `dlatent_avg` (a G_main variable in TF1), the moving average of w used by the truncation trick.
    """

    def __init__(self,
                 latent_size=512,            # Latent vector (z) dimensionality.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_ws=18,                  # Number of w vectors output (official `dlatent_broadcast`).
                 mapping_layers=8,           # Number of mapping layers.
                 mapping_fmaps=512,          # Activations in the hidden mapping layers; None = dlatent_size (ADA).
                 mapping_lrmul=0.01,         # Learning rate multiplier for the mapping layers.
                 mapping_nonlinearity='lrelu',  # Activation function.
                 normalize_latents=True,     # Normalize z (and, with 'stylegan2' labels, the label embedding)?
                 label_layout='stylegan2',   # How labels enter: 'stylegan2' (LabelConcat) or 'ada' (LabelEmbed).
                 label_fmaps=None,           # ADA label embedding size; None = latent_size.
                 name='mapping', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_mapping', unknown)
        _check_choice('label_layout', label_layout, LABEL_LAYOUTS)
        _check_choice('mapping_nonlinearity', mapping_nonlinearity, ACTIVATIONS)
        self.kwargs = dict(latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size, num_ws=num_ws,
                           mapping_layers=mapping_layers, mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul,
                           mapping_nonlinearity=mapping_nonlinearity, normalize_latents=normalize_latents,
                           label_layout=label_layout, label_fmaps=label_fmaps)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = latent_size, label_size, dlatent_size, num_ws
        self.normalize_latents, self.label_layout = normalize_latents, label_layout
        self.layers_by_scope = {}
        if label_size:
            if label_layout == 'stylegan2':
                self._add('LabelConcat', LabelConcat, latent_size)
            else:
                self._add('LabelEmbed', DenseLayer, label_fmaps if label_fmaps is not None else latent_size)
        self.dense = []
        for i in range(mapping_layers):
            last = i == mapping_layers - 1
            fmaps = dlatent_size if last or mapping_fmaps is None else mapping_fmaps
            self.dense.append(self._mapping_layer(f'Dense{i}', fmaps, mapping_lrmul, mapping_nonlinearity))
        # aggregation='mean': updates from several replicas average to the update from the global batch mean.
        self.dlatent_avg = self.add_weight(name='dlatent_avg', shape=(dlatent_size,), initializer='zeros',
                                           trainable=False, aggregation='mean')
        self(tf.zeros([1, latent_size]), tf.zeros([1, label_size]))

    def _mapping_layer(self, scope, fmaps, lrmul, act):
        """One mapping layer (StyleGAN (v1) puts the activation gain into the weights instead)."""
        return self._add(scope, DenseLayer, fmaps, lrmul=lrmul, act=act)

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
        """z [N, latent_size], c [N, label_size] (one-hot) -> ws [N, num_ws, dlatent_size].

        Truncation (official G_main): ws = dlatent_avg + psi * (ws - dlatent_avg) for the first
        `truncation_cutoff` ws (all when None); psi == 1 skips it. As in TF1, the ws past the cutoff are
        lerped with psi 1, which can differ from passing them through by one float32 ulp.
        """
        x = tf.cast(z, tf.float32)
        if c is None:
            c = tf.zeros([tf.shape(x)[0], self.c_dim])
        c = tf.cast(c, tf.float32)
        L = self.layers_by_scope
        if 'LabelConcat' in L:
            x = tf.concat([x, L['LabelConcat'](c)], axis=1)
        if self.normalize_latents:
            x = normalize_2nd_moment(x)
        if 'LabelEmbed' in L:
            x = tf.concat([x, normalize_2nd_moment(L['LabelEmbed'](c))], axis=1)
        for layer in self.dense:
            x = layer(x)
        ws = tf.tile(x[:, None, :], [1, self.num_ws, 1])
        return self.truncate(ws, truncation_psi, truncation_cutoff)

    def truncate(self, ws, truncation_psi=1.0, truncation_cutoff=None):
        """The truncation trick on ws [N, num_ws, w_dim]; see `call`."""
        if truncation_psi is None or (not tf.is_tensor(truncation_psi) and truncation_psi == 1):
            return ws
        layer_psi = tf.cast(truncation_psi, tf.float32) * tf.ones([1, self.num_ws, 1])
        if truncation_cutoff is not None:
            keep = tf.range(self.num_ws)[None, :, None] >= truncation_cutoff
            layer_psi = tf.where(keep, tf.ones_like(layer_psi), layer_psi)
        avg = self.dlatent_avg.value
        return avg + (ws - avg) * layer_psi

    def update_w_avg(self, w, beta=0.995, assign=None):
        """Training (official G_main, `dlatent_avg_beta` = 0.995): dlatent_avg <- lerp(w_mean, dlatent_avg, beta).

        w: the batch mean w_mean [w_dim], or the mapping output ws [N, num_ws, w_dim], whose first w is
        averaged over the batch as the official code does. `assign(variable, value)` does the write
        (the training loop defers it past the compiled step); by default it is immediate.
        """
        w = tf.cast(w, tf.float32)
        w_mean = tf.reduce_mean(w[:, 0], axis=0) if w.shape.rank == 3 else w
        value = w_mean + (self.dlatent_avg - w_mean) * beta
        if assign is None:
            self.dlatent_avg.assign(value)
        else:
            assign(self.dlatent_avg, value)


class Synthesis(_ScopedModel):
    """Synthesis network: ws [N, num_ws, dlatent_size] -> images [N, resolution, resolution, num_channels]."""

    def __init__(self,
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_channels=3,             # Number of output color channels.
                 resolution=1024,            # Output resolution.
                 fmap_base=16 << 10,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_min=1,                 # Minimum number of feature maps in any layer.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 fmap_const=None,            # Feature maps of the constant input (ADA); None = nf(1).
                 use_noise=True,             # Enable noise inputs (ADA)?
                 randomize_noise=False,      # Default noise mode: True = 'random', False = 'const' (see call).
                 architecture='skip',        # 'orig', 'skip' or 'resnet'.
                 nonlinearity='lrelu',       # Activation function.
                 resample_kernel=DEFAULT_KERNEL,  # Low-pass FIR filter for resampling; None = box filter.
                 fused_modconv=True,         # Official grouped-conv switch: the same function, kept for the record.
                 conv_clamp=None,            # Clamp conv outputs to [-conv_clamp, conv_clamp] (ADA); None = off.
                 num_fp16_res=0,             # Low precision for the N highest resolutions (ADA; see mixed_precision).
                 fp16_dtype='float16',       # Their dtype: 'float16', 'bfloat16' or None (float32 after all).
                 name='synthesis', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_synthesis_stylegan2', unknown)
        self.resolution_log2 = resolution_log2(resolution)
        check_precision(num_fp16_res, fp16_dtype)
        _check_choice('architecture', architecture, ('orig', 'skip', 'resnet'))
        _check_choice('nonlinearity', nonlinearity, ACTIVATIONS)
        resample_kernel = list(resample_kernel) if resample_kernel is not None else None
        self.kwargs = dict(dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_min=fmap_min, fmap_max=fmap_max,
                           fmap_const=fmap_const, use_noise=use_noise, randomize_noise=randomize_noise,
                           architecture=architecture, nonlinearity=nonlinearity, resample_kernel=resample_kernel,
                           fused_modconv=fused_modconv, conv_clamp=conv_clamp)
        if num_fp16_res:  # Recorded only when used: float32 networks keep the kwargs they always had.
            self.kwargs.update({'num_fp16_res': num_fp16_res, 'fp16_dtype': fp16_dtype})
        nf = feature_maps(fmap_base, fmap_decay, fmap_max, fmap_min)
        top = self.resolution_log2
        self.dtypes = {res: block_dtype(res, top, num_fp16_res, fp16_dtype) for res in range(2, top + 1)}
        self.num_ws = top * 2 - 2
        self.w_dim, self.img_channels, self.architecture = dlatent_size, num_channels, architecture
        self.resample_kernel, self.use_noise = resample_kernel, use_noise
        self.default_noise_mode = 'random' if randomize_noise else 'const'
        self.layers_by_scope = {}
        conv = dict(w_dim=dlatent_size, use_noise=use_noise, act=nonlinearity, resample_kernel=resample_kernel,
                    conv_clamp=conv_clamp)
        rgb = dict(w_dim=dlatent_size, demodulate=False, use_noise=False, act='linear', conv_clamp=conv_clamp)
        self._add('4x4/Const', ConstantInput, fmap_const if fmap_const is not None else nf(1))
        self._add('4x4/Conv', ModulatedConv2D, nf(1), 3, **conv)
        if architecture == 'skip':
            self._add('4x4/ToRGB', ModulatedConv2D, num_channels, 1, **rgb)
        for res in range(3, top + 1):
            r = f'{2 ** res}x{2 ** res}'
            self._add(f'{r}/Conv0_up', ModulatedConv2D, nf(res - 1), 3, up=True, **conv)
            self._add(f'{r}/Conv1', ModulatedConv2D, nf(res - 1), 3, **conv)
            if architecture == 'resnet':
                self._add(f'{r}/Skip', Conv2DLayer, nf(res - 1), 1, up=True, use_bias=False,
                          resample_kernel=resample_kernel)
            if architecture == 'skip' or res == top:
                self._add(f'{r}/ToRGB', ModulatedConv2D, num_channels, 1, **rgb)
        # Noise buffers (official `noise%d`, non-trainable): one per conv layer, noise i at 2^((i+5)//2).
        add_noise_buffers(self, [2 ** ((i + 5) // 2) for i in range(self.num_ws - 1)] if use_noise else [])
        self(tf.zeros([1, self.num_ws, dlatent_size]))

    def _noise(self, index, batch, mode, noise):
        if not self.use_noise or mode == 'none':
            return None
        size = self.noise_sizes[index]
        if noise is not None:
            return tf.cast(noise[index], tf.float32)
        if mode == 'const':
            return tf.reshape(self.noise_buffers[index], [1, size, size, 1])
        return tf.random.normal([batch, size, size, 1])

    def call(self, ws, noise_mode=None, noise=None):
        """ws [N, num_ws, dlatent_size] -> images [N, R, R, num_channels], float32.

        noise_mode: 'const' (the stored buffers), 'none' (zeros), 'random' (fresh N(0, 1) per sample);
        None = 'random' if the network was built with randomize_noise=True, else 'const'.
        noise: explicit noise inputs instead, one [N or 1, s, s, 1] per size s in `noise_sizes` (e.g. drawn
        by the training loop with stateless random ops); overrides noise_mode.
        """
        mode = self.default_noise_mode if noise_mode is None else noise_mode
        _check_choice('noise_mode', mode, NOISE_MODES)
        if noise is not None and len(noise) != len(self.noise_sizes):
            raise ValueError(f'noise: {len(noise)} inputs, expected {len(self.noise_sizes)} (noise_sizes)')
        mode = 'explicit' if noise is not None else mode
        ws = tf.cast(ws, tf.float32)
        batch = tf.shape(ws)[0]
        L = self.layers_by_scope
        x = L['4x4/Const'](ws)
        x = L['4x4/Conv'](x, ws[:, 0], noise=self._noise(0, batch, mode, noise))
        images = L['4x4/ToRGB'](x, ws[:, 1]) if self.architecture == 'skip' else None
        for res in range(3, self.resolution_log2 + 1):
            r = f'{2 ** res}x{2 ** res}'
            x = skip = tf.cast(x, self.dtypes[res])
            x = L[f'{r}/Conv0_up'](x, ws[:, res * 2 - 5], noise=self._noise(res * 2 - 5, batch, mode, noise))
            x = L[f'{r}/Conv1'](x, ws[:, res * 2 - 4], noise=self._noise(res * 2 - 4, batch, mode, noise))
            if self.architecture == 'resnet':
                x = (x + L[f'{r}/Skip'](skip)) * (1 / np.sqrt(2))
            if self.architecture == 'skip':
                images = upsample_2d(images, self.resample_kernel)
            if f'{r}/ToRGB' in L:
                rgb = tf.cast(L[f'{r}/ToRGB'](x, ws[:, res * 2 - 3]), tf.float32)  # Images stay float32.
                images = rgb if images is None else images + rgb
        return images


class Discriminator(_ScopedModel):
    """D: images [N, R, R, num_channels], c [N, label_size] -> logits [N, 1]."""

    def __init__(self,
                 num_channels=3,             # Number of input color channels.
                 resolution=1024,            # Input resolution.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 fmap_base=16 << 10,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_min=1,                 # Minimum number of feature maps in any layer.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 architecture='resnet',      # 'orig', 'skip' or 'resnet'.
                 nonlinearity='lrelu',       # Activation function.
                 mbstd_group_size=4,         # Minibatch stddev group size; None = whole minibatch (ADA default).
                 mbstd_num_features=1,       # Minibatch stddev features; 0 = disable.
                 resample_kernel=DEFAULT_KERNEL,  # Low-pass FIR filter for resampling.
                 label_layout='stylegan2',   # 'stylegan2' (score per label) or 'ada' (projection); see module doc.
                 mapping_layers=0,           # ADA: dense layers after the label embedding.
                 mapping_fmaps=None,         # ADA: label embedding size cmap_dim; None = nf(0).
                 mapping_lrmul=0.1,          # ADA: learning rate multiplier of those layers.
                 conv_clamp=None,            # Clamp conv outputs (ADA); None = off.
                 num_fp16_res=0,             # Low precision for the N highest resolutions (ADA).
                 fp16_dtype='float16',       # Their dtype: 'float16', 'bfloat16' or None (float32 after all).
                 name='D', **unknown):
        super().__init__(name=name)
        refuse_unknown('D_stylegan2', unknown)
        self.resolution_log2 = resolution_log2(resolution, minimum=8)
        check_precision(num_fp16_res, fp16_dtype)
        _check_choice('architecture', architecture, ('orig', 'skip', 'resnet'))
        _check_choice('nonlinearity', nonlinearity, ACTIVATIONS)
        _check_choice('label_layout', label_layout, LABEL_LAYOUTS)
        resample_kernel = list(resample_kernel) if resample_kernel is not None else None
        self.kwargs = dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                           fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_min=fmap_min, fmap_max=fmap_max,
                           architecture=architecture, nonlinearity=nonlinearity, mbstd_group_size=mbstd_group_size,
                           mbstd_num_features=mbstd_num_features, resample_kernel=resample_kernel,
                           label_layout=label_layout, mapping_layers=mapping_layers, mapping_fmaps=mapping_fmaps,
                           mapping_lrmul=mapping_lrmul, conv_clamp=conv_clamp)
        if num_fp16_res:  # Recorded only when used: float32 networks keep the kwargs they always had.
            self.kwargs.update({'num_fp16_res': num_fp16_res, 'fp16_dtype': fp16_dtype})
        nf = feature_maps(fmap_base, fmap_decay, fmap_max, fmap_min)
        top = self.resolution_log2
        self.dtypes = {res: block_dtype(res, top, num_fp16_res, fp16_dtype) for res in range(2, top + 1)}
        self.num_channels, self.c_dim, self.architecture = num_channels, label_size, architecture
        self.label_layout, self.resample_kernel = label_layout, resample_kernel
        self.layers_by_scope = {}
        act = dict(act=nonlinearity, conv_clamp=conv_clamp)
        self.cmap_dim = None
        if label_size and label_layout == 'ada':
            self.cmap_dim = mapping_fmaps if mapping_fmaps is not None else nf(0)
            self._add('LabelEmbed', DenseLayer, self.cmap_dim)
            for i in range(mapping_layers):
                self._add(f'Mapping{i}', DenseLayer, self.cmap_dim, lrmul=mapping_lrmul, act=nonlinearity)
        for res in range(top, 1, -1):
            r = f'{2 ** res}x{2 ** res}'
            if architecture == 'skip' or res == top:
                self._add(f'{r}/FromRGB', Conv2DLayer, nf(res - 1), 1, **act)
            if res == 2:
                break
            self._add(f'{r}/Conv0', Conv2DLayer, nf(res - 1), 3, **act)
            self._add(f'{r}/Conv1_down', Conv2DLayer, nf(res - 2), 3, down=True, resample_kernel=resample_kernel, **act)
            if architecture == 'resnet':
                self._add(f'{r}/Skip', Conv2DLayer, nf(res - 2), 1, down=True, use_bias=False,
                          resample_kernel=resample_kernel)
        self.mbstd = None
        if mbstd_num_features and mbstd_group_size != 0:
            # None: the whole minibatch (StyleGAN2-ADA); the layer takes min(group_size, N).
            group = mbstd_group_size if mbstd_group_size is not None else 2 ** 31 - 1
            self.mbstd = MinibatchStddev(group, mbstd_num_features, name='4x4.MinibatchStddev')
        self._add('4x4/Conv', Conv2DLayer, nf(1), 3, **act)
        self._add('4x4/Dense0', DenseLayer, nf(0), act=nonlinearity)
        out_dim = self.cmap_dim if self.cmap_dim else (max(label_size, 1) if label_layout == 'stylegan2' else 1)
        self._add('Output', DenseLayer, out_dim)
        self(tf.zeros([1, resolution, resolution, num_channels]), tf.zeros([1, label_size]))

    def call(self, images, c=None):
        """images [N, R, R, C] in [-1, 1], c [N, label_size] one-hot -> logits [N, 1]."""
        y = tf.cast(images, tf.float32)
        if c is None:
            c = tf.zeros([tf.shape(y)[0], self.c_dim])
        c = tf.cast(c, tf.float32)
        L = self.layers_by_scope
        x = None
        for res in range(self.resolution_log2, 2, -1):
            r = f'{2 ** res}x{2 ** res}'
            x = None if x is None else tf.cast(x, self.dtypes[res])
            if f'{r}/FromRGB' in L:
                y = tf.cast(y, self.dtypes[res])
                t = L[f'{r}/FromRGB'](y)
                x = t if x is None else x + t
            skip = x
            x = L[f'{r}/Conv1_down'](L[f'{r}/Conv0'](x))
            if self.architecture == 'resnet':
                x = (x + L[f'{r}/Skip'](skip)) * (1 / np.sqrt(2))
            if self.architecture == 'skip':
                y = downsample_2d(y, self.resample_kernel)
        x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)  # The epilogue runs in float32.
        if '4x4/FromRGB' in L:
            x = x + L['4x4/FromRGB'](y)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = L['Output'](L['4x4/Dense0'](L['4x4/Conv'](x)))
        if not self.c_dim:
            return x
        if self.cmap_dim:
            cmap = normalize_2nd_moment(L['LabelEmbed'](c))
            for i in range(self.kwargs['mapping_layers']):
                cmap = L[f'Mapping{i}'](cmap)
            return tf.reduce_sum(x * cmap, axis=1, keepdims=True) / np.sqrt(self.cmap_dim)
        return tf.reduce_sum(x * c, axis=1, keepdims=True)
