"""Bit-level helpers of the golden model: bit views, canonical NaNs, fp32 -> fp16, input checks.

Part of :mod:`dure.sim.golden` (which re-exports the public names); kept apart so that each file
holds one concept. Everything here is plain numpy and follows the numeric contract in
docs/numerics.md.
"""

import numbers

import numpy as np

__all__ = [
    "F16_CANONICAL_NAN", "F32_CANONICAL_NAN", "F64_CANONICAL_NAN",
    "bits", "canonicalize_nan", "to_fp16",
]

#: Canonical quiet NaN of binary16 (sign 0, exponent all ones, only the quiet bit set).
F16_CANONICAL_NAN = 0x7E00
#: Canonical quiet NaN of binary32.
F32_CANONICAL_NAN = 0x7FC0_0000
#: Canonical quiet NaN of binary64 (not produced by the NPU; for completeness of the helpers).
F64_CANONICAL_NAN = 0x7FF8_0000_0000_0000

_CANONICAL = {
    np.dtype(np.float16): (np.uint16, F16_CANONICAL_NAN),
    np.dtype(np.float32): (np.uint32, F32_CANONICAL_NAN),
    np.dtype(np.float64): (np.uint64, F64_CANONICAL_NAN),
}

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(x):
    """The integer bit patterns of an array, for bit-exact comparisons.

    Parameters
    ----------
    x : numpy.ndarray or numpy scalar
        Any integer or floating-point array (float16/32/64, int8..int64, uint8..uint64).

    Returns
    -------
    numpy.ndarray
        A new array of the unsigned integer type of the same width (``float16 -> uint16``,
        ``float32 -> uint32``, ``int8 -> uint8``, ...), same shape, holding the raw bits.
        ``-0.0`` and ``+0.0`` differ, and every NaN payload is visible: compare NaNs after
        :func:`canonicalize_nan`.

    Raises
    ------
    TypeError
        If ``x`` is not a numpy array or scalar of an integer or floating-point dtype.
    """
    if not isinstance(x, (np.ndarray, np.generic)):
        raise TypeError(f"bits() needs a numpy array or scalar, not {type(x).__name__}")
    if x.dtype.kind not in "iuf" or x.dtype.itemsize not in _UNSIGNED:
        raise TypeError(f"bits() needs an integer or float dtype, not {x.dtype}")
    return np.array(x, copy=True).view(_UNSIGNED[x.dtype.itemsize])


def canonicalize_nan(x):
    """Replace every NaN by the format's canonical quiet NaN.

    Parameters
    ----------
    x : numpy.ndarray or numpy scalar
        float16, float32 or float64.

    Returns
    -------
    numpy.ndarray
        A new array of the same dtype and shape: NaNs become ``0x7E00`` (float16),
        ``0x7FC00000`` (float32) or ``0x7FF8000000000000`` (float64), positive sign, no payload;
        every other value is untouched (bit for bit).

    Raises
    ------
    TypeError
        If ``x`` is not a numpy float16, float32 or float64 array or scalar.
    """
    if not isinstance(x, (np.ndarray, np.generic)) or x.dtype not in _CANONICAL:
        got = x.dtype if isinstance(x, (np.ndarray, np.generic)) else type(x).__name__
        raise TypeError(f"canonicalize_nan() needs a float16/32/64 numpy array, not {got}")
    uint, canonical = _CANONICAL[x.dtype]
    out = np.array(x, copy=True)
    out.view(uint)[np.isnan(out)] = canonical
    return out


def to_fp16(x):
    """Convert binary32 to binary16 as the NPU's output stage does.

    Round to nearest, ties to even; magnitudes that round beyond 65504 become +/-Inf (so
    65519.996 -> 65504 but 65520 -> Inf); results below the normal range are kept as subnormals
    (no flush to zero), and values below half the smallest subnormal (2**-25) round to a zero
    of the same sign (2**-25 itself is a tie and goes to the even zero). Signed zeros and
    infinities keep their sign. Any NaN becomes the canonical quiet NaN ``0x7E00``.
    This is numpy's ``astype(np.float16)`` plus NaN canonicalisation.

    Parameters
    ----------
    x : numpy.ndarray or numpy.float32
        float32 values, any shape.

    Returns
    -------
    numpy.ndarray
        float16, same shape.

    Raises
    ------
    TypeError
        If ``x`` is not float32.
    """
    _require_float32("x", x)
    check_fpu()
    with np.errstate(all="ignore"):   # overflow to Inf is the contract, not a warning
        out = np.asarray(x).astype(np.float16)
    return canonicalize_nan(out)


