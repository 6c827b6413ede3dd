"""Projection of an image into the W space of a StyleGAN2 generator: the official projector.

  python -m stylegan2.project --network=NET --target=IMG --outdir=DIR [--num_steps=1000] [--seed=303]
                              [--save_video [--gif]] [--save_steps] [--vgg16=vgg16_zhang_perceptual.pkl]

As `projector.py` of NVlabs/stylegan2-ada-pytorch (and `Projector` of NVlabs/stylegan2, whose TF graph it
ports): w_avg and w_std from the mapping of 10000 z (RandomState(123)); one w, broadcast to all layers, and
the noise inputs are optimized with Adam (betas 0.9, 0.999) under the official learning-rate ramp (up over
the first 5 %, cosine down over the last 25 %, peak 0.1); w gets gaussian noise of w_std x 0.05 ramped
to 0 over the first 75 % of the steps; the loss is the LPIPS distance plus 1e5 x the multi-scale noise
autocorrelation penalty; the noise maps are renormalized to zero mean and unit variance after each step.
The target is center-cropped, resized to the network resolution with Lanczos, and compared in [0, 255];
the synthesized image is scaled to [0, 255] and area-downsampled to 256 px if larger.

LPIPS is the VGG-16 network NVIDIA ships as `vgg16_zhang_perceptual.pkl` (TF) / `vgg16.pt` (TorchScript),
read from a local copy (--vgg16 or $STYLEGAN2_VGG16; nothing is downloaded). Without it the projection
runs with a pixel-space MSE instead, and says so on stderr.

Writes into outdir: `target.png` (the resized target), `proj.png` (the projection), `projected_w.npz`
(`w` [1, num_ws, w_dim], as ada-pytorch; `python -m stylegan2.generate --projected_w=` renders it), and
`projected_noise.npz` (the optimized noise maps `noise%d`, [1, 1, s, s] like the network's buffers). With
--save_video, ada-pytorch's `proj.mp4`: target | projection side by side for every step, 10 fps, H.264 at
16 Mbit/s (needs the `video` extra: pip install -e ".[video]"), or `proj.gif` with --gif; with --save_steps
the same frames as `steps/step%04d.png`. --network may also be a run directory (its newest valid snapshot);
ada-pytorch's spellings --num-steps and --save-video (=true, =false) work too.

One departure: ada-pytorch renders proj.png and the video frames with the network's stored noise, because
its project() works on a deep copy and the optimized noise is dropped; we render with the optimized noise,
as the TF1 Projector does, since that is the image whose distance was minimized.
"""
import dataclasses
import os
import sys

import keras
import numpy as np
import PIL.Image
import tensorflow as tf
from absl import flags

from common import families
from common.util import cli
from common.util import images as image_utils
from common.util import video
from common.metrics.vgg16 import VGG16_URL, load_vgg16_perceptual
from stylegan2.loading import NetworkLoadError, load_network

VGG16_ENV = 'STYLEGAN2_VGG16'


@dataclasses.dataclass(frozen=True)
class ProjectorOptions:
    """Official defaults of both projectors."""
    num_steps: int = 1000
    w_avg_samples: int = 10000              # z samples for the W midpoint and spread.
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05      # Noise added to w at step 0, in units of w_std.
    lr_rampdown_length: float = 0.25        # Fraction of the steps for the cosine ramp down.
    lr_rampup_length: float = 0.05          # Fraction of the steps for the linear ramp up.
    noise_ramp_length: float = 0.75         # Fraction of the steps over which the w noise goes to 0.
    regularize_noise_weight: float = 1e5


def learning_rate(step, options):
    """Official learning rate at `step` (0-based) of options.num_steps."""
    t = step / options.num_steps
    lr_ramp = min(1.0, (1.0 - t) / options.lr_rampdown_length)
    lr_ramp = 0.5 - 0.5 * np.cos(lr_ramp * np.pi)
    lr_ramp = lr_ramp * min(1.0, t / options.lr_rampup_length)
    return options.initial_learning_rate * lr_ramp


def w_noise_scale(step, w_std, options):
    """Official std of the gaussian noise added to w at `step`: quadratic ramp down to 0."""
    t = step / options.num_steps
    return w_std * options.initial_noise_factor * max(0.0, 1.0 - t / options.noise_ramp_length) ** 2


