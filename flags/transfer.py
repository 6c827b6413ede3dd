"""Transfer learning: training from a published network (--resume=FILE.pkl), its schedule position, Freeze-D."""
from absl import flags

flags.DEFINE_float('resume_kimg', None, 'With --resume=FILE.pkl: the images-shown counter starts here (official '
                   'resume_kimg): it sets the lod and learning-rate schedule position and the reported kimg; '
                   '--total_kimg stays absolute. Not for snapshots, which continue exactly.')
flags.DEFINE_integer('freezed', None, 'Freeze-D (ada-pytorch --freezed): keep the first N layers of D fixed, counted '
                     'from the highest resolution: FromRGB, Conv0, Conv1 (down), Skip, then the next block.')
flags.DEFINE_integer('freezeG', None, 'FreezeG: keep the first N layers of G\'s synthesis network fixed, in the order '
                     'they run (4x4 const / dense, each conv, each ToRGB and Skip; README).')
