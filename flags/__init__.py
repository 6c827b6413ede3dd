"""Command-line flags of train.py, derived from the options' declarations (common/training/options.py,
pggan/options.py, stylegan2/options.py, common/training/schedule.py): nothing is declared twice here.

Each flag goes into the group its declaration names: absl lists a module's flags under the module's name,
so `python train.py --help` shows them grouped (GROUPS, in this order; the modules only name and describe
the groups). A preset sets defaults; every flag given on the command line overrides it. Dicts keyed by
resolution are written `4:128,8:128,...`.
"""
from absl import flags

from common.util.declare import Flag
from common.training.options import declared_flags
from . import data, run, schedule, network, regularization, augment, transfer, metrics, scale

F = flags.FLAGS
GROUPS = (data, run, schedule, network, regularization, augment, transfer, metrics, scale)

# Flags of the launcher itself: not options of the run, not in training_options.json.
LAUNCH_FLAGS = (
    Flag('tensorboard', bool, 'Start TensorBoard on the run directory beside the training.', 'metrics',
         absl_default=False),
    Flag('worker_hosts', str, 'Multi-machine training: host:port of every worker, comma-separated, the same on all '
         '(writes TF_CONFIG; or set TF_CONFIG yourself). Needs --run_dir on a shared filesystem.', 'scale'),
    Flag('task_index', int, 'With --worker_hosts: this machine\'s position in the list (0 = chief).', 'scale'),
)
DECLARED = tuple(declared_flags()) + LAUNCH_FLAGS


def _define(flag, flag_values=F):
    module = f'{__name__}.{flag.group}'
    if flag.choices:
        flags.DEFINE_enum(flag.name, flag.absl_default, list(flag.choices), flag.help, flag_values, module_name=module)
    else:
        define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
                  list: flags.DEFINE_list, str: flags.DEFINE_string}[flag.type]
        define(flag.name, flag.absl_default, flag.help, flag_values=flag_values, module_name=module)
    for alias in flag.aliases:  # ada-pytorch's spellings (--mirror=1 / --mirror=true / --mirror work too).
        flags.DEFINE_alias(alias, flag.name, flag_values, module_name=module)


for _flag in DECLARED:
    _define(_flag)


def given(flag_values=F):
    """{name: value} of the declared flags that have a value (given, or an absl default such as --model's)."""
    return {f.name: flag_values[f.name].value for f in DECLARED if flag_values[f.name].value is not None}


def precision_overrides(flag_values=F):
    """The mixed-precision flags given -> kwargs for both StyleGAN2 networks (--fp16: StyleGAN2-ADA's settings),
    as TrainingOptions' G_kwargs gets them (benchmarks/train_speed.py builds its options without a preset)."""
    from common.training.options import apply_flags
    tree = {}
    apply_flags(tree, {k: v for k, v in given(flag_values).items()
                       if k in ('fp16', 'num_fp16_res', 'conv_clamp', 'fp16_dtype')}, 'stylegan2')
    return tree.get('G_kwargs', {})
