"""The network ops: equalized-learning-rate layers, pixelnorm, minibatch stddev, fade-in, convolutions with
forward-convolution gradients, FIR resampling, mixed precision, augmentation. Imports common.util only."""
