"""StyleGAN2-ADA in training: p follows ada-pytorch's sign rule, a fixed p shows on every tick line, a resumed
ADA run equals the uninterrupted one (p and its running sums included) and still exports, each replica and
round augments its rows as one call on the whole batch would, the ADA configs carry ada-pytorch's numbers,
and bad ADA flags are one error naming the flag."""
import os

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from absl.testing import flagsaver

from equivalence import assert_same_weights
from test_stylegan2_training import tiny_options
from common.ops.augment import AugmentPipe
from common.training.ada import SIGNS, AdaptiveAugment
from common.training.loop import training_loop
from stylegan2 import training
from stylegan2.loading import load_network


def test_p_moves_by_the_sign_of_rt_minus_target_every_interval_and_stays_nonnegative():
    ada = AdaptiveAugment(AugmentPipe.from_preset('bgc'), target=0.6, interval=4, kimg=0.5)
    ada.pipe.p.assign(0.0)
    rate = 32 * 4 / (0.5 * 1000)                       # minibatch * interval / (ada_kimg * 1000)
    history = []
    for step, signs in enumerate([32.0, 20.0, 32.0, 32.0, -32.0, -32.0, -32.0, 0.0] * 2, start=1):
        ada.observe({SIGNS: tf.constant(signs), 'Loss/D': tf.constant(1.0)}, 32)
        ada.after_minibatch(step, 32)
        history.append(float(ada.p.numpy()))
    # Interval 1: r_t = 116 / 128 > 0.6 -> up; interval 2: r_t = -96 / 128 -> down (to 0); then again.
    np.testing.assert_allclose(history, [0, 0, 0, rate, rate, rate, rate, 0] * 2, atol=1e-7)
    assert float(ada.sign_count.numpy()) == 0  # The sums restart after each adjustment.
    fixed = AdaptiveAugment(AugmentPipe.from_preset('bgc'), target=None)
    fixed.pipe.p.assign(0.25)
    for step in range(1, 9):
        fixed.observe({SIGNS: tf.constant(32.0)}, 32)
        fixed.after_minibatch(step, 32)
    assert float(fixed.p.numpy()) == 0.25


def _ada_options(data, result_dir, **overrides):
    # ada_kimg tiny so that p moves by 0.32 per adjustment; the interval (4) straddles the minibatch groups (2).
    # The colour pipe traces in a fraction of bgc's time; its draws and p take the same path.
    return tiny_options(data, result_dir, aug='ada', ada_kimg=0.1, ada_target=0.3, augment_p=0.2, augpipe='color',
                        G_smoothing_rampup=0.05, **overrides)


@pytest.fixture(scope='module')
def ada_full_run(tiny_labelled_rgb8, tmp_path_factory):
    tf.config.experimental.enable_op_determinism()
    return training_loop(_ada_options(tiny_labelled_rgb8, str(tmp_path_factory.mktemp('ada_full'))))


def _ada_state(run_dir):
    snaps = sorted(d for d in os.listdir(run_dir) if d.startswith('network-snapshot-'))
    reader = tf.train.load_checkpoint(os.path.join(run_dir, snaps[-1], 'ckpt'))
    names = reader.get_variable_to_shape_map()
    return {key: float(reader.get_tensor(next(k for k in names if k.startswith(key + '/'))))
            for key in ('augment_p', 'ada_sign_sum', 'ada_sign_count')}


