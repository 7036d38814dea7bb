"""dure.sim.fc_exact_store: the finite check finds every accumulator where the STORE and
LiteRT's double rescale of FULLY_CONNECTED differ (brute force over whole ranges agrees), and
the parameters it picks are exact on the reachable range."""

import numpy as np
import pytest
from dure.rtl.npu.commands import RequantMode
from dure.sim import fc_exact_store as fx
from dure.sim.golden_double_rescale import add_int32_wrapping, scale_round_int32
from dure.sim.golden_fixedpoint import quantize_multiplier
from dure.sim.golden_requant_tflite import requantize_tflite

SINGLE, DOUBLE = RequantMode.TFLITE_SINGLE_ROUNDING, RequantMode.TFLITE_DOUBLE_ROUNDING
#: Session 19's knife edge (tests/sim/test_golden_tflite.py): Q0.31 multiplier 1092903130,
#: shift -19; single rounding gives 56 where LiteRT gives 57.
KNIFE_SCALE = 0.1671888679265976 * float(np.float32(0.0038431561551988125)) / 661.9321899414062


def _brute(s, mode, m, shift, acc_lo, acc_hi, zp, lo, hi):
    acc = np.arange(acc_lo, acc_hi + 1, dtype=np.int64)
    ref = np.clip(add_int32_wrapping(scale_round_int32(acc, s), zp), lo, hi)
    got = requantize_tflite(acc.astype(np.int32), m, shift, zp, lo, hi,
                            single_rounding=mode is SINGLE)
    return acc[got != ref]


@pytest.mark.parametrize("seed", range(6))
def test_the_check_finds_what_brute_force_finds(seed):
    """Scales from 2**-30 (windows of thousands) to above 1, tampered multipliers (many
    mismatches), exact halves (power-of-two scales), both modes, random clamps and zero points:
    the finite candidate set holds exactly the mismatches of the whole range."""
    rng = np.random.default_rng(seed)
    found = 0
    for i in range(12):
        s = float(2.0 ** rng.uniform(-30, 1)) if i % 4 else 2.0 ** -int(rng.integers(1, 12))
        m, shift = quantize_multiplier(s)
        m += int(rng.choice([0, 0, 1, -1, 7, -40]))
        zp = int(rng.integers(-128, 128))
        lo = int(rng.integers(-128, 0))
        hi = int(rng.integers(lo, 128))
        span = min(int(300 / s), 1_000_000)
        centre = int(rng.integers(-span, span + 1))
        acc_lo, acc_hi = centre - span // 2, centre + span // 2
        for mode in (SINGLE, DOUBLE):
            want = _brute(s, mode, m, shift, acc_lo, acc_hi, zp, lo, hi)
            got = fx.store_mismatches(s, mode, m, shift, acc_lo, acc_hi, zp, lo, hi)
            assert got is not None and got.tolist() == want.tolist(), (s, mode, m, shift)
            found += want.size
    assert found > 0            # the tampered multipliers and halves do differ somewhere


def test_knife_edge_is_found_and_fixed():
    m, shift = quantize_multiplier(KNIFE_SCALE)
    assert (m, shift) == (1092903130, -19)
    lo_acc, hi_acc = -58205850, -58205830
    bad = fx.store_mismatches(KNIFE_SCALE, SINGLE, m, shift, lo_acc, hi_acc, 0)
    assert bad.tolist() == [-58205840]
    mode, ms, shifts = fx.exact_fc_store([KNIFE_SCALE], [lo_acc], [hi_acc], 0)
    assert mode is SINGLE and shifts.tolist() == [-19] and ms[0] != m
    assert _brute(KNIFE_SCALE, mode, int(ms[0]), -19, lo_acc, hi_acc, 0, -128, 127).size == 0


def test_exact_halves_are_fixed():
    """Scale 1/4: single rounding with QuantizeMultiplier's 2**30 sends -1.5 to -1 (LiteRT -2);
    a slightly larger multiplier pushes every half away from zero on a bounded range."""
    m, shift = quantize_multiplier(0.25)
    assert fx.store_mismatches(0.25, SINGLE, m, shift, -1000, 1000, 0).size > 0
    mode, ms, shifts = fx.exact_fc_store([0.25], [-1000], [1000], 0)
    assert int(ms[0]) > m
    assert _brute(0.25, mode, int(ms[0]), int(shifts[0]), -1000, 1000, 0, -128, 127).size == 0


def test_reachable_range():
    w = np.array([[1, -2, 3], [0, 0, 0]], np.int8)
    lo, hi = fx.reachable_acc_range(w, np.array([10, -5], np.int32), input_zero_point=-28)
    # x - zp in [-100, 155]: row 0 min = 1*-100 + -2*155 + 3*-100 = -710, max = 155 + 200 + 465
    assert lo.tolist() == [10 - 710, -5] and hi.tolist() == [10 + 820, -5]


def test_unverifiable_ranges_are_refused():
    # |acc * s| reaches 2**29: not covered, so the layer is refused with the channel named
    with pytest.raises(fx.NotExact, match="channel 1"):
        fx.exact_fc_store([0.01, 0.5], [-100, -2 ** 31], [100, 2 ** 31 - 1], 0)
    assert fx.store_mismatches(0.5, SINGLE, 1 << 30, 0, 0, 2 ** 31 - 1, 0) is None


def test_tiny_scales_and_far_ranges():
    """A scale below 2**-32 (QuantizeMultiplier flushes it to 0: the STORE gives the zero
    point, as LiteRT does since every int32 accumulator rescales below 1/2), one just above
    (shift -31, windows of thousands over the whole int32 range), and a channel whose range
    lies far from every boundary (no candidates)."""
    mode, ms, shifts = fx.exact_fc_store([2.0 ** -33], [-2 ** 31], [2 ** 31 - 1], 3)
    assert ms.tolist() == [0]
    mode, ms, shifts = fx.exact_fc_store([2.0 ** -31.5], [-2 ** 31], [2 ** 31 - 1], 3)
    assert ms[0] > 0 and shifts.tolist() == [-31]
    m, shift = quantize_multiplier(1e-3)
    assert fx.store_mismatches(1e-3, SINGLE, m, shift, 10 ** 6, 2 * 10 ** 6, 0).size == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
def test_whole_output_range_against_brute_force(seed):
    """Scales near 2**-19 (knife edges every few tens of millions of accumulators): every
    accumulator whose output is not saturated (1.3e8 of them), brute force against the check
    (session 20 found 0 to 6 knife edges per scale, always the same as the check)."""
    rng = np.random.default_rng(seed)
    s = float(2e-6 * 2 ** rng.uniform(-1, 1))
    m, shift = quantize_multiplier(s)
    a = int(130 / s)
    want = []
    for lo in range(-a, a, 1 << 24):
        want += _brute(s, SINGLE, m, shift, lo, min(lo + (1 << 24), a) - 1, 0, -128,
                       127).tolist()
    assert fx.store_mismatches(s, SINGLE, m, shift, -a, a - 1, 0).tolist() == want
