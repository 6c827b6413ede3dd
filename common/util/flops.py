"""FLOPs of a traced TensorFlow function and the machine's fp32 matmul peak, for MFU (the training log and
benchmarks/train_speed.py).

Counted like ../shared/bench/peer_ada.py counts the official code: matrix multiplies and convolutions only
(forward, backward and the double backward of the regularizers, as they appear in the traced graph),
2 FLOPs per multiply-add; element-wise work is not counted."""
import functools
import time

import numpy as np
import tensorflow as tf

_CALLS = ('PartitionedCall', 'StatefulPartitionedCall')


def graph_flops(concrete_function):
    """Matmul and convolution FLOPs of one call of a concrete function (nested functions included). Ops
    whose results are never used (e.g. gradients of a nested function's other inputs) are not counted:
    TensorFlow prunes them before running."""
    graph = concrete_function.graph
    return _graph_flops(graph, list(graph.outputs), list(graph.control_outputs))


def _graph_flops(graph, tensors, ops):
    """FLOPs of the ops of `graph` that `tensors` and `ops` depend on."""
    needed = {}                                    # op -> indices of its outputs that are used (None: all).
    stack = [(t.op, t.value_index) for t in tensors] + [(op, None) for op in ops]
    while stack:
        op, index = stack.pop()
        seen = needed.get(op, set())
        if op in needed and (seen is None or index in seen):
            continue
        needed[op] = None if index is None or seen is None else seen | {index}
        stack += [(t.op, t.value_index) for t in op.inputs] + [(c, None) for c in op.control_inputs]
    total = 0
    for op, indices in needed.items():
        if op.type in _CALLS:
            body = graph._get_function(op.get_attr('f').name).graph
            outs = body.outputs if indices is None else [body.outputs[i] for i in sorted(indices)]
            total += _graph_flops(body, list(outs), list(body.control_outputs))
        elif op.type in ('If', 'StatelessIf'):
            # The costlier branch (e.g. the optimizer update that an overflow skips: no matmuls either way).
            total += max(_graph_flops(body, list(body.outputs), list(body.control_outputs))
                         for body in (graph._get_function(op.get_attr(b).name).graph
                                      for b in ('then_branch', 'else_branch')))
        elif op.type in ('While', 'StatelessWhile'):
            raise NotImplementedError(f'FLOP counting of {op.type} (data-dependent trip count)')
        else:
            total += _op_flops(op)
    return total


def _shape(tensor):
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape):
        raise ValueError(f'{tensor.name}: shape {shape} not static; trace with fixed shapes to count FLOPs')
    return list(shape)


def _op_flops(op):
    kind = op.type
    if kind == 'MatMul':
        a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
        m, k = (a[1], a[0]) if op.get_attr('transpose_a') else (a[0], a[1])
        n = b[0] if op.get_attr('transpose_b') else b[1]
        return 2 * m * n * k
    if kind.startswith('BatchMatMul'):
        out = _shape(op.outputs[0])
        a = _shape(op.inputs[0])
        k = a[-2] if op.get_attr('adj_x') else a[-1]
        return 2 * int(np.prod(out)) * k
    if kind == 'Conv2D':
        kh, kw, cin, _ = _shape(op.inputs[1])
        return 2 * int(np.prod(_shape(op.outputs[0]))) * kh * kw * cin
    if kind == 'Conv2DBackpropInput':
        kh, kw, cin, _ = _shape(op.inputs[1])
        return 2 * int(np.prod(_shape(op.inputs[2]))) * kh * kw * cin
    if kind == 'Conv2DBackpropFilter':
        kh, kw, cin, _ = _shape(op.outputs[0])  # The kernel's gradient has the kernel's shape.
        return 2 * int(np.prod(_shape(op.inputs[2]))) * kh * kw * cin
    if kind in ('DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput'):
        kh, kw = _shape(op.inputs[1])[:2]
        return 2 * int(np.prod(_shape(op.outputs[0] if kind == 'DepthwiseConv2dNative' else op.inputs[2]))) * kh * kw
    if kind == 'DepthwiseConv2dNativeBackpropFilter':
        kh, kw = _shape(op.outputs[0])[:2]
        return 2 * int(np.prod(_shape(op.inputs[2]))) * kh * kw
    return 0


def matmul_peak_gflops(sizes=(1024, 2048, 4096), repeats=5):
    """Best fp32 GEMM GFLOP/s of TensorFlow on this machine's default device (square matmuls)."""
    best = 0.0
    for n in sizes:
        a = tf.random.stateless_normal([n, n], seed=[0, 1])  # Stateless: leaves the global seed stream alone.
        b = tf.random.stateless_normal([n, n], seed=[0, 2])
        matmul = tf.function(lambda x, y: tf.reduce_sum(tf.linalg.matmul(x, y)))
        float(matmul(a, b))
        for _ in range(repeats):
            t0 = time.perf_counter()
            float(matmul(a, b))
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


@functools.lru_cache(maxsize=None)
def cached_peak_gflops():
    """A quicker `matmul_peak_gflops` (2048^2 matmuls, under a second on this CPU), measured once per process:
    the training loop's MFU per tick."""
    return matmul_peak_gflops(sizes=(2048,), repeats=3)
