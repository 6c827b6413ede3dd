"""The training schedule: minibatch sizes, learning rates, resolution growth, tick length, the Gs average.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
