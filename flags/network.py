"""Network architecture (official G_paper / D_paper and G_main / D_stylegan2 arguments).

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
