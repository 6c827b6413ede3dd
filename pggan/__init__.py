"""Progressive GAN (Karras et al., ICLR 2018) in TensorFlow 2 / Keras."""
from pggan.loading import NetworkLoadError, Networks, load_network  # noqa: F401
