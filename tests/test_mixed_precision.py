"""Mixed precision (StyleGAN2-ADA): which blocks run in float16 (the official formula), float16 networks
compute the float32 function up to float16 rounding, and float16 training at 32 px takes finite steps with
a dynamic loss scale that rises on finite steps and falls (skipping the update) on overflows."""
import numpy as np
import pytest
import tensorflow as tf

from common.ops.mixed_precision import block_dtype
from common.training.options import OptionsError, TrainingOptions
from common.training.schedule import SG2ScheduleOptions
from common.training.distribute import make_strategy
from common.training.phases import CompiledPhases
from data.dataset import Dataset
from stylegan2.networks import Discriminator
from stylegan2.generator import Generator

NETS = dict(fmap_base=128, fmap_max=16)
G_NETS = dict(NETS, latent_size=16, dlatent_size=16, mapping_layers=2, mapping_fmaps=16)


def test_float16_blocks_follow_the_official_fp16_resolution():
    for top in range(3, 11):
        for n in range(0, 6):
            for res in range(2, top + 1):
                # ada-pytorch: fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8), use_fp16 = res >= it.
                official = n > 0 and 2 ** res >= max(2 ** (top + 1 - n), 8)
                assert (block_dtype(res, top, n, 'float16') == tf.float16) == official, (top, n, res)
                assert block_dtype(res, top, n, None) == tf.float32  # Official pickles for inference: float32.
    assert block_dtype(5, 5, 4, 'bfloat16') == tf.bfloat16


@pytest.mark.parametrize('dtype, tolerance', [('float16', 4e-3), ('bfloat16', 3e-2)])
def test_low_precision_networks_compute_the_float32_function_up_to_rounding(dtype, tolerance):
    tf.keras.utils.set_random_seed(1)
    G32, D32 = Generator(resolution=32, **G_NETS), Discriminator(resolution=32, **NETS)
    mixed = dict(num_fp16_res=2, conv_clamp=256, fp16_dtype=dtype)
    G16, D16 = Generator(resolution=32, **G_NETS, **mixed), Discriminator(resolution=32, **NETS, **mixed)
    G16.set_weights(G32.get_weights())
    D16.set_weights(D32.get_weights())
    assert [G16.synthesis.dtypes[r].name for r in (3, 4, 5)] == ['float32', dtype, dtype]
    z = tf.constant(np.random.RandomState(2).randn(4, 16), tf.float32)
    images32, images16 = G32(z).numpy(), G16(z).numpy()
    assert images16.dtype == np.float32
    scale = np.abs(images32).max()
    assert 0 < np.abs(images16 - images32).max() < tolerance * scale  # Rounded, but the same function.
    logits32, logits16 = D32(images32).numpy(), D16(images32).numpy()
    assert 0 < np.abs(logits16 - logits32).max() < tolerance * np.abs(logits32).max() + 1e-3
    # Kwargs are recorded (snapshots rebuild the same networks); float32 networks keep their old kwargs.
    assert G16.kwargs['num_fp16_res'] == 2 and 'num_fp16_res' not in G32.kwargs


@pytest.fixture(scope='module')
def data32(smooth_rgb32):
    return smooth_rgb32


def _options(data, num_gpus=1, **overrides):
    mixed = dict(num_fp16_res=2, conv_clamp=256)
    base = dict(model='stylegan2', data=data, result_dir='/unused', num_gpus=num_gpus,
                G_kwargs=dict(G_NETS, **mixed), D_kwargs=dict(NETS, mbstd_num_features=0, **mixed),
                D_loss=dict(gamma=10.0), G_reg_interval=1, D_reg_interval=1, random_seed=3,
                sched=SG2ScheduleOptions(minibatch_size_base=4, minibatch_gpu_base=2))
    return TrainingOptions(**{**base, **overrides}).validate()


