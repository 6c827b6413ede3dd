"""Which devices and machines train together: MirroredStrategy over the local GPUs (logical CPUs on a
CPU-only host), MultiWorkerMirroredStrategy across machines described by TF_CONFIG (or written from
--worker_hosts / --task_index), or TPUStrategy with --tpu. The batch semantics are the same for both: `minibatch_size` is global,
`minibatch_gpu` is per replica, and every replica of every worker takes its own rows of the global batch.

In a multi-worker run the chief (task 0) writes everything (snapshots, grids, logs, TensorBoard); the other
workers write nothing. Resume and rollback read the run directory, so it must be on a shared filesystem.
"""
import json
import os

import tensorflow as tf

from common.training.options import OptionsError

_STRATEGIES = {}


def configure_cluster(worker_hosts, task_index):
    """Writes TF_CONFIG for `worker_hosts` ('host:port,host:port,...'); must run before TensorFlow starts."""
    hosts = [h.strip() for h in worker_hosts.split(',') if h.strip()]
    if len(hosts) < 2 or any(':' not in h for h in hosts):
        raise OptionsError(f'--worker_hosts={worker_hosts}: expected two or more host:port entries')
    if task_index is None or not 0 <= task_index < len(hosts):
        raise OptionsError(f'--task_index={task_index}: expected 0..{len(hosts) - 1} for {len(hosts)} workers')
    os.environ['TF_CONFIG'] = json.dumps({'cluster': {'worker': hosts}, 'task': {'type': 'worker', 'index': task_index}})


def cluster_spec():
    """(number of workers, this task's index) from TF_CONFIG; (1, 0) without one."""
    raw = os.environ.get('TF_CONFIG')
    if not raw:
        return 1, 0
    try:
        config = json.loads(raw)
        workers = len(config['cluster'].get('worker', [])) + len(config['cluster'].get('chief', []))
        task = config.get('task', {})
        index = task.get('index', 0) + (1 if task.get('type') == 'worker' and 'chief' in config['cluster'] else 0)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise OptionsError(f'TF_CONFIG is not a cluster description ({e.__class__.__name__}: {e})') from None
    return max(workers, 1), index


def make_strategy(num_gpus, tpu=None):
    """The strategy of this process, one per device set: two strategies over the same devices reuse
    collective instance keys, and their all-reduces then collide ("Shape mismatch in the collective
    instance"). Multi-worker when TF_CONFIG names more than one worker; it must be made before TensorFlow
    runs anything else in this process. `tpu` (--tpu): TPUStrategy on that TPU ('local' for a TPU VM)."""
    if tpu:
        return _tpu_strategy(tpu)
    workers, _ = cluster_spec()
    if workers > 1:
        if 'multi-worker' not in _STRATEGIES:
            gpus = tf.config.list_physical_devices('GPU')
            if len(gpus) > num_gpus:
                tf.config.set_visible_devices(gpus[:num_gpus], 'GPU')
            _STRATEGIES['multi-worker'] = tf.distribute.MultiWorkerMirroredStrategy()
        return _STRATEGIES['multi-worker']
    gpus = tf.config.list_logical_devices('GPU')
    devices = [d.name for d in gpus] if gpus else [d.name for d in tf.config.list_logical_devices('CPU')]
    if num_gpus > len(devices):
        raise OptionsError(f'--num_gpus={num_gpus}: only {len(devices)} device(s) available ({", ".join(devices)})')
    key = tuple(devices[:num_gpus])
    if key not in _STRATEGIES:
        _STRATEGIES[key] = tf.distribute.MirroredStrategy(list(key))
    return _STRATEGIES[key]


def _tpu_strategy(tpu):
    """TPUStrategy on the TPU named by --tpu. Untried: no TPU was available while this was written (see
    README, "TPUs"). The step only uses ops that XLA compiles (--xla compiles the same losses and gradients
    on CPU and GPU), stateless random numbers and static shapes per resolution."""
    if 'tpu' not in _STRATEGIES:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            first = (str(e).strip().splitlines() or [''])[0].split('. ')[0]
            raise OptionsError(f'--tpu={tpu}: no TPU found there ({type(e).__name__}: {first})') from None
        _STRATEGIES['tpu'] = tf.distribute.TPUStrategy(resolver)
    return _STRATEGIES['tpu']


def is_chief(strategy):
    """True for the process that writes: the only one, or task 0 of a multi-worker cluster."""
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is None or not getattr(resolver, 'task_type', None):
        return True
    return resolver.task_type == 'chief' or (resolver.task_type == 'worker' and resolver.task_id == 0
                                             and 'chief' not in resolver.cluster_spec().as_dict())


def num_workers(strategy):
    return getattr(strategy.extended, '_num_workers', 1)


def any_worker(strategy, flag):
    """True on every worker if `flag` is True on any (one small all-reduce): lets all workers agree to stop
    at the same step, so that none is left waiting in a collective for one that has gone."""
    if num_workers(strategy) == 1:
        return bool(flag)
    return bool(_any_fn(strategy)(tf.constant(1.0 if flag else 0.0)) > 0)


_ANY = {}


def _any_fn(strategy):
    if id(strategy) not in _ANY:
        @tf.function
        def reduce_sum(x):
            per_replica = strategy.run(lambda: tf.identity(x))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        _ANY[id(strategy)] = reduce_sum
    return _ANY[id(strategy)]
