"""The run: model family and preset, where it is written, how long it trains, snapshots, resume, faults.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
