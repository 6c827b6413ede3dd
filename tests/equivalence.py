"""The comparison behind the "resumed == uninterrupted" tests."""
import numpy as np


def assert_same_weights(a, b, err_msg=''):
    """Equal up to the last bits of float32. With op determinism repeated runs on this machine agree bit for
    bit, yet CI once saw the last bits (up to 2.4e-7) of a third of the weights differ between a resumed and
    an uninterrupted run in one test process. A wrong resume (optimizer state, randomness, data position or
    schedule) is off by orders of magnitude more than this tolerance."""
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=err_msg)
