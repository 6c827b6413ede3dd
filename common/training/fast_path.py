"""Which phases run compiled with XLA: what --xla / --noxla say, what the run being continued started with, or,
when neither says, the faster path on this kind of device (measured with benchmarks/xla_phases.py).

A run's choice is recorded per phase in its options (`xla: {"Gmain": false, ...}`): XLA's random kernels turn
a seed into other numbers than TensorFlow's (common/training/phases.py, _RNG), so a run continues bit-exactly
only on the path it started with, whatever the machine it continues on.
"""
import os

import tensorflow as tf

# The path per device kind and why (README, "XLA per phase", has the measurements).
_RULES = {
    'TPU': (False, 'a TPU: TPUStrategy compiles the whole step anyway'),
    'GPU': (True, 'a GPU: XLA fuses the element-wise work around the cuDNN convolutions; not measured here'),
    'avx512': (False, "a CPU with AVX-512: TensorFlow's oneDNN convolutions use it, XLA's do not; every phase "
                      "measured 1.0-1.6x slower compiled"),
    'avx2': (True, "a CPU with AVX2 and no AVX-512: XLA's fused element-wise work measured 1.25x faster on "
                   "StyleGAN2 config-e"),
    'other': (False, "a CPU without AVX2, not measured: TensorFlow's kernels"),
}


def choose(phases, setting, device, num_replicas=1, started=None):
    """{phase name: (compile with XLA?, why)} for `phases` (common.training.phases.Phase): `setting` True or
    False (--xla / --noxla); where it is None, `started` (the recorded choice of the run being continued: a dict
    {phase name: bool}, or a bool in options written before the choice was per phase); where both are None,
    the rule of `device` (as `device_kind()` names it)."""
    out = {}
    for phase in phases:
        if isinstance(setting, bool):
            on, why = setting, '--xla' if setting else '--noxla'
        elif started is not None:
            on = bool(started.get(phase.name, False) if isinstance(started, dict) else started)
            why = 'as the run being continued started'
        else:
            on, why = _RULES[device]
            why = f'auto: {why}'
        if on and phase.all_reduces and num_replicas > 1 and device != 'TPU':
            # CompiledPhases runs such a phase uncompiled (a CPU all-reduce needs merge_call): say so.
            on, why = False, f'{why}; but it all-reduces across {num_replicas} replicas'
        out[phase.name] = (on, why)
    return out


def recorded(setting, started, choice):
    """The `xla` option to write for a run: the flag as given, else the continued run's own record, else this
    run's choice per phase."""
    if setting is not None:
        return setting
    return started if started is not None else {name: on for name, (on, _) in choice.items()}


def describe(choice):
    """The one log line of a run's choice, phases with the same reason together."""
    groups = {}
    for name, (on, why) in choice.items():
        groups.setdefault((on, why), []).append(name)
    return 'XLA: ' + '; '.join(f'{" ".join(names)} {"compiled" if on else "uncompiled"} ({why})'
                               for (on, why), names in groups.items())


def device_kind(strategy):
    """'TPU', 'GPU', or for a CPU the vector ISA TensorFlow's oneDNN kernels use: 'avx512', 'avx2', 'other'."""
    devices = ' '.join(strategy.extended.worker_devices).upper()
    if 'TPU' in devices or isinstance(strategy, tf.distribute.TPUStrategy):
        return 'TPU'
    if 'GPU' in devices:
        return 'GPU'
    return cpu_isa()


def cpu_isa():
    """'avx512', 'avx2' or 'other' from /proc/cpuinfo, capped as ONEDNN_MAX_CPU_ISA caps oneDNN."""
    flags = set(_cpuinfo('flags').split())
    isa = 'avx512' if {'avx512f', 'avx512bw', 'avx512vl'} <= flags else 'avx2' if 'avx2' in flags else 'other'
    cap = os.environ.get('ONEDNN_MAX_CPU_ISA', '').upper()
    if cap and not cap.startswith(('AVX512', 'AVX10', 'ALL', 'DEFAULT')) and isa == 'avx512':
        isa = 'avx2' if cap.startswith('AVX2') else 'other'
    return isa


def cpu_model():
    return _cpuinfo('model name')


def _cpuinfo(key):
    """The first `key: value` of /proc/cpuinfo ('' where there is none)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.split(':')[0].strip() == key:
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''
