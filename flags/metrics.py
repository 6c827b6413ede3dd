"""Metrics and monitoring (common/metrics, common/training/tensorboard.py).

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
