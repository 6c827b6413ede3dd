"""Progressive GAN (Karras et al., ICLR 2018) in TensorFlow 2 / Keras.

Its loader is imported on first use (`from pggan import load_network` works as before), so that the light
`pggan.options`, which train.py's flags are derived from, does not bring in TensorFlow.
"""
_LOADING = ('NetworkLoadError', 'Networks', 'load_network')


def __getattr__(name):
    if name in _LOADING:
        from pggan import loading
        return getattr(loading, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