def test_resumed_ada_run_equals_uninterrupted_p_and_sums_included(tiny_labelled_rgb8, tmp_path, ada_full_run):
    first = training_loop(_ada_options(tiny_labelled_rgb8, str(tmp_path / 'split')), stop_after_ticks=1)
    resumed = training_loop(_ada_options(tiny_labelled_rgb8, str(tmp_path / 'split'), resume=first))
    full_state, resumed_state = _ada_state(ada_full_run), _ada_state(resumed)
    assert full_state == pytest.approx(resumed_state, abs=1e-6)
    assert full_state['augment_p'] != pytest.approx(0.2)  # p moved during the run.
    a, b = (load_network(os.path.join(r, sorted(d for d in os.listdir(r) if d.startswith('network-'))[-1]))
            for r in (ada_full_run, resumed))
    for net_a, net_b in ((a.G, b.G), (a.D, b.D), (a.Gs, b.Gs)):
        for wa, wb in zip(net_a.weights, net_b.weights):
            assert_same_weights(wa.numpy(), wb.numpy(), err_msg=wa.path)
    # An ADA run's snapshot still exports to the official pickle layout, weights unchanged.
    from stylegan2.export import write_official_pickle
    write_official_pickle(b, str(tmp_path / 'ada.pkl'))
    exported = load_network(str(tmp_path / 'ada.pkl'))
    np.testing.assert_array_equal(exported.Gs.get_weights()[0], b.Gs.get_weights()[0])


def test_fixed_p_shows_augment_0250_and_rt_on_every_tick_line(tiny_labelled_rgb8, tmp_path, capsys):
    training_loop(tiny_options(tiny_labelled_rgb8, str(tmp_path), aug='fixed', augment_p=0.25, total_kimg=0.032))
    ticks = [line for line in capsys.readouterr().out.splitlines() if line.startswith('tick ')]
    assert len(ticks) == 2 and all(' augment 0.250' in line and ' rt ' in line for line in ticks), ticks


def test_each_replica_and_round_augments_its_rows_as_one_call_on_the_whole_batch():
    """What makes 2 replicas == 1 and rounds == one big batch with the pipe on: RoundContext.augment gives
    rows a .. b of the global batch the draws they get in one call on all rows."""
    from common.training.phases import RoundContext
    pipe = AugmentPipe.from_preset('bgc')
    pipe.p.assign(0.8)
    images = tf.random.stateless_uniform([8, 16, 16, 3], [1, 2], minval=-1, maxval=1)
    step = tf.constant(3, tf.int64)
    whole = RoundContext(7, step, 8, 16, 8, tf.constant(0)).augment(pipe, images, 2)
    parts = [RoundContext(7, step, 8, 16, 2, tf.constant(offset)).augment(pipe, images[offset:offset + 2], 2)
             for offset in range(0, 8, 2)]
    np.testing.assert_allclose(tf.concat(parts, 0).numpy(), whole.numpy(), atol=3e-5)  # Batched matmul rounding.
    other = RoundContext(7, step, 8, 16, 8, tf.constant(0)).augment(pipe, images, 3)  # Another purpose: new draws.
    assert np.max(np.abs(other.numpy() - whole.numpy())) > 0.1


# ada-pytorch train.py cfg_specs, and its 'auto' formulas at 32 px on 1 GPU: mb = max(min(1 * min(4096 // 32, 32),
# 64), 1) = 32, mbstd = min(32 // 1, 4) = 4, fmaps 0.5, lrate 0.0025, gamma = 0.0002 * 32 ** 2 / 32, ema = 32 * 10 / 32.
@pytest.mark.parametrize('cfg, channel_base, mb, batch_gpu, mbstd, lrate, gamma, ema, ramp, mapping', [
    ('auto', 16384, 32, 32, 4, 0.0025, 0.0064, 10.0, 0.05, 2),
    ('stylegan2', 32768, 32, 4, 4, 0.002, 10, 10, None, 8),
    ('paper256', 16384, 64, 8, 8, 0.0025, 1, 20, None, 8),
    ('paper512', 32768, 64, 8, 8, 0.0025, 0.5, 20, None, 8),
    ('paper1024', 32768, 32, 4, 4, 0.002, 2, 10, None, 8),
    ('cifar', 32768, 64, 32, 32, 0.0025, 0.01, 500, 0.05, 2)])
