"""Progressive GAN's side of the family interface (see common/families.py)."""
from common.util.images import to_uint8_progan
from common.util.sampler import Sampler
from pggan.loading import load_network  # noqa: F401 (interface)
from pggan.options import (NAME, TITLE, FLAGS, PRESETS, RUN_DEFAULTS, SCHEDULE_OPTIONS, Options,  # noqa: F401
                           default_config)  # (interface: its declarations, common/families.py)
from pggan.training import build, network_kwargs  # noqa: F401 (interface)

TOOLS = 'python -m pggan.generate'
HAS_MAPPING = False


def sampler(Gs):
    """Gs(z, c) has no noise inputs: `noise` is accepted and has no effect."""
    return Sampler(z_dim=int(Gs.latent_size), c_dim=int(Gs.label_size), resolution=2 ** int(Gs.resolution_log2),
                   channels=int(Gs.num_channels), generate=lambda z, c, noise='random': Gs(z, c),
                   to_uint8=to_uint8_progan)


def smaller_batch_flag(resolution, per_round):
    return f'--max_minibatch_per_gpu={resolution}:{per_round}'
