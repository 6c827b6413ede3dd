"""StyleGAN2's (and StyleGAN's) side of the family interface (see common/families.py)."""
import tensorflow as tf

from common.util.images import to_uint8_ada
from common.util.sampler import Sampler
from stylegan2.loading import load_network  # noqa: F401 (interface)
from stylegan2.options import (NAME, TITLE, FLAGS, PRESETS, RUN_DEFAULTS, SCHEDULE_OPTIONS, Options,  # noqa: F401
                               default_config)  # (interface: its declarations, common/families.py)
from stylegan2.training import build, network_kwargs  # noqa: F401 (interface)

TOOLS = 'python -m stylegan2.generate'
HAS_MAPPING = True


def sampler(Gs):
    """Truncation psi 1 (as the official metrics); noise 'random' draws new noise, 'const' uses the stored
    buffers. For PPL, synthesis draws one noise image per layer from the caller's RandomState, shared by the
    batch (ada-pytorch's perceptual_path_length.py)."""
    def synthesis(ws, rnd):
        noise = [tf.constant(rnd.randn(1, s, s, 1).astype('float32')) for s in Gs.synthesis.noise_sizes]
        return Gs.synthesis(tf.convert_to_tensor(ws, tf.float32), noise=noise or None)
    return Sampler(z_dim=int(Gs.z_dim), c_dim=int(Gs.c_dim), resolution=int(Gs.img_resolution),
                   channels=int(Gs.img_channels), generate=lambda z, c, noise='random': Gs(z, c, noise_mode=noise),
                   to_uint8=to_uint8_ada, mapping=lambda z, c: Gs.mapping(z, c), synthesis=synthesis)


def smaller_batch_flag(resolution, per_round):
    return f'--minibatch_gpu={per_round}'
