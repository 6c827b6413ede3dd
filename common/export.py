"""Writing a generator's inference functions for serving: as a TensorFlow SavedModel, and as a TFLite flatbuffer
with the same signatures.

The functions are traced with the plain forward forms of our convolutions (common.ops.conv.inference_ops), so the
SavedModel holds no custom gradients and loads without a warning per function (`unsaved custom gradients`;
SaveOptions(experimental_custom_gradients=False) alone leaves one for each function that uses them).
"""
import os
import re
import tempfile

import keras
import tensorflow as tf

from common.ops import conv
from common.util.files import replace_dir_atomically, save_atomic


def serving_function(fn, input_signature):
    """tf.function(fn, input_signature), tracing fn with common.ops.conv.inference_ops."""
    def traced(*args):
        with conv.inference_ops():
            return fn(*args)
    return tf.function(traced, input_signature=input_signature)


def serving_module(network, functions, name, **state):
    """A tf.Module to save: `functions` ({attribute: tf.function}) and `state` ({attribute: tf.Variable}) as its
    attributes, and every variable of the Keras `network` as a plain tf.Variable in the list `weights`.

    It holds the variables, not the Keras network: a tracked Keras model adds to the SavedModel an extra trace
    of its own call (`serving_default`, with custom gradients) for itself and each sub-model (saved_model.pb of
    the 32 px test Gs: 1.0 MB, 0.49 MB without), and TF 2.21's TFLite converter reads garbage for the Keras 3
    variables so tracked. Tracking both would store every weight twice.
    """
    module = tf.Module(name=name)
    module.weights = [v.value if isinstance(v, keras.Variable) else v for v in network.variables]
    for key, value in {**functions, **state}.items():
        setattr(module, key, value)
    return module


def save_savedmodel(module, signatures, outdir, overwrite=False):
    """tf.saved_model.save(module, ...) written atomically to outdir; returns its absolute path."""
    return replace_dir_atomically(lambda tmp: tf.saved_model.save(module, tmp, signatures=signatures), outdir,
                                  overwrite)


def write_tflite(module, signatures, path, overwrite=False):
    """Converts `signatures` ({key: tf.function of `module` with an input signature}) into one TFLite model at
    `path` (atomically), with the variables frozen to constants; returns the path. The converter reads the
    SavedModel of `module`, written to a temporary directory (converting the concrete functions keeps no
    signature names)."""
    path = os.path.abspath(path)
    if os.path.lexists(path) and not overwrite:
        raise ValueError(f'{path} already exists (pass --overwrite to replace it)')
    if os.path.isdir(path):
        raise ValueError(f'{path} is a directory; refusing to replace it')
    with tempfile.TemporaryDirectory(prefix='tflite-export-') as tmp:
        tf.saved_model.save(module, tmp, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(signatures))
        try:
            data = converter.convert()
        except Exception as e:  # tf.lite's ConverterError is not public; its message spans many lines.
            raise ValueError(f'TFLite conversion failed: {_converter_errors(e)}') from e
    os.makedirs(os.path.dirname(path), exist_ok=True)

    def write(tmp_path):
        with open(tmp_path, 'wb') as f:
            f.write(data)
    save_atomic(path, write, suffix='.tflite')
    return path


def _converter_errors(e):
    """The gist of the converter's multi-page report: its `error:` lines without their source locations, and the
    TensorFlow ops it lacks."""
    lines = [re.sub(r'^loc\(.*\)\s*:\s*', '', line.split('error:', 1)[1].strip()) for line in str(e).splitlines()
             if 'error:' in line]
    lines = [line for line in lines if not line.startswith('failed while converting')]
    lines += [line.strip() for line in str(e).splitlines() if line.startswith('TF Select ops:')]
    return '; '.join(dict.fromkeys(lines)) or ' '.join(str(e).split()) or type(e).__name__


def output_name(network, suffix):
    """The network's own name with `suffix`: network-snapshot-000140/ -> network-snapshot-000140<suffix>,
    foo.pkl.xz -> foo<suffix>."""
    name = os.path.basename(os.path.normpath(network))
    for ending in ('.xz', '.pkl'):
        name = name[:-len(ending)] if name.endswith(ending) else name
    return name + suffix
