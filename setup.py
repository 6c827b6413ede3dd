"""Installs the TF2/Keras port of Progressive GAN and StyleGAN2."""
from setuptools import setup

setup(
    name='tf2-pggan-stylegan2',
    version='0.1.0',
    description='TensorFlow 2 / Keras port of NVIDIA Progressive GAN and StyleGAN2',
    python_requires='>=3.10',
    packages=['common', 'common.util', 'common.ops', 'common.training', 'common.metrics', 'data', 'flags', 'pggan', 'stylegan2', 'benchmarks'],
    py_modules=['train'],
    package_data={'data': ['embedded/*.gz', 'embedded/LICENSE*']},
    include_package_data=True,
    install_requires=[
        'tensorflow>=2.16',   # Keras 3
        'tensorboard',        # tensorflow-cpu does not bring it; tf.summary needs it
        'numpy',
        'pillow',
        'absl-py',
        'tensorflow-datasets',
        'tqdm',
        'scipy',              # MS-SSIM (FFT convolutions), as the official metrics
    ],
    extras_require={
        # MP4 videos (interpolation, projector progress): imageio-ffmpeg's wheel ships the ffmpeg binary.
        'video': ['imageio', 'imageio-ffmpeg'],
        'test': ['pytest', 'pytest-timeout', 'pytest-xdist', 'imageio', 'imageio-ffmpeg'],
    },
)
