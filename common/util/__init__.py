"""The bottom layer of common/: files written atomically, command-line plumbing, the restricted unpickler,
snapshots, images, FLOP counting and the sampler interface. Imports nothing else of the project."""
