"""Where a run continues from, and what it takes back: the run-directory policy of --resume, --run_dir and
--auto_resume, the checks that a snapshot fits this run, restoring it (weights, optimizers, `TrainState`),
and the numerical-fault rollback to the newest valid snapshot."""
import dataclasses
import os

from common.training.options import OptionsError
from common.training.run_dir import latest_run_dir, list_snapshots, locate_snapshot, newest_valid_snapshot, \
    remove_stale_temporaries, resumes_from_pickle  # noqa: F401 (resumes_from_pickle: part of this API)
from common.util.snapshot import read_snapshot_meta, read_snapshot_state, restore_snapshot


class TrainingError(RuntimeError):
    """Training cannot go on (out of memory, diverged); the one-line message says why and what to try."""


@dataclasses.dataclass
class TrainState:
    """Everything besides the weights that an exact resume needs."""
    cur_nimg: int = 0
    cur_tick: int = 0
    step: int = 0                           # Counts minibatches; keys the stateless randomness.
    prev_lod: float = -1.0
    data_resolution: int = 0
    data_position: int = 0                  # Images consumed from the pipeline at data_resolution.
    tick_start_nimg: int = 0
    total_time: float = 0.0
    lr_scale: float = 1.0                   # Learning-rate factor left by numerical-fault rollbacks.
    rollbacks: int = 0


def choose_run_dir(opts, chief=True):
    """(run directory to continue or None for a new one, snapshot to resume from or None) for --run_dir,
    --resume and --auto_resume.

    --resume=PATH starts a new numbered run directory from that snapshot (or, for a network file, from its
    weights: the snapshot returned is None then, see resumes_from_pickle), as the official code does;
    --resume=latest and --auto_resume continue the newest run of this description (or --run_dir) in place."""
    latest = opts.resume == 'latest' or opts.auto_resume
    if opts.run_dir:
        run_dir = opts.run_dir  # Made by the caller once it knows there is something to train.
        if os.path.isdir(run_dir) and list_snapshots(run_dir) and not latest and not opts.resume:
            raise OptionsError(f'--run_dir={run_dir} already holds snapshots: add --auto_resume (or --resume=latest) '
                               f'to continue it, or choose another directory')
    elif latest:
        run_dir = latest_run_dir(opts.result_dir, opts.desc)
    else:
        run_dir = None
    snapshot = None
    if latest and run_dir and os.path.isdir(run_dir):
        if chief:
            remove_stale_temporaries(run_dir)
        snapshot = newest_valid_snapshot(run_dir)
    elif opts.resume and opts.resume != 'latest' and not resumes_from_pickle(opts):
        snapshot = locate_snapshot(opts.resume)
    if opts.resume == 'latest' and snapshot is None:
        where = (f'--run_dir={opts.run_dir}' if opts.run_dir else
                 f'any run directory {os.path.join(opts.result_dir, "<number>-" + opts.desc)} (--desc={opts.desc})')
        raise FileNotFoundError(f'--resume=latest: no complete snapshot in {where}')
    return run_dir, snapshot


def fresh_state(opts):
    """The TrainState of a run that does not continue a snapshot: images shown from --resume_kimg (official)."""
    nimg = int(round(opts.resume_kimg * 1000))
    return TrainState(cur_nimg=nimg, tick_start_nimg=nimg)


def read_resume_state(snapshot):
    saved = read_snapshot_state(snapshot)
    if not isinstance(saved, dict) or not isinstance(saved.get('train_state'), dict):
        raise OptionsError(f'--resume: {snapshot} holds networks but no training state (an export?); '
                           f'start a new run with its weights instead')
    return saved