def noise_regularization(noises):
    """Official penalty on noise maps [1, s, s, 1]: squared mean autocorrelation with a one-pixel shift along
    x and along y, summed over the map and its 2x2 box-downscaled versions down to 8 px."""
    reg_loss = 0.0
    for noise in noises:
        while True:
            reg_loss += tf.reduce_mean(noise * tf.roll(noise, shift=1, axis=2)) ** 2
            reg_loss += tf.reduce_mean(noise * tf.roll(noise, shift=1, axis=1)) ** 2
            if noise.shape[1] <= 8:
                break
            noise = tf.nn.avg_pool2d(noise, 2, 2, 'VALID')
    return reg_loss


def normalize_noise(noise_vars):
    """Official post-step renormalization of each noise map to zero mean and unit variance."""
    for var in noise_vars:
        centered = var - tf.reduce_mean(var)
        var.assign(centered * tf.math.rsqrt(tf.reduce_mean(tf.square(centered))))


def compute_w_stats(Gs, num_samples):
    """w_avg [1, 1, w_dim] and the scalar w_std of the mapping of num_samples z ~ RandomState(123)."""
    z = np.random.RandomState(123).randn(num_samples, Gs.z_dim)
    w = np.concatenate([Gs.mapping(tf.constant(z[i:i + 1000], tf.float32))[:, :1, :].numpy()
                        for i in range(0, num_samples, 1000)])                      # [N, 1, w_dim]
    w_avg = np.mean(w, axis=0, keepdims=True)
    w_std = float((np.sum((w - w_avg) ** 2) / num_samples) ** 0.5)
    return w_avg.astype(np.float32), w_std


# --------------------------------------------------------------------------------------------------------
# Distances. Each maps images [N, H, W, C] in [0, 255] to features once, so that the target's are computed
# a single time, and features of two batches to distances [N].

class PixelDistance:
    """Fallback distance without the VGG weights: mean squared difference of the images in [0, 1] units
    (about the size of LPIPS values, so the official noise-regularization weight keeps its balance)."""

    def features(self, images):
        return [tf.cast(images, tf.float32) * (1.0 / 255)]

    def distance(self, features_a, features_b):
        return tf.reduce_mean(tf.square(features_a[0] - features_b[0]), axis=[1, 2, 3])


def resolve_vgg16_path(flag_value):
    """The VGG16 pickle path from --vgg16, else $STYLEGAN2_VGG16, else None. A named file must exist."""
    for path, source in ((flag_value, '--vgg16'), (os.environ.get(VGG16_ENV), f'${VGG16_ENV}')):
        if path:
            if not os.path.isfile(path):
                raise ValueError(f'{source}={path}: no such file')
            return path
    return None


def make_distance(vgg16_path):
    """VGG16Perceptual from the pickle, or the pixel fallback (with a one-line notice on stderr) for None."""
    if vgg16_path is None:
        print(f'notice: no VGG16 weights (--vgg16 or ${VGG16_ENV}): projecting with pixel MSE instead of LPIPS; '
              f'for the official distance download vgg16_zhang_perceptual.pkl ({VGG16_URL}) and pass its path',
              file=sys.stderr)
        return PixelDistance()
    return load_vgg16_perceptual(vgg16_path)


# --------------------------------------------------------------------------------------------------------
# Target and outputs.

def read_target(path):
    """The target image file as a PIL image, fully decoded. Raises ValueError for anything unreadable."""
    if not os.path.isfile(path):
        raise ValueError(f'--target={path}: no such file')
    try:
        image = PIL.Image.open(path)
        image.load()
    except (OSError, SyntaxError, ValueError) as e:  # PIL.UnidentifiedImageError is an OSError.
        raise ValueError(f'--target={path}: not a readable image ({e.__class__.__name__})')
    return image


def prepare_target(image, resolution, channels):
    """PIL image -> uint8 [R, R, C]: center square crop, Lanczos resize to the network resolution (official)."""
    if channels not in (1, 3):
        raise ValueError(f'the network makes {channels}-channel images; projection needs 1 (L) or 3 (RGB)')
    image = image.convert('RGB' if channels == 3 else 'L')
    w, h = image.size
    s = min(w, h)
    image = image.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    image = image.resize((resolution, resolution), PIL.Image.Resampling.LANCZOS)
    return np.asarray(image, np.uint8).reshape(resolution, resolution, channels)


