"""Starting a run from a published network (`--resume=FILE.pkl`): every official pickle format, or an export.

What the file gives is its architecture and its weights, nothing else, as ada-pytorch's `--resume` and the
official TF `resume_pkl` do:

- G's and D's constructor kwargs come from the file; a network flag that contradicts them is an error naming
  the flag and both values (the check of a resumed snapshot, `with_snapshot_architecture`). The file's
  resolution and channels must be the dataset's, its labels those the run uses (`--cond`).
- G, D and Gs (ada-pytorch's G_ema) take the file's weights; every variable of the networks built for the run
  must find its own, with the same name and shape, and every variable of the file must be used, or the run
  does not start. One exception, said in the log: an unconditional network trained on a labelled dataset
  with --cond keeps its label layers (those the labels add or widen) freshly initialized.
- Optimizers, training state and schedule start afresh, at --resume_kimg (official semantics; see
  common/training/resume.py `fresh_state`). A StyleGAN2-ADA augmentation probability is taken where the run
  adapts one from the default start (`extra_state['augment_p']`; not over --p or --aug=fixed).
"""
import dataclasses

from common import families
from common.training.options import OptionsError
from common.training.resume import with_snapshot_architecture
from common.util.pickle_io import NetworkLoadError

_SHAPE = ('resolution', 'num_channels', 'label_size')  # Given by the dataset (the families' network_kwargs).


@dataclasses.dataclass
class PickleStart:
    """A network file to start from: its networks and the shape (resolution, channels, labels) they were built for."""
    path: str
    networks: object                        # common.util.pickle_io.Networks
    shape: dict                             # {'resolution': R, 'num_channels': C, 'label_size': L} of its G.


def read_pickle(opts, network_flags):
    """(opts with the file's G and D kwargs, PickleStart) for --resume=FILE; OptionsError (one line) for a file
    that cannot be read, a network of another family, or a network flag that contradicts the file."""
    path = opts.resume
    try:
        family, networks = families.load_any_network(path)
    except NetworkLoadError as e:
        raise OptionsError(f'--resume: {e}') from None
    if family.NAME != opts.model:
        raise OptionsError(f'--resume={path}: a {family.TITLE} network, not {families.get(opts.model).TITLE}: '
                           f'train it with --model={family.NAME}')
    kwargs, shape = {}, {}
    for name in ('G', 'D'):
        # The networks' own config is complete (every default filled in); the loader's record adds what only it
        # knows (which official build function, e.g. func_name='G_style').
        built = {**getattr(networks, name).get_config(), **(networks.kwargs or {}).get(name, {})}
        if 'fp16_dtype' in built and built['fp16_dtype'] is None:
            del built['fp16_dtype']  # Loaders compute official float16 layers in float32; training sets its own.
        shape[name] = {key: built.pop(key) for key in _SHAPE if key in built}
        kwargs[f'{name}_kwargs'] = built
    opts = with_snapshot_architecture(opts, path, kwargs, network_flags)
    return opts, PickleStart(path, networks, shape['G'])


def check_dataset(start, dataset, opts):
    """The one-line error for a file whose networks do not fit the dataset: resolution, channels, labels. An
    unconditional network on labels (--cond) is allowed (see take_weights)."""
    res, channels, labels = (start.shape.get(key) for key in _SHAPE)
    where = f'--resume={start.path}'
    if res != dataset.resolution:
        raise OptionsError(f'{where}: its networks are {res}x{res}, the dataset {opts.data} is '
                           f'{dataset.resolution}x{dataset.resolution}')
    if channels != dataset.num_channels:
        raise OptionsError(f'{where}: its networks have {channels} channels, the dataset {opts.data} has '
                           f'{dataset.num_channels}')
    if labels and not dataset.label_size:
        unused = dataset.info.label_size and opts.max_label_size == 0
        raise OptionsError(f'{where}: its networks are conditional ({labels} label components), but this run has no '
                           f'labels: ' + (f'add --cond=full to use the {dataset.info.label_size} of {opts.data}' if unused
                                          else f'the dataset {opts.data} has no labels file'))
    if labels and labels != dataset.label_size:
        raise OptionsError(f'{where}: its networks take {labels} label components, this run has '
                           f'{dataset.label_size} (the dataset {opts.data} with --cond={opts.max_label_size})')


def take_weights(parts, start):
    """Sets G, D and Gs of `parts` from the file (checked as the module says); returns the lines for the log:
    the variables that start fresh (none unless an unconditional network meets labels), the augment p taken."""
    widened = not start.shape.get('label_size') and parts.network_kwargs['G'].get('label_size')
    fresh, notes = [], []
    for name in ('G', 'D', 'Gs'):
        ours, theirs = _by_name(parts.nets[name]), _by_name(getattr(start.networks, name))
        unused = sorted(set(theirs) - set(ours))
        if unused:
            raise OptionsError(f'--resume={start.path}: {name} variable {unused[0]} of the file has no place in the '
                               f'network built for this run' + (f' (and {len(unused) - 1} more)' if len(unused) > 1 else ''))
        for key, var in ours.items():
            source = theirs.get(key)
            if source is not None and tuple(source.shape) == tuple(var.shape):
                var.assign(source.value)
                continue
            if not widened:
                found = 'missing' if source is None else f'{list(source.shape)}, this run\'s {list(var.shape)}'
                raise OptionsError(f'--resume={start.path}: {name} variable {key} does not fit the network built for '
                                   f'this run (in the file: {found})')
            fresh.append(f'{name}/{key}')
    if fresh:
        notes.append(f'Freshly initialized (the label layers an unconditional network lacks; every other weight is '
              f'the file\'s): {", ".join(fresh)}')
    p = start.networks.augment_p
    # The file's p is where an adaptive run starts unless --p says otherwise; a fixed p (--aug=fixed) stays.
    augment = getattr(parts, 'augment', None)
    keeps_own = augment is not None and (augment.target is None or float(augment.p.numpy()) != 0)
    if 'augment_p' in parts.extra_state and p is not None and not keeps_own:
        parts.extra_state['augment_p'].assign(p)
        notes.append(f'Augmentation probability from the file: {p:g}')
    return notes


def _by_name(net):
    """{variable path inside the network: variable}; the network's own name (G, Gs) left off, so that G's and
    Gs's, and a file's and ours, compare."""
    prefix = net.name + '/'
    table = {v.path[len(prefix):] if v.path.startswith(prefix) else v.path: v for v in net.weights}
    if len(table) != len(net.weights):
        raise OptionsError(f'network {net.name}: variables with the same name; cannot match them by name')
    return table
