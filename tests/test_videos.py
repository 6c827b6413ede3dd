"""Videos (common/util/video.py): the StyleGAN2 seed walk (stylegan2.generate --interpolate), the ProGAN random walk
as MP4, the projector's progress video, and projected ws rendered back (stylegan2.generate --projected_w).

MP4 is lossy (H.264 in yuv420p, ada-pytorch's setting), so exactness is checked on the frames before encoding and
on the PNG frames the tools write with --png_frames. The decoded MP4 must have every frame, at the right size, and
match the exact frames in luma, which yuv420p keeps at full resolution: a mean error under 3 levels (measured
about 1.5 at 32 px, where halved chroma alone costs 7-9 levels in RGB), while a neighbouring frame, the halves
swapped or the channels reversed are off by 10-60 levels."""
import os
import re

import numpy as np
import PIL.Image
import pytest

from common.util import images as image_utils
from common.util import video
from pggan import generate as pggan_generate
from stylegan2 import generate, load_network
from stylegan2 import project as P

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
SG2_UNCOND = os.path.join(DATA, 'stylegan2', 'sg2_uncond.pkl.xz')   # 32 px RGB, num_ws 8, w_dim 64.
PGGAN_C = os.path.join(DATA, 'pggan', 'config_C.pkl')               # 16 px grayscale, 4 classes.
NO_LABELS = np.zeros([1, 0], np.float32)


@pytest.fixture(scope='module')
def Gs():
    return load_network(SG2_UNCOND).Gs


def read_png(path):
    return np.asarray(PIL.Image.open(path))


def luma_error(a, b):
    """Mean absolute difference of the BT.601 luma of uint8 RGB images, in levels."""
    luma = lambda x: np.asarray(x, np.float64) @ [0.299, 0.587, 0.114]  # noqa: E731
    return float(np.mean(np.abs(luma(a) - luma(b))))


def error_lines(text):
    return [line for line in text.splitlines() if line.startswith('error:')]


# ---------------------------------------------------------------------------------------------------------------
# stylegan2.generate --interpolate

def test_seed_walk_passes_through_each_seed_linearly_in_w_and_loops_back(Gs):
    seeds = [0, 1, 2]
    ws = generate.seed_walk_ws(Gs, seeds, 6, NO_LABELS, truncation_psi=0.7)
    keys = [Gs.mapping(generate.seed_latents(s, Gs.z_dim), NO_LABELS, truncation_psi=0.7).numpy()[0] for s in seeds]
    assert ws.shape == (6, Gs.num_ws, Gs.w_dim) and ws.dtype == np.float32
    for frame, key in zip((0, 2, 4), keys):
        np.testing.assert_array_equal(ws[frame], key)
    np.testing.assert_allclose(ws[1], (keys[0] + keys[1]) / 2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ws[5], (keys[2] + keys[0]) / 2, rtol=0, atol=1e-6)   # Back to the first seed.


def test_interpolation_starts_on_the_seed_image_and_its_mp4_has_every_frame(Gs, tmp_path):
    common = [f'--network={SG2_UNCOND}', '--seeds=5,6', '--truncation_psi=0.7', '--duration_sec=0.5', '--mp4_fps=8']
    assert generate.run(['generate', f'--network={SG2_UNCOND}', '--seeds=5,6', '--truncation_psi=0.7',
                         f'--outdir={tmp_path / "seeds"}']) == 0
    assert generate.run(['generate'] + common + ['--interpolate', '--png_frames', f'--outdir={tmp_path / "png"}']) == 0
    assert generate.run(['generate'] + common + ['--interpolate', f'--outdir={tmp_path / "mp4"}']) == 0
    assert sorted(os.listdir(tmp_path / 'png')) == [f'lerp{i:06d}.png' for i in range(4)]
    assert os.listdir(tmp_path / 'mp4') == ['lerp.mp4']
    frames = np.stack([read_png(tmp_path / 'png' / f'lerp{i:06d}.png') for i in range(4)])
    # 4 frames over 2 seeds: frame 0 is seed 5's image, frame 2 seed 6's, through the same mapping call. Equal here;
    # synthesis in a batch of 4 instead of 1 may differ in a last float bit on other CPUs, hence one level of slack.
    for frame, seed in ((0, 5), (2, 6)):
        expected = read_png(tmp_path / 'seeds' / f'seed{seed:04d}.png')
        assert np.abs(frames[frame].astype(int) - expected).max() <= 1 and np.mean(frames[frame] == expected) > 0.999
    decoded = video.read_video(str(tmp_path / 'mp4' / 'lerp.mp4'))
    assert decoded.shape == (4, 32, 32, 3)
    assert max(luma_error(d, f) for d, f in zip(decoded, frames)) < 3


# ---------------------------------------------------------------------------------------------------------------
# pggan.generate --interpolate: MP4 by default

def test_progan_interpolation_writes_an_mp4_of_every_frame_by_default(tmp_path):
    common = [f'--network={PGGAN_C}', '--interpolate', '--duration_sec=1', '--mp4_fps=5', '--smoothing_sec=0.2',
              '--class_idx=1', '--image_zoom=2']
    assert pggan_generate.run(['generate'] + common + [f'--outdir={tmp_path / "mp4"}']) == 0
    assert pggan_generate.run(['generate'] + common + ['--png_frames', f'--outdir={tmp_path / "png"}']) == 0
    assert os.listdir(tmp_path / 'mp4') == ['lerp.mp4']
    frames = np.stack([read_png(tmp_path / 'png' / f'lerp{i:06d}.png') for i in range(5)])
    assert frames.shape == (5, 32, 32, 3)                                       # Grayscale tiled to RGB, zoomed.
    decoded = video.read_video(str(tmp_path / 'mp4' / 'lerp.mp4'))
    assert decoded.shape == frames.shape
    assert max(luma_error(d, f) for d, f in zip(decoded, frames)) < 3


