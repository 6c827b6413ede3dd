"""The training loop shared by every model family.

A model's `training.build()` returns `TrainingParts`: its networks, optimizers, a schedule and a list of
`Phase`s (ProGAN: D with the Gs update, then G). The loop owns everything else: the strategy, the input
feed, ticks, grids, TensorBoard, snapshots and exact resume. Steps run inside `tf.function` under a
`tf.distribute` strategy; host-side bookkeeping stays outside and reads tensors only once per tick.
"""
import contextlib
import dataclasses
import importlib
import os
import re
import resource
import time
from typing import Callable, Optional

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common import images as image_utils
from common.distribute import any_worker, is_chief, make_strategy, num_workers  # noqa: F401 (make_strategy: API)
from common.evaluation import snapshot_metrics
from common.flops import cached_peak_gflops, graph_flops
from common.mixed_precision import apply_if_finite
from common.tensorboard import write_config_text
from common.options import OptionsError, TrainingOptions
from common.preemption import StopSignals
from common.run_dir import (Tee, create_run_dir, latest_run_dir, list_snapshots, locate_snapshot, newest_valid_snapshot,
                            unused_path,
                            prune_snapshots, remove_stale_temporaries, update_best, write_json_atomic)
from common.schedule import lod_changed_phase
from common.snapshot import read_snapshot_meta, read_snapshot_state, restore_snapshot, save_snapshot
from data.dataset import Dataset
from data.tfrecord_io import DatasetError


@dataclasses.dataclass
class Phase:
    """One optimization phase: `loss_fn(ctx, reals, labels)` (or `loss_fn(ctx)` when it uses no reals)
    returns (per-replica sum of the loss over this round's samples, dict of per-replica sums for logging).
    The loop divides by the global batch, accumulates gradients over rounds and applies `optimizer`."""
    name: str
    loss_fn: Callable
    optimizer: object
    variables: list
    uses_reals: bool
    repeats: int = 1                        # Consecutive runs per minibatch, each on new reals (ProGAN D_repeats).
    interval: int = 1                       # Run every `interval` minibatches (lazy regularization).
    after: Optional[Callable] = None        # Cross-replica update after each run (the Gs moving average).
    xla: bool = False                       # Compile the loss and gradients with XLA.
    all_reduces: bool = False               # The loss all-reduces across replicas (path length's pl_mean).
    loss_scale: Optional[object] = None     # common.mixed_precision.LossScale of float16 networks.


@dataclasses.dataclass
class TrainingParts:
    model: str
    nets: dict                              # name -> keras.Model; 'Gs' generates the grids.
    optimizers: dict
    network_kwargs: dict                    # Written to snapshots to rebuild the networks.
    phases: list
    configure: Callable                     # configure(schedule): lod, learning rates.
    schedule: Callable                      # schedule(cur_nimg) -> common.schedule.Schedule
    resets_optimizers: bool
    generate: Callable                      # generate(latents, labels) -> NHWC images in [-1, 1].
    latent_size: int
    extra_state: dict = dataclasses.field(default_factory=dict)  # Other trackables to snapshot (e.g. pl_mean).
    loss_scales: dict = dataclasses.field(default_factory=dict)  # name -> LossScale (float16 networks).


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


# Philox by name, not 'auto_select' (which may pick another generator on another device). XLA's kernels
# turn the same seed into other numbers than TensorFlow's, so --xla runs draw their own (equally valid)
# latents and noise; a run resumes bit-exactly under the setting it was started with.
_RNG = 'philox'


