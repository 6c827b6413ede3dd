"""The one view of a generator that the engine and the metrics have: what it takes, what it makes, and how
to sample it. Each family builds its own (`<family>.family.sampler(Gs)`); nothing here knows a family.

ada-pytorch's metrics call `G(z=z, c=c)` and never name a network; this is that call, plus the family's own
rule for uint8 and, for PPL in W, its mapping and synthesis halves.
"""
import dataclasses
from typing import Callable, Optional

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Sampler:
    z_dim: int                              # Latent size.
    c_dim: int                              # Label size (0: unconditional).
    resolution: int                         # Images are [N, resolution, resolution, channels].
    channels: int
    generate: Callable                      # generate(z, c, noise) -> float NHWC in [-1, 1]; noise 'random' is the
                                            # official metrics' sampling, 'const' the stored noise (grids).
    to_uint8: Callable                      # The family's official float -> uint8 rule.
    mapping: Optional[Callable] = None      # mapping(z, c) -> ws [N, num_ws, w_dim]; None: no mapping network.
    synthesis: Optional[Callable] = None    # synthesis(ws, rnd) -> float NHWC, noise inputs drawn from RandomState rnd.

    def sample(self, z, c, noise='random'):
        """z [N, z_dim], c [N, c_dim] (NumPy or tensors) -> uint8 [N, R, R, C]."""
        images = self.generate(tf.convert_to_tensor(z, tf.float32), tf.convert_to_tensor(c, tf.float32), noise)
        return self.to_uint8(np.asarray(images))
