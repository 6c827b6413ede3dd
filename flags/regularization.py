"""Regularization: R1 and path length (StyleGAN2), lazily or every step."""
from absl import flags

flags.DEFINE_float('gamma', None, 'StyleGAN2: R1 weight (config-e: 100, others: 10).')
flags.DEFINE_bool('lazy_regularization', None, 'StyleGAN2: separate, less frequent regularization steps.')
flags.DEFINE_integer('G_reg_interval', None, 'StyleGAN2: minibatches between path-length steps.')
flags.DEFINE_integer('D_reg_interval', None, 'StyleGAN2: minibatches between R1 steps.')
