"""The training loop shared by every model family.

A model family (found by name in `common/families.py`) builds `TrainingParts` (common/training/phases.py): its
networks, optimizers, a schedule, a sampler and a list of `Phase`s (ProGAN: D with the Gs update, then G). The loop owns everything else: the strategy, the input
feed, ticks, grids, TensorBoard, snapshots and exact resume. Steps run inside `tf.function` under a
`tf.distribute` strategy; host-side bookkeeping stays outside and reads tensors only once per tick.
"""
import contextlib
import dataclasses
import os
import re
import resource
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common import families
from common.training.distribute import any_worker, is_chief, make_strategy, num_workers  # noqa: F401 (make_strategy: API)
from common.training.ada import SIGNS
from common.training.evaluation import snapshot_metrics
from common.util.flops import cached_peak_gflops
from common.util.images import create_image_grid, save_png, to_uint8_progan
from common.training.options import OptionsError, TrainingOptions
from common.training import fast_path
from common.training.phases import CompiledPhases
from common.training.preemption import StopSignals
from common.training.resume import (TrainingError, check_fits, choose_run_dir, fresh_state, read_resume_state,
                                    restore, resumes_from_pickle, roll_back, trackables, with_snapshot_architecture)
from common.training import transfer
from common.training.run_dir import Tee, create_run_dir, prune_snapshots, unused_path, update_best, write_json_atomic
from common.training.schedule import lod_changed_phase
from common.util.snapshot import save_snapshot
from common.training.tensorboard import write_config_text
from data.dataset import Dataset
from data.tfrecord_io import DatasetError


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


def _save_grid(images_uint8, path, grid):
    save_png(create_image_grid(images_uint8, grid), path)


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
    run_dir, snapshot = choose_run_dir(opts, chief)
    if snapshot:
        saved = read_resume_state(snapshot)
        done_kimg = saved['train_state'].get('cur_nimg', 0) / 1000
        if done_kimg >= opts.total_kimg:
            raise NothingToTrain(f'Nothing to train: {snapshot} is already at kimg {done_kimg:g}, at or past '
                                 f'--total_kimg={opts.total_kimg:g}')
        opts = with_snapshot_architecture(opts, snapshot, saved.get('options'), network_flags or {})
    start = None
    if not snapshot and resumes_from_pickle(opts):  # Weights only (common/training/transfer.py).
        opts, start = transfer.read_pickle(opts, network_flags or {})
    if chief and run_dir:
        os.makedirs(run_dir, exist_ok=True)
    dataset = Dataset(opts.data, max_label_size=opts.max_label_size, mirror_augment=opts.mirror_augment,
                      shuffle_mb=opts.shuffle_mb, seed=opts.random_seed)
    if start:
        transfer.check_dataset(start, dataset, opts)
    tf.keras.utils.set_random_seed(opts.random_seed)  # Weight initialization.
    family = families.get(opts.model)
    parts = family.build(opts, dataset, strategy)
    started = (saved.get('options') or {}).get('xla') if snapshot else None  # A continued run keeps its path.
    xla = fast_path.choose(parts.phases, opts.xla, fast_path.device_kind(strategy), strategy.num_replicas_in_sync,
                           started)
    for phase in parts.phases:
        phase.xla = xla[phase.name][0]
    opts = dataclasses.replace(opts, xla=fast_path.recorded(opts.xla, started, xla))
    if snapshot:
        check_fits(parts, snapshot)      # Before a new run directory is made for a run that cannot start.
    notes = transfer.take_weights(parts, start) if start else []
    run_dir = run_dir or create_run_dir(opts.result_dir, opts.desc)
    log = Tee(os.path.join(run_dir, 'log.txt')) if chief else None
    try:
        state = restore(opts, parts, snapshot) if snapshot else fresh_state(opts)
        if chief:
            write_json_atomic(os.path.join(run_dir, 'training_options.json'), opts.to_json())
        print(f'Run directory: {run_dir}' + (f' (continuing from {snapshot}, kimg {state.cur_nimg / 1000:.1f})'
                                             if snapshot else f' (weights from {start.path}, from kimg '
                                             f'{state.cur_nimg / 1000:.1f})' if start else ''))
        for note in notes:
            print(note)
        print(f'Dataset: {opts.data} ({dataset.num_images} images, {dataset.resolution}x{dataset.resolution}x'
              f'{dataset.num_channels}, {dataset.label_size} label dims); replicas: {strategy.num_replicas_in_sync}'
              + (f' on {num_workers(strategy)} workers' if num_workers(strategy) > 1 else ''))
        print(fast_path.describe(xla))
        with StopSignals() as stop:
            state = _train(opts, family, parts, dataset, strategy, state, run_dir, stop_after_ticks, stop, chief)
        if stop.received and chief:
            command = resume_command(run_dir) if resume_command else f'--run_dir={run_dir} --auto_resume'
            print(f'Stopped by {stop.received} at kimg {state.cur_nimg / 1000:.1f} with a snapshot. Resume with:\n'
                  f'  {command}')
    finally:
        if log:
            log.close()
    return run_dir


