"""StyleGAN2-ADA: adaptive discriminator augmentation (ada-pytorch's flags, names and semantics).

A --help section of train.py: its flags are declared with their options and defined by flags/__init__.py."""
