"""ELTWISE (opcode 6) on the reference validator and the command model: every refusal code,
a refused command touching nothing, the ADD / MAX lanes against the golden operators
(-128 inputs and zero points, saturation, FP16 NaN / Inf / subnormal / signed zeros) and the
MAC lanes (per row and ``reduce``) against Python integers."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import EltwiseOp, ErrorCode, Opcode, Precision
from dure.rtl.npu.descriptor import encode
from dure.sim.golden_fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp
from dure.sim.golden_tflite_params import add_params
from dure.sim.npu_model import (
    NpuModel,
    eltwise_add_int8,
    eltwise_mac_fp16,
    eltwise_mac_int8,
    eltwise_max,
)
from dure.sim.npu_validate import validate

from dure.config import SoCConfig

E = ErrorCode
CFG = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32)   # L = 8, C = 8
BASE, SIZE = 0x4000_0000, 0x1000


def emax(**kw):
    fields = dict(op=EltwiseOp.MAX, precision=Precision.INT8, a_addr=0, acc_addr=0, m=4, n=8)
    fields.update(kw)
    return encode(Opcode.ELTWISE, **fields)


def eadd(**kw):
    fields = dict(op=EltwiseOp.ADD, precision=Precision.INT8, a_addr=0, b_addr=8, acc_addr=0,
                  m=4, n=8, mult_a=1 << 30, mult_b=(1 << 31) - 1, rshift_a=3, rshift_b=31,
                  zp_a=-128, zp_b=127)
    fields.update(kw)
    return encode(Opcode.ELTWISE, **fields)


def check(words, config=CFG):
    return validate(words, config, BASE, SIZE)


def test_eltwise_refusals():
    assert check(emax()) == E.NONE
    assert check(emax(precision=Precision.FP16, accumulate=1)) == E.NONE
    assert check(eadd()) == E.NONE
    assert check(emax(a_cols=2, a_rows=2, a_col_step=2, a_row_step=7)) == E.NONE
    # RESERVED: reserved bits, walk fields without a_cols, ADD-only fields in MAX, accumulate
    # in ADD
    for word, bit in ((0, 9), (0, 12), (3, 21), (3, 29), (4, 16)):
        words = emax()
        words[word] |= 1 << bit
        assert check(words) == E.RESERVED, (word, bit)
    assert check(emax(a_rows=1)) == E.RESERVED
    assert check(emax(a_row_step=1)) == E.RESERVED
    for name in ("b_addr", "zp_a", "zp_b", "mult_a", "mult_b", "rshift_a", "rshift_b"):
        assert check(emax(**{name: 1})) == E.RESERVED, name
    assert check(eadd(accumulate=1)) == E.RESERVED
    # ZERO_DIM, DIM_TOO_LARGE
    assert check(emax(m=0)) == E.ZERO_DIM
    assert check(eadd(n=0)) == E.ZERO_DIM
    assert check(emax(a_cols=2, m=4)) == E.ZERO_DIM
    assert check(emax(n=9)) == E.DIM_TOO_LARGE
    # BAD_COMBINATION: FP16 ADD, FP16 without FP16, no unit, walk m mismatch
    assert check(eadd(precision=Precision.FP16)) == E.BAD_COMBINATION
    assert check(emax(precision=Precision.FP16),
                 dataclasses.replace(CFG, npu_fp16=False)) == E.BAD_COMBINATION
    assert check(emax(), dataclasses.replace(CFG, npu_eltwise=False)) == E.BAD_COMBINATION
    assert check(emax(a_cols=2, a_rows=3, m=4)) == E.BAD_COMBINATION
    # LOCAL_RANGE: A, B (same walk offsets), ACC
    assert check(emax(a_addr=60, m=4)) == E.NONE
    assert check(emax(a_addr=61, m=4)) == E.LOCAL_RANGE
    assert check(eadd(b_addr=60)) == E.NONE
    assert check(eadd(b_addr=61)) == E.LOCAL_RANGE
    assert check(eadd(a_addr=8, b_addr=0, a_cols=2, a_rows=2, a_col_step=1,
                      a_row_step=27)) == E.NONE                      # B's last row 28
    assert check(eadd(a_addr=0, b_addr=36, a_cols=2, a_rows=2, a_col_step=1,
                      a_row_step=27)) == E.LOCAL_RANGE               # B's last row 64
    assert check(emax(acc_addr=28)) == E.NONE
    assert check(emax(acc_addr=29)) == E.LOCAL_RANGE
    # never a DMA check: an empty window is fine
    assert validate(emax(), CFG, 0, 0) == E.NONE


def test_refused_eltwise_touches_nothing():
    model = NpuModel(CFG)
    model.spad[:] = 0x1234
    model.acc[:] = 0xDEAD_BEEF
    assert model.execute(emax(a_addr=61)) == E.LOCAL_RANGE
    assert model.execute(eadd(accumulate=1)) == E.RESERVED
    assert (model.acc == 0xDEAD_BEEF).all() and model.error == (E.LOCAL_RANGE, 0)
    assert model.done == 2


def golden_add_sum(a, b, params, z1, z2):
    """The two input rescalings of golden add_int8, summed (before the output stage)."""
    def s(x, z, m, sh):
        return multiply_by_quantized_multiplier_smaller_than_one_exp(
            (x.astype(np.int64) - z) << params.left_shift, m, sh).astype(np.int64)
    return s(a, z1, params.input1_multiplier, params.input1_shift) + \
        s(b, z2, params.input2_multiplier, params.input2_shift)


@pytest.mark.parametrize("scales", [(0.05, 0.07, 0.1), (0.5, 1e-7, 0.02), (1e-3, 1e-3, 1e-4)])
def test_add_lanes_equal_the_golden_rescalings(scales):
    params = add_params(*scales)
    v = np.arange(-128, 128, dtype=np.int8)
    a, b = np.repeat(v, 256), np.tile(v, 256)
    for z1, z2 in ((0, 0), (-128, 127), (127, -128), (5, -77)):
        got = eltwise_add_int8(a, b, z1, z2, params.input1_multiplier,
                               params.input2_multiplier, -params.input1_shift,
                               -params.input2_shift)
        assert np.array_equal(got, golden_add_sum(a, b, params, z1, z2))


def test_add_command_on_the_model_with_extreme_multipliers():
    """Any int32 multiplier (negative, INT32_MIN, 0) and every right shift 0..31."""
    rng = np.random.default_rng(3)
    model = NpuModel(CFG)
    model.acc[:] = 0xAAAA_AAAA
    a = rng.integers(-128, 128, (4, 8), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 8), dtype=np.int8)
    a[0, :3] = -128
    model.spad[0:4, :8] = a.astype(np.int16).view(np.uint16) | 0x5500   # bits 15:8 ignored
    model.spad[8:12, :8] = b.astype(np.int16).view(np.uint16)
    for mult_a, mult_b in ((-(1 << 31), 0), ((1 << 31) - 1, -12345), (1 << 30, 1 << 30)):
        for shift in (0, 1, 17, 31):
            words = eadd(mult_a=mult_a, mult_b=mult_b, rshift_a=shift, rshift_b=31 - shift,
                         n=7)
            assert model.execute(words) == E.NONE
            want = eltwise_add_int8(a, b, -128, 127, mult_a, mult_b, shift, 31 - shift)
            assert np.array_equal(model.acc[0:4, :7].view(np.int32), want[:, :7])
            assert (model.acc[0:4, 7] == 0xAAAA_AAAA).all()      # lanes >= n kept


def fp16_specials():
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6e-8, -6e-8, 65504.0, -65504.0, 1.0,
                     -1.0, 2.0 ** -14], np.float16)


def test_max_fp16_ieee_maximum_with_signed_zeros_and_nan():
    s = fp16_specials()
    x, y = np.repeat(s, s.size), np.tile(s, s.size)
    first = eltwise_max(np.zeros(x.size, np.uint32), x, Precision.FP16, False)
    got = eltwise_max(first, y, Precision.FP16, True).view(np.float32)
    xf, yf = x.astype(np.float32), y.astype(np.float32)
    nan = np.isnan(xf) | np.isnan(yf)
    assert (got.view(np.uint32)[nan] == 0x7FC0_0000).all()
    ok = ~nan
    assert np.array_equal(got[ok], np.maximum(xf, yf)[ok])
    zeros = ok & (xf == 0) & (yf == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(xf[zeros]) & np.signbit(yf[zeros]))
    assert first.view(np.uint32)[np.isnan(xf)].tolist() == [0x7FC0_0000] * s.size
    assert np.array_equal(first.view(np.float32)[~np.isnan(xf)].view(np.uint32),
                          xf[~np.isnan(xf)].view(np.uint32))


def test_max_command_walks_and_accumulates():
    rng = np.random.default_rng(9)
    model = NpuModel(CFG)
    model.spad[:, :] = rng.integers(0, 1 << 16, model.spad.shape, dtype=np.uint16)
    model.acc[:] = 0x1357_9BDF
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6, n=5)
    rows = [3, 5, 7, 13, 15, 17]
    assert model.execute(emax(acc_addr=4, **walk)) == E.NONE
    x8 = (model.spad[rows, :5] & 0xFF).astype(np.uint8).view(np.int8)
    assert np.array_equal(model.acc[4:10, :5].view(np.int32), x8.astype(np.int32))
    assert (model.acc[4:10, 5:] == 0x1357_9BDF).all()
    assert model.execute(emax(acc_addr=4, accumulate=1, **dict(walk, a_addr=4))) == E.NONE
    y8 = (model.spad[[r + 1 for r in rows], :5] & 0xFF).astype(np.uint8).view(np.int8)
    assert np.array_equal(model.acc[4:10, :5].view(np.int32),
                          np.maximum(x8, y8).astype(np.int32))
    assert model.macs == 0


def emac(**kw):
    fields = dict(op=EltwiseOp.MAX, mac=1, precision=Precision.INT8, a_addr=0, b_addr=20,
                  acc_addr=0, m=4, n=8)
    fields.update(kw)
    return encode(Opcode.ELTWISE, **fields)


def test_mac_refusals():
    assert check(emac()) == E.NONE
    assert check(emac(accumulate=1, reduce=1, a_cols=2, a_rows=2, a_col_step=3,
                      a_row_step=9)) == E.NONE
    assert check(emac(b_addr=63)) == E.NONE
    assert check(emac(b_addr=64)) == E.LOCAL_RANGE
    assert check(emac(acc_addr=29)) == E.LOCAL_RANGE               # acc_addr + m
    assert check(emac(acc_addr=31, reduce=1)) == E.NONE             # reduce: acc_addr only
    assert check(emac(acc_addr=32, reduce=1)) == E.LOCAL_RANGE
    for name in ("zp_a", "zp_b", "mult_a", "mult_b", "rshift_a", "rshift_b"):
        assert check(emac(**{name: 1})) == E.RESERVED, name
    assert check(emac(op=EltwiseOp.ADD)) == E.RESERVED             # MAC needs op = 0
    assert check(eadd(mac=1)) == E.RESERVED
    assert check(emax(reduce=1)) == E.RESERVED                     # reduce needs mac
    assert check(eadd(reduce=1)) == E.RESERVED
    assert check(emac(precision=Precision.FP16)) == E.NONE
    assert check(emac(accumulate=1, precision=Precision.FP16)) == E.NONE
    assert check(emac(reduce=1, precision=Precision.FP16)) == E.BAD_COMBINATION
    for name, value in (("npu_eltwise_fp16", False), ("npu_fp16", False)):
        config = dataclasses.replace(CFG, **{name: value})
        assert check(emac(precision=Precision.FP16), config) == E.BAD_COMBINATION, name
        assert check(emac(), config) == E.NONE, name
    assert check(emac(), dataclasses.replace(CFG, npu_eltwise=False)) == E.BAD_COMBINATION


def test_mac_lanes_against_python_integers():
    """Every int8 x int8 product, with and without an int32 init (wrapping at the edges)."""
    v = np.arange(-128, 128)
    x = np.repeat(v, 256).reshape(-1, 8).astype(np.int8)
    w = np.arange(-128, 128, 32).astype(np.int8)               # -128 .. 96, 8 lanes
    init = np.resize(np.array([0, -1, 2**31 - 1, -2**31, 12345], np.int64),
                     x.shape).astype(np.int32)
    for acc_in in (0, 1):
        got = eltwise_mac_int8(init.view(np.uint32), x, w, acc_in).view(np.int32)
        want = [[((int(init[i, j]) if acc_in else 0) + int(x[i, j]) * int(w[j]) + 2**31)
                 % 2**32 - 2**31 for j in range(8)] for i in range(x.shape[0])]
        assert got.tolist() == want
    got = eltwise_mac_int8(init[:1].view(np.uint32), x, w, 1, reduce=True).view(np.int32)
    total = [(int(init[0, j]) + sum(int(r[j]) * int(w[j]) for r in x) + 2**31) % 2**32 - 2**31
             for j in range(8)]
    assert got[0].tolist() == total


def test_mac_command_walks_reduces_and_keeps_other_lanes():
    rng = np.random.default_rng(11)
    model = NpuModel(CFG)
    model.spad[:, :] = rng.integers(0, 1 << 16, model.spad.shape, dtype=np.uint16)
    model.acc[:] = 0x1357_9BDF
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6, n=5)
    rows = [3, 5, 7, 13, 15, 17]
    x8 = (model.spad[rows, :5] & 0xFF).astype(np.uint8).view(np.int8).astype(np.int64)
    w8 = (model.spad[40, :5] & 0xFF).astype(np.uint8).view(np.int8).astype(np.int64)
    assert model.execute(emac(acc_addr=4, b_addr=40, **walk)) == E.NONE
    assert np.array_equal(model.acc[4:10, :5].view(np.int32), x8 * w8)
    assert (model.acc[4:10, 5:] == 0x1357_9BDF).all()
    assert model.execute(emac(acc_addr=4, b_addr=40, accumulate=1, **walk)) == E.NONE
    assert np.array_equal(model.acc[4:10, :5].view(np.int32), 2 * x8 * w8)
    assert model.execute(emac(acc_addr=20, b_addr=40, reduce=1, **walk)) == E.NONE
    assert np.array_equal(model.acc[20, :5].view(np.int32), (x8 * w8).sum(axis=0))
    assert (model.acc[21:26] == 0x1357_9BDF).all()                 # only row acc_addr written
    assert model.execute(emac(acc_addr=20, b_addr=40, reduce=1, accumulate=1, **walk)) == E.NONE
    assert np.array_equal(model.acc[20, :5].view(np.int32), 2 * (x8 * w8).sum(axis=0))
    assert model.macs == 4 * 6 * 5                 # PERF_MACS: m * n per MAC


def test_pair_mac_refusals():
    """``pair``: needs ``mac``; w2 holds ``tap_step`` in bits 15:0 only; the second tap's
    rows and the second weight row must lie in the SPAD."""
    assert check(emac(pair=1, tap_step=7)) == E.NONE
    assert check(emac(pair=1)) == E.NONE                            # tap_step 0: same row
    assert check(emac(tap_step=1)) == E.RESERVED                    # w2 without pair
    assert check(emac(pair=1, mult_a=1 << 16)) == E.RESERVED        # bits 31:16 of w2
    assert check(emax(pair=1)) == E.RESERVED                        # pair needs mac
    assert check(eadd(pair=1)) == E.RESERVED
    assert check(emac(pair=1, b_addr=62)) == E.NONE
    assert check(emac(pair=1, b_addr=63)) == E.LOCAL_RANGE          # W2 = b_addr + 1
    assert check(emac(pair=1, tap_step=60)) == E.NONE               # rows 0..3 + 60
    assert check(emac(pair=1, tap_step=61)) == E.LOCAL_RANGE
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6)   # last 17
    assert check(emac(pair=1, tap_step=46, **walk)) == E.NONE
    assert check(emac(pair=1, tap_step=47, **walk)) == E.LOCAL_RANGE
    assert check(emac(pair=1, tap_step=0xFFFF, reduce=1)) == E.LOCAL_RANGE
    assert check(emac(pair=1, precision=Precision.FP16)) == E.NONE
    assert check(emac(pair=1, precision=Precision.FP16, reduce=1)) == E.BAD_COMBINATION
    assert check(emac(pair=1, precision=Precision.FP16),
                 dataclasses.replace(CFG, npu_eltwise_fp16=False)) == E.BAD_COMBINATION


def test_pair_mac_against_python_integers():
    """A pair MAC on random SPAD rows (walk, accumulate, reduce) equals the per-lane sum of
    both taps written out with Python integers (wrapping at int32); PERF_MACS counts 2 m n."""
    rng = np.random.default_rng(12)
    model = NpuModel(CFG)
    model.spad[:, :] = rng.integers(0, 1 << 16, model.spad.shape, dtype=np.uint16)
    model.spad[30, :] = 0xFF80                                      # -128 in bits 7:0
    model.acc[:] = rng.integers(0, 1 << 32, model.acc.shape, dtype=np.uint32)
    model.acc[0, :] = 0x7FFF_FFFF                                   # wraps
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6, n=7)
    rows = [3, 5, 7, 13, 15, 17]

    def s8(v):
        v = int(v) & 0xFF
        return v - 256 if v >= 128 else v

    def wrap(v):
        return (v + 2**31) % 2**32 - 2**31

    for acc_in, reduce in ((0, 0), (1, 0), (0, 1), (1, 1)):
        old = model.acc.copy().view(np.int32)
        macs = model.macs
        code = model.execute(emac(acc_addr=0, b_addr=29, pair=1, tap_step=13, accumulate=acc_in,
                                  reduce=reduce, **walk))
        assert code == E.NONE
        terms = [[s8(model.spad[r, j]) * s8(model.spad[29, j])
                  + s8(model.spad[r + 13, j]) * s8(model.spad[30, j]) for j in range(7)]
                 for r in rows]
        if reduce:
            want = [[wrap((int(old[0, j]) if acc_in else 0) + sum(t[j] for t in terms))
                     for j in range(7)]]
        else:
            want = [[wrap((int(old[i, j]) if acc_in else 0) + terms[i][j]) for j in range(7)]
                    for i in range(6)]
        got = model.acc.view(np.int32)
        assert got[:len(want), :7].tolist() == want
        assert np.array_equal(got[:, 7], old[:, 7])                 # lane n untouched
        assert np.array_equal(got[len(want):], old[len(want):])
        assert model.macs - macs == 2 * 6 * 7


def test_fp16_pair_mac_command_in_order_with_specials():
    """An FP16 pair MAC on SPAD rows with NaN / Inf / signed zeros / subnormals (walk,
    accumulate from fp32 ACC patterns with specials): each lane is ``(init + x w) + x2 w2``,
    two float32 additions in that order (written out per element with numpy float32
    scalars), NaN canonical; other lanes kept; PERF_MACS 2 m n."""
    rng = np.random.default_rng(13)
    model = NpuModel(CFG)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6e-8, -6e-8, 65504, 2048],
                        np.float16)
    values = rng.standard_normal(model.spad.shape).astype(np.float16)
    values.reshape(-1)[rng.choice(values.size, 80, replace=False)] = rng.choice(specials, 80)
    model.spad[:, :] = values.view(np.uint16)
    init = rng.standard_normal(model.acc.shape).astype(np.float32) * 1000
    init.reshape(-1)[rng.choice(init.size, 30, replace=False)] = rng.choice(
        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40], np.float32), 30)
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6, n=7)
    rows = [3, 5, 7, 13, 15, 17]
    for acc_in in (0, 1):
        model.acc[:] = init.view(np.uint32)
        macs = model.macs
        assert model.execute(emac(acc_addr=2, b_addr=29, pair=1, tap_step=13,
                                  accumulate=acc_in, precision=Precision.FP16, **walk)) == E.NONE
        assert model.macs - macs == 2 * 6 * 7
        for i, r in enumerate(rows):
            for j in range(7):
                with np.errstate(all="ignore"):
                    c = init[2 + i, j] if acc_in else np.float32(0.0)
                    c = np.float32(c + np.float32(values[r, j]) * np.float32(values[29, j]))
                    c = np.float32(c + np.float32(values[r + 13, j])
                                   * np.float32(values[30, j]))
                want = 0x7FC0_0000 if np.isnan(c) else int(c.view(np.uint32))
                assert int(model.acc[2 + i, j]) == want, (acc_in, i, j)
        assert (model.acc[2:8, 7:] == init.view(np.uint32)[2:8, 7:]).all()
        assert (model.acc[8:] == init.view(np.uint32)[8:]).all()


def test_fp16_mac_lanes_without_pair_start_from_plus_zero():
    """Without ``accumulate`` the FP16 MAC starts from +0.0: (-0) * 1 gives +0, as the
    golden's sequential sum from zero does; with a -0.0 ACC it stays -0."""
    x = np.array([[-0.0, 1.0]], np.float16)
    w = np.array([1.0, -0.0], np.float16)
    acc = np.array([[0x8000_0000, 0x8000_0000]], np.uint32)
    assert eltwise_mac_fp16(acc, x, w, 0).tolist() == [[0, 0]]
    assert eltwise_mac_fp16(acc, x, w, 1).tolist() == [[0x8000_0000, 0x8000_0000]]