@dataclasses.dataclass
class RoundContext:
    """What a loss function needs to know about the current step and its slice of the global batch.

    Random tensors are drawn for the whole global batch from (seed, step, purpose) and each replica and
    round takes its own rows: results do not depend on how the batch is split over replicas and rounds,
    and a resumed run draws what the uninterrupted run would."""
    seed: int
    step: tf.Tensor
    global_batch: int
    resolution: int
    per_round: int                          # Samples in this round on this replica.
    offset: tf.Tensor                       # Row of the global batch where this round's slice starts.
    updates: list = dataclasses.field(default_factory=list)  # (variable, value) from assign_after.

    def assign_after(self, variable, value):
        """variable.assign(value) once this round's gradients are computed: the loss stays a pure function
        that XLA can compile (distributed variables cannot be written from inside a compiled function)."""
        self.updates.append((variable, value))

    def _take(self, x, shrink):
        n = self.per_round // shrink  # A static size: the offset may be a tensor, the shape stays known.
        return tf.slice(x, [self.offset // shrink] + [0] * (x.shape.rank - 1), [n] + [-1] * (x.shape.rank - 1))

    def normal(self, tail, purpose, shrink=1):
        x = tf.random.stateless_normal([self.global_batch // shrink] + list(tail), self._seed(purpose), alg=_RNG)
        return self._take(x, shrink)

    def uniform(self, tail, purpose, shrink=1, maxval=None, dtype=tf.float32):
        x = tf.random.stateless_uniform([self.global_batch // shrink] + list(tail), self._seed(purpose),
                                        maxval=maxval, dtype=dtype, alg=_RNG)
        return self._take(x, shrink)

    def scalar_uniform(self, purpose, minval=0, maxval=None, dtype=tf.float32):
        """One value shared by the whole global batch (e.g. the style-mixing cutoff)."""
        return tf.random.stateless_uniform([], self._seed(purpose), minval=minval, maxval=maxval, dtype=dtype,
                                           alg=_RNG)

    def _seed(self, purpose):
        return tf.stack([tf.constant(self.seed, tf.int64), self.step * 64 + purpose])


class _CompiledPhases:
    """tf.function wrappers of the phases; they retrace only when shapes change (a new resolution).

    Each call runs one minibatch of a phase: per replica, the rounds (gradient accumulation as the official
    `minibatch_gpu`) and then one optimizer step with the summed gradients of loss / global batch."""

    def __init__(self, strategy, phases, seed):
        self.strategy, self.seed, self.traces = strategy, seed, 0
        self.fns = {p.name: self._compile(p) for p in phases}
        self._flops = {}

    def flops(self, name, args):
        """Matmul and conv FLOPs of one call of phase `name` with `args` (all local replicas), counted once per
        traced shape; None where the graph cannot be counted."""
        key = (name,) + tuple(args[1:4])  # minibatch, resolution, rounds: what a trace depends on.
        if key not in self._flops:
            try:
                self._flops[key] = graph_flops(self.fns[name].get_concrete_function(*args))
            except (ValueError, NotImplementedError, TypeError):
                self._flops[key] = None
        return self._flops[key]

    def _compile(self, phase):
        strategy, seed = self.strategy, self.seed

        deferred = []  # The variables of ctx.updates, in the order of grads_fn's values (set when traced).

        def grads_fn(ctx, *data):
            """(gradients, stats, values for the variables in `deferred`) of one round."""
            with tf.GradientTape() as tape:
                loss, stats = phase.loss_fn(ctx, *data)
                scaled = loss / ctx.global_batch
                if phase.loss_scale:
                    scaled = scaled * phase.loss_scale.multiplier()
            grads = tape.gradient(scaled, phase.variables)
            if phase.loss_scale:
                grads = [None if g is None else g / phase.loss_scale.multiplier() for g in grads]
            # Layers not in use (ProGAN levels above the current lod) get zero gradients, as under the
            # official tf.cond: Adam leaves them in place while their second moment decays.
            grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, phase.variables)]
            deferred[:] = [variable for variable, _ in ctx.updates]
            return grads, stats, [value for _, value in ctx.updates]

        @tf.function(jit_compile=True)
        def jitted(step, offset, global_batch, resolution, per_round, *data):
            return grads_fn(RoundContext(seed, step, global_batch, resolution, per_round, offset), *data)

        # An all-reduce inside a compiled function needs collective ops where TensorFlow would use merge_call
        # (MirroredStrategy on CPUs): with several replicas such a phase runs uncompiled.
        use_xla = phase.xla and not (phase.all_reduces and strategy.num_replicas_in_sync > 1)

        def compute(ctx, *data):
            if use_xla:  # XLA fuses the element-wise work of the forward and double-backward passes.
                grads, stats, values = jitted(ctx.step, ctx.offset, ctx.global_batch, ctx.resolution,
                                              ctx.per_round, *data)
            else:
                grads, stats, values = grads_fn(ctx, *data)
            for variable, value in zip(deferred, values):
                variable.assign(value)
            return grads, stats

        def replica_fn(step, global_batch, resolution, rounds, *data):
            per_replica = global_batch // strategy.num_replicas_in_sync
            per_round = per_replica // rounds
            rid = tf.distribute.get_replica_context().replica_id_in_sync_group
            total, stats_total = None, {}
            for r in range(rounds):
                ctx = RoundContext(seed, step, global_batch, resolution, per_round, rid * per_replica + r * per_round)
                chunk = [d[r * per_round:(r + 1) * per_round] for d in data]
                grads, stats = compute(ctx, *chunk)
                total = grads if total is None else [a + b for a, b in zip(total, grads)]
                stats_total = {k: stats_total.get(k, 0.0) + v for k, v in stats.items()}
            if phase.loss_scale:  # Float16: skip the update where a gradient overflowed; adapt the scale.
                phase.loss_scale.update(apply_if_finite(phase.optimizer, total, phase.variables))
            else:
                phase.optimizer.apply_gradients(zip(total, phase.variables))
            return stats_total

        @tf.function
        def run(step, global_batch, resolution, rounds, *data):
            self.traces += 1
            per_replica = strategy.run(replica_fn, args=(step, global_batch, resolution, rounds) + tuple(data))
            stats = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}
            if phase.after:
                phase.after(global_batch)
            return stats
        return run


def _local_peak_gflops(strategy):
    """fp32 matmul peak of this worker's devices: one measured GPU times the local GPU replicas; on a CPU the
    logical devices share the cores that one measurement already uses."""
    gpus = sum('GPU' in device.upper() for device in strategy.extended.worker_devices)
    return cached_peak_gflops() * max(gpus, 1)


def _grid_size(spec, resolution):
    if spec == '1080p':
        return int(np.clip(1920 // resolution, 3, 32)), int(np.clip(1080 // resolution, 2, 32))
    if spec == '4k':
        return int(np.clip(3840 // resolution, 7, 32)), int(np.clip(2160 // resolution, 4, 32))
    w, h = spec.split('x')
    return int(w), int(h)


def _save_grid(images, path, grid):
    image_utils.save_png(image_utils.create_image_grid(image_utils.to_uint8_progan(images), grid), path)


class NothingToTrain(Exception):
    """The snapshot to continue is already at or past --total_kimg: the message says so; not an error."""


def training_loop(opts: TrainingOptions, stop_after_ticks=None, resume_command=None, network_flags=None):
    """Trains until `total_kimg`; returns the run directory. `stop_after_ticks` ends early (tests).

    SIGTERM / SIGINT end the run early with a snapshot; `resume_command(run_dir)` then gives the command
    line printed for continuing it. `network_flags` ({('G' or 'D', kwarg): flag}) names the network kwargs
    given on the command line: resuming a snapshot takes its architecture, and only these may contradict it
    (an error). Raises NothingToTrain, before any directory is made, for a snapshot already at the end."""
    opts.validate()
    strategy = make_strategy(opts.num_gpus, opts.tpu)
    chief = is_chief(strategy)
    if num_workers(strategy) > 1 and not opts.run_dir:
        raise OptionsError('--run_dir is required with several workers: all of them must find the same run '
                           'directory (on a filesystem they share)')
    run_dir, snapshot = _choose_run_dir(opts, chief)
    if snapshot:
        saved = _read_resume_state(snapshot)
        done_kimg = saved['train_state'].get('cur_nimg', 0) / 1000
        if done_kimg >= opts.total_kimg:
            raise NothingToTrain(f'Nothing to train: {snapshot} is already at kimg {done_kimg:g}, at or past '
                                 f'--total_kimg={opts.total_kimg:g}')
        opts = _with_snapshot_architecture(opts, snapshot, saved.get('options'), network_flags or {})
    if chief and run_dir:
        os.makedirs(run_dir, exist_ok=True)
    dataset = Dataset(opts.data, max_label_size=opts.max_label_size, mirror_augment=opts.mirror_augment,
                      shuffle_mb=opts.shuffle_mb, seed=opts.random_seed)
    tf.keras.utils.set_random_seed(opts.random_seed)  # Weight initialization.
    parts = importlib.import_module(f'{opts.model}.training').build(opts, dataset, strategy)
    if snapshot:
        _check_fits(parts, snapshot)      # Before a new run directory is made for a run that cannot start.
    run_dir = run_dir or create_run_dir(opts.result_dir, opts.desc)
    log = Tee(os.path.join(run_dir, 'log.txt')) if chief else None
    try:
        state = _restore(opts, parts, snapshot) if snapshot else TrainState()
        if chief:
            write_json_atomic(os.path.join(run_dir, 'training_options.json'), opts.to_json())
        print(f'Run directory: {run_dir}' + (f' (continuing from {snapshot}, kimg {state.cur_nimg / 1000:.1f})'
                                             if snapshot else ''))
        print(f'Dataset: {opts.data} ({dataset.num_images} images, {dataset.resolution}x{dataset.resolution}x'
              f'{dataset.num_channels}, {dataset.label_size} label dims); replicas: {strategy.num_replicas_in_sync}'
              + (f' on {num_workers(strategy)} workers' if num_workers(strategy) > 1 else ''))
        with StopSignals() as stop:
            state = _train(opts, parts, dataset, strategy, state, run_dir, stop_after_ticks, stop, chief)
        if stop.received and chief:
            command = resume_command(run_dir) if resume_command else f'--run_dir={run_dir} --auto_resume'
            print(f'Stopped by {stop.received} at kimg {state.cur_nimg / 1000:.1f} with a snapshot. Resume with:\n'
                  f'  {command}')
    finally:
        if log:
            log.close()
    return run_dir


def _choose_run_dir(opts, chief=True):
    """(run directory to continue or None for a new one, snapshot to resume from or None) for --run_dir,
    --resume and --auto_resume.

    --resume=PATH starts a new numbered run directory from that snapshot, as the official code does;
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
    elif opts.resume and opts.resume != 'latest':
        snapshot = locate_snapshot(opts.resume)
    if opts.resume == 'latest' and snapshot is None:
        where = (f'--run_dir={opts.run_dir}' if opts.run_dir else
                 f'any run directory {os.path.join(opts.result_dir, "<number>-" + opts.desc)} (--desc={opts.desc})')
        raise FileNotFoundError(f'--resume=latest: no complete snapshot in {where}')
    return run_dir, snapshot


def _read_resume_state(snapshot):
    saved = read_snapshot_state(snapshot)
    if not isinstance(saved, dict) or not isinstance(saved.get('train_state'), dict):
        raise OptionsError(f'--resume: {snapshot} holds networks but no training state (an export?); '
                           f'start a new run with its weights instead')
    return saved


def _with_snapshot_architecture(opts, snapshot, saved_options, network_flags):
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


def _check_fits(parts, snapshot):
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
    return _read_resume_state(snapshot)


def _restore(opts, parts, snapshot):
    """Networks, optimizers, tracked statistics and TrainState from `snapshot`, after checking it fits."""
    saved = _check_fits(parts, snapshot)
    restore_snapshot(snapshot, _trackables(parts))
    fields = {f.name for f in dataclasses.fields(TrainState)}
    state = TrainState(**{k: v for k, v in saved['train_state'].items() if k in fields})
    changed = sorted(k for k, v in opts.to_json().items() if k not in ('resume', 'run_dir', 'auto_resume')
                     and saved.get('options', {}).get(k, v) != v)
    if changed:
        print(f'Note: options changed since the snapshot was written: {", ".join(changed)}')
    return state


def _trackables(parts):
    return {**parts.nets, **parts.optimizers, **parts.extra_state}


def _train(opts, parts, dataset, strategy, state, run_dir, stop_after_ticks, stop, chief=True):
    # Snapshot grid: fixed reals, labels and latents for the whole run.
    grid = _grid_size(opts.grid_size, dataset.resolution)
    grid_reals, grid_labels = _next_batch(iter(dataset.pipeline(dataset.resolution, grid[0] * grid[1])), opts.data,
                                          dataset.resolution)
    grid_latents = np.random.RandomState(opts.random_seed).randn(grid[0] * grid[1], parts.latent_size).astype(np.float32)
    if chief and not os.path.exists(os.path.join(run_dir, 'reals.png')):
        _save_grid(grid_reals.numpy(), os.path.join(run_dir, 'reals.png'), grid)

    def save_fakes():
        if not chief:
            return None, None
        fakes = np.concatenate([parts.generate(grid_latents[i:i + 64], grid_labels[i:i + 64]).numpy()
                                for i in range(0, len(grid_latents), 64)])
        path = unused_path(run_dir, 'fakes', state.cur_nimg, '.png')
        _save_grid(fakes, path, grid)
        return path, fakes

    compiled = _CompiledPhases(strategy, parts.phases, opts.random_seed)
    all_finite = _all_finite_fn([w for net in parts.nets.values() for w in net.weights])
    writer = tf.summary.create_file_writer(run_dir) if chief else tf.summary.create_noop_writer()
    if chief:
        write_config_text(writer, opts, state.cur_nimg)
    total_nimg = int(opts.total_kimg * 1000)
    feed, feed_key = None, None
    tick_stats, tick_start_time, last_fakes, tick_flops = [], time.time(), None, 0
    start_time = time.time() - state.total_time
    if state.cur_nimg == 0:
        last_fakes = save_fakes()[0]
    profiler = _Profiler(os.path.join(run_dir, 'profile'), opts.profile if chief else 0)
    bar = _kimg_bar(state.cur_nimg, total_nimg)

    while state.cur_nimg < total_nimg:
        sched = _scaled_lrates(parts.schedule(state.cur_nimg), state.lr_scale)    # Schedule.
        if (sched.resolution, sched.minibatch) != feed_key:                        # Data feed for this resolution.
            if sched.resolution != state.data_resolution:
                state.data_resolution, state.data_position = sched.resolution, 0
            feed = iter(dataset.distribute(strategy, sched.resolution, sched.minibatch, state.data_position))
            feed_key = (sched.resolution, sched.minibatch)
        parts.configure(sched)                                                      # lod, learning rates.
        if parts.resets_optimizers and lod_changed_phase(state.prev_lod, sched.lod):
            for opt in parts.optimizers.values():                                  # Official reset_opt_for_new_lod.
                for var in opt.variables:
                    var.assign(tf.zeros_like(var))
        state.prev_lod = sched.lod

        rounds = sched.minibatch // (sched.minibatch_gpu * strategy.num_replicas_in_sync)
        with _step_errors(opts, sched, strategy):
            for _ in range(opts.minibatch_repeats):                                # Phases.
                batches = []                                                        # Reals per repeat index.
                for phase in parts.phases:
                    if state.step % phase.interval:
                        continue
                    for repeat in range(phase.repeats):
                        args = (tf.constant(state.step, tf.int64), sched.minibatch, sched.resolution, rounds)
                        if phase.uses_reals:
                            if repeat == len(batches):
                                batches.append(_next_batch(feed, opts.data, sched.resolution))
                                state.cur_nimg += sched.minibatch
                                state.data_position += sched.minibatch
                            args += tuple(batches[repeat])
                        tick_stats.append((sched.minibatch, compiled.fns[phase.name](*args)))
                        if chief and tick_flops is not None:
                            flops = compiled.flops(phase.name, args)
                            tick_flops = None if flops is None else tick_flops + flops
                state.step += 1
        bar.update(min(state.cur_nimg, total_nimg) - bar.n)
        profiler.after_group()
        stop_requested = any_worker(strategy, stop.received is not None)           # All workers stop together.

        done = state.cur_nimg >= total_nimg                                         # Tick bookkeeping.
        if state.cur_nimg < state.tick_start_nimg + sched.tick_kimg * 1000 and not done and not stop_requested:
            continue
        with _step_errors(opts, sched, strategy):                                   # The tick's one host read.
            means = _mean_stats(tick_stats)
            fault = _non_finite(means, all_finite)
        tick_stats = []
        if fault:                                                                   # Numerical fault guard.
            state = _roll_back(opts, parts, run_dir, state, fault)
            feed_key, tick_start_time, tick_flops = None, time.time(), 0
            continue
        state.cur_tick += 1
        now = time.time()
        tick_kimg = (state.cur_nimg - state.tick_start_nimg) / 1000
        tick_time = now - tick_start_time
        state.total_time = now - start_time
        state.tick_start_nimg = state.cur_nimg
        scalars = {'Progress/tick': state.cur_tick, 'Progress/kimg': state.cur_nimg / 1000, 'Progress/lod': sched.lod,
                   'Progress/minibatch': sched.minibatch, 'Progress/resolution': sched.resolution,
                   'LearningRate/G': sched.G_lrate, 'LearningRate/D': sched.D_lrate,
                   'Timing/sec_per_tick': tick_time, 'Timing/sec_per_kimg': tick_time / max(tick_kimg, 1e-9),
                   'Timing/images_per_sec': tick_kimg * 1000 / max(tick_time, 1e-9),
                   'Timing/total_hours': state.total_time / 3600,
                   'Memory/host_peak_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
                   'Trace/count': compiled.traces, **means}
        mfu = tick_flops / max(tick_time, 1e-9) / (_local_peak_gflops(strategy) * 1e9) if chief and tick_flops else None
        if mfu is not None:  # Model FLOPs utilization against the measured fp32 matmul peak (common/flops.py).
            scalars['Timing/mfu'] = mfu
        for name, scale in parts.loss_scales.items():                              # Float16 loss scales.
            scalars.update({f'{name}/loss_scaling_log2': float(scale.log2.numpy()),
                            f'{name}/overflows': int(scale.overflows.numpy())})
        scales = ''.join(f' ls{name[-1]} {scalars[f"{name}/loss_scaling_log2"]:.2f}' for name in parts.loss_scales)
        bar.set_postfix_str(f'lod {sched.lod:.2f} ' + ' '.join(f'{k.split("/")[1]} {v:.3f}' for k, v in means.items()
                                                                   if k in ('Loss/G', 'Loss/D')))
        tqdm.write(f'tick {state.cur_tick:<5d} kimg {state.cur_nimg / 1000:<8.1f} lod {sched.lod:<5.2f} '
                   f'minibatch {sched.minibatch:<4d} time {_fmt_time(state.total_time):<12s} sec/tick {tick_time:<7.1f} '
                   f'sec/kimg {tick_time / max(tick_kimg, 1e-9):<7.2f} img/s {tick_kimg * 1000 / max(tick_time, 1e-9):<7.1f} '
                   + (f'MFU {mfu:<6.1%} ' if mfu is not None else '') +
                   f'G {means.get("Loss/G", float("nan")):<8.3f} D {means.get("Loss/D", float("nan")):<8.3f} '
                   f'traces {compiled.traces}{scales}')
        with writer.as_default(step=state.cur_nimg):
            for k, v in scalars.items():
                tf.summary.scalar(k, v)
        stopping = done or stop_requested or (stop_after_ticks is not None and state.cur_tick >= stop_after_ticks)
        if state.cur_tick % opts.image_snapshot_ticks == 0 or done:             # Grids and snapshots.
            last_fakes, fakes = save_fakes()
            if chief:
                with writer.as_default(step=state.cur_nimg):
                    tf.summary.image('fakes', image_utils.to_uint8_progan(fakes[:16]), max_outputs=16)
        if chief and (state.cur_tick % opts.network_snapshot_ticks == 0 or stopping):
            snapshot = save_snapshot(unused_path(run_dir, 'network-snapshot-', state.cur_nimg),
                                     parts.model, parts.network_kwargs, _trackables(parts),
                                     state={'train_state': dataclasses.asdict(state), 'options': opts.to_json()})
            headlines = snapshot_metrics(opts, parts, run_dir, snapshot, state.cur_nimg, writer)
            best = update_best(run_dir, snapshot, headlines or {})
            if opts.keep_snapshots:
                prune_snapshots(run_dir, opts.keep_snapshots, protected=best)
        writer.flush()
        tick_start_time, tick_flops = time.time(), 0
        if stopping:
            break
    bar.close()
    profiler.close()
    writer.close()
    if last_fakes:
        print(f'Samples: {last_fakes}')
    return state


def _kimg_bar(cur_nimg, total_nimg):
    """tqdm bar over the images shown, in kimg. ProGAN's schedule steps by whole minibatch groups, so the last
    one may overshoot --total_kimg: callers clamp at the total (the bar stops at 100%, the tick lines show
    the overshoot)."""
    return tqdm(total=total_nimg, initial=min(cur_nimg, total_nimg), unit_scale=1e-3, dynamic_ncols=True,
                bar_format='{l_bar}{bar}| {n:.1f}/{total:g} kimg [{elapsed}<{remaining}] {postfix}')


class _Profiler:
    """--profile=N: a TensorBoard profiler trace of minibatch groups 2 to N + 1 (the first traces and compiles)."""

    def __init__(self, logdir, groups):
        self.logdir, self.groups, self.seen, self.running = logdir, groups, 0, False

    def after_group(self):
        if not self.groups:
            return
        self.seen += 1
        if self.seen == 1:
            tf.profiler.experimental.start(self.logdir)
            self.running = True
        elif self.seen == self.groups + 1:
            self.close()

    def close(self):
        if self.running:
            tf.profiler.experimental.stop()
            self.running, self.groups = False, 0
            tqdm.write(f'Profile of {self.seen - 1} minibatch group(s) written to {self.logdir} '
                       f'(TensorBoard, Profile tab)')


class TrainingError(RuntimeError):
    """Training cannot go on (out of memory, diverged); the one-line message says why and what to try."""


@contextlib.contextmanager
def _step_errors(opts, sched, strategy):
    """Turns the failures a user can act on into one-line errors instead of a TensorFlow traceback."""
    try:
        yield
    except tf.errors.ResourceExhaustedError:
        per_round = sched.minibatch_gpu or sched.minibatch // strategy.num_replicas_in_sync
        flag = (f'--minibatch_gpu={max(per_round // 2, 1)}' if opts.model == 'stylegan2' else
                f'--max_minibatch_per_gpu={sched.resolution}:{max(per_round // 2, 1)}')
        raise TrainingError(f'out of memory at {sched.resolution}x{sched.resolution} (lod {sched.lod:.2f}) with '
                            f'{per_round} images per replica and round ({sched.minibatch} per minibatch over '
                            f'{strategy.num_replicas_in_sync} replicas): try {flag}') from None


def _next_batch(feed, data, resolution):
    """The next minibatch; a record that cannot be read or decoded is the dataset's fault, said in one line."""
    try:
        return next(feed)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
        message = re.sub(r'\{\{.*?\}\}\s*|\s*\[Op:.*', '', str(e).strip().splitlines()[0])  # TF's op decorations.
        raise DatasetError(f'{data}: unreadable record at {resolution}x{resolution} ({message[:160]}); '
                           f'recreate the dataset') from None


def _all_finite_fn(variables):
    @tf.function
    def all_finite():
        return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables]))
    return all_finite


def _non_finite(means, all_finite):
    """What went non-finite this tick ('' if nothing): the losses seen so far, then the weights (one read)."""
    bad = [k for k, v in means.items() if not np.isfinite(v)]
    if not bool(all_finite()):
        bad.append('network weights')
    return ', '.join(bad)


def _roll_back(opts, parts, run_dir, state, fault):
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
    restored = _restore(opts, parts, snapshot)
    restored.lr_scale, restored.rollbacks = state.lr_scale * opts.nan_lr_factor, state.rollbacks + 1
    restored.total_time = state.total_time
    print(f'Rolled back: {where}; continuing from {snapshot} (kimg {restored.cur_nimg / 1000:.1f}) with the learning '
          f'rates x{restored.lr_scale:g} (rollback {restored.rollbacks} of at most {opts.nan_max_rollbacks})')
    return restored


def _scaled_lrates(sched, scale):
    return sched if scale == 1 else dataclasses.replace(sched, G_lrate=sched.G_lrate * scale,
                                                        D_lrate=sched.D_lrate * scale)


def _mean_stats(tick_stats):
    """Per-image means of the phases' summed statistics (one host read per tick)."""
    sums, counts = {}, {}
    for minibatch, stats in tick_stats:
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + float(v)
            counts[k] = counts.get(k, 0) + minibatch
    return {k: sums[k] / counts[k] for k in sums}


def _fmt_time(seconds):
    s = int(seconds)
    return f'{s // 86400}d {s // 3600 % 24:02d}h {s // 60 % 60:02d}m' if s >= 86400 else \
        f'{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s' if s >= 3600 else f'{s // 60}m {s % 60:02d}s'
