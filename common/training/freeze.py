"""Freeze-D and FreezeG: the first layers of a network kept fixed during training.

A frozen layer's variables are left out of its network's optimizer: they stay bit-identical, while every loss
(and R1, a gradient with respect to the reals) still flows through them. ada-pytorch does the same by making
them buffers (training/networks.py, DiscriminatorBlock `freeze_layers`, `first_layer_idx`).
"""
import re

from common.util.cli import OptionsError

# The official scope names of both families' discriminators: `<res>x<res>/<layer>`, or ProGAN's (and StyleGAN's)
# `FromRGB_lod<k>`, which feeds the block at resolution 2^(resolution_log2 - k).
_BLOCK_LAYER = re.compile(r'(\d+)x\d+/(FromRGB|Conv0|Conv1_down|Conv1|Skip)')
_LOD_FROMRGB = re.compile(r'FromRGB_lod(\d+)')
# ada-pytorch's order of the layers within a DiscriminatorBlock (its constructor's trainable_iter).
_ORDER_IN_BLOCK = {'FromRGB': 0, 'Conv0': 1, 'Conv1_down': 2, 'Conv1': 2, 'Skip': 3}


def discriminator_layers(layers_by_scope, resolution_log2):
    """D's layers in ada-pytorch's Freeze-D order: from the highest-resolution block down, each block's FromRGB
    (where it has one), Conv0, Conv1 (down), Skip (where it has one). The 4x4 epilogue (its Conv, Dense and,
    with skip, FromRGB) is not counted, as ada-pytorch's DiscriminatorEpilogue is not."""
    entries = []
    for scope, layer in layers_by_scope.items():
        block = _BLOCK_LAYER.fullmatch(scope)
        lod = _LOD_FROMRGB.fullmatch(scope)
        if block:
            res, kind = int(block.group(1)), block.group(2)
        elif lod:
            res, kind = 2 ** (resolution_log2 - int(lod.group(1))), 'FromRGB'
        else:
            continue
        if res >= 8:
            entries.append((-res, _ORDER_IN_BLOCK[kind], scope, layer))
    return [(scope, layer) for _, _, scope, layer in sorted(entries)]


def trainable_variables(variables, layers, frozen, flag):
    """`variables` without those of the first `frozen` of `layers` ([(scope, layer)] in freeze order); an
    OptionsError naming `flag` if there are fewer layers than that."""
    if frozen > len(layers):
        raise OptionsError(f'--{flag}={frozen}: the network has only {len(layers)} layers that can be frozen '
                           f'({", ".join(scope for scope, _ in layers)})')
    fixed = {id(v) for _, layer in layers[:frozen] for v in layer.trainable_weights}
    return [v for v in variables if id(v) not in fixed]


def trained_variables(G, G_layers, D, opts, resolution_log2):
    """(G's, D's) variables for their optimizers: all but those of --freezeG (the first of `G_layers`, the
    {scope: layer} of G's synthesis network in the order they run; a mapping network always trains) and
    --freezed (D's first, in Freeze-D order)."""
    return (trainable_variables(G.trainable_variables, list(G_layers.items()), opts.freezeG, 'freezeG'),
            trainable_variables(D.trainable_variables, discriminator_layers(D.layers_by_scope, resolution_log2),
                                opts.freezed, 'freezed'))
