"""VGG-16 networks of the metrics: LPIPS (`vgg16_zhang_perceptual.pkl`, used by PPL and the projector) and
the fc2 feature network of precision/recall.

The official PR network (`vgg16.pkl`, TF1; `vgg16.pt`, ada-pytorch) returns 4096-D fc2 features; its pickle
layout could not be read here (no copy of its build source is public in what we could search), so PR takes
Keras' VGG16 with its top (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`) or a randomly initialised one.
"""
import keras
import numpy as np
import tensorflow as tf

from common.util.pickle_io import NetworkState, PickleSecurityError, assign_by_name, load_official_pickle

VGG16_URL = 'https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/vgg16_zhang_perceptual.pkl'
KERAS_VGG16_URL = ('https://storage.googleapis.com/tensorflow/keras-applications/vgg16/'
                   'vgg16_weights_tf_dim_ordering_tf_kernels.h5')
OFFICIAL_PR_VGG16_URL = 'https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/vgg16.pkl'


# vgg16_zhang_perceptual.pkl holds one dnnlib Network whose code travels inside it (build_module_src): NVIDIA's
# TF port of Zhang et al.'s LPIPS, build function `lpips_network`. Layout read from a public copy of that
# source (the pickle itself cannot be fetched here): each conv is `get_variable(name)` inside
# `variable_scope('conv{i}')`, so the Network's own names are `conv{i}/conv{i}` [3, 3, in, out] and
# `conv{i}/bias{i}` [out] for the 13 VGG-16 convolutions, then `perceptual_weight_{k}` [1, 1, fmaps_k, 1] for
# the 5 LPIPS channel weights (no scope). ada-pytorch's vgg16.pt looks like its TorchScript conversion (state
# names layers.conv1..conv13, lpips0..lpips4).
VGG16_STAGES = (2, 2, 3, 3, 3)                       # Convolutions per stage; a 2x2 max-pool between stages.
VGG16_CONV_FMAPS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
VGG_MEAN = (0.485, 0.456, 0.406)                     # ImageNet statistics of the [0, 1] RGB input.
VGG_STD = (0.229, 0.224, 0.225)


class PerceptualLoadError(ValueError):
    """A VGG16 perceptual pickle that cannot be used, with a one-line reason naming it."""


class VGG16Perceptual(keras.Model):
    """LPIPS with VGG-16 (Zhang et al. 2018) as NVIDIA's `lpips_network`: images in [0, 255] are scaled to
    [0, 1] and standardized with the ImageNet mean and std; the last ReLU of each of the 5 stages is
    normalized to unit length over channels (+1e-10); the squared difference is weighted per channel (1x1
    conv, no bias), averaged over pixels, and summed over stages. Max-pools use SAME padding as there."""

    def __init__(self, conv_fmaps=VGG16_CONV_FMAPS, name='vgg16_perceptual'):
        super().__init__(name=name)
        conv_fmaps = tuple(int(f) for f in conv_fmaps)
        if len(conv_fmaps) != sum(VGG16_STAGES):
            raise ValueError(f'conv_fmaps: {len(conv_fmaps)} values, expected {sum(VGG16_STAGES)}')
        self.conv_fmaps = conv_fmaps
        self.convs = [keras.layers.Conv2D(fmaps, 3, padding='same', activation='relu', name=f'conv{i + 1}')
                      for i, fmaps in enumerate(conv_fmaps)]
        ends = np.cumsum(VGG16_STAGES)                 # Index after the last conv of each stage.
        self.stage_ends = [int(e) for e in ends]
        self.zhang_weights = [keras.layers.Conv2D(1, 1, use_bias=False, name=f'perceptual_weight_{k}')
                              for k in range(len(VGG16_STAGES))]
        self.pool = keras.layers.MaxPooling2D(2, 2, padding='same')
        features = self.features(tf.zeros([1, 16, 16, 3]))
        for weighting, f in zip(self.zhang_weights, features):
            weighting(f)

    def official_variables(self):
        """Official variable name -> our variable."""
        table = {}
        for i, conv in enumerate(self.convs, start=1):
            table[f'conv{i}/conv{i}'] = conv.kernel
            table[f'conv{i}/bias{i}'] = conv.bias
        table.update({f'perceptual_weight_{k}': w.kernel for k, w in enumerate(self.zhang_weights)})
        return table

    def features(self, images):
        """images [N, H, W, 3] in [0, 255] -> the 5 unit-normalized stage outputs [N, H/2^k, W/2^k, fmaps]."""
        x = tf.cast(images, tf.float32) * (1.0 / 255)
        x = (x - tf.constant(VGG_MEAN, tf.float32)) * tf.constant(1.0 / np.asarray(VGG_STD), tf.float32)
        out = []
        for i, conv in enumerate(self.convs):
            if i and i in self.stage_ends:
                x = self.pool(x)
            x = conv(x)
            if i + 1 in self.stage_ends:
                # The official norm is reduce_sum(x**2)**0.5. Its gradient is NaN where a pixel's features are
                # all zero (0 * inf); clamping the sum far below any real value keeps it finite.
                norm = tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=-1, keepdims=True), 1e-30))
                out.append(x / (norm + 1e-10))
        return out

    def distance(self, features_a, features_b):
        """Features of two batches -> LPIPS distances [N]."""
        return tf.add_n([tf.reduce_mean(weighting(tf.square(a - b)), axis=[1, 2, 3])
                         for weighting, a, b in zip(self.zhang_weights, features_a, features_b)])

    def call(self, images_a, images_b):
        """images_a, images_b [N, H, W, 3] in [0, 255] -> distances [N] (official get_output_for)."""
        return self.distance(self.features(images_a), self.features(images_b))

    def get_config(self):
        return {'conv_fmaps': list(self.conv_fmaps), 'name': self.name}


