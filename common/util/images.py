"""Image utilities shared by training and the generate tools: float -> uint8 (the ProGAN and the StyleGAN2-ADA
rule), image grids, atomic PNG writing, and seed / range parsing for the command lines.

Images are NHWC (`[N, H, W, C]`) throughout; the official code's NCHW appears nowhere here.
"""
import re
import sys

import numpy as np
import PIL.Image

from common.util.files import save_atomic


def to_uint8_progan(x):
    """Floats in [-1, 1], any shape -> uint8, as the official ProGAN does (misc.convert_to_pil_image, and
    tfutil.Network.run with out_mul=out_add=127.5): x*127.5 + 127.5 in float32, rounded half to even, clipped.

    The scale and bias are computed as misc.adjust_dynamic_range computes them, in float32, so that values
    landing on .5 round exactly as in the official tools."""
    x = np.asarray(x, np.float32)
    scale = (np.float32(255) - np.float32(0)) / (np.float32(1) - np.float32(-1))
    bias = np.float32(0) - np.float32(-1) * scale
    return np.rint(x * scale + bias).clip(0, 255).astype(np.uint8)


def to_uint8_ada(x):
    """Floats in [-1, 1], any shape -> uint8, as StyleGAN2-ADA's generate.py does:
    (x*127.5 + 128).clamp(0, 255).to(uint8), which truncates toward zero."""
    x = np.asarray(x, np.float32)
    return np.clip(x * np.float32(127.5) + np.float32(128), 0, 255).astype(np.uint8)


def create_image_grid(images, grid_size=None):
    """images [N, H, W, C] or [N, H, W] -> one image [gh*H, gw*W, C] (or [gh*H, gw*W]), row-major: image i goes to
    column i % gw, row i // gw; unused cells stay zero. `grid_size` = (gw, gh); None picks the official
    near-square layout, gw = ceil(sqrt(N)). As misc.create_image_grid, in NHWC."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f'create_image_grid: expected images [N, H, W, C] or [N, H, W], got shape {images.shape}')
    num, img_h, img_w = images.shape[:3]
    if grid_size is not None:
        grid_w, grid_h = (int(v) for v in grid_size)
        if grid_w < 1 or grid_h < 1 or grid_w * grid_h < num:
            raise ValueError(f'create_image_grid: grid {grid_w}x{grid_h} cannot hold {num} images')
    else:
        grid_w = max(int(np.ceil(np.sqrt(num))), 1)
        grid_h = max((num - 1) // grid_w + 1, 1)
    grid = np.zeros([grid_h * img_h, grid_w * img_w] + list(images.shape[3:]), dtype=images.dtype)
    for idx in range(num):
        x = (idx % grid_w) * img_w
        y = (idx // grid_w) * img_h
        grid[y:y + img_h, x:x + img_w] = images[idx]
    return grid


def to_pil_image(image):
    """uint8 [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] -> PIL image (L, RGB or RGBA)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f'expected a uint8 image, got {image.dtype} (convert with to_uint8_progan or to_uint8_ada)')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f'expected an image [H, W] or [H, W, C] with C in 1, 3, 4, got shape {image.shape}')
    return PIL.Image.fromarray(image, {2: 'L', 3: 'RGB', 4: 'RGBA'}[image.ndim if image.ndim == 2 else image.shape[2]])


def save_png(image, path):
    """Writes a uint8 image [H, W] or [H, W, C] as a PNG, atomically."""
    pil = to_pil_image(image)
    save_atomic(path, lambda tmp: pil.save(tmp, format='PNG'), suffix='.png')


_RANGE_RE = re.compile(r'^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$')


def parse_range(spec, what='range', minimum=None, maximum=None):
    """'0-3,7' -> [0, 1, 2, 3, 7]: comma-separated integers or inclusive a-b ranges, in the order written.
    Raises ValueError naming `what` for anything else, for a-b with b < a, or for values outside
    [minimum, maximum] where given."""
    if isinstance(spec, (list, tuple)):
        spec = ','.join(str(s) for s in spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f'{what}: expected integers or ranges like "0-3,7", got {spec!r}')
    values = []
    for part in spec.split(','):
        m = _RANGE_RE.match(part)
        if not m:
            raise ValueError(f'{what}: cannot parse {part.strip()!r} in {spec!r}; '
                             f'expected integers or ranges like "0-3,7"')
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else int(m.group(2))
        if hi < lo:
            raise ValueError(f'{what}: range {part.strip()!r} in {spec!r} ends before it starts')
        if (minimum is not None and lo < minimum) or (maximum is not None and hi > maximum):
            raise ValueError(f'{what}: {part.strip()!r} in {spec!r} is outside {minimum}..{maximum}')
        values.extend(range(lo, hi + 1))
    return values


def parse_seeds(spec):
    """'0-3,7' -> [0, 1, 2, 3, 7]; seeds are what np.random.RandomState accepts, 0 .. 2**32 - 1."""
    return parse_range(spec, what='seeds', minimum=0, maximum=2 ** 32 - 1)


def make_labels(num_classes, num, class_idx=None):
    """Labels [num, num_classes]: one-hot `class_idx` for a conditional network, empty for an unconditional one."""
    labels = np.zeros([num, num_classes], np.float32)
    if num_classes == 0:
        if class_idx is not None:
            print('warning: --class_idx ignored: unconditional network', file=sys.stderr)
        return labels
    if class_idx is None:
        raise ValueError(f'conditional network: pass --class_idx (0 to {num_classes - 1})')
    if not 0 <= class_idx < num_classes:
        raise ValueError(f'--class_idx={class_idx}: the network has {num_classes} classes (0 to {num_classes - 1})')
    labels[:, class_idx] = 1
    return labels


def seed_latents(seed, latent_size):
    """z [1, latent_size] of one seed: float64 randn, then float32 (official generate tools)."""
    return np.random.RandomState(seed).randn(1, latent_size).astype(np.float32)
