"""Where the metrics' feature networks come from: local files named by flag or environment variable (nothing
is downloaded here), or, with `feature_net='random'`, randomly initialised networks of the full size that
run the whole pipeline without weights and whose numbers are labelled as meaningless everywhere.

  FID, KID, IS  Inception-v3   --inception / $STYLEGAN2_INCEPTION         inception_v3_features.pkl (official)
                                                                          or Keras' InceptionV3 .h5
  PPL           VGG-16 LPIPS   --vgg16 / $STYLEGAN2_VGG16                 vgg16_zhang_perceptual.pkl (official)
  PR            VGG-16 fc2     --vgg16_features / $STYLEGAN2_VGG16_FEATURES  Keras' VGG16 .h5 with its top
"""
import hashlib
import os

from common.metrics import inception as inception_lib
from common.metrics import vgg16 as vgg16_lib
from common.metrics.inception import FeatureNetError

RANDOM_LABEL = 'RANDOM (randomly initialised feature networks: not comparable to published numbers)'

# kind -> (flag, environment variable, what to download, where from).
SOURCES = {
    'inception': ('--inception', 'STYLEGAN2_INCEPTION', 'inception_v3_features.pkl', inception_lib.INCEPTION_URL),
    'vgg16': ('--vgg16', 'STYLEGAN2_VGG16', 'vgg16_zhang_perceptual.pkl', vgg16_lib.VGG16_URL),
    'vgg16_features': ('--vgg16_features', 'STYLEGAN2_VGG16_FEATURES', 'vgg16_weights_tf_dim_ordering_tf_kernels.h5',
                       vgg16_lib.KERAS_VGG16_URL),
}


def resolve_path(kind, flag_value):
    """The file for `kind` from its flag, else its environment variable; a one-line FeatureNetError naming
    the file to download, its URL and where to point to it when neither is set or the file is missing."""
    flag, env, filename, url = SOURCES[kind]
    for path, source in ((flag_value, flag), (os.environ.get(env), f'${env}')):
        if path:
            if not os.path.isfile(path):
                raise FeatureNetError(f'{source}={path}: no such file')
            return path
    raise FeatureNetError(f'no {kind} feature network: download {filename} ({url}) and pass {flag}=PATH or set '
                          f'${env}; or run with --feature_net=random for a labelled, meaningless smoke test')


class FeatureNetworks:
    """The feature networks of one metrics run, built on first use.

    mode: 'official' (the files named by `paths` or the environment) or 'random'.
    paths: kind -> file (flag values; None falls back to the environment variable).
    """

    def __init__(self, mode='official', paths=None, seed=0):
        if mode not in ('official', 'random'):
            raise FeatureNetError(f'--feature_net={mode}: expected official or random')
        self.mode, self.paths, self.seed = mode, dict(paths or {}), seed
        self._nets = {}

    @property
    def label(self):
        return RANDOM_LABEL if self.mode == 'random' else 'official'

    def path(self, kind):
        return None if self.mode == 'random' else resolve_path(kind, self.paths.get(kind))

    def identity(self, kind):
        """A string that changes whenever the network's weights do: the cache key of dataset statistics."""
        if self.mode == 'random':
            return f'{kind}-random-seed{self.seed}'
        path = self.path(kind)
        digest = hashlib.md5()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 24), b''):
                digest.update(chunk)
        return f'{kind}-{os.path.basename(path)}-{digest.hexdigest()}'

    def get(self, kind):
        if kind not in self._nets:
            self._nets[kind] = self._build(kind)
        return self._nets[kind]

    def _build(self, kind):
        path = self.path(kind)
        if kind == 'inception':
            if path is None:
                return inception_lib.InceptionV3Features('tf2015', num_classes=inception_lib.NUM_CLASSES, seed=self.seed)
            if path.endswith('.h5'):
                return inception_lib.load_inception_keras_h5(path)
            return inception_lib.load_inception_pickle(path)
        if kind == 'vgg16':
            if path is None:
                import keras
                keras.utils.set_random_seed(self.seed)
                return vgg16_lib.VGG16Perceptual()
            try:
                return vgg16_lib.load_vgg16_perceptual(path)
            except vgg16_lib.PerceptualLoadError as e:
                raise FeatureNetError(str(e))
        if path is not None and not path.endswith('.h5'):
            raise FeatureNetError(f'{path}: PR reads Keras VGG16 weights with the top '
                                  f'({SOURCES["vgg16_features"][2]}); the layout of the official vgg16.pkl is not '
                                  f'known here')
        try:
            return vgg16_lib.VGG16Features(path, seed=self.seed)
        except (ValueError, OSError) as e:
            raise FeatureNetError(f'{path}: not Keras VGG16 weights with the top ({" ".join(str(e).split())[:160]})')
