"""The fixed-point primitives (dure.sim.golden_fixedpoint) against a pure-Python statement of the
C code with unbounded integers, on edge values and random samples; plus the geometry and the
quantization-parameter helpers on hand-checked values."""

import math

import numpy as np
import pytest
from dure.sim import golden_fixedpoint as gf
from dure.sim import golden_tflite_params as gp
from dure.sim.golden_padding import conv_output_size, conv_padding

I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1


# --- the C code, statement by statement, in Python integers --------------------------------

def c_div(a, b):
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_wrap32(v):
    """Store to int32_t on a two's complement machine."""
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def ref_srdhm(a, b):
    overflow = a == b == I32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = c_div(ab + nudge, 1 << 31)
    return I32_MAX if overflow else c_wrap32(high)


def ref_rdbpot(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def ref_mbqm(x, m, shift):
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return ref_rdbpot(ref_srdhm(c_wrap32(x * (1 << left)), m), right)


def ref_mbqm_single(x, m, shift):
    total = 31 - shift
    return c_wrap32((x * m + (1 << (total - 1))) >> total)


EDGES = [I32_MIN, I32_MIN + 1, -(2 ** 30) - 1, -(2 ** 30), -(2 ** 16), -3, -2, -1, 0, 1, 2, 3,
         2 ** 16, 2 ** 30, 2 ** 30 + 1, I32_MAX - 1, I32_MAX]


def _sample(rng, n):
    mags = rng.integers(0, 32, n)
    v = rng.integers(0, 2 ** 31, n) >> (31 - mags)
    v = np.where(rng.random(n) < 0.5, -v, v)
    return [int(t) for t in v] + EDGES


def test_srdhm_edges_and_saturation():
    assert int(gf.saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN)) == I32_MAX
    assert int(gf.saturating_rounding_doubling_high_mul(I32_MIN, I32_MAX)) == -I32_MAX
    # Exact halves go toward +infinity (nudge 1 - 2**30 for negatives): 0.5 -> 1, -0.5 -> 0,
    # -1.5 -> -1; others to nearest (+/-0.75 -> +/-1).
    assert int(gf.saturating_rounding_doubling_high_mul(1, 2 ** 30)) == 1
    assert int(gf.saturating_rounding_doubling_high_mul(-1, 2 ** 30)) == 0
    assert int(gf.saturating_rounding_doubling_high_mul(-3, 2 ** 30)) == -1
    assert int(gf.saturating_rounding_doubling_high_mul(3, 2 ** 29)) == 1
    assert int(gf.saturating_rounding_doubling_high_mul(-3, 2 ** 29)) == -1
    a = np.array(EDGES)[:, None]
    b = np.array(EDGES)[None, :]
    got = gf.saturating_rounding_doubling_high_mul(a, b)
    want = [[ref_srdhm(x, y) for y in EDGES] for x in EDGES]
    assert got.dtype == np.int32 and got.tolist() == want


def test_srdhm_random_against_big_integers():
    rng = np.random.default_rng(1)
    a, b = _sample(rng, 3000), _sample(rng, 3000)
    got = gf.saturating_rounding_doubling_high_mul(np.array(a), np.array(b)).tolist()
    assert got == [ref_srdhm(x, y) for x, y in zip(a, b, strict=True)]


@pytest.mark.parametrize("exponent", [0, 1, 2, 5, 16, 30, 31])
def test_rounding_divide_by_pot(exponent):
    rng = np.random.default_rng(exponent)
    xs = _sample(rng, 2000)
    if exponent:
        half = 1 << (exponent - 1)     # ties: +/- (k + 1/2) * 2**exponent
        xs += [t for t in (half, -half, 3 * half, -3 * half, I32_MIN + half)
               if I32_MIN <= t <= I32_MAX]
    got = gf.rounding_divide_by_pot(np.array(xs), exponent).tolist()
    assert got == [ref_rdbpot(x, exponent) for x in xs]
    if exponent:
        # Ties go away from zero, everything else to nearest.
        assert int(gf.rounding_divide_by_pot(half, exponent)) == 1
        assert int(gf.rounding_divide_by_pot(-half, exponent)) == -1
    assert int(gf.rounding_divide_by_pot(I32_MIN, 31)) == -1
    assert int(gf.rounding_divide_by_pot(I32_MAX, 31)) == 1


def test_rounding_divide_by_pot_rejects_bad_exponents():
    with pytest.raises(ValueError):
        gf.rounding_divide_by_pot(5, 32)
    with pytest.raises(ValueError):
        gf.rounding_divide_by_pot(5, -1)