# --- shared input checks (used by dure.sim.golden) -------------------------------------------

def check_fpu():
    """Raise RuntimeError if this thread's FPU flushes subnormals (FTZ or DAZ set).

    The contract keeps subnormals; a library that switched on flush-to-zero in this process
    would silently change results, so every floating-point entry point checks first.
    """
    tiny = np.array([2.0 ** -126, 2.0 ** -149], dtype=np.float32)
    got = (tiny * np.float32(0.5) + np.float32(0.0)).view(np.uint32)
    if got[0] != 0x0040_0000 or got[1] != 0x0000_0000 or (tiny + np.float32(0.0))[1] == 0:
        raise RuntimeError("the FPU flushes subnormals (FTZ/DAZ set); the golden model "
                           "needs IEEE subnormal arithmetic")


def require_array(name, x, dtype, ndims):
    """Check that ``x`` is a numpy array of ``dtype`` with a number of dimensions in ``ndims``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy {np.dtype(dtype)} array, "
                        f"not {type(x).__name__}")
    if x.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, not {x.dtype}")
    if x.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be {want}, not of shape {x.shape}")
    return x


def _require_float32(name, x):
    if not isinstance(x, (np.ndarray, np.float32)) or x.dtype != np.float32:
        got = x.dtype if isinstance(x, (np.ndarray, np.generic)) else type(x).__name__
        raise TypeError(f"{name} must be float32, not {got}")


def channel_vector(name, x, n, kind):
    """A per-channel parameter: a scalar or a 1-D array of length ``n``, as a 1-D array.

    ``kind`` is ``"scale"`` (float32, finite; Python int/float scalars are rounded to float32 RNE)
    or ``"int8"`` (integer values in [-128, 127]; any integer dtype or Python int).
    """
    if kind == "scale":
        if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_, np.generic)):
            with np.errstate(all="ignore"):
                x = np.float32(x)
        if not isinstance(x, (np.ndarray, np.generic)) or x.dtype != np.float32:
            got = x.dtype if isinstance(x, (np.ndarray, np.generic)) else type(x).__name__
            raise TypeError(f"{name} must be float32 (scalar or shape ({n},)), not {got}")
    else:
        if isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_)):
            x = np.int64(x)
        if not isinstance(x, (np.ndarray, np.generic)) or x.dtype.kind not in "iu":
            got = x.dtype if isinstance(x, (np.ndarray, np.generic)) else type(x).__name__
            raise TypeError(f"{name} must be an integer (scalar or shape ({n},)), not {got}")
    x = np.asarray(x)
    if x.ndim == 0:
        x = np.full(n, x, dtype=x.dtype)
    elif x.shape != (n,):
        raise ValueError(f"{name} must be a scalar or of shape ({n},), not {x.shape}")
    if kind == "scale":
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} must be finite (no NaN or Inf)")
        return x.astype(np.float32)
    if np.any(x < -128) or np.any(x > 127):
        raise ValueError(f"{name} must lie in [-128, 127] (int8), got {x.min()}..{x.max()}")
    return x.astype(np.int32)


def int_bound(name, x):
    """An int8 clamp bound: a Python or numpy integer in [-128, 127]."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {type(x).__name__}")
    if not -128 <= int(x) <= 127:
        raise ValueError(f"{name} must lie in [-128, 127], not {int(x)}")
    return int(x)


def float_bound(name, x):
    """A float clamp bound: None, or a real scalar rounded to float32 (RNE), not NaN."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.floating)):
        raise TypeError(f"{name} must be a real number or None, not {type(x).__name__}")
    with np.errstate(all="ignore"):
        value = np.float32(x)
    if np.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value
