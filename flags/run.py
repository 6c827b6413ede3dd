"""The run: model family and preset, where it is written, how long it trains, snapshots, resume, faults."""
from absl import flags

flags.DEFINE_enum('model', 'pggan', ['pggan', 'stylegan2'], 'Model family.')
flags.DEFINE_string('config', None, 'Preset (see PRESETS / SG2_PRESETS). pggan default: "cpu-fashion32" without '
                    '--data, "preset-v2-1gpu" (the official default, with its fp32 per-GPU limits) with --data; '
                    'stylegan2 default: config-f (official run_training.py).')
flags.DEFINE_string('result_dir', 'results', 'Where numbered run directories are created.')
flags.DEFINE_string('desc', None, 'Run directory suffix (default: model-dataset-config).')
flags.DEFINE_string('resume', None, 'Continue from a snapshot directory, a run directory (its newest valid '
                    'snapshot; a new run directory is made), or "latest": the newest run with this --desc, in place. '
                    'Or start from the weights of a network file: an official pickle of any format (ProGAN, StyleGAN, '
                    'StyleGAN2, StyleGAN2-ADA TF or PyTorch) or an export; see --resume_kimg, --freezed.')
flags.DEFINE_string('run_dir', None, 'Use exactly this run directory instead of a new numbered one in --result_dir.')
flags.DEFINE_bool('auto_resume', False, 'If the run directory (--run_dir, or the newest run with this --desc) holds '
                  'a snapshot, continue from its newest valid one; otherwise start fresh. For job schedulers.')
flags.DEFINE_integer('keep_snapshots', None, 'Keep the newest N network snapshots plus the best by the first lower-is-'
                     'better metric and any holding a file named "keep" (default 0: keep all).')
flags.DEFINE_enum('nan_policy', None, ['rollback', 'stop'], 'On a non-finite loss or weight (checked once per tick): '
                  'roll back to the newest valid snapshot with lower learning rates, or stop.')
flags.DEFINE_float('nan_lr_factor', None, 'Learning-rate factor applied at each rollback (default 0.5).')
flags.DEFINE_integer('nan_max_rollbacks', None, 'Rollbacks allowed before the run stops (default 3).')
flags.DEFINE_integer('seed', None, 'Random seed (official: 1000).')
flags.DEFINE_float('total_kimg', None, 'Training length in thousands of real images.')
flags.DEFINE_string('grid_size', None, 'Snapshot grid: 1080p, 4k or WxH.')
flags.DEFINE_integer('image_snapshot_ticks', None, 'Ticks between fakes grids.')
flags.DEFINE_integer('network_snapshot_ticks', None, 'Ticks between network snapshots.')
# ada-pytorch's train.py spellings. Its --snap sets both snapshot intervals; here it is the network one.
flags.DEFINE_alias('outdir', 'result_dir')
flags.DEFINE_alias('cfg', 'config')
flags.DEFINE_alias('kimg', 'total_kimg')
flags.DEFINE_alias('snap', 'network_snapshot_ticks')
