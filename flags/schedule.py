"""The training schedule: minibatch sizes, learning rates, resolution growth, tick length, the Gs average."""
from absl import flags

# Loop.
flags.DEFINE_float('G_smoothing', None, 'Beta of the Gs moving average.')
flags.DEFINE_integer('D_repeats', None, 'D steps per G step.')
flags.DEFINE_integer('minibatch_repeats', None, 'Minibatches between schedule updates.')
flags.DEFINE_bool('reset_opt_for_new_lod', None, 'Reset Adam when new layers are faded in.')
# Official TrainingSchedule arguments.
flags.DEFINE_integer('lod_initial_resolution', None, 'Resolution at the start of training.')
flags.DEFINE_float('lod_training_kimg', None, 'kimg per resolution before fading in the next.')
flags.DEFINE_float('lod_transition_kimg', None, 'kimg of each fade-in.')
flags.DEFINE_integer('minibatch_base', None, 'Minibatch (global) where minibatch_dict has no entry.')
flags.DEFINE_string('minibatch_dict', None, 'Per-resolution minibatch, e.g. 4:128,8:128,16:128,32:64.')
flags.DEFINE_string('max_minibatch_per_gpu', None, 'Per-resolution limit per GPU, e.g. 256:16,512:8.')
flags.DEFINE_float('G_lrate_base', None, 'Generator learning rate.')
flags.DEFINE_string('G_lrate_dict', None, 'Per-resolution generator learning rate, e.g. 1024:0.0015.')
flags.DEFINE_float('D_lrate_base', None, 'Discriminator learning rate.')
flags.DEFINE_string('D_lrate_dict', None, 'Per-resolution discriminator learning rate.')
flags.DEFINE_float('tick_kimg_base', None, 'kimg per tick where tick_kimg_dict has no entry.')
flags.DEFINE_string('tick_kimg_dict', None, 'Per-resolution tick length.')
# StyleGAN2 (official run_training.py / training_loop.py arguments).
flags.DEFINE_integer('minibatch_size', None, 'StyleGAN2: global minibatch at every resolution (official 32; '
                     'configs a-d: 256 at 8x8 down to 32 from 64x64).')
flags.DEFINE_alias('batch', 'minibatch_size')  # ada-pytorch's spelling.
flags.DEFINE_integer('minibatch_gpu', None, 'StyleGAN2: samples per GPU and round (official 4); more rounds '
                     'accumulate gradients.')
flags.DEFINE_float('lrate', None, 'StyleGAN2: learning rate of G and D (official 0.002).')
flags.DEFINE_float('lrate_rampup_kimg', None, 'StyleGAN2: learning-rate ramp-up.')
flags.DEFINE_float('G_smoothing_kimg', None, 'StyleGAN2: half-life of the Gs moving average.')
