"""StyleGAN2 --xla: the compiled training step equals the graph one (a file of its own, so that the test runner
can put it beside the other training tests)."""
import numpy as np
import tensorflow as tf

from common.training.phases import RoundContext
from test_stylegan2_training import _weights_after_steps, assert_same_training


def _same_draws_in_and_out_of_xla(monkeypatch):
    """XLA's random kernels give other numbers for a seed than TensorFlow's: draw from a formula instead."""
    def draw(ctx, shape, purpose):
        i = tf.reshape(tf.range(int(np.prod(shape)), dtype=tf.float32), shape)
        return tf.math.floormod(tf.sin(i * 0.7311 + tf.cast(ctx.step * 64 + purpose, tf.float32) * 1.91) * 4373.1, 1.0)
    monkeypatch.setattr(RoundContext, 'uniform', lambda ctx, tail, purpose, shrink=1, maxval=None, dtype=tf.float32:
                        ctx._take(tf.cast(draw(ctx, [ctx.global_batch // shrink] + list(tail), purpose)
                                          * (maxval or 1), dtype), shrink))
    monkeypatch.setattr(RoundContext, 'normal', lambda ctx, tail, purpose, shrink=1:
                        ctx._take((draw(ctx, [ctx.global_batch // shrink] + list(tail), purpose) - 0.5) * 3.4, shrink))
    monkeypatch.setattr(RoundContext, 'scalar_uniform', lambda ctx, purpose, minval=0, maxval=None, dtype=tf.float32:
                        tf.cast(minval + draw(ctx, [], purpose) * ((maxval or 1) - minval), dtype))


def test_xla_compiled_training_on_two_devices_equals_graph_training_on_one(tiny_labelled_rgb8, monkeypatch):
    # Gmain, Dmain and Dreg compiled (R1's double backward, the FIR filters as slices, dlatent_avg written
    # after the compiled step); Greg, whose pl_mean is all-reduced, runs uncompiled on several CPU replicas.
    _same_draws_in_and_out_of_xla(monkeypatch)
    graph = _weights_after_steps(tiny_labelled_rgb8, 1, minibatch_gpu=8, steps=1)
    compiled = _weights_after_steps(tiny_labelled_rgb8, 2, minibatch_gpu=4, steps=1, xla=True)
    assert_same_training(graph, compiled)
    for key in [k for k in compiled if 'dlatent_avg' in k] + ['pl_mean']:
        assert np.any(compiled[key] != 0), key  # Updated at all.
        np.testing.assert_allclose(compiled[key], graph[key], rtol=1e-4, atol=1e-6, err_msg=key)