def with_snapshot_architecture(opts, snapshot, saved_options, network_flags):
    """`opts` with the G and D kwargs the snapshot was trained with: a resume needs no network flags. A flag
    given on the command line that contradicts the snapshot is an error naming the key and both values."""
    if not isinstance(saved_options, dict):
        return opts  # Written before snapshots recorded their options: the run's own kwargs must fit.
    kwargs = {}
    for net in ('G', 'D'):
        mine, theirs = getattr(opts, f'{net}_kwargs'), saved_options.get(f'{net}_kwargs', {})
        given = {key: mine[key] for n, key in network_flags if n == net and key in mine}
        for key, value in given.items():
            if key in theirs and theirs[key] != value:
                raise OptionsError(f'--{network_flags[net, key]}={value} contradicts {snapshot}: its {net} was trained '
                                   f'with {key}={theirs[key]}; leave the flag out to resume with the snapshot\'s value')
        kwargs[f'{net}_kwargs'] = {**theirs, **given}
    return dataclasses.replace(opts, **kwargs)


def check_fits(parts, snapshot):
    """One line naming what differs between the snapshot's networks and this run's (model, or kwargs such as
    the dataset's resolution); the snapshot's training state otherwise."""
    meta = read_snapshot_meta(snapshot)
    if meta['model'] != parts.model:
        raise OptionsError(f'--resume: {snapshot} holds {meta["model"]} networks, which do not match this run '
                           f'(--model={parts.model})')
    diffs = [f'{net} {key}={theirs.get(key)} (this run: {mine.get(key)})'
             for net in sorted(set(meta['kwargs']) | set(parts.network_kwargs))
             for theirs, mine in [(meta['kwargs'].get(net, {}), parts.network_kwargs.get(net, {}))]
             for key in sorted(set(theirs) | set(mine)) if theirs.get(key) != mine.get(key)]
    if diffs:
        raise OptionsError(f'--resume: {snapshot} has networks that do not match this run: {"; ".join(diffs)}; '
                           f'check --data (resolution, channels, labels) and --cond')
    return read_resume_state(snapshot)


def restore(opts, parts, snapshot):
    """Networks, optimizers, tracked statistics and TrainState from `snapshot`, after checking it fits."""
    saved = check_fits(parts, snapshot)
    restore_snapshot(snapshot, trackables(parts))
    fields = {f.name for f in dataclasses.fields(TrainState)}
    state = TrainState(**{k: v for k, v in saved['train_state'].items() if k in fields})
    changed = sorted(k for k, v in opts.to_json().items() if k not in ('resume', 'run_dir', 'auto_resume')
                     and saved.get('options', {}).get(k, v) != v)
    if changed:
        print(f'Note: options changed since the snapshot was written: {", ".join(changed)}')
    return state


def trackables(parts):
    return {**parts.nets, **parts.optimizers, **parts.extra_state}


def roll_back(opts, parts, run_dir, state, fault):
    """--nan_policy: 'rollback' restores the newest valid snapshot with the learning rates scaled by
    --nan_lr_factor (at most --nan_max_rollbacks times in a run); 'stop' raises TrainingError."""
    where = f'non-finite {fault} at kimg {state.cur_nimg / 1000:.1f}'
    if opts.nan_policy == 'stop':
        raise TrainingError(f'{where}; stopping (--nan_policy=stop). Lower the learning rates and resume from the '
                            f'last snapshot in {run_dir}')
    snapshot = newest_valid_snapshot(run_dir)
    if snapshot is None or state.rollbacks >= opts.nan_max_rollbacks:
        reason = 'no snapshot to roll back to' if snapshot is None else f'{state.rollbacks} rollbacks already'
        raise TrainingError(f'{where} and {reason} (--nan_max_rollbacks={opts.nan_max_rollbacks}); stopping. '
                            f'Lower the learning rates or check the data')
    restored = restore(opts, parts, snapshot)
    restored.lr_scale, restored.rollbacks = state.lr_scale * opts.nan_lr_factor, state.rollbacks + 1
    restored.total_time = state.total_time
    print(f'Rolled back: {where}; continuing from {snapshot} (kimg {restored.cur_nimg / 1000:.1f}) with the learning '
          f'rates x{restored.lr_scale:g} (rollback {restored.rollbacks} of at most {opts.nan_max_rollbacks})')
    return restored
