"""The comparison behind the "resumed == uninterrupted" and "N replicas == 1" tests."""
import numpy as np


def assert_same_weights(a, b, err_msg=''):
    """Equal up to the last bits of float32: the same run resumed, or split over replicas or workers.

    With op determinism repeated runs on this machine agree bit for bit, yet CI once saw the last bits (up to
    2.4e-7) of a third of the weights differ between a resumed and an uninterrupted run in one test process.
    Adam divides by sqrt(v), which blows such differences up where a gradient is nearly zero, so the absolute
    tolerance follows the tensor's largest entry. A wrong resume (optimizer state, randomness, data position
    or schedule) is off by orders of magnitude more."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 + 1e-5 * float(np.abs(b).max(initial=0)), err_msg=err_msg)