@pytest.mark.parametrize("shift", [-31, -20, -8, -1, 0, 1, 3, 7, 31])
def test_multiply_by_quantized_multiplier(shift):
    rng = np.random.default_rng(shift + 40)
    xs = _sample(rng, 1500)
    ms = [int(m) for m in rng.integers(2 ** 30, 2 ** 31, len(xs))]
    ms[:4] = [0, 2 ** 30, I32_MAX, 1]
    got = gf.multiply_by_quantized_multiplier(np.array(xs), np.array(ms), shift).tolist()
    assert got == [ref_mbqm(x, m, shift) for x, m in zip(xs, ms, strict=True)]
    if shift <= 0:
        got = gf.multiply_by_quantized_multiplier_smaller_than_one_exp(
            np.array(xs), np.array(ms), shift).tolist()
        assert got == [ref_mbqm(x, m, shift) for x, m in zip(xs, ms, strict=True)]


@pytest.mark.parametrize("shift", [-31, -12, -1, 0, 1, 7, 30])
def test_multiply_by_quantized_multiplier_single_rounding(shift):
    rng = np.random.default_rng(shift + 90)
    xs = _sample(rng, 1500)
    ms = [int(m) for m in rng.integers(2 ** 30, 2 ** 31, len(xs))]
    got = gf.multiply_by_quantized_multiplier_single_rounding(np.array(xs), np.array(ms),
                                                             shift).tolist()
    assert got == [ref_mbqm_single(x, m, shift) for x, m in zip(xs, ms, strict=True)]
    # Ties go toward +infinity: (k + 1/2) -> k + 1 and -(k + 1/2) -> -k.
    if -30 <= shift <= 0:
        x = 1 << -shift            # x * 2**30 / 2**(31 - shift) = 1/2
        assert int(gf.multiply_by_quantized_multiplier_single_rounding(x, 2 ** 30, shift)) == 1
        assert int(gf.multiply_by_quantized_multiplier_single_rounding(-x, 2 ** 30, shift)) == 0


def test_the_two_rounding_forms_differ_only_near_ties():
    # -10 * 0.25 = -2.5: the doubling high multiply is exact (-5), then the rounding shift
    # sends the half away from zero (-3); the single rounding sends it toward +infinity (-2).
    m, s = gf.quantize_multiplier(0.25)
    assert (m, s) == (2 ** 30, -1)
    assert int(gf.multiply_by_quantized_multiplier(-10, m, s)) == -3
    assert int(gf.multiply_by_quantized_multiplier_single_rounding(-10, m, s)) == -2
    assert int(gf.multiply_by_quantized_multiplier(10, m, s)) == 3
    assert int(gf.multiply_by_quantized_multiplier_single_rounding(10, m, s)) == 3


def ref_quantize_multiplier(d):
    """QuantizeMultiplier with exact rationals for the TfLiteRound step."""
    if d == 0:
        return 0, 0
    q, shift = math.frexp(d)
    v = q * 2 ** 31
    r = math.floor(abs(v) + 0.5)
    q_fixed = r if v >= 0 else -r
    if q_fixed == 2 ** 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def test_quantize_multiplier_corner_cases():
    assert gf.quantize_multiplier(0.0) == (0, 0)
    assert gf.quantize_multiplier(1.0) == (2 ** 30, 1)
    assert gf.quantize_multiplier(0.5) == (2 ** 30, 0)
    assert gf.quantize_multiplier(0.75) == (3 * 2 ** 29, 0)
    # q * 2**31 rounds up to 2**31: the significand halves and the shift grows.
    just_below_one = 1.0 - 2.0 ** -40
    assert gf.quantize_multiplier(just_below_one) == (2 ** 30, 1)
    # A tie in TfLiteRound goes away from zero: q * 2**31 = k + 1/2.
    d = (2 ** 30 + 0.5) / 2 ** 31
    assert gf.quantize_multiplier(d) == (2 ** 30 + 1, 0)
    # shift < -31 flushes to zero; -31 itself is kept.
    assert gf.quantize_multiplier(2.0 ** -33) == (0, 0)
    assert gf.quantize_multiplier(2.0 ** -32) == (2 ** 30, -31)
    assert gf.quantize_multiplier(3.0e9) == ref_quantize_multiplier(3.0e9)
    with pytest.raises(ValueError):
        gf.quantize_multiplier(float("inf"))