def test_ada_configs_carry_ada_pytorch_numbers(train_flags, tiny_labelled_rgb8, smooth_rgb32, cfg, channel_base, mb,
                                               batch_gpu, mbstd, lrate, gamma, ema, ramp, mapping):
    import train
    train_flags(['train.py', '--model=stylegan2', f'--cfg={cfg}'])
    opts = train.build_options(smooth_rgb32)[0]
    # ada-pytorch channels = channel_base / res; the TF networks' fmap_base counts per stage (res / 2).
    assert opts.G_kwargs['fmap_base'] * 2 == opts.D_kwargs['fmap_base'] * 2 == channel_base
    assert (opts.sched.minibatch_size_base, opts.sched.minibatch_gpu_base, opts.D_kwargs['mbstd_group_size']) == \
        (mb, batch_gpu, mbstd)
    assert (opts.sched.G_lrate_base, opts.sched.D_lrate_base, opts.D_loss['gamma']) == pytest.approx((lrate, lrate, gamma))
    assert (opts.G_smoothing_kimg, opts.G_smoothing_rampup, opts.G_kwargs['mapping_layers']) == \
        pytest.approx((ema, ramp, mapping)) if ramp else (opts.G_smoothing_kimg, opts.G_kwargs['mapping_layers']) == \
        pytest.approx((ema, mapping)) and opts.G_smoothing_rampup is None
    ada = training.augmentation(opts, 32)  # ada-pytorch's defaults of the flags not given.
    assert (opts.aug, ada.target, ada.kimg, ada.interval) == ('ada', 0.6, 500, 4)
    assert opts.G_kwargs['num_fp16_res'] == opts.D_kwargs['num_fp16_res'] == 4 and opts.D_kwargs['conv_clamp'] == 256
    assert (opts.D_kwargs.get('architecture'), 'func_name' in opts.G_loss) == \
        (('orig', True) if cfg == 'cifar' else (None, False))


def test_fine_tuning_from_a_pickle_reacts_faster_without_ema_rampup(train_flags, smooth_rgb32):
    import train
    pickle = os.path.join(os.path.dirname(__file__), 'data', 'ada_pytorch', 'uncond_skip_resnet.pkl')
    train_flags(['train.py', '--model=stylegan2', '--cfg=auto', f'--resume={pickle}'])
    opts = train.build_options(smooth_rgb32)[0]
    assert opts.G_smoothing_rampup == 0.05  # The config's, off when fine-tuning:
    assert (training.augmentation(opts, 32).kimg, training.ema_rampup(opts)) == (100, None)


@pytest.mark.parametrize('args, message', [
    (['--aug=fixed'], '--aug=fixed requires --p'),
    (['--aug=fixed', '--p=1.5'], '--p=1.5: expected a probability in [0, 1]'),
    (['--aug=ada', '--target=-0.1'], '--target=-0.1: expected'),
    (['--aug=ada', '--augpipe=bgx'], '--augpipe=bgx: expected one of blit, geom'),
    (['--aug=sometimes'], '--aug=sometimes: expected noaug, ada or fixed'),
    (['--augpipe=bgc'], '--augpipe: needs --aug=ada or --aug=fixed'),
    (['--aug=ada', '--augpipe=bgcf'], '--augpipe=bgcf: its image filter needs images of at least 22x22 (this '
                                      'dataset: 8x8)'),
    (['--aug=ada', '--model=pggan', '--config=cpu-fashion32'], '--aug: a StyleGAN2 option (--model=stylegan2), not one of --model=pggan')])
def test_bad_ada_flags_are_one_error_naming_the_flag(args, message, tiny_labelled_rgb8, tmp_path, capsys):
    import train
    argv = ['train.py', '--model=stylegan2', '--config=cpu-config-e', f'--data={tiny_labelled_rgb8}',
            f'--result_dir={tmp_path}'] + args
    with flagsaver.flagsaver():
        flags.FLAGS.unparse_flags()
        flags.FLAGS(argv)
        with pytest.raises(SystemExit) as exit_info:
            train.main(['train.py'])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 1 and len(err) == 1 and err[0].startswith('error: ') and message in err[0], err
    assert not os.listdir(tmp_path)
