"""Transfer learning: training from a published network (--resume=FILE.pkl), its schedule position, Freeze-D.

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
