"""StyleGAN2-ADA: adaptive discriminator augmentation (ada-pytorch's flags, names and semantics)."""
from absl import flags

flags.DEFINE_string('aug', None, 'StyleGAN2: augment everything D sees: ada (p adapts to keep E[sign(D(real))] '
                    'at --target), fixed (p = --p) or noaug. Default: ada for the ADA configs (auto, stylegan2, '
                    'paper256, paper512, paper1024, cifar), noaug for configs a-f.')
flags.DEFINE_float('p', None, 'Augmentation probability: with --aug=fixed the fixed p (required); with --aug=ada '
                   'the initial p (default 0).')
flags.DEFINE_float('target', None, 'ADA target of r_t = E[sign(D(real))] (0.6).')
flags.DEFINE_string('augpipe', None, 'Augmentation pipeline: blit, geom, color, filter, noise, cutout, bg, bgc '
                    '(default: blit, geometry, colour), bgcf, bgcfn or bgcfnc.')
flags.DEFINE_float('ada_kimg', None, 'ADA speed: kimg for p to move by 1 (500; 100 when resuming from a pickle).')