def _short(func_name):
    return str(func_name or '').split('.')[-1]


def load_vgg16_perceptual(path):
    """VGG16Perceptual with the weights of a TF `vgg16_zhang_perceptual.pkl`, read by the restricted
    unpickler (its embedded source is never run). Channel counts come from the variable shapes, checked
    for consistency; every variable must be used and every one of ours set. Raises PerceptualLoadError."""
    try:
        net = load_official_pickle(path)
    except (OSError, PickleSecurityError, ValueError) as e:
        raise PerceptualLoadError(str(e) if str(path) in str(e) else f'{path}: {e}')
    if not isinstance(net, NetworkState):
        raise PerceptualLoadError(f'{path}: expected one network (vgg16_zhang_perceptual.pkl), '
                                  f'got {type(net).__name__}')
    if _short(net.build_func_name) != 'lpips_network':
        raise PerceptualLoadError(f'{path}: network built by {net.build_func_name!r}, expected lpips_network '
                                  f'(vgg16_zhang_perceptual.pkl)')
    variables = net.variables
    kernels = [variables.get(f'conv{i}/conv{i}') for i in range(1, sum(VGG16_STAGES) + 1)]
    missing = [f'conv{i}/conv{i}' for i, k in enumerate(kernels, start=1) if k is None]
    if missing:
        raise PerceptualLoadError(f'{path}: variables missing: {missing}')
    if any(k.ndim != 4 or k.shape[:2] != (3, 3) for k in kernels):
        raise PerceptualLoadError(f'{path}: convolution kernels must be [3, 3, in, out]')
    model = VGG16Perceptual([k.shape[3] for k in kernels])
    assign_by_name(model.official_variables(), variables, path, 'VGG-16 LPIPS', PerceptualLoadError)
    return model


class VGG16Features:
    """Precision/recall features: images [N, H, W, 3] in [0, 255] -> fc2 activations [N, 4096] of Keras'
    VGG16 (Simonyan & Zisserman; ReLU after fc2, as the official PR network's features). Images are resized
    to 224 px with area averaging (ada-pytorch's vgg16.pt resizes with 'area' too) and given Keras' 'caffe'
    preprocessing (BGR, ImageNet mean subtracted), which its weights expect."""

    def __init__(self, weights_path=None, seed=None):
        if weights_path is None and seed is not None:
            keras.utils.set_random_seed(seed)
        full = keras.applications.VGG16(include_top=True, weights=weights_path, input_shape=(224, 224, 3))
        self.model = keras.Model(full.inputs, full.get_layer('fc2').output)
        self._features = tf.function(lambda x: self.model(self._preprocess(x), training=False),
                                     reduce_retracing=True, autograph=False)

    @staticmethod
    def _preprocess(images):
        x = tf.cast(images, tf.float32)
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        x = tf.image.resize(x, [224, 224], method='area')
        return x[..., ::-1] - tf.constant([103.939, 116.779, 123.68])

    def features(self, images):
        return self._features(tf.convert_to_tensor(images))