def test_quantize_multiplier_random():
    rng = np.random.default_rng(5)
    for d in np.exp2(rng.uniform(-40, 20, 3000)):
        assert gf.quantize_multiplier(float(d)) == ref_quantize_multiplier(float(d))
        m, s = gf.quantize_multiplier(float(d))
        if m:
            assert 2 ** 30 <= m < 2 ** 31
            assert abs(m * 2.0 ** (s - 31) - d) <= d * 2.0 ** -31


def test_tflite_round_is_half_away_from_zero():
    assert [gf.tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, -1.4)] == \
        [1, 2, 3, -1, -3, 0, -1]
    assert gf.tflite_round(np.float32(0.49999997)) == 0


def test_activation_ranges():
    assert gp.activation_range_int8("NONE", 0.1, 5) == (-128, 127)
    assert gp.activation_range_int8("RELU", 0.1, -128) == (-128, 127)
    assert gp.activation_range_int8("RELU", 0.1, 5) == (5, 127)
    assert gp.activation_range_int8("RELU6", 0.1, -128) == (-128, -68)
    assert gp.activation_range_int8("RELU6", 0.05, 0) == (0, 120)
    assert gp.activation_range_int8("RELU_N1_TO_1", 0.01, 0) == (-100, 100)
    # 6 / 0.0471 = 127.39 -> 127; the division is float32.
    assert gp.activation_range_int8(gp.FusedActivation.RELU6, 0.0471, -128) == (-128, -1)
    # 6 / 0.048 = 125 in float32? tie-free; the float32 quotient decides.
    q = np.float32(6.0) / np.float32(0.048)
    assert gp.activation_range_int8("RELU6", 0.048, 0) == (0, min(127, gf.tflite_round(q)))


def test_add_params():
    p = gp.add_params(0.5, 0.25, 0.5)
    assert p.left_shift == 20
    assert (p.input1_multiplier, p.input1_shift) == (2 ** 30, 0)       # 0.5 / 1.0
    assert (p.input2_multiplier, p.input2_shift) == (2 ** 30, -1)      # 0.25 / 1.0
    assert (p.output_multiplier, p.output_shift) == gf.quantize_multiplier(1.0 / (2 ** 20 * 0.5))
    with pytest.raises(ValueError):
        gp.add_params(1.0, 1.0, 1e-9)            # real_out >= 1 is refused, as by TFLite


def test_conv_multipliers_broadcast_and_precision():
    m, s = gp.conv_multipliers(0.5, 0.25, 1.0, channels=3)
    assert m.tolist() == [2 ** 30] * 3 and s.tolist() == [-2] * 3
    xs, ws, ys = 0.1, np.float32(0.003), 0.7
    want = gf.quantize_multiplier(float(np.float32(xs)) * float(ws) / float(np.float32(ys)))
    m, s = gp.conv_multipliers(xs, [ws], ys)
    assert (int(m[0]), int(s[0])) == want


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_padding_matches_the_reference_formulas(padding):
    for size in range(1, 14):
        for k in range(1, 11):
            for s in (1, 2, 3):
                for d in (1, 2):
                    ext = (k - 1) * d + 1
                    if padding == "VALID" and ext > size:
                        with pytest.raises(ValueError):
                            conv_output_size(size, k, s, padding, d)
                        continue
                    out, before, after = conv_padding(size, k, s, padding, d)
                    want = -(-size // s) if padding == "SAME" else (size - ext) // s + 1
                    assert out == want
                    total = max(0, (out - 1) * s + ext - size)
                    assert before == (total // 2 if padding == "SAME" else 0)
                    assert before + size + after == (out - 1) * s + ext
                    if padding == "SAME":
                        assert after >= before or (out - 1) * s + ext - size < 0


def test_padding_examples():
    assert conv_padding(12, 3, 1, "SAME") == (12, 1, 1)
    assert conv_padding(12, 3, 2, "SAME") == (6, 0, 1)        # odd total: the extra goes after
    assert conv_padding(49, 10, 2, "SAME") == (25, 4, 5)      # DS-CNN's first layer (time axis)
    assert conv_padding(10, 4, 2, "SAME") == (5, 1, 1)
    assert conv_padding(6, 1, 2, "SAME") == (3, 0, -1)        # last row never read
    assert conv_padding(7, 3, 2, "VALID") == (3, 0, 0)
    assert conv_padding(8, 3, 2, "VALID") == (3, 0, -1)
