"""StyleGAN2 (Karras et al., CVPR 2020) and StyleGAN2-ADA networks in TensorFlow 2 / Keras."""
from stylegan2.loading import NetworkLoadError, Networks, load_network  # noqa: F401