def _train(opts, family, parts, dataset, strategy, state, run_dir, stop_after_ticks, stop, chief=True):
    """The loop: per minibatch group the schedule and the phases, per tick the report, grids and snapshots."""
    run = _Run(opts, family, parts, dataset, strategy, state, run_dir, chief)
    while run.state.cur_nimg < run.total_nimg:
        sched = run.schedule()                                              # Schedule, data feed, lod, lr.
        run.minibatch_group(sched)                                          # Phases.
        stop_requested = any_worker(strategy, stop.received is not None)   # All workers stop together.
        done = run.state.cur_nimg >= run.total_nimg
        if not (done or stop_requested or run.tick_due(sched)):
            continue
        if run.rolled_back_on_fault(sched):                                 # The tick's one host read.
            continue
        run.report_tick(sched)
        stopping = done or stop_requested or (stop_after_ticks is not None and run.state.cur_tick >= stop_after_ticks)
        run.save_outputs(done, stopping)                                    # Grids, snapshots, metrics.
        if stopping:
            break
    return run.close()


class _Run:
    """The host-side state of one call of the loop: feed, grid, counters of the tick, writers."""

    def __init__(self, opts, family, parts, dataset, strategy, state, run_dir, chief):
        self.opts, self.family, self.parts, self.dataset, self.strategy = opts, family, parts, dataset, strategy
        self.state, self.run_dir, self.chief = state, run_dir, chief
        # Snapshot grid: fixed reals, labels and latents for the whole run.
        self.grid = _grid_size(opts.grid_size, dataset.resolution)
        count = self.grid[0] * self.grid[1]
        grid_reals, self.grid_labels = _next_batch(iter(dataset.pipeline(dataset.resolution, count)), opts.data,
                                                   dataset.resolution)
        self.sampler = family.sampler(parts.nets['Gs'])
        self.grid_latents = np.random.RandomState(opts.random_seed).randn(count, self.sampler.z_dim).astype(np.float32)
        if chief and not os.path.exists(os.path.join(run_dir, 'reals.png')):
            _save_grid(to_uint8_progan(grid_reals.numpy()), os.path.join(run_dir, 'reals.png'), self.grid)  # Reader's inverse.
        self.compiled = CompiledPhases(strategy, parts.phases, opts.random_seed)
        self.all_finite = _all_finite_fn([w for net in parts.nets.values() for w in net.weights])
        self.writer = tf.summary.create_file_writer(run_dir) if chief else tf.summary.create_noop_writer()
        if chief:
            write_config_text(self.writer, opts, state.cur_nimg)
        self.total_nimg = int(opts.total_kimg * 1000)
        self.feed, self.feed_key = None, None
        self.tick_stats, self.tick_start_time, self.last_fakes, self.tick_flops = [], time.time(), None, 0
        self.start_time = time.time() - state.total_time
        if state.cur_tick == 0:  # A fresh run (also from a pickle at --resume_kimg): the initial grid.
            self.last_fakes = self._save_fakes()[0]
        self.profiler = _Profiler(os.path.join(run_dir, 'profile'), opts.profile if chief else 0)
        self.bar = _kimg_bar(state.cur_nimg, self.total_nimg)

    def schedule(self):
        """The schedule at the images shown; a new feed where resolution or minibatch change; lod and learning
        rates set; the optimizers reset where the official reset_opt_for_new_lod does."""
        state, parts = self.state, self.parts
        sched = _scaled_lrates(parts.schedule(state.cur_nimg), state.lr_scale)
        if (sched.resolution, sched.minibatch) != self.feed_key:
            if sched.resolution != state.data_resolution:
                state.data_resolution, state.data_position = sched.resolution, 0
            self.feed = iter(self.dataset.distribute(self.strategy, sched.resolution, sched.minibatch,
                                                     state.data_position))
            self.feed_key = (sched.resolution, sched.minibatch)
        if parts.resets_optimizers and lod_changed_phase(state.prev_lod, sched.lod):
            for opt in parts.optimizers.values():
                for var in opt.variables:
                    var.assign(tf.zeros_like(var))
        # After the reset: a Keras optimizer's variables include its learning rate, which the official
        # reset (moments and beta powers only; the rate is fed per step) leaves in place.
        parts.configure(sched)
        state.prev_lod = sched.lod
        return sched

    def minibatch_group(self, sched):
        """--minibatch_repeats minibatches: each runs the phases due at its step, in order; a phase's repeats
        (ProGAN D_repeats) take new reals, shared by the phases with the same repeat index."""
        state, compiled, augment = self.state, self.compiled, self.parts.augment
        rounds = sched.minibatch // (sched.minibatch_gpu * self.strategy.num_replicas_in_sync)
        with _step_errors(self.family, sched, self.strategy):
            for _ in range(self.opts.minibatch_repeats):
                if self.parts.images_shown is not None:
                    self.parts.images_shown.assign(state.cur_nimg)
                batches = []
                for phase in self.parts.phases:
                    if state.step % phase.interval:
                        continue
                    for repeat in range(phase.repeats):
                        args = (tf.constant(state.step, tf.int64), sched.minibatch, sched.resolution, rounds)
                        if phase.uses_reals:
                            if repeat == len(batches):
                                batches.append(_next_batch(self.feed, self.opts.data, sched.resolution))
                                state.cur_nimg += sched.minibatch
                                state.data_position += sched.minibatch
                            args += tuple(batches[repeat])
                        stats = compiled.fns[phase.name](*args)
                        self.tick_stats.append((sched.minibatch, stats))
                        if augment:
                            augment.observe(stats, sched.minibatch)
                        if self.chief and self.tick_flops is not None:
                            flops = compiled.flops(phase.name, args)
                            self.tick_flops = None if flops is None else self.tick_flops + flops
                state.step += 1
                if augment:
                    augment.after_minibatch(state.step, sched.minibatch)
        self.bar.update(min(state.cur_nimg, self.total_nimg) - self.bar.n)
        self.profiler.after_group()

    def tick_due(self, sched):
        return self.state.cur_nimg >= self.state.tick_start_nimg + sched.tick_kimg * 1000

    def rolled_back_on_fault(self, sched):
        """Reads the tick's statistics (the one host read of a tick) and checks losses and weights; on a
        non-finite value, rolls back (--nan_policy) and returns True."""
        with _step_errors(self.family, sched, self.strategy):
            self.means = _mean_stats(self.tick_stats)
            fault = _non_finite(self.means, self.all_finite)
        self.tick_stats = []
        if not fault:
            return False
        self.state = roll_back(self.opts, self.parts, self.run_dir, self.state, fault)
        self.feed_key, self.tick_start_time, self.tick_flops = None, time.time(), 0
        return True

    def report_tick(self, sched):
        """The tick line, the bar's postfix and the TensorBoard scalars."""
        state, means, compiled = self.state, self.means, self.compiled
        state.cur_tick += 1
        now = time.time()
        tick_kimg = (state.cur_nimg - state.tick_start_nimg) / 1000
        tick_time = now - self.tick_start_time
        state.total_time = now - self.start_time
        state.tick_start_nimg = state.cur_nimg
        scalars = {'Progress/tick': state.cur_tick, 'Progress/kimg': state.cur_nimg / 1000, 'Progress/lod': sched.lod,
                   'Progress/minibatch': sched.minibatch, 'Progress/resolution': sched.resolution,
                   'LearningRate/G': sched.G_lrate, 'LearningRate/D': sched.D_lrate,
                   'Timing/sec_per_tick': tick_time, 'Timing/sec_per_kimg': tick_time / max(tick_kimg, 1e-9),
                   'Timing/images_per_sec': tick_kimg * 1000 / max(tick_time, 1e-9),
                   'Timing/total_hours': state.total_time / 3600,
                   'Memory/host_peak_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
                   'Trace/count': compiled.traces, **means}
        mfu = (self.tick_flops / max(tick_time, 1e-9) / (_local_peak_gflops(self.strategy) * 1e9)
               if self.chief and self.tick_flops else None)
        if mfu is not None:  # Model FLOPs utilization against the measured fp32 matmul peak (common/util/flops.py).
            scalars['Timing/mfu'] = mfu
        for name, scale in self.parts.loss_scales.items():                         # Float16 loss scales.
            scalars.update({f'{name}/loss_scaling_log2': float(scale.log2.numpy()),
                            f'{name}/overflows': int(scale.overflows.numpy())})
        signs = ''
        if SIGNS in means:  # The overfitting heuristic and the augmentation strength, as ada-pytorch's tick line.
            scalars['Progress/augment'] = p = float(self.parts.augment.p.numpy()) if self.parts.augment else 0.0
            signs = f' rt {means[SIGNS]:.3f} augment {p:.3f}'
        scales = ''.join(f' ls{name[-1]} {scalars[f"{name}/loss_scaling_log2"]:.2f}' for name in self.parts.loss_scales)
        self.bar.set_postfix_str(f'lod {sched.lod:.2f} ' + ' '.join(f'{k.split("/")[1]} {v:.3f}' for k, v in
                                                                    means.items() if k in ('Loss/G', 'Loss/D')))
        tqdm.write(f'tick {state.cur_tick:<5d} kimg {state.cur_nimg / 1000:<8.1f} lod {sched.lod:<5.2f} '
                   f'minibatch {sched.minibatch:<4d} time {_fmt_time(state.total_time):<12s} sec/tick {tick_time:<7.1f} '
                   f'sec/kimg {tick_time / max(tick_kimg, 1e-9):<7.2f} img/s {tick_kimg * 1000 / max(tick_time, 1e-9):<7.1f} '
                   + (f'MFU {mfu:<6.1%} ' if mfu is not None else '') +
                   f'G {means.get("Loss/G", float("nan")):<8.3f} D {means.get("Loss/D", float("nan")):<8.3f} '
                   f'traces {compiled.traces}{signs}{scales}')
        with self.writer.as_default(step=state.cur_nimg):
            for k, v in scalars.items():
                tf.summary.scalar(k, v)

    def save_outputs(self, done, stopping):
        """The fakes grid every --image_snapshot_ticks and at the end; on the chief a snapshot every
        --network_snapshot_ticks and when stopping, then its metrics, best.json and pruning."""
        state, opts = self.state, self.opts
        if state.cur_tick % opts.image_snapshot_ticks == 0 or done:
            self.last_fakes, fakes = self._save_fakes()
            if self.chief:
                with self.writer.as_default(step=state.cur_nimg):
                    tf.summary.image('fakes', fakes[:16], max_outputs=16)
        if self.chief and (state.cur_tick % opts.network_snapshot_ticks == 0 or stopping):
            snapshot = save_snapshot(unused_path(self.run_dir, 'network-snapshot-', state.cur_nimg),
                                     self.parts.model, self.parts.network_kwargs, trackables(self.parts),
                                     state={'train_state': dataclasses.asdict(state), 'options': opts.to_json()})
            headlines = snapshot_metrics(opts, self.parts, self.run_dir, snapshot, state.cur_nimg, self.writer)
            best = update_best(self.run_dir, snapshot, headlines or {})
            if opts.keep_snapshots:
                prune_snapshots(self.run_dir, opts.keep_snapshots, protected=best)
        self.writer.flush()
        self.tick_start_time, self.tick_flops = time.time(), 0

    def _save_fakes(self):
        if not self.chief:
            return None, None
        fakes = np.concatenate([self.sampler.sample(self.grid_latents[i:i + 64], self.grid_labels[i:i + 64],
                                                    noise='const') for i in range(0, len(self.grid_latents), 64)])
        path = unused_path(self.run_dir, 'fakes', self.state.cur_nimg, '.png')
        _save_grid(fakes, path, self.grid)
        return path, fakes

    def close(self):
        self.bar.close()
        self.profiler.close()
        self.writer.close()
        if self.last_fakes:
            print(f'Samples: {self.last_fakes}')
        return self.state


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


@contextlib.contextmanager
def _step_errors(family, sched, strategy):
    """Turns the failures a user can act on into one-line errors instead of a TensorFlow traceback."""
    try:
        yield
    except tf.errors.ResourceExhaustedError:
        per_round = sched.minibatch_gpu or sched.minibatch // strategy.num_replicas_in_sync
        flag = family.smaller_batch_flag(sched.resolution, max(per_round // 2, 1))
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