def test_init_row_mac_refusals():
    """``init_row``: MAC only; ``init_addr`` is w7's low half (reserved without it, w7's high
    half reserved with it); not with ``accumulate`` nor among the rows written; in the ACC."""
    assert check(emac(init_row=1, init_addr=31)) == E.NONE
    assert check(emac(init_row=1, init_addr=4)) == E.NONE          # just past rows 0..3
    assert check(emac(init_row=1, init_addr=3)) == E.BAD_COMBINATION
    assert check(emac(init_row=1, init_addr=0)) == E.BAD_COMBINATION
    assert check(emac(init_row=1, init_addr=1, reduce=1)) == E.NONE  # reduce writes row 0 only
    assert check(emac(init_row=1, init_addr=0, reduce=1)) == E.BAD_COMBINATION
    assert check(emac(init_row=1, init_addr=9, accumulate=1)) == E.BAD_COMBINATION
    assert check(emac(init_row=1, init_addr=32)) == E.LOCAL_RANGE
    assert check(emac(init_row=1, init_addr=9, mult_b=1 << 16)) == E.RESERVED
    assert check(emac(init_addr=9)) == E.RESERVED                  # mult_b without init_row
    assert check(emax(init_row=1)) == E.RESERVED                   # MAX
    assert check(eadd(init_row=1)) == E.RESERVED                   # ADD
    assert check(emac(init_row=1, init_addr=9, pair=1, tap_step=3,
                      precision=Precision.FP16)) == E.NONE