def to_uint8_projector(images):
    """Synthesis [.., C] in [-1, 1] -> uint8 as the ada-pytorch projector: (x + 1) * 255/2, clamped, truncated
    (not generate.py's x * 127.5 + 128)."""
    return np.clip((np.asarray(images, np.float32) + 1) * (255 / 2), 0, 255).astype(np.uint8)


def _to_vgg_input(images):
    """Images [N, R, R, C] in [0, 255] -> [N, r, r, 3], r = min(R, 256): area downsampling (VGG was built for
    224 px; F.interpolate 'area' in ada-pytorch, a box mean in TF1), grayscale tiled to RGB."""
    factor = images.shape[1] // 256
    if factor > 1:
        images = tf.nn.avg_pool2d(images, factor, factor, 'VALID')
    if images.shape[-1] == 1:
        images = tf.tile(images, [1, 1, 1, 3])
    return images


# --------------------------------------------------------------------------------------------------------
# The projection.

@dataclasses.dataclass
class Projection:
    w_steps: np.ndarray      # [num_steps, w_dim]: w after each step (official w_out, before broadcasting).
    noise: list              # Optimized noise maps, [1, s, s, 1] each.
    dists: np.ndarray        # [num_steps]: distance at each step (with that step's w noise).
    losses: np.ndarray       # [num_steps]: distance + weighted noise regularization.


def synthesize(Gs, w, noise):
    """w [N, w_dim] broadcast to all layers, noise maps [1, s, s, 1] -> images [N, R, R, C] in [-1, 1]."""
    ws = tf.tile(tf.cast(w, tf.float32)[:, None, :], [1, Gs.num_ws, 1])
    return Gs.synthesis(ws, noise=list(noise) if Gs.synthesis.noise_sizes else None)


