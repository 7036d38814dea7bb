"""The reference validator on the STORE ``requant`` field (TFLite requantization modes)."""

import pytest
from dure.rtl.npu.commands import ErrorCode, Opcode, OutType, Precision, RequantMode
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_validate import validate

from dure.config import SoCConfig

E = ErrorCode
CFG = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32)
BASE, SIZE = 0x4000_0000, 0x1000
TFLITE = (RequantMode.TFLITE_DOUBLE_ROUNDING, RequantMode.TFLITE_SINGLE_ROUNDING)


def store(**kw):
    fields = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1, dram_addr=BASE,
                  dram_stride=8, rows=4, cols=8, acc_addr=0, scale_addr=30, lo=-128, hi=127)
    fields.update(kw)
    return encode(Opcode.STORE, **fields)


def check(words):
    return validate(words, CFG, BASE, SIZE)


def test_field_position():
    assert store(requant=3)[0] == store()[0] | (3 << 9)


@pytest.mark.parametrize("mode", TFLITE)
def test_tflite_int8_to_int8_is_valid(mode):
    assert check(store(requant=mode)) == E.NONE
    assert check(store(requant=mode, lo=-5, hi=90, zero_point=-7, clamp=1)) == E.NONE


@pytest.mark.parametrize("mode", TFLITE)
def test_tflite_needs_scale(mode):
    assert check(store(requant=mode, scale=0)) == E.BAD_COMBINATION


@pytest.mark.parametrize("mode", TFLITE)
@pytest.mark.parametrize("acc_type, out, scale, stride", [
    (Precision.INT8, OutType.INT32, 0, 32),
    (Precision.INT8, OutType.FP16, 1, 16),
    (Precision.FP16, OutType.FP16, 1, 16),
    (Precision.FP16, OutType.FP32, 0, 32),
])
def test_tflite_other_pairs_refused(mode, acc_type, out, scale, stride):
    words = store(out=out, acc_type=acc_type, scale=scale, lo=0, hi=0, dram_stride=stride)
    assert check(words) == E.NONE
    assert check(store(out=out, acc_type=acc_type, scale=scale, lo=0, hi=0,
                       dram_stride=stride, requant=mode)) == E.BAD_COMBINATION


@pytest.mark.parametrize("acc_type, out, scale, stride", [
    (Precision.INT8, OutType.INT8, 1, 8),
    (Precision.INT8, OutType.INT32, 0, 32),
    (Precision.FP16, OutType.FP32, 0, 32),
])
def test_requant_3_is_reserved(acc_type, out, scale, stride):
    lo, hi = (-128, 127) if out == OutType.INT8 else (0, 0)
    words = store(out=out, acc_type=acc_type, scale=scale, lo=lo, hi=hi, dram_stride=stride,
                  requant=3, cols=0)
    assert check(words) == E.RESERVED     # before ZERO_DIM


@pytest.mark.parametrize("mode", TFLITE)
def test_second_parameter_row_in_range(mode):
    assert check(store(requant=mode, scale_addr=30)) == E.NONE
    assert check(store(requant=mode, scale_addr=31)) == E.LOCAL_RANGE
    assert check(store(scale_addr=31)) == E.NONE


def test_other_reserved_bits_still_refused():
    words = store(requant=RequantMode.TFLITE_SINGLE_ROUNDING)
    for bit in (13, 15, 24, 31):
        assert check([words[0] | (1 << bit), *words[1:]]) == E.RESERVED


def test_lane_scales_field_and_combinations():
    assert store(lane_scales=1)[0] == store()[0] | (1 << 11)
    assert check(store(lane_scales=1, cols=1, dram_stride=1)) == E.NONE
    assert check(store(lane_scales=1, cols=2, dram_stride=2)) == E.BAD_COMBINATION
    assert check(store(lane_scales=1, cols=1, dram_stride=1, out=OutType.INT32, scale=0,
                       lo=0, hi=0)) == E.BAD_COMBINATION            # needs scale
    words = store(out=OutType.FP16, acc_type=Precision.FP16, lo=0, hi=0, cols=1,
                  dram_stride=2, lane_scales=1)
    assert check(words) == E.NONE
    assert check(store(out=OutType.FP16, acc_type=Precision.FP16, lo=0, hi=0, cols=1,
                       dram_stride=2, lane_scales=1, scale=0)) == E.BAD_COMBINATION


@pytest.mark.parametrize("mode, per", [(RequantMode.FLOAT_SCALE, 1), *((m, 2) for m in TFLITE)])
def test_lane_scales_every_group_in_range(mode, per):
    """rows = 17 on 8 lanes: 3 parameter groups of ``per`` rows, the last one at
    ``scale_addr + 3 per - 1``, which must be below the ACC's 32 rows."""
    top = 32 - 3 * per
    kw = dict(requant=mode, lane_scales=1, cols=1, dram_stride=1, rows=17)
    assert check(store(**kw, scale_addr=top)) == E.NONE
    assert check(store(**kw, scale_addr=top + 1)) == E.LOCAL_RANGE
    assert check(store(**{**kw, "rows": 16}, scale_addr=top + per)) == E.NONE   # 2 groups
