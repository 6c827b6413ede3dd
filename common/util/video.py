"""Frame sequences written as a video: MP4 (H.264, through imageio and imageio-ffmpeg, the optional `video`
extra, whose wheel ships the ffmpeg binary), animated GIF (Pillow) or numbered PNG frames.

MP4 is lossy: libx264 in yuv420p at 16 Mbit/s, the settings of ada-pytorch's projector video (the official
ProGAN interpolation used libx265, which fewer players decode). Frames are RGB; grayscale is tiled to RGB.
"""
import os

import numpy as np
from absl import flags

from common.util import images as image_utils

FORMATS = ('mp4', 'gif', 'png')
MISSING_EXTRA = 'MP4 videos need imageio and imageio-ffmpeg: pip install -e ".[video]" (or pass --gif)'


def define_interpolation_flags(flag_values, minibatch_help):
    """The interpolation-video flags of pggan.generate and stylegan2.generate, one definition for both (their
    --help lists them under common.util.video)."""
    flags.DEFINE_float('duration_sec', 60.0, 'Interpolation length in seconds.', flag_values=flag_values)
    flags.DEFINE_integer('mp4_fps', 30, 'Interpolation frames per second.', flag_values=flag_values)
    flags.DEFINE_integer('image_zoom', 1, 'Interpolation: enlarge frames by pixel replication.',
                         flag_values=flag_values)
    flags.DEFINE_integer('minibatch_size', 8, f'Interpolation: {minibatch_help}.', flag_values=flag_values)
    flags.DEFINE_bool('gif', False, 'Interpolation: write an animated lerp.gif instead of lerp.mp4.',
                      flag_values=flag_values)
    flags.DEFINE_bool('png_frames', False, 'Interpolation: write the frames as lerp%06d.png instead of lerp.mp4.',
                      flag_values=flag_values)


def frame_count(duration_sec, fps, image_zoom=1, minibatch_size=1):
    """Frames of a video of duration_sec at fps (rounded, as the official interpolation); ValueError for none or
    for a zoom or minibatch below 1."""
    num_frames = int(np.rint(duration_sec * fps))
    if num_frames < 1:
        raise ValueError(f'--duration_sec={duration_sec} at --mp4_fps={fps} makes no frames')
    if image_zoom < 1 or minibatch_size < 1:
        raise ValueError('--image_zoom and --minibatch_size must be at least 1')
    return num_frames


def describe(paths, fmt):
    """What write_video wrote, for the tools' last line: the file, or the frames' pattern."""
    return paths[0].replace('000000.png', '%06d.png') if fmt == 'png' else paths[0]


def video_format(gif=False, png_frames=False):
    """The format chosen by the tools' --gif / --png_frames flags (default mp4), checked before anything is
    rendered: ValueError naming the extra when MP4 cannot be written here."""
    if gif and png_frames:
        raise ValueError('pass at most one of --gif and --png_frames')
    fmt = 'gif' if gif else 'png' if png_frames else 'mp4'
    if fmt == 'mp4':
        _imageio()
    return fmt


def _imageio():
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imageio's FFMPEG plugin runs its binary)
    except ImportError:
        raise ValueError(MISSING_EXTRA) from None
    return imageio


def video_frame(image, zoom=1):
    """uint8 [H, W, C] -> [H*zoom, W*zoom, 3]: pixel replication (the official scipy.ndimage.zoom(order=0)),
    grayscale tiled to RGB."""
    if zoom > 1:
        image = image.repeat(zoom, axis=0).repeat(zoom, axis=1)
    if image.shape[2] == 1:
        image = image.repeat(3, axis=2)
    return image


def write_video(frames, outdir, name, fps, fmt='mp4'):
    """Writes `frames` (an iterable of uint8 [H, W, 3], all one size) into outdir as `name.mp4`, `name.gif`
    (playing at fps, looping) or `name%06d.png` from 0; returns the paths written. MP4 and PNG frames stream;
    a GIF holds all frames in memory (Pillow keeps them to delta-encode): meant for short, small sequences."""
    if fmt not in FORMATS:
        raise ValueError(f'video format {fmt!r}: expected one of {", ".join(FORMATS)}')
    os.makedirs(outdir, exist_ok=True)
    if fmt == 'png':
        paths = []
        for idx, frame in enumerate(frames):
            paths.append(os.path.join(outdir, f'{name}{idx:06d}.png'))
            image_utils.save_png(frame, paths[-1])
        return paths
    path = os.path.join(outdir, f'{name}.{fmt}')
    if fmt == 'gif':
        pil_frames = [image_utils.to_pil_image(frame) for frame in frames]
        image_utils.save_atomic(path, lambda tmp: pil_frames[0].save(
            tmp, format='GIF', save_all=True, append_images=pil_frames[1:], duration=1000.0 / fps, loop=0),
            suffix='.gif')
        return [path]
    imageio = _imageio()

    def write(tmp):
        # macro_block_size=2: yuv420p needs even sizes; imageio's default 16 would rescale 8 px ProGAN frames.
        with imageio.get_writer(tmp, format='FFMPEG', mode='I', fps=fps, codec='libx264', bitrate='16M',
                                macro_block_size=2) as writer:
            for frame in frames:
                writer.append_data(np.ascontiguousarray(frame))
    image_utils.save_atomic(path, write, suffix='.mp4')
    return [path]


def read_video(path):
    """uint8 frames [N, H, W, 3] of an MP4 written by write_video (for checks and tests)."""
    reader = _imageio().get_reader(path, format='FFMPEG')
    try:
        return np.stack([frame for frame in reader])
    finally:
        reader.close()
