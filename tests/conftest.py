"""Session-wide test set-up: two logical CPU devices, and absl flags that tests may change safely."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs let MirroredStrategy(['/cpu:0', '/cpu:1']) run real 2-replica code on this CPU-only host.
# TensorFlow accepts this only before it initializes its devices, hence here at import time, before any
# test module runs; code that names no device keeps running on /cpu:0 as usual.
try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices('CPU')[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
except RuntimeError:  # Devices already initialized by whoever imported TF first: keep what is there.
    pass


@pytest.fixture
def tool_flags():
    """The dataset tool's absl flags, parsed with their defaults; whatever a test sets is undone after it."""
    from absl import flags
    from absl.testing import flagsaver
    import data.dataset_tool  # noqa: F401  (defines the flags)
    if not flags.FLAGS.is_parsed():
        flags.FLAGS(['dataset_tool'])  # Not sys.argv: those are pytest's arguments.
    with flagsaver.flagsaver():
        yield flags.FLAGS


@pytest.fixture
def train_flags():
    """train.py's absl flags, unparsed; whatever a test parses is undone after it."""
    from absl import flags
    from absl.testing import flagsaver
    import train  # noqa: F401  (defines the flags)
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        yield flags.FLAGS


@pytest.fixture
def official_network_class(monkeypatch):
    """A stand-in for dnnlib.tflib.network.Network, importable under that name for the test, so that
    test pickles are written in the official layout (each network pickles as its state dict)."""
    import sys
    import types
    module = types.ModuleType('dnnlib.tflib.network')

    class Network:
        def __init__(self, state):
            self.state = state

        def __getstate__(self):
            return self.state
    Network.__module__, Network.__qualname__ = module.__name__, 'Network'
    module.Network = Network
    for name in ('dnnlib', 'dnnlib.tflib'):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return Network


@pytest.fixture(scope='session')
def tiny_dataset_8px(tmp_path_factory):
    """64 8x8 grayscale images of smooth random content, as an official-format TFRecord dataset."""
    import numpy as np
    from data import sources
    from data.writer import write_dataset
    rnd = np.random.RandomState(7)
    images = (rnd.rand(64, 1, 2, 2) * 255).repeat(4, axis=2).repeat(4, axis=3).astype(np.uint8)
    path = str(tmp_path_factory.mktemp('data') / 'tiny8')
    write_dataset(path, sources.array_source(images), shuffle=True)
    return path


@pytest.fixture(scope='session')
def tiny_labelled_rgb8(tmp_path_factory):
    """64 8x8 RGB images with smooth random content and 3 classes, as an official-format TFRecord dataset."""
    import numpy as np
    from data import sources
    from data.writer import write_dataset
    rnd = np.random.RandomState(3)
    images = (rnd.rand(64, 3, 2, 2) * 255).repeat(4, axis=2).repeat(4, axis=3).astype(np.uint8)
    path = str(tmp_path_factory.mktemp('data') / 'tiny8rgb')
    write_dataset(path, sources.array_source(images, sources.onehot(np.arange(64) % 3)), shuffle=True)
    return path


@pytest.fixture(scope='session')
def smooth_rgb32(tmp_path_factory):
    """16 smooth 32x32 RGB images (4x4 random blocks), as an official-format TFRecord dataset."""
    import numpy as np
    from data import sources
    from data.writer import write_dataset
    images = (np.random.RandomState(4).rand(16, 3, 4, 4) * 255).repeat(8, axis=2).repeat(8, axis=3).astype(np.uint8)
    path = str(tmp_path_factory.mktemp('data') / 'rgb32')
    write_dataset(path, sources.array_source(images), shuffle=True)
    return path
