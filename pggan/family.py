"""Progressive GAN's side of the family interface (see common/families.py)."""
from common.util.images import to_uint8_progan
from common.util.sampler import Sampler
from common.training.schedule import ScheduleOptions
from pggan.loading import load_network  # noqa: F401 (interface)
from pggan.training import build, network_kwargs  # noqa: F401 (interface)

NAME = 'pggan'
TITLE = 'Progressive GAN'
TOOLS = 'python -m pggan.generate'
HAS_MAPPING = False
MIXED_PRECISION = False
AUGMENTS = False                # No StyleGAN2-ADA augmentation of D's inputs (--aug).
SCHEDULE_OPTIONS = ScheduleOptions


def sampler(Gs):
    """Gs(z, c) has no noise inputs: `noise` is accepted and has no effect."""
    return Sampler(z_dim=int(Gs.latent_size), c_dim=int(Gs.label_size), resolution=2 ** int(Gs.resolution_log2),
                   channels=int(Gs.num_channels), generate=lambda z, c, noise='random': Gs(z, c),
                   to_uint8=to_uint8_progan)


def smaller_batch_flag(resolution, per_round):
    return f'--max_minibatch_per_gpu={resolution}:{per_round}'
