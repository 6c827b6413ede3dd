"""What both model families share: layers, the training engine, metrics, snapshots and file formats.

Every tool and train.py import this package before TensorFlow: its C++ log level is set here, once.
"""
from common.util.cli import quiet_tensorflow_logs

quiet_tensorflow_logs()
