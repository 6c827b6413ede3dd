"""Training data: the dataset, its labels, how it is read and augmented."""
from absl import flags

flags.DEFINE_string('data', None, 'TFRecord dataset directory (data.dataset_tool). Default: the embedded '
                    'Fashion-MNIST test split, written once to datasets/fashion-mnist-32.')
flags.DEFINE_string('cond', None, 'Conditioning: 0 = none, full = all label components, N = first N components.')
flags.DEFINE_bool('mirror_augment', None, 'Random left-right flips of the reals.')
flags.DEFINE_alias('mirror', 'mirror_augment')  # ada-pytorch's spelling; --mirror=1 / --mirror=true / --mirror.
flags.DEFINE_integer('shuffle_mb', None, 'Input shuffle window in MB (official 4096).')
