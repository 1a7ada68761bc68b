"""Plain-NumPy versions of ndpool's public functions: the test oracle and benchmark baseline.

Each function takes the same arguments and raises the same errors as its ndpool twin, but
finds its windows independently of the compiled kernels.  Written to be read first.
"""

from ._window import avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d

__all__ = ["avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d"]
