"""Devices and speed: replicas, machines, TPUs, XLA, mixed precision, profiling.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