def project(Gs, target, distance, options=ProjectorOptions(), seed=303, verbose=False):
    """Optimizes w and the noise maps so that Gs's image matches target (uint8 [R, R, C] at the network
    resolution) under `distance` (VGG16Perceptual or PixelDistance). Returns a Projection."""
    if Gs.c_dim:
        raise ValueError('conditional networks cannot be projected (the official projector maps z without labels)')
    if tuple(target.shape) != (Gs.img_resolution, Gs.img_resolution, Gs.img_channels):
        raise ValueError(f'target shape {list(target.shape)}, expected '
                         f'{[Gs.img_resolution, Gs.img_resolution, Gs.img_channels]}')
    rng = np.random.RandomState(seed)
    w_avg, w_std = compute_w_stats(Gs, options.w_avg_samples)
    if verbose:
        print(f'W midpoint and stddev from {options.w_avg_samples} samples: std = {w_std:g}')

    w_opt = tf.Variable(w_avg[:, 0, :], name='w_opt')                      # [1, w_dim]
    noise_vars = [tf.Variable(rng.randn(1, s, s, 1).astype(np.float32), name=f'noise{i}')
                  for i, s in enumerate(Gs.synthesis.noise_sizes)]
    variables = [w_opt] + noise_vars
    optimizer = keras.optimizers.Adam(learning_rate=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    optimizer.build(variables)
    target_features = distance.features(_to_vgg_input(tf.constant(target[None], tf.float32)))

    @tf.function
    def step_fn(w_noise, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            synth = (synthesize(Gs, w_opt + w_noise, noise_vars) + 1) * (255 / 2)
            dist = tf.reduce_sum(distance.distance(distance.features(_to_vgg_input(synth)), target_features))
            loss = dist + noise_regularization(noise_vars) * options.regularize_noise_weight
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        normalize_noise(noise_vars)
        return dist, loss

    w_steps, dists, losses = [], [], []
    for step in range(options.num_steps):
        w_noise = rng.randn(*w_opt.shape).astype(np.float32) * w_noise_scale(step, w_std, options)
        dist, loss = step_fn(tf.constant(w_noise), tf.constant(learning_rate(step, options), tf.float32))
        w_steps.append(w_opt.numpy()[0])
        dists.append(float(dist))
        losses.append(float(loss))
        if verbose and ((step + 1) % 10 == 0 or step + 1 == options.num_steps):
            print(f'step {step + 1:>4d}/{options.num_steps}: dist {dists[-1]:<4.4g} loss {losses[-1]:<5.4g}')
    return Projection(np.stack(w_steps), [v.numpy() for v in noise_vars], np.array(dists), np.array(losses))


def progress_frames(Gs, projection, target, batch=8):
    """Yields uint8 frames [R, 2R, C]: target | projection after each step (the official video's layout)."""
    for begin in range(0, len(projection.w_steps), batch):
        images = to_uint8_projector(synthesize(Gs, projection.w_steps[begin:begin + batch], projection.noise))
        for image in images:
            yield np.concatenate([target, image], axis=1)


def write_outputs(Gs, projection, target, outdir, save_video=False, save_steps=False, video_format='mp4'):
    """Writes the files listed in the module doc (the video as `proj.<video_format>`, mp4 or gif); returns
    their paths."""
    os.makedirs(outdir, exist_ok=True)
    paths = [os.path.join(outdir, name) for name in ('target.png', 'proj.png', 'projected_w.npz',
                                                     'projected_noise.npz')]
    image_utils.save_png(target, paths[0])
    w = projection.w_steps[-1:]
    image_utils.save_png(to_uint8_projector(synthesize(Gs, w, projection.noise))[0], paths[1])
    ws = np.repeat(w[:, None, :], Gs.num_ws, axis=1)                                  # [1, num_ws, w_dim]
    image_utils.save_atomic(paths[2], lambda tmp: np.savez(tmp, w=ws), suffix='.npz')
    noise = {f'noise{i}': n.transpose(0, 3, 1, 2) for i, n in enumerate(projection.noise)}  # Buffer layout.
    image_utils.save_atomic(paths[3], lambda tmp: np.savez(tmp, **noise), suffix='.npz')
    if save_steps:
        os.makedirs(os.path.join(outdir, 'steps'), exist_ok=True)
        for step, frame in enumerate(progress_frames(Gs, projection, target)):
            paths.append(os.path.join(outdir, 'steps', f'step{step + 1:04d}.png'))
            image_utils.save_png(frame, paths[-1])
    if save_video:
        frames = (video.video_frame(frame) for frame in progress_frames(Gs, projection, target))
        paths += video.write_video(frames, outdir, 'proj', 10, video_format)    # ada-pytorch: 10 fps.
    return paths


# --------------------------------------------------------------------------------------------------------
# Command line.

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Official StyleGAN2 / StyleGAN2-ADA pickle (.pkl, .pkl.xz), snapshot directory, '
                    'or run directory (its newest valid snapshot).', flag_values=FLAGS)
flags.DEFINE_string('target', None, 'Target image file to project.', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to write the outputs (created if missing).', flag_values=FLAGS)
flags.DEFINE_integer('num_steps', 1000, 'Number of optimization steps.', lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer('seed', 303, 'Seed of the noise initialization and the w noise.', flag_values=FLAGS)
flags.DEFINE_bool('save_video', False, 'Write proj.mp4: target | projection at every step, 10 fps.',
                  flag_values=FLAGS)
flags.DEFINE_bool('gif', False, 'With --save_video: write proj.gif instead of proj.mp4.', flag_values=FLAGS)
flags.DEFINE_bool('save_steps', False, 'Write the same frames as steps/step%04d.png.', flag_values=FLAGS)
flags.DEFINE_string('vgg16', None, f'vgg16_zhang_perceptual.pkl for the LPIPS distance (default: ${VGG16_ENV}; '
                    f'without either, pixel MSE).', flag_values=FLAGS)
flags.DEFINE_alias('num-steps', 'num_steps', flag_values=FLAGS)    # ada-pytorch's spellings.
flags.DEFINE_alias('save-video', 'save_video', flag_values=FLAGS)


def main():
    F = FLAGS
    if not F.network or not F.target or not F.outdir:
        raise ValueError('--network, --target and --outdir are required (see --help)')
    target_image = read_target(F.target)
    fmt = video.video_format(gif=F.gif) if F.save_video else None     # Before minutes of optimization.
    distance = make_distance(resolve_vgg16_path(F.vgg16))
    Gs = families.load_tool_network(load_network, F.network, 'project').Gs
    target = prepare_target(target_image, Gs.img_resolution, Gs.img_channels)
    projection = project(Gs, target, distance, ProjectorOptions(num_steps=F.num_steps), seed=F.seed, verbose=True)
    for path in write_outputs(Gs, projection, target, F.outdir, F.save_video, F.save_steps, fmt):
        print(f'Wrote {path}')


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    return cli.run_tool(main, FLAGS, argv, __doc__, errors=(NetworkLoadError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