# ---------------------------------------------------------------------------------------------------------------
# stylegan2.project --save_video and stylegan2.generate --projected_w

@pytest.fixture(scope='module')
def projected(Gs, tmp_path_factory):
    """Three projection steps toward seed 5's image with the pixel distance, written with the MP4 video."""
    target = P.to_uint8_projector(Gs(generate.seed_latents(5, Gs.z_dim), NO_LABELS))[0]
    projection = P.project(Gs, target, P.PixelDistance(), P.ProjectorOptions(num_steps=3, w_avg_samples=1000))
    outdir = tmp_path_factory.mktemp('projected')
    paths = P.write_outputs(Gs, projection, target, str(outdir), save_video=True)
    return projection, target, str(outdir), paths


def test_projector_video_shows_the_target_beside_each_step_as_ada_pytorch(Gs, projected):
    projection, target, outdir, paths = projected
    assert paths[-1] == os.path.join(outdir, 'proj.mp4')
    frames = np.stack(list(P.progress_frames(Gs, projection, target)))
    assert frames.shape == (3, 32, 64, 3)
    for step in range(3):
        np.testing.assert_array_equal(frames[step, :, :32], target)
        synth = P.to_uint8_projector(P.synthesize(Gs, projection.w_steps[step:step + 1], projection.noise))[0]
        np.testing.assert_array_equal(frames[step, :, 32:], synth)
    decoded = video.read_video(paths[-1])
    assert decoded.shape == frames.shape
    assert max(luma_error(d, f) for d, f in zip(decoded, frames)) < 3


def test_projected_w_renders_back_through_generate_as_ada_pytorch(Gs, projected, tmp_path, capsys):
    _, _, outdir, _ = projected
    npz = os.path.join(outdir, 'projected_w.npz')
    assert generate.run(['generate', f'--network={SG2_UNCOND}', f'--projected-w={npz}', '--seeds=1',
                         f'--outdir={tmp_path / "one"}']) == 0
    assert 'warning: --seeds is ignored with --projected_w' in capsys.readouterr().err
    assert os.listdir(tmp_path / 'one') == ['proj00.png']
    w = np.load(npz)['w']
    expected = image_utils.to_uint8_ada(Gs.synthesis(w, noise_mode='const'))[0]
    np.testing.assert_array_equal(read_png(tmp_path / 'one' / 'proj00.png'), expected)

    # Several ws, one image each, in order.
    two = tmp_path / 'two.npz'
    np.savez(two, w=np.concatenate([w, w + np.random.RandomState(0).randn(*w.shape).astype(np.float32)]))
    assert generate.run(['generate', f'--network={SG2_UNCOND}', f'--projected_w={two}',
                         f'--outdir={tmp_path / "two"}']) == 0
    assert sorted(os.listdir(tmp_path / 'two')) == ['proj00.png', 'proj01.png']
    np.testing.assert_array_equal(read_png(tmp_path / 'two' / 'proj00.png'), expected)
    assert not np.array_equal(read_png(tmp_path / 'two' / 'proj01.png'), expected)


@pytest.mark.parametrize('content, message', [
    ({'w': np.zeros([1, 7, 64], np.float32)},
     r'w has shape \[1, 7, 64\], expected \[N, num_ws, w_dim\] = \[N, 8, 64\]'),
    ({'ws': np.zeros([1, 8, 64], np.float32)}, 'no array "w" \\(it holds ws\\)'),
    (b'not an npz', 'not a readable .npz file'),
], ids=['wrong shape', 'no w', 'not npz'])
def test_bad_projected_w_is_one_error_line(tmp_path, capsys, content, message):
    path = tmp_path / 'w.npz'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **content)
    assert generate.run(['generate', f'--network={SG2_UNCOND}', f'--projected_w={path}',
                         f'--outdir={tmp_path / "out"}']) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------------------------------------------------------
# Without the `video` extra

def test_without_the_video_extra_mp4_is_one_error_naming_it_and_gif_still_works(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(__import__('sys').modules, 'imageio_ffmpeg', None)   # `import imageio_ffmpeg` fails.
    assert pggan_generate.run(['generate', f'--network={PGGAN_C}', '--interpolate', '--duration_sec=0.4',
                               '--mp4_fps=5', '--class_idx=0', f'--outdir={tmp_path / "out"}']) == 1
    assert error_lines(capsys.readouterr().err) == [f'error: {video.MISSING_EXTRA}']
    assert '.[video]' in video.MISSING_EXTRA and not (tmp_path / 'out').exists()
    assert generate.run(['generate', f'--network={SG2_UNCOND}', '--seeds=0,1', '--interpolate', '--duration_sec=0.4',
                         '--mp4_fps=5', '--gif', f'--outdir={tmp_path / "gif"}']) == 0
    gif = PIL.Image.open(tmp_path / 'gif' / 'lerp.gif')
    assert gif.n_frames == 2 and gif.size == (32, 32)
