"""Field decoding of IEEE 754 bit patterns (plain expressions used inside elaborate())."""

from dataclasses import dataclass

from amaranth.hdl import Cat, Mux, Value

__all__ = ["FloatFields", "decode"]


@dataclass(frozen=True)
class FloatFields:
    """The parts of one IEEE 754 value.

    ``exp_eff`` is the biased exponent with subnormals and zero counted as 1, and ``mant`` the
    significand with its hidden bit, so that the value is ``mant * 2**(exp_eff - bias - frac_bits)``
    for every finite input.
    """

    sign: Value
    exp: Value
    frac: Value
    exp_eff: Value
    mant: Value
    is_zero: Value
    is_inf: Value
    is_nan: Value


def decode(x, exp_bits, frac_bits):
    """Split the bit pattern ``x`` of a format with the given field widths."""
    frac = x[:frac_bits]
    exp = x[frac_bits:frac_bits + exp_bits]
    exp_max = (1 << exp_bits) - 1
    nonzero_exp = exp != 0
    return FloatFields(
        sign=x[frac_bits + exp_bits],
        exp=exp,
        frac=frac,
        exp_eff=Mux(nonzero_exp, exp, 1),
        mant=Cat(frac, nonzero_exp),
        is_zero=~nonzero_exp & (frac == 0),
        is_inf=(exp == exp_max) & (frac == 0),
        is_nan=(exp == exp_max) & (frac != 0),
    )
