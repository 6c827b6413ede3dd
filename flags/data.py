"""Training data: the dataset, its labels, how it is read and augmented.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
