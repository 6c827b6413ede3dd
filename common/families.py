"""The registry of model families: the one module below train.py that names them.

Each family is a module (`pggan/family.py`, `stylegan2/family.py`) with the same small interface:

    NAME, TITLE                 'pggan', 'Progressive GAN'
    Options, FLAGS, PRESETS     its own options (flat in TrainingOptions), flags and presets (see below)
    TOOLS                       the family's generate command, for messages that point to it
    HAS_MAPPING                 whether Gs has a mapping network (PPL in W, truncation)
    SCHEDULE_OPTIONS            the dataclass of its `sched` options
    network_kwargs(opts, dataset), build(opts, dataset, strategy) -> common.training.phases.TrainingParts
    load_network(path) -> Networks (G, D, Gs)
    sampler(Gs) -> common.util.sampler.Sampler
    validate(opts)              its own checks of a run's options (OptionsError naming the flag)

The engine and the metrics use only these; nothing else below train.py compares a model name.

Each family also has a light `options.py` (no TensorFlow; family.py re-exports it) with what train.py's
flags are derived from: NAME, TITLE, Options (a dataclass of option() fields), SCHEDULE_OPTIONS, FLAGS
(common.util.declare.Flag), PRESETS, RUN_DEFAULTS, default_config(data_given) and validate(opts). `declarations(name)`
returns it without building anything.
"""
import functools
import importlib.util

_NAMES = ('pggan', 'stylegan2')


@functools.lru_cache(maxsize=None)
def _modules():
    # Imported on first use, not with this module: the options and the engine import the registry, and the
    # families import parts of the engine (common/training/phases.py), never the other way round.
    from pggan import family as pggan
    from stylegan2 import family as stylegan2
    return {'pggan': pggan, 'stylegan2': stylegan2}


@functools.lru_cache(maxsize=None)
def _declarations():
    from pggan import options as pggan
    from stylegan2 import options as stylegan2
    return {'pggan': pggan, 'stylegan2': stylegan2}


def declarations(name):
    """The family's options module (no TensorFlow); ValueError naming the known families otherwise."""
    return _declarations()[_known(name)]


def all_declarations():
    return [declarations(name) for name in _NAMES]


def title(name):
    """What users call the family ('Progressive GAN'); the name itself for an unknown one."""
    return declarations(name).TITLE if name in _NAMES else name


def names():
    return _NAMES


def get(name):
    """The family module called `name`; ValueError naming the known ones otherwise."""
    return _modules()[_known(name)]


def _known(name):
    if name not in _NAMES:
        raise ValueError(f'--model={name}: expected {" or ".join(_NAMES)}')
    return name


def all_families():
    return [get(name) for name in _NAMES]


def load_any_network(path):
    """(family module, Networks) for our snapshot directory (its recorded family) or an official pickle of any
    family: each family's reader is tried in turn; where all refuse, the one-line error of the reader that
    did not send the file to another family is raised."""
    from common.util.pickle_io import NetworkLoadError, is_snapshot_dir
    from common.util.snapshot import read_snapshot_meta
    if is_snapshot_dir(path):
        model = read_snapshot_meta(path).get('model')
        if model not in _NAMES:
            raise NetworkLoadError(f'{path}: snapshot of model {model!r}, expected {" or ".join(_NAMES)}')
        family = get(model)
        return family, family.load_network(path)
    errors = []
    for family in all_families():
        try:
            return family, family.load_network(path)
        except NetworkLoadError as e:
            errors.append(e)
    redirects = [f'{name}.load_network' for name in _NAMES]
    raise next((e for e in errors if not any(r in str(e) for r in redirects)), errors[0])


def load_tool_network(load_network, path, tool):
    """load_network(path) for the tool `python -m <family>.<tool>` (e.g. tool='generate'): a network of the
    other model family is one NetworkLoadError naming the tool for it, or saying there is none."""
    from common.util.pickle_io import NetworkLoadError, OtherFamilyError
    print(f'Loading network from "{path}"...')
    try:
        return load_network(path)
    except OtherFamilyError as e:
        module = f'{e.family}.{tool}'
        there = 'use' if importlib.util.find_spec(module) is not None else 'there is no'
        raise NetworkLoadError(f'{path}: this is a {title(e.family)} network; {there} python -m {module}') from None