@pytest.mark.parametrize("prec", [Precision.INT8, Precision.FP16])
def test_init_row_mac_starts_every_row_from_the_row(prec):
    """Every row of an ``init_row`` (pair) MAC starts from ACC row ``init_addr``: written out
    per element (INT8 wrapping int32, FP16 ``(init + x w) + x2 w2`` in float32 with specials,
    NaN canonical), equal to a broadcast of that row then ``accumulate``; other lanes and the
    starting row kept; an INT8 ``reduce`` adds the row's sum to it."""
    rng = np.random.default_rng(14)
    model = NpuModel(CFG)
    fp16 = prec == Precision.FP16
    if fp16:
        values = rng.standard_normal(model.spad.shape).astype(np.float16)
        values.reshape(-1)[rng.choice(values.size, 60, replace=False)] = rng.choice(
            np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6e-8, 65504], np.float16), 60)
        model.spad[:, :] = values.view(np.uint16)
        init = (rng.standard_normal(model.acc.shape) * 1000).astype(np.float32)
        init[20, :4] = np.array([np.inf, -0.0, np.nan, 1e-40], np.float32)
        model.acc[:] = init.view(np.uint32)
    else:
        values = rng.integers(-128, 128, model.spad.shape)
        model.spad[:, :] = values.astype(np.int64) & 0xFFFF
        model.acc[:] = rng.integers(0, 1 << 32, model.acc.shape, dtype=np.uint64)
        model.acc[20, 0] = 0x7FFF_FFFF                            # wraps
    before = model.acc.copy()
    walk = dict(a_addr=3, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10, m=6, n=7)
    rows = [3, 5, 7, 13, 15, 17]
    assert model.execute(emac(acc_addr=2, b_addr=29, pair=1, tap_step=13, init_row=1,
                              init_addr=20, precision=prec, **walk)) == E.NONE
    for i, r in enumerate(rows):
        for j in range(7):
            if fp16:
                with np.errstate(all="ignore"):
                    c = init[20, j]
                    c = np.float32(c + np.float32(values[r, j]) * np.float32(values[29, j]))
                    c = np.float32(c + np.float32(values[r + 13, j])
                                   * np.float32(values[30, j]))
                want = 0x7FC0_0000 if np.isnan(c) else int(c.view(np.uint32))
            else:
                s = int(before[20, j]) - (1 << 32) * (int(before[20, j]) >> 31)
                want = (s + int(values[r, j]) * int(values[29, j])
                        + int(values[r + 13, j]) * int(values[30, j])) & 0xFFFF_FFFF
            assert int(model.acc[2 + i, j]) == want, (i, j)
    assert (model.acc[2:8, 7:] == before[2:8, 7:]).all()
    assert (model.acc[8:] == before[8:]).all() and (model.acc[:2] == before[:2]).all()
    # the same as the row broadcast into the rows, then accumulate
    other = NpuModel(CFG)
    other.spad[:] = model.spad
    other.acc[:] = before
    other.acc[2:8, :7] = before[20, :7]
    assert other.execute(emac(acc_addr=2, b_addr=29, pair=1, tap_step=13, accumulate=1,
                              precision=prec, **walk)) == E.NONE
    assert (other.acc == model.acc).all()
    if not fp16:                                     # reduce: the row plus the rows' sum
        model.acc[:] = before
        assert model.execute(emac(acc_addr=2, b_addr=29, init_row=1, init_addr=20, reduce=1,
                                  **walk)) == E.NONE
        for j in range(7):
            s = int(before[20, j]) - (1 << 32) * (int(before[20, j]) >> 31)
            want = (s + sum(int(values[r, j]) * int(values[29, j]) for r in rows)) \
                & 0xFFFF_FFFF
            assert int(model.acc[2, j]) == want, j
        assert (model.acc[3:] == before[3:]).all()
