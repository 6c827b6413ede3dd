"""G_main of NVlabs/stylegan2 (and StyleGAN2-ADA): the mapping network, then the synthesis network of
configs e/f (`stylegan2/networks.py`) or of the growing configs b-d (`stylegan2/networks_progressive.py`).
A module of its own because it needs both synthesis networks, and the progressive one builds on networks.py."""
import tensorflow as tf

from common.ops.layers import refuse_unknown
from common.ops.resample import DEFAULT_KERNEL
from stylegan2.networks import SYNTHESIS_FUNCS, Mapping, Synthesis, _check_choice, _ScopedModel
from stylegan2.networks_progressive import RevisedSynthesis


def synthesis_lod(G, lod):
    """The synthesis keyword for G(..., lod=lod): a growing synthesis network (configs a-d, networks_progressive.py)
    renders at `lod` (None = its `lod` state), as ProGAN's G does. One that does not grow (configs e, f) renders
    at lod 0 only, as the official G_main, whose `lod` those networks never read, always holds 0: lod 0 is
    accepted, any other raises ValueError."""
    if lod is None:
        return {}
    if hasattr(G.synthesis, 'lod'):
        return {'lod': lod}
    value = tf.get_static_value(lod)
    if value is None or float(value) != 0:
        shown = 'a tensor' if value is None else f'{float(value):g}'
        raise ValueError(f'lod={shown}: {G.name} does not grow (configs e, f: {type(G.synthesis).__name__}); '
                         f'it renders at lod 0 only')
    return {}


class Generator(_ScopedModel):
    """G: z [N, latent_size], c [N, label_size] -> images [N, R, R, num_channels] in about [-1, 1].

    `G.mapping` and `G.synthesis` are the official components; `num_ws`, `z_dim`, `w_dim`, `c_dim` as in
    ada-pytorch. Constructor arguments are the official ones (TF1 StyleGAN2 names and defaults).
    """

    def __init__(self,
                 latent_size=512,            # Latent vector (z) dimensionality.
                 label_size=0,               # Label dimensionality, 0 if no labels.
                 dlatent_size=512,           # Disentangled latent (w) dimensionality.
                 num_channels=3,             # Number of output color channels.
                 resolution=1024,            # Output resolution.
                 mapping_layers=8,           # Number of mapping layers.
                 mapping_fmaps=512,          # Hidden mapping activations; None = dlatent_size (ADA default).
                 mapping_lrmul=0.01,         # Learning rate multiplier for the mapping layers.
                 mapping_nonlinearity='lrelu',  # Mapping activation function.
                 normalize_latents=True,     # Normalize z before the mapping layers?
                 label_layout='stylegan2',   # 'stylegan2' (LabelConcat) or 'ada' (LabelEmbed); see module doc.
                 label_fmaps=None,           # ADA label embedding size; None = latent_size.
                 fmap_base=16 << 10,         # Overall multiplier for the number of feature maps.
                 fmap_decay=1.0,             # log2 feature map reduction when doubling the resolution.
                 fmap_min=1,                 # Minimum number of feature maps in any layer.
                 fmap_max=512,               # Maximum number of feature maps in any layer.
                 fmap_const=None,            # Feature maps of the constant input (ADA); None = nf(1).
                 use_noise=True,             # Enable noise inputs (ADA)?
                 randomize_noise=False,      # Default noise mode: True = 'random', False = 'const'.
                 architecture='skip',        # Synthesis architecture: 'orig', 'skip' or 'resnet'.
                 nonlinearity='lrelu',       # Synthesis activation function.
                 resample_kernel=DEFAULT_KERNEL,  # Low-pass FIR filter for resampling.
                 fused_modconv=True,         # Official grouped-conv switch: the same function.
                 conv_clamp=None,            # Clamp conv outputs (ADA); None = off.
                 num_fp16_res=0,             # Low precision for the N highest resolutions (ADA).
                 fp16_dtype='float16',       # Their dtype: 'float16', 'bfloat16' or None (float32 after all).
                 dlatent_avg_beta=0.995,     # Training: decay of the moving average of w.
                 style_mixing_prob=0.9,      # Training: probability of style mixing regularization.
                 synthesis_func='G_synthesis_stylegan2',  # Or 'G_synthesis_stylegan_revised' (configs b-d).
                 name='G', **unknown):
        super().__init__(name=name)
        refuse_unknown('G_main', unknown)
        _check_choice('synthesis_func', synthesis_func, SYNTHESIS_FUNCS)
        synthesis_class = RevisedSynthesis if synthesis_func == 'G_synthesis_stylegan_revised' else Synthesis
        synthesis_kwargs = dict(
            dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution, fmap_base=fmap_base,
            fmap_decay=fmap_decay, fmap_min=fmap_min, fmap_max=fmap_max, fmap_const=fmap_const, use_noise=use_noise,
            randomize_noise=randomize_noise, architecture=architecture, nonlinearity=nonlinearity,
            resample_kernel=resample_kernel, fused_modconv=fused_modconv, conv_clamp=conv_clamp,
            **({'num_fp16_res': num_fp16_res, 'fp16_dtype': fp16_dtype} if num_fp16_res else {}))
        if synthesis_class is RevisedSynthesis:  # It has none of these (configs b-d): only their defaults pass.
            for key, default in (('architecture', 'skip'), ('conv_clamp', None), ('fmap_const', None), ('use_noise', True)):
                if synthesis_kwargs[key] == default:
                    del synthesis_kwargs[key]
        self.synthesis = synthesis_class(**synthesis_kwargs, name='synthesis')
        self.mapping = Mapping(
            latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size, num_ws=self.synthesis.num_ws,
            mapping_layers=mapping_layers, mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul,
            mapping_nonlinearity=mapping_nonlinearity, normalize_latents=normalize_latents,
            label_layout=label_layout, label_fmaps=label_fmaps, name='mapping')
        self.kwargs = dict(latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size,
                           mapping_layers=mapping_layers, mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul,
                           mapping_nonlinearity=mapping_nonlinearity, normalize_latents=normalize_latents,
                           label_layout=label_layout, label_fmaps=label_fmaps,
                           dlatent_avg_beta=dlatent_avg_beta, style_mixing_prob=style_mixing_prob,
                           **{k: v for k, v in self.synthesis.kwargs.items() if k != 'dlatent_size'})
        if synthesis_func != SYNTHESIS_FUNCS[0]:  # Only when set: e/f kwargs stay as they were.
            self.kwargs['synthesis_func'] = synthesis_func
        self.num_ws, self.z_dim, self.w_dim, self.c_dim = self.synthesis.num_ws, latent_size, dlatent_size, label_size
        self.img_resolution, self.img_channels = resolution, num_channels
        self.dlatent_avg_beta, self.style_mixing_prob = dlatent_avg_beta, style_mixing_prob
        self(tf.zeros([1, latent_size]), tf.zeros([1, label_size]))

    def call(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None, noise_mode=None, noise=None, lod=None):
        """z [N, latent_size], c [N, label_size] -> images [N, R, R, num_channels] (float32, NHWC).
        noise_mode, noise: see Synthesis.call. lod: see synthesis_lod."""
        if c is None:
            c = tf.zeros([tf.shape(z)[0], self.c_dim])
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, noise=noise, **synthesis_lod(self, lod))