def _train_steps(data, steps, num_gpus=1, phases=None, parts=None, **overrides):
    """(parts, losses per step, D weights before) after `steps` minibatches of the phases named in `phases`
    (default all four); `parts` continues the networks and compiled phases of an earlier call."""
    from stylegan2 import training
    strategy = make_strategy(num_gpus)
    dataset = Dataset(data, seed=1)
    if parts is None:
        opts = _options(data, num_gpus, **overrides)
        tf.keras.utils.set_random_seed(5)
        parts = training.build(opts, dataset, strategy)
        parts.compiled = CompiledPhases(strategy, parts.phases, opts.random_seed)
    before = [w.numpy() for w in parts.nets['D'].trainable_weights]
    feed = iter(dataset.distribute(strategy, 32, 4))
    rounds = 4 // (2 * num_gpus)
    losses = []
    for step in range(steps):
        parts.configure(parts.schedule(0))
        batch = next(feed)
        stats = {}
        for phase in parts.phases:
            if phases is None or phase.name in phases:
                args = (tf.constant(step, tf.int64), 4, 32, rounds) + (tuple(batch) if phase.uses_reals else ())
                stats.update({k: float(v) for k, v in parts.compiled.fns[phase.name](*args).items()})
        losses.append(stats)
    return parts, losses, before


def test_float16_training_takes_finite_steps_and_the_loss_scale_adapts(data32):
    # Two replicas: the update is skipped or applied on all of them (the verdict is all-reduced).
    # 2^10: the default 2^15 overflows once in the path-length backward pass of these tiny networks.
    parts, losses, before = _train_steps(data32, 2, num_gpus=2, loss_scaling_init=10.0)
    assert sorted(parts.loss_scales) == ['TrainD', 'TrainG']
    for stats in losses:
        assert all(np.isfinite(v) for v in stats.values()), stats
    for name, scale in parts.loss_scales.items():
        # Two phases per optimizer per step (main and reg), none overflowed: +0.0005 each.
        assert int(scale.overflows.numpy()) == 0
        assert float(scale.log2.numpy()) == pytest.approx(10 + 2 * 2 * 0.0005, abs=1e-5), name
    after = [w.numpy() for w in parts.nets['D'].trainable_weights]
    assert any(np.any(a != b) for a, b in zip(before, after))
    for w in parts.nets['G'].weights + parts.nets['D'].weights + parts.nets['Gs'].weights:
        assert w.dtype == tf.float32  # Weights (and so Gs and the Adam state) stay float32.

    # 2^40 times the loss overflows float16 in the backward pass of every float16 block: each D step is
    # skipped, leaving the weights where they were, and halves the scale.
    scale = parts.loss_scales['TrainD']
    scale.log2.assign(40.0)
    _, losses, before = _train_steps(data32, 2, num_gpus=2, phases=('Dmain', 'Dreg'), parts=parts)
    assert int(scale.overflows.numpy()) == 4
    assert float(scale.log2.numpy()) == pytest.approx(36.0)
    for a, b in zip(before, [w.numpy() for w in parts.nets['D'].trainable_weights]):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(v) for stats in losses for v in stats.values())


def test_bfloat16_training_needs_no_loss_scale(data32):
    mixed = dict(num_fp16_res=2, fp16_dtype='bfloat16')
    parts, losses, before = _train_steps(data32, 1, phases=('Gmain', 'Dmain'), G_kwargs=dict(G_NETS, **mixed),
                                         D_kwargs=dict(NETS, mbstd_num_features=0, **mixed))
    assert parts.loss_scales == {}
    assert all(np.isfinite(v) for v in losses[0].values())
    assert any(np.any(a != b.numpy()) for a, b in zip(before, parts.nets['D'].trainable_weights))


def test_mixed_precision_options_are_checked():
    with pytest.raises(OptionsError, match='--fp16_dtype=half'):
        _options('/data', G_kwargs=dict(num_fp16_res=2, fp16_dtype='half'))
    with pytest.raises(OptionsError, match='--num_fp16_res=-1'):
        _options('/data', D_kwargs=dict(num_fp16_res=-1))
    with pytest.raises(OptionsError, match='--model=stylegan2'):
        TrainingOptions(model='pggan', data='/data', G_kwargs=dict(num_fp16_res=2)).validate()
