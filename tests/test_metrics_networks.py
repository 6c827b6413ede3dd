"""The metrics' feature networks: our Inception-v3 equals Keras' InceptionV3 on the weights of a Keras .h5
written in the official file's format; NVIDIA's inception_v3_features.pkl layout round-trips through the safe
unpickler; missing files give one line naming what to download; dataset statistics are cached by key."""
import os
import pickle

import h5py
import keras
import numpy as np
import pytest

from common.metrics import detectors, inception
from common.metrics.inception import FeatureNetError


@pytest.fixture(scope='module')
def keras_inception_h5(tmp_path_factory):
    """A randomly initialised keras.applications InceptionV3 (notop, avg pooling) with random batch-norm
    statistics, saved in the legacy HDF5 weights format of inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5."""
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(1)
    model = keras.applications.InceptionV3(include_top=False, weights=None, pooling='avg')
    rnd = np.random.RandomState(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.beta.shape[0]
            layer.beta.assign(rnd.randn(n).astype(np.float32) * 0.1)
            layer.moving_mean.assign(rnd.randn(n).astype(np.float32) * 0.1)
            layer.moving_variance.assign(rnd.uniform(0.5, 2, n).astype(np.float32))
    path = str(tmp_path_factory.mktemp('keras') / 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5')
    with h5py.File(path, 'w') as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path, model


def test_keras_h5_inception_loads_into_our_network_and_gives_keras_features(keras_inception_h5):
    path, reference = keras_inception_h5
    ours = inception.load_inception_keras_h5(path)
    assert ours.variant == 'keras' and not ours.has_classifier
    images = np.random.RandomState(3).randint(0, 256, [2, 299, 299, 3]).astype(np.uint8)
    expected = reference.predict(images.astype(np.float32) / 127.5 - 1, verbose=0)
    np.testing.assert_allclose(ours.features(images).numpy(), expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_non_inception_h5_is_refused_with_its_name(tmp_path):
    path = str(tmp_path / 'other.h5')
    with h5py.File(path, 'w') as f:
        f.create_dataset('x', data=np.zeros(3))
    with pytest.raises(FeatureNetError, match='other.h5: no Keras weights'):
        inception.load_inception_keras_h5(path)


def _official_inception_pickle(path, network_class, with_softmax, seed=0, drop=None):
    """inception_v3_features.pkl's layout: one dnnlib Network whose variables are the 2015 graph's constants."""
    net = inception.InceptionV3Features('tf2015', num_classes=inception.NUM_CLASSES if with_softmax else None)
    rnd = np.random.RandomState(seed)
    variables = [(name, rnd.randn(*var.shape).astype(np.float32)) for name, var in net.official_variables().items()
                 if name != drop]
    state = dict(version=4, name='inception_v3_features', static_kwargs={}, components={},
                 build_module_src='raise RuntimeError("never run")', build_func_name='inception_v3_features',
                 variables=variables)
    with open(path, 'wb') as f:
        pickle.dump(network_class(state), f, protocol=4)
    return dict(variables)


def test_official_inception_pickle_layout_round_trips_through_the_safe_loader(tmp_path, official_network_class):
    values = _official_inception_pickle(tmp_path / 'inception_v3_softmax.pkl', official_network_class, True)
    model = inception.load_inception_pickle(str(tmp_path / 'inception_v3_softmax.pkl'))
    assert model.variant == 'tf2015' and model.has_classifier
    ours = model.official_variables()
    assert set(ours) == set(values)
    for name in ('conv/conv2d_params', 'mixed_10/tower_1/mixed/conv_1/batchnorm/gamma', 'softmax/weights'):
        np.testing.assert_array_equal(ours[name].numpy(), values[name])
    # ~22M variables: the official file's size; 94 convolutions with 4 batch-norm arrays each, plus softmax.
    assert len(values) == 94 * 5 + 2


def test_inception_pickle_missing_a_variable_is_refused_naming_it(tmp_path, official_network_class):
    path = tmp_path / 'broken.pkl'
    _official_inception_pickle(path, official_network_class, False, drop='mixed_3/conv/batchnorm/beta')
    with pytest.raises(FeatureNetError, match=r"broken.pkl: variables do not match.*mixed_3/conv/batchnorm/beta"):
        inception.load_inception_pickle(str(path))


def test_missing_feature_network_names_file_url_flag_and_environment(monkeypatch):
    monkeypatch.delenv('STYLEGAN2_INCEPTION', raising=False)
    with pytest.raises(FeatureNetError) as e:
        detectors.resolve_path('inception', None)
    message = str(e.value)
    assert '\n' not in message
    for needle in ('inception_v3_features.pkl', inception.INCEPTION_URL, '--inception=PATH', '$STYLEGAN2_INCEPTION',
                   '--feature_net=random'):
        assert needle in message
    monkeypatch.setenv('STYLEGAN2_VGG16', '/nonexistent/vgg.pkl')
    with pytest.raises(FeatureNetError, match=r'^\$STYLEGAN2_VGG16=/nonexistent/vgg.pkl: no such file$'):
        detectors.resolve_path('vgg16', None)


def test_random_feature_networks_are_labelled_and_official_pr_pickle_is_refused(tmp_path):
    assert 'RANDOM' in detectors.FeatureNetworks('random').label
    pkl = tmp_path / 'vgg16.pkl'
    pkl.write_bytes(b'x')
    with pytest.raises(FeatureNetError, match='vgg16.pkl: PR reads Keras VGG16 weights'):
        detectors.FeatureNetworks('official', {'vgg16_features': str(pkl)}).get('vgg16_features')
    with pytest.raises(FeatureNetError, match='--feature_net=fake'):
        detectors.FeatureNetworks('fake')


def test_stats_file_identity_changes_with_the_weights(tmp_path):
    path = tmp_path / 'inception_v3_features.pkl'
    path.write_bytes(b'a')
    nets = detectors.FeatureNetworks('official', {'inception': str(path)})
    first = nets.identity('inception')
    path.write_bytes(b'b')
    assert nets.identity('inception') != first
    assert os.path.basename(str(path)) in first
