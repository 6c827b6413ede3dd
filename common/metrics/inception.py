"""Inception-v3 as the FID/KID/IS feature network: the 2015-12-05 TensorFlow graph that NVIDIA ships as
`inception_v3_features.pkl` (and ada-pytorch as `inception-2015-12-05.pt`), or Keras' InceptionV3.

Both are the same topology (Szegedy et al. 2016) and differ in three places, all reproduced here:
  * weights: the 2015 graph's are what every published FID/KID/IS was computed with; Keras' are a later
    retraining, so the `.h5` gives different numbers (see the README);
  * input: the graph resizes uint8 images to 299x299 with TF1's bilinear rule (no half-pixel offset) and
    maps [0, 255] to (x - 128) / 128; Keras expects x / 127.5 - 1 at 299 px;
  * the last block (`mixed_10`, Keras `mixed10`) pools its fourth branch with a max in the graph, an
    average in Keras (the quirk pytorch-fid calls FIDInceptionE_2).
Average pools inside blocks exclude the padding in both (TF's SAME avg_pool does).

Layer names are the graph's (`mixed_4/tower_1/conv_3`); the pickle loader maps `<layer>/conv2d_params`
[kh, kw, in, out] and `<layer>/batchnorm/{beta,gamma,moving_mean,moving_variance}` onto them, and, where
present (`inception_v3_softmax.pkl`, the IS network), `softmax/weights` [2048, 1008] and `softmax/biases`.
The pickle itself cannot be fetched here: its variable names are the graph's constant names, as listed by
pytorch-fid's conversion script of the same graph; that the NVIDIA pickle keeps them is our reading, tested
only on synthetic pickles written in that layout.
"""
import numpy as np
import tensorflow as tf

from common.util.pickle_io import NetworkState, PickleSecurityError, assign_by_name, load_official_pickle

INCEPTION_URL = 'https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/inception_v3_features.pkl'
INCEPTION_SOFTMAX_URL = 'https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/inception_v3_softmax.pkl'
KERAS_INCEPTION_URL = ('https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/'
                       'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5')
BN_EPSILON = 1e-3          # variance_epsilon of the graph's BatchNormWithGlobalNormalization, and Keras'.
FEATURE_DIM = 2048


class FeatureNetError(ValueError):
    """A feature network file that cannot be used; the message names it and what was expected."""


