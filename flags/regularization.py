"""Regularization: R1 and path length (StyleGAN2), lazily or every step.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
