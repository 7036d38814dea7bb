"""Argument checks shared by the golden operator models (``golden_tflite*``).

Each check returns the checked value (converted where said) or raises ``TypeError`` (wrong
type or dtype) or ``ValueError`` (wrong shape or range) with a one-line message naming the
argument, as the golden model's contract asks.
"""

import numbers

import numpy as np

__all__ = ["array_arg", "pair_arg", "vector_arg", "zero_point_arg"]


def array_arg(name, x, dtype, ndim):
    """``x`` itself if it is a numpy array of ``dtype`` with ``ndim`` dimensions."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy {np.dtype(dtype)} array, not {type(x).__name__}")
    if x.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, not {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, not of shape {x.shape}")
    return x


def pair_arg(name, v):
    """``(v, v)`` for a positive int, or a pair of positive ints as a tuple."""
    t = (v, v) if isinstance(v, numbers.Integral) else tuple(v)
    if len(t) != 2 or any(not isinstance(i, numbers.Integral) or i < 1 for i in t):
        raise ValueError(f"{name} must be a positive int or a pair of them, not {v!r}")
    return tuple(int(i) for i in t)


def vector_arg(name, x, dtype, n):
    """``x`` itself if it is a 1-D numpy array of ``dtype`` and length ``n``."""
    array_arg(name, x, dtype, 1)
    if x.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), not {x.shape}")
    return x


def zero_point_arg(name, v):
    """``int(v)`` if it is an int8 zero point (in [-128, 127]); ``name`` starts the message."""
    v = int(v)
    if not -128 <= v <= 127:
        raise ValueError(f"{name} must lie in [-128, 127], not {v}")
    return v
