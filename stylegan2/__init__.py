"""StyleGAN2 (Karras et al., CVPR 2020) and StyleGAN2-ADA networks in TensorFlow 2 / Keras.

Its loader is imported on first use (`from stylegan2 import load_network` works as before), so that the light
`stylegan2.options`, which train.py's flags are derived from, does not bring in TensorFlow.
"""
_LOADING = ('NetworkLoadError', 'Networks', 'load_network')


def __getattr__(name):
    if name in _LOADING:
        from stylegan2 import loading
        return getattr(loading, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
