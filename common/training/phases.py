"""The compiled training phases: what a model family hands the loop (`Phase`, `TrainingParts`), the per-round
view of the step a loss function gets (`RoundContext`), and `CompiledPhases`, which runs one minibatch of a
phase under a `tf.distribute` strategy (gradient accumulation over rounds, one optimizer step, XLA optional).
"""
import dataclasses
from typing import Callable, Optional

import tensorflow as tf

from common.util.flops import graph_flops
from common.ops.mixed_precision import apply_if_finite


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
    xla: Optional[bool] = None              # Compile the loss and gradients with XLA; None: the loop decides
                                            # (common/training/fast_path.py). A dict {phase name: bool}, a run's
                                            # recorded choice, gives this phase's entry.
    all_reduces: bool = False               # The loss all-reduces across replicas (path length's pl_mean).
    loss_scale: Optional[object] = None     # common.ops.mixed_precision.LossScale of float16 networks.

    def __post_init__(self):
        if isinstance(self.xla, dict):
            self.xla = self.xla.get(self.name)


@dataclasses.dataclass
class TrainingParts:
    model: str
    nets: dict                              # name -> keras.Model; 'Gs' generates the grids.
    optimizers: dict
    network_kwargs: dict                    # Written to snapshots to rebuild the networks.
    phases: list
    configure: Callable                     # configure(schedule): lod, learning rates.
    schedule: Callable                      # schedule(cur_nimg) -> common.training.schedule.Schedule
    resets_optimizers: bool
    extra_state: dict = dataclasses.field(default_factory=dict)  # Other trackables to snapshot (e.g. pl_mean).
    loss_scales: dict = dataclasses.field(default_factory=dict)  # name -> LossScale (float16 networks).
    augment: Optional[object] = None        # common.training.ada.AdaptiveAugment (--aug=ada or fixed).
    images_shown: Optional[tf.Variable] = None  # Set by the loop before each minibatch (the Gs EMA ramp-up).


# Philox by name, not 'auto_select' (which may pick another generator on another device). XLA's kernels
# turn the same seed into other numbers than TensorFlow's, so --xla runs draw their own (equally valid)
# latents and noise; a run resumes bit-exactly under the setting it was started with.
_RNG = 'philox'
_AUGMENT_KEY = 1 << 20


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

    def augment(self, pipe, images, purpose):
        """`pipe(images)` (common.ops.augment.AugmentPipe) with this round's rows of a draw for the whole global
        batch. Its keys are folded from (seed, step) apart from `_seed`'s, so an augmentation shares no numbers
        with the latents and noise of this or any other step."""
        key = tf.random.experimental.stateless_fold_in(tf.stack([tf.constant(self.seed, tf.int64), self.step]),
                                                       _AUGMENT_KEY + purpose, alg=_RNG)
        return pipe(images, seed=key, row_offset=self.offset, total_rows=self.global_batch)

    def _seed(self, purpose):
        return tf.stack([tf.constant(self.seed, tf.int64), self.step * 64 + purpose])


class CompiledPhases:
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
        use_xla = bool(phase.xla) and not (phase.all_reduces and strategy.num_replicas_in_sync > 1)

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