def _convs_35(pool_fmaps):
    """mixed .. mixed_2 (35x35): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""
    return [('conv', 64, (1, 1)), ('tower/conv', 48, (1, 1)), ('tower/conv_1', 64, (5, 5)),
            ('tower_1/conv', 64, (1, 1)), ('tower_1/conv_1', 96, (3, 3)), ('tower_1/conv_2', 96, (3, 3)),
            ('tower_2/conv', pool_fmaps, (1, 1))]


def _convs_17(c7):
    """mixed_4 .. mixed_7 (17x17): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1."""
    return [('conv', 192, (1, 1)), ('tower/conv', c7, (1, 1)), ('tower/conv_1', c7, (1, 7)),
            ('tower/conv_2', 192, (7, 1)), ('tower_1/conv', c7, (1, 1)), ('tower_1/conv_1', c7, (7, 1)),
            ('tower_1/conv_2', c7, (1, 7)), ('tower_1/conv_3', c7, (7, 1)), ('tower_1/conv_4', 192, (1, 7)),
            ('tower_2/conv', 192, (1, 1))]


_CONVS_8 = [('conv', 320, (1, 1)), ('tower/conv', 384, (1, 1)), ('tower/mixed/conv', 384, (1, 3)),
            ('tower/mixed/conv_1', 384, (3, 1)), ('tower_1/conv', 448, (1, 1)), ('tower_1/conv_1', 384, (3, 3)),
            ('tower_1/mixed/conv', 384, (1, 3)), ('tower_1/mixed/conv_1', 384, (3, 1)), ('tower_2/conv', 192, (1, 1))]

# Every convolution in creation order (= Keras InceptionV3's order): (name, filters, kernel, stride, padding).
CONVS = ([('conv', 32, (3, 3), 2, 'VALID'), ('conv_1', 32, (3, 3), 1, 'VALID'), ('conv_2', 64, (3, 3), 1, 'SAME'),
          ('conv_3', 80, (1, 1), 1, 'VALID'), ('conv_4', 192, (3, 3), 1, 'VALID')]
         + [(f'{block}/{n}', f, k, 1, 'SAME') for block, pool in (('mixed', 32), ('mixed_1', 64), ('mixed_2', 64))
            for n, f, k in _convs_35(pool)]
         + [('mixed_3/conv', 384, (3, 3), 2, 'VALID'), ('mixed_3/tower/conv', 64, (1, 1), 1, 'SAME'),
            ('mixed_3/tower/conv_1', 96, (3, 3), 1, 'SAME'), ('mixed_3/tower/conv_2', 96, (3, 3), 2, 'VALID')]
         + [(f'{block}/{n}', f, k, 1, 'SAME') for block, c7 in (('mixed_4', 128), ('mixed_5', 160), ('mixed_6', 160),
                                                                 ('mixed_7', 192)) for n, f, k in _convs_17(c7)]
         + [('mixed_8/tower/conv', 192, (1, 1), 1, 'SAME'), ('mixed_8/tower/conv_1', 320, (3, 3), 2, 'VALID'),
            ('mixed_8/tower_1/conv', 192, (1, 1), 1, 'SAME'), ('mixed_8/tower_1/conv_1', 192, (1, 7), 1, 'SAME'),
            ('mixed_8/tower_1/conv_2', 192, (7, 1), 1, 'SAME'), ('mixed_8/tower_1/conv_3', 192, (3, 3), 2, 'VALID')]
         + [(f'{block}/{n}', f, k, 1, 'SAME') for block in ('mixed_9', 'mixed_10') for n, f, k in _CONVS_8])
NUM_CLASSES = 1008         # The graph's softmax has 1008 outputs (1000 ImageNet classes and 8 unused).


class InceptionV3Features(tf.Module):
    """images [N, H, W, 3] in [0, 255] (uint8 or float) -> pool_3 features [N, 2048]; `logits` (without the
    softmax bias, as ada-pytorch's IS) where the network has its classifier.

    variant: 'tf2015' (the official graph) or 'keras' (keras.applications.InceptionV3); see the module doc.
    """

    def __init__(self, variant='tf2015', num_classes=None, seed=None, name='inception_v3'):
        super().__init__(name=name)
        if variant not in ('tf2015', 'keras'):
            raise ValueError(f'variant={variant!r}: expected tf2015 or keras')
        self.variant = variant
        rnd = np.random.RandomState(seed)
        self.convs = {}
        fmaps = _input_fmaps()
        for name_, filters, kernel, stride, padding in CONVS:
            fan_in = kernel[0] * kernel[1] * fmaps[name_]
            # He-normal for a random network: keeps the activations' scale through 94 ReLU layers, so that
            # features of a randomly initialised network still differ between images.
            w = (rnd.randn(kernel[0], kernel[1], fmaps[name_], filters) * np.sqrt(2 / fan_in)).astype(np.float32)
            self.convs[name_] = dict(
                weight=tf.Variable(w, name=f'{name_}/conv2d_params'), stride=stride, padding=padding,
                beta=tf.Variable(np.zeros(filters, np.float32)), gamma=tf.Variable(np.ones(filters, np.float32)),
                mean=tf.Variable(np.zeros(filters, np.float32)), var=tf.Variable(np.ones(filters, np.float32)))
        self.softmax_weights = None
        if num_classes:
            w = (rnd.randn(FEATURE_DIM, num_classes) * np.sqrt(1 / FEATURE_DIM)).astype(np.float32)
            self.softmax_weights = tf.Variable(w, name='softmax/weights')
            self.softmax_biases = tf.Variable(np.zeros(num_classes, np.float32), name='softmax/biases')
        self._features = tf.function(self._features_impl, reduce_retracing=True, autograph=False)

    @property
    def has_classifier(self):
        return self.softmax_weights is not None

    def official_variables(self):
        """Official variable name -> our variable."""
        table = {}
        for name_, c in self.convs.items():
            table[f'{name_}/conv2d_params'] = c['weight']
            for ours, theirs in (('beta', 'beta'), ('gamma', 'gamma'), ('mean', 'moving_mean'), ('var', 'moving_variance')):
                table[f'{name_}/batchnorm/{theirs}'] = c[ours]
        if self.has_classifier:
            table['softmax/weights'], table['softmax/biases'] = self.softmax_weights, self.softmax_biases
        return table

    def _conv(self, name_, x):
        c = self.convs[name_]
        x = tf.nn.conv2d(x, c['weight'], c['stride'], c['padding'])
        x = (x - c['mean']) * (tf.math.rsqrt(c['var'] + BN_EPSILON) * c['gamma']) + c['beta']
        return tf.nn.relu(x)

    def _preprocess(self, images):
        x = tf.cast(images, tf.float32)
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        if self.variant == 'tf2015':
            # The graph's ResizeBilinear: TF1 semantics, corners not aligned and no half-pixel centers.
            x = tf.raw_ops.ResizeBilinear(images=x, size=[299, 299], align_corners=False, half_pixel_centers=False)
            return (x - 128.0) * (1.0 / 128.0)
        x = tf.image.resize(x, [299, 299], method='bilinear')
        return x * (1.0 / 127.5) - 1.0

    def _block(self, block, x, names, pool):
        """One mixed block: each tower is a chain of the listed convs (`a+b` = two convs side by side whose
        outputs are concatenated); `pool` is the pooling before the last tower's conv."""
        outs = []
        for tower in names:
            y = x
            if tower is names[-1] and pool:
                y = tf.nn.avg_pool2d(y, 3, 1, 'SAME') if pool == 'avg' else tf.nn.max_pool2d(y, 3, 1, 'SAME')
            for step in tower:
                if '+' in step:
                    y = tf.concat([self._conv(f'{block}/{s}', y) for s in step.split('+')], axis=-1)
                else:
                    y = self._conv(f'{block}/{step}', y)
            outs.append(y)
        return outs

    def _features_impl(self, images):
        x = self._preprocess(images)
        for name_ in ('conv', 'conv_1', 'conv_2'):
            x = self._conv(name_, x)
        x = tf.nn.max_pool2d(x, 3, 2, 'VALID')
        x = self._conv('conv_4', self._conv('conv_3', x))
        x = tf.nn.max_pool2d(x, 3, 2, 'VALID')
        for block in ('mixed', 'mixed_1', 'mixed_2'):
            x = tf.concat(self._block(block, x, [['conv'], ['tower/conv', 'tower/conv_1'],
                                                 ['tower_1/conv', 'tower_1/conv_1', 'tower_1/conv_2'],
                                                 ['tower_2/conv']], 'avg'), axis=-1)
        x = tf.concat(self._block('mixed_3', x, [['conv'], ['tower/conv', 'tower/conv_1', 'tower/conv_2']], None)
                      + [tf.nn.max_pool2d(x, 3, 2, 'VALID')], axis=-1)
        for block in ('mixed_4', 'mixed_5', 'mixed_6', 'mixed_7'):
            x = tf.concat(self._block(block, x, [['conv'], ['tower/conv', 'tower/conv_1', 'tower/conv_2'],
                                                 ['tower_1/conv'] + [f'tower_1/conv_{i}' for i in range(1, 5)],
                                                 ['tower_2/conv']], 'avg'), axis=-1)
        x = tf.concat(self._block('mixed_8', x, [['tower/conv', 'tower/conv_1'],
                                                 ['tower_1/conv', 'tower_1/conv_1', 'tower_1/conv_2', 'tower_1/conv_3']],
                                  None) + [tf.nn.max_pool2d(x, 3, 2, 'VALID')], axis=-1)
        for block in ('mixed_9', 'mixed_10'):
            pool = 'max' if block == 'mixed_10' and self.variant == 'tf2015' else 'avg'
            x = tf.concat(self._block(block, x, [['conv'], ['tower/conv', 'tower/mixed/conv+tower/mixed/conv_1'],
                                                 ['tower_1/conv', 'tower_1/conv_1',
                                                  'tower_1/mixed/conv+tower_1/mixed/conv_1'],
                                                 ['tower_2/conv']], pool), axis=-1)
        return tf.reduce_mean(x, axis=[1, 2])                                    # pool_3: 8x8 average.

    def features(self, images):
        """images [N, H, W, C] in [0, 255] -> [N, 2048] float32."""
        return self._features(tf.convert_to_tensor(images))

    def logits(self, features):
        """pool_3 features -> classifier logits without the bias (ada-pytorch's no_output_bias=True)."""
        if not self.has_classifier:
            raise FeatureNetError('this Inception network has no classifier (IS needs inception_v3_softmax.pkl '
                                  'or the Keras InceptionV3 .h5 with its top)')
        return tf.matmul(features, self.softmax_weights)


def _input_fmaps():
    """Input channels of every conv: a tower's first conv reads the block input, the next ones the conv before
    them; the side-by-side pair `mixed/conv`, `mixed/conv_1` both read the conv before the pair."""
    block_in = {'mixed': 192, 'mixed_1': 256, 'mixed_2': 288, 'mixed_3': 288, 'mixed_4': 768, 'mixed_5': 768,
                'mixed_6': 768, 'mixed_7': 768, 'mixed_8': 768, 'mixed_9': 1280, 'mixed_10': 2048}
    fmaps, prev, tower_out = {}, 3, {}
    for name_, filters, _, _, _ in CONVS:
        if '/' not in name_:                                   # The stem: a plain chain.
            fmaps[name_], prev = prev, filters
            continue
        block, rest = name_.split('/', 1)
        tower = (block, rest.rsplit('/', 1)[0].replace('/mixed', '') if '/' in rest else '')
        if rest.endswith('mixed/conv_1'):
            fmaps[name_] = fmaps[name_[:-len('_1')]]
        else:
            fmaps[name_] = tower_out.get(tower, block_in[block])
            tower_out[tower] = filters
    return fmaps


def _short(func_name):
    return str(func_name or '').split('.')[-1]


def load_inception_pickle(path):
    """InceptionV3Features ('tf2015') with the weights of NVIDIA's `inception_v3_features.pkl` (or
    `inception_v3_softmax.pkl`), read by the restricted unpickler: the source stored in it is never run.
    Every variable must be used and every one of ours set, with equal shapes. Raises FeatureNetError."""
    try:
        net = load_official_pickle(path)
    except (OSError, PickleSecurityError, ValueError) as e:
        raise FeatureNetError(str(e) if str(path) in str(e) else f'{path}: {e}')
    if not isinstance(net, NetworkState):
        raise FeatureNetError(f'{path}: expected one network (inception_v3_features.pkl), got {type(net).__name__}')
    variables = net.variables
    if 'conv/conv2d_params' not in variables:
        raise FeatureNetError(f'{path}: not an Inception-v3 pickle (no conv/conv2d_params; network '
                              f'{net.name!r} built by {_short(net.build_func_name)!r})')
    classes = variables['softmax/weights'].shape[-1] if 'softmax/weights' in variables else None
    model = InceptionV3Features('tf2015', num_classes=classes)
    assign_by_name(model.official_variables(), variables, path, 'Inception-v3', FeatureNetError)
    return model


def load_inception_keras_h5(path):
    """InceptionV3Features ('keras') with the weights of a keras.applications InceptionV3 `.h5` file, with or
    without its top (`inception_v3_weights_tf_dim_ordering_tf_kernels[_notop].h5`). Keras reads the file;
    its convolutions and batch norms are then taken in creation order, which is the graph's order (CONVS).
    Keras' batch norms have no scale (gamma = 1). Raises FeatureNetError."""
    import h5py
    import keras
    try:
        with h5py.File(path, 'r') as f:
            group = f['model_weights'] if 'model_weights' in f else f
            layer_names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get('layer_names', [])]
    except OSError as e:
        raise FeatureNetError(f'{path}: not a readable HDF5 file ({e})')
    if not layer_names:
        raise FeatureNetError(f'{path}: no Keras weights in this HDF5 file (expected {KERAS_INCEPTION_URL.split("/")[-1]})')
    top = 'predictions' in layer_names
    try:
        ref = keras.applications.InceptionV3(include_top=top, weights=path, pooling=None if top else 'avg')
    except (ValueError, KeyError, OSError) as e:
        raise FeatureNetError(f'{path}: not Keras InceptionV3 weights ({" ".join(str(e).split())[:160]})')

    def in_creation_order(kind):
        layers = [l for l in ref.layers if isinstance(l, kind)]
        return sorted(layers, key=lambda l: int(l.name.rsplit('_', 1)[1]) if l.name[-1].isdigit() and '_' in l.name else 0)
    convs, norms = in_creation_order(keras.layers.Conv2D), in_creation_order(keras.layers.BatchNormalization)
    model = InceptionV3Features('keras', num_classes=1000 if top else None)
    if len(convs) != len(CONVS) or len(norms) != len(CONVS):
        raise FeatureNetError(f'{path}: {len(convs)} convolutions, expected {len(CONVS)}')
    for (name_, *_), conv, norm in zip(CONVS, convs, norms):
        ours = model.convs[name_]
        if tuple(conv.kernel.shape) != tuple(ours['weight'].shape):
            raise FeatureNetError(f'{path}: {conv.name} is {list(conv.kernel.shape)}, expected '
                                  f'{list(ours["weight"].shape)} for {name_}')
        ours['weight'].assign(conv.kernel.numpy())
        ours['beta'].assign(norm.beta.numpy())
        ours['mean'].assign(norm.moving_mean.numpy())
        ours['var'].assign(norm.moving_variance.numpy())
    if top:
        dense = ref.get_layer('predictions')
        model.softmax_weights.assign(dense.kernel.numpy())
        model.softmax_biases.assign(dense.bias.numpy())
    return model
