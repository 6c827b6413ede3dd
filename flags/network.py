"""Network architecture (official G_paper / D_paper and G_main / D_stylegan2 arguments)."""
from absl import flags

flags.DEFINE_integer('fmap_base', None, 'Overall multiplier for the number of feature maps.')
flags.DEFINE_float('fmap_decay', None, 'log2 feature map reduction when doubling the resolution.')
flags.DEFINE_integer('fmap_max', None, 'Maximum number of feature maps in any layer.')
flags.DEFINE_integer('latent_size', None, 'Latent dimensionality (default min(fmap_base, fmap_max)).')
flags.DEFINE_integer('mbstd_group_size', None, 'Minibatch stddev group size, 0 = off.')
flags.DEFINE_enum('structure', None, ['linear', 'recursive'], 'Network structure.')
flags.DEFINE_bool('fused_scale', None, 'Fused up/down-sampling convolutions.')
flags.DEFINE_bool('use_pixelnorm', None, 'Pixelwise feature normalization in G.')
flags.DEFINE_bool('use_wscale', None, 'Equalized learning rate.')
flags.DEFINE_bool('use_leakyrelu', None, 'Leaky ReLU (else ReLU) in G.')
flags.DEFINE_bool('normalize_latents', None, 'Pixel-normalize the latents.')
flags.DEFINE_integer('mapping_layers', None, 'StyleGAN2: layers of the mapping network.')
flags.DEFINE_integer('dlatent_size', None, 'StyleGAN2: w dimensionality.')
