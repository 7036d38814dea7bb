"""The reference validator: every error code, and the order between the checks."""

import dataclasses
import struct

import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.descriptor import encode
from dure.rtl.npu.isa import Dataflow
from dure.sim.npu_validate import footprint, validate, window

from dure.config import SoCConfig

E = ErrorCode
CFG = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32)   # L = 8, C = 8
INT8_ONLY = dataclasses.replace(CFG, npu_fp16=False)
FIXED_ONLY = dataclasses.replace(INT8_ONLY, npu_float_post=False)    # no fp32 post-processing
BASE, SIZE = 0x4000_0000, 0x1000


def f32(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


def load(**kw):
    fields = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=BASE, dram_stride=8,
                  rows=4, cols=8, local_addr=0)
    fields.update(kw)
    return encode(Opcode.LOAD, **fields)


def compute(**kw):
    fields = dict(precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0, m=4, k=4, n=8)
    fields.update(kw)
    return encode(Opcode.COMPUTE, **fields)


def store(**kw):
    fields = dict(out=OutType.INT8, acc_type=Precision.INT8, scale=1, dram_addr=BASE,
                  dram_stride=8, rows=4, cols=8, acc_addr=0, scale_addr=31, lo=-128, hi=127)
    fields.update(kw)
    return encode(Opcode.STORE, **fields)


def check(words, config=CFG, base=BASE, size=SIZE):
    return validate(words, config, base, size)


def with_word(words, index, value):
    words = list(words)
    words[index] = value
    return words


def test_valid_commands():
    assert check(load()) == E.NONE
    assert check(load(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_stride=32)) == E.NONE
    assert check(load(elem=ElemType.FP16, dram_stride=16), INT8_ONLY) == E.NONE
    assert check(load(broadcast=1, dram_stride=0, rows=64)) == E.NONE
    assert check(compute()) == E.NONE
    assert check(compute(precision=Precision.FP16, accumulate=1)) == E.NONE
    assert check(store()) == E.NONE
    assert check(store(out=OutType.INT32, scale=0, lo=0, hi=0, dram_stride=32)) == E.NONE
    assert check(store(out=OutType.FP16, lo=0, hi=0, dram_stride=16, zero_point=0)) == E.NONE
    assert check(store(out=OutType.FP16, acc_type=Precision.FP16, scale=0, lo=0, hi=0,
                       dram_stride=16)) == E.NONE
    assert check(store(out=OutType.FP32, acc_type=Precision.FP16, clamp=1, lo=f32(-1.0),
                       hi=f32(6.0), dram_stride=32)) == E.NONE
    assert check(encode(Opcode.FENCE, irq=1)) == E.NONE
    assert check(encode(Opcode.FENCE), base=0, size=0) == E.NONE
    assert check(compute(), base=0, size=0) == E.NONE


@pytest.mark.parametrize("opcode", [0, 7, 8, 15])
def test_bad_opcode_first(opcode):
    assert check([opcode | 0xFFFF_FFF0] + [0xFFFF_FFFF] * 7) == E.BAD_OPCODE


def test_reserved_bits():
    from dure.rtl.npu.descriptor import reserved_masks
    for words in (load(), compute(), store(), encode(Opcode.FENCE)):
        masks = reserved_masks(words[0] & 0xF)
        for index in range(8):
            for bit in range(32):
                if masks[index] >> bit & 1:
                    flipped = with_word(words, index, words[index] | 1 << bit)
                    assert check(flipped) == E.RESERVED, (words, index, bit)
    # Every bit outside the field table is reserved, for every opcode.
    assert check(with_word(load(), 5, 1)) == E.RESERVED
    assert check(with_word(load(), 4, 1 << 16)) == E.RESERVED
    assert check(with_word(load(), 0, load()[0] | 1 << 9)) == E.RESERVED
    assert check(with_word(compute(), 0, compute()[0] | 1 << 10)) == E.RESERVED
    assert check(with_word(compute(), 7, 1)) == E.RESERVED
    assert check(with_word(load(), 7, 1 << 16)) == E.RESERVED
    assert check(with_word(compute(), 1, 1 << 16)) == E.RESERVED
    assert check(with_word(store(), 0, store()[0] | 1 << 13)) == E.RESERVED
    assert check(with_word(store(), 7, 1)) == E.RESERVED
    assert check(encode(Opcode.FENCE, irq=1)[:1] + [0, 0, 0, 0, 0, 0, 1]) == E.RESERVED
    assert check([Opcode.FENCE.value | 1 << 5] + [0] * 7) == E.RESERVED


def test_reserved_encodings_and_unread_fields():
    assert check(load(target=2)) == E.RESERVED
    assert check(load(target=3)) == E.RESERVED
    assert check(load(elem=3)) == E.RESERVED
    # lo / hi must be zero when the output does not read them.
    assert check(store(out=OutType.INT32, scale=0, lo=0, hi=1, dram_stride=32)) == E.RESERVED
    assert check(store(out=OutType.FP16, lo=f32(1.0), hi=0, dram_stride=16)) == E.RESERVED
    assert check(store(out=OutType.FP16, clamp=1, lo=f32(-1.0), hi=f32(1.0),
                       dram_stride=16)) == E.NONE
    # zero_point only with INT8 output.
    assert check(store(out=OutType.FP16, lo=0, hi=0, zero_point=3, dram_stride=16)) == E.RESERVED
    assert check(store(zero_point=-3)) == E.NONE
    # scale_addr without scale is ignored (even out of range).
    assert check(store(out=OutType.INT32, scale=0, scale_addr=0xFFFF, lo=0, hi=0,
                       dram_stride=32)) == E.NONE


def test_zero_dim():
    assert check(load(rows=0)) == E.ZERO_DIM
    assert check(load(cols=0)) == E.ZERO_DIM
    for name in ("m", "k", "n"):
        assert check(compute(**{name: 0})) == E.ZERO_DIM
    assert check(store(rows=0)) == E.ZERO_DIM
    assert check(store(cols=0)) == E.ZERO_DIM


def test_dim_too_large():
    wide = SoCConfig(npu_rows=8, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32)  # L = 8, C = 4
    assert check(load(cols=8), wide) == E.NONE
    assert check(load(cols=9, dram_stride=16), wide) == E.DIM_TOO_LARGE
    acc = dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_stride=32)
    assert check(load(cols=4, **acc), wide) == E.NONE
    assert check(load(cols=5, **acc), wide) == E.DIM_TOO_LARGE
    assert check(compute(k=4)) == E.NONE
    assert check(compute(k=5)) == E.DIM_TOO_LARGE
    assert check(compute(n=9)) == E.DIM_TOO_LARGE
    assert check(store(cols=9, dram_stride=16)) == E.DIM_TOO_LARGE
    assert check(load(cols=0xFFFF)) == E.DIM_TOO_LARGE


def test_bad_combination_load_and_compute():
    assert check(load(elem=ElemType.WORD32, dram_stride=32)) == E.BAD_COMBINATION
    assert check(load(target=LoadTarget.ACC, elem=ElemType.INT8)) == E.BAD_COMBINATION
    assert check(load(target=LoadTarget.ACC, elem=ElemType.FP16, dram_stride=16)) == \
        E.BAD_COMBINATION
    assert check(compute(dataflow=Dataflow.OS)) == E.BAD_COMBINATION
    assert check(compute(precision=Precision.FP16), INT8_ONLY) == E.BAD_COMBINATION
    assert check(compute(precision=Precision.INT8), INT8_ONLY) == E.NONE


def test_bad_combination_store():
    s8 = dict(dram_stride=8)
    assert check(store(out=OutType.INT8, scale=0, **s8)) == E.BAD_COMBINATION
    assert check(store(out=OutType.INT32, scale=1, lo=0, hi=0, dram_stride=32)) == \
        E.BAD_COMBINATION
    assert check(store(out=OutType.INT32, scale=0, clamp=1, lo=0, hi=0, dram_stride=32)) == \
        E.BAD_COMBINATION
    assert check(store(out=OutType.FP16, scale=0, lo=0, hi=0, dram_stride=16)) == \
        E.BAD_COMBINATION
    assert check(store(out=OutType.FP32, lo=0, hi=0, dram_stride=32)) == E.BAD_COMBINATION
    assert check(store(acc_type=Precision.FP16)) == E.BAD_COMBINATION
    assert check(store(acc_type=Precision.FP16, out=OutType.INT32, scale=0, lo=0, hi=0,
                       dram_stride=32)) == E.BAD_COMBINATION
    assert check(store(acc_type=Precision.FP16, out=OutType.FP32, lo=0, hi=0,
                       dram_stride=32), INT8_ONLY) == E.BAD_COMBINATION
    assert check(store(out=OutType.FP16, lo=0, hi=0, dram_stride=16), INT8_ONLY) == E.NONE
    # INT8 bounds.
    assert check(store(lo=-129)) == E.BAD_COMBINATION
    assert check(store(hi=128)) == E.BAD_COMBINATION
    assert check(store(lo=5, hi=4)) == E.BAD_COMBINATION
    assert check(store(lo=4, hi=4, clamp=1)) == E.NONE
    # fp bounds.
    fp = dict(out=OutType.FP16, acc_type=Precision.FP16, clamp=1, dram_stride=16)
    assert check(store(lo=f32(1.0), hi=f32(-1.0), **fp)) == E.BAD_COMBINATION
    assert check(store(lo=0x7FC0_0000, hi=f32(1.0), **fp)) == E.BAD_COMBINATION
    assert check(store(lo=f32(0.0), hi=0xFF80_0001, **fp)) == E.BAD_COMBINATION
    assert check(store(lo=0x8000_0000, hi=0, **fp)) == E.NONE          # -0 <= +0
    assert check(store(lo=0, hi=0x8000_0000, **fp)) == E.NONE          # +0 <= -0 as floats
    assert check(store(lo=0xFF80_0000, hi=0x7F80_0000, **fp)) == E.NONE


def test_misaligned_and_stride():
    assert check(load(elem=ElemType.FP16, dram_addr=BASE + 1, dram_stride=16)) == E.MISALIGNED
    assert check(load(elem=ElemType.FP16, dram_stride=17)) == E.MISALIGNED
    assert check(load(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=BASE + 2,
                      dram_stride=32)) == E.MISALIGNED
    assert check(load(dram_addr=BASE + 1, dram_stride=9)) == E.NONE      # int8: any address
    assert check(load(elem=ElemType.FP16, broadcast=1, dram_stride=3)) == E.NONE
    assert check(store(out=OutType.INT32, scale=0, lo=0, hi=0, dram_addr=BASE + 4,
                       dram_stride=34)) == E.MISALIGNED
    assert check(load(dram_stride=7)) == E.STRIDE
    assert check(load(dram_stride=7, rows=1)) == E.STRIDE
    assert check(load(elem=ElemType.FP16, dram_stride=14)) == E.STRIDE
    assert check(store(out=OutType.INT32, scale=0, lo=0, hi=0, dram_stride=28)) == E.STRIDE
    assert check(load(broadcast=1, dram_stride=0)) == E.NONE


def test_local_range():
    assert check(load(local_addr=60, rows=4)) == E.NONE
    assert check(load(local_addr=61, rows=4)) == E.LOCAL_RANGE
    assert check(load(local_addr=0xFFFF, rows=0xFFFF, broadcast=1)) == E.LOCAL_RANGE
    acc = dict(target=LoadTarget.ACC, elem=ElemType.WORD32, dram_stride=32)
    assert check(load(local_addr=28, rows=4, **acc)) == E.NONE
    assert check(load(local_addr=29, rows=4, **acc)) == E.LOCAL_RANGE
    assert check(compute(a_addr=61)) == E.LOCAL_RANGE
    assert check(compute(w_addr=61)) == E.LOCAL_RANGE
    assert check(compute(acc_addr=29)) == E.LOCAL_RANGE
    assert check(compute(a_addr=60, w_addr=60, acc_addr=28)) == E.NONE
    assert check(store(acc_addr=29)) == E.LOCAL_RANGE
    assert check(store(scale_addr=32)) == E.LOCAL_RANGE
    assert check(store(acc_addr=28, scale_addr=31)) == E.NONE


def test_dma_window():
    assert check(load(), size=0) == E.DMA_WINDOW
    assert check(load(), base=0xFFFF_F000, size=0x1001) == E.DMA_WINDOW   # wraps: empty
    assert check(load(dram_addr=0xFFFF_FFE0, dram_stride=8), base=0xFFFF_F000,
                 size=0x1000) == E.NONE                                   # ends at 2**32
    # Last byte = addr + (rows - 1) * stride + cols * elem - 1.
    last_ok = BASE + SIZE - (3 * 8 + 8)
    assert check(load(dram_addr=last_ok)) == E.NONE
    assert check(load(dram_addr=last_ok + 1)) == E.DMA_WINDOW
    assert check(load(dram_addr=BASE - 1)) == E.DMA_WINDOW
    # No 32-bit wrap-around of the footprint.
    assert check(load(dram_stride=0x8000_0000, rows=3), base=0, size=0xFFFF_FFFF) == \
        E.DMA_WINDOW
    # Broadcast: one row.
    assert check(load(dram_addr=BASE + SIZE - 8, broadcast=1, rows=64, dram_stride=0)) == E.NONE
    assert check(store(dram_addr=BASE + SIZE - 8 * 4 + 1, dram_stride=8)) == E.DMA_WINDOW
    assert check(store(dram_addr=BASE + SIZE - 8 * 4, dram_stride=8)) == E.NONE


def test_order_between_checks():
    # Each command fails several checks; the first in ErrorCode order wins.
    everything = load(target=LoadTarget.ACC, elem=ElemType.INT8, cols=0, dram_addr=1,
                      dram_stride=0, local_addr=0xFFFF)
    assert check(with_word(everything, 7, 1)) == E.RESERVED
    assert check(everything) == E.ZERO_DIM
    assert check(load(target=LoadTarget.ACC, elem=ElemType.INT8, cols=9, dram_stride=0,
                      local_addr=0xFFFF)) == E.DIM_TOO_LARGE
    assert check(load(target=LoadTarget.ACC, elem=ElemType.FP16, dram_addr=1, dram_stride=1,
                      local_addr=0xFFFF)) == E.BAD_COMBINATION
    assert check(load(elem=ElemType.FP16, dram_addr=1, dram_stride=2,
                      local_addr=0xFFFF)) == E.MISALIGNED
    assert check(load(dram_stride=2, local_addr=0xFFFF), size=0) == E.STRIDE
    assert check(load(local_addr=0xFFFF), size=0) == E.LOCAL_RANGE
    assert check(load(), size=0) == E.DMA_WINDOW
    assert check(store(out=OutType.FP16, zero_point=1, scale=0, cols=0, lo=0, hi=0)) == \
        E.RESERVED
    assert check(store(scale=0, cols=0)) == E.ZERO_DIM
    assert check(compute(k=9, n=0)) == E.ZERO_DIM
    assert check(compute(k=9, dataflow=Dataflow.OS)) == E.DIM_TOO_LARGE
    assert check(compute(dataflow=Dataflow.OS, a_addr=0xFFFF)) == E.BAD_COMBINATION


def test_helpers():
    from dure.rtl.npu.descriptor import decode
    opcode, fields = decode(load(dram_stride=100, rows=3, cols=5))
    assert footprint(opcode, fields) == (BASE, BASE + 2 * 100 + 5 - 1)
    opcode, fields = decode(load(broadcast=1, rows=3, cols=5))
    assert footprint(opcode, fields) == (BASE, BASE + 4)
    assert footprint(*decode(compute())) is None
    assert window(0, 0) is None
    assert window(0xFFFF_FFFF, 1) == (0xFFFF_FFFF, 1 << 32)
    assert window(0xFFFF_FFFF, 2) is None


def test_bad_input():
    with pytest.raises(ValueError, match="8 words"):
        check([0] * 7)
    with pytest.raises(ValueError, match="no NPU"):
        check(load(), SoCConfig(npu_rows=0))


# --- walked COMPUTE, placed and fill LOADs ------------------------------------------------------

def walk(**kw):
    fields = dict(a_addr=0, m=6, a_cols=3, a_rows=2, a_col_step=2, a_row_step=10)
    fields.update(kw)
    return compute(**fields)


def fill(**kw):
    fields = dict(fill=1, dram_addr=0, dram_stride=0, fill_value=0x80)
    fields.update(kw)
    return load(**fields)


def test_walk_fill_and_placement_valid():
    assert check(walk()) == E.NONE
    assert check(walk(a_col_step=0, a_row_step=0)) == E.NONE            # steps may be 0
    assert check(walk(diagonal=1, k=3, n=8)) == E.NONE
    assert check(compute(diagonal=1, precision=Precision.FP16)) == E.NONE
    # largest row = a_addr + (a_rows-1)*a_row_step + (a_cols-1)*a_col_step = 63: last SPAD row
    assert check(walk(a_addr=39, a_rows=3, a_row_step=10, a_cols=3, a_col_step=2, m=9)) == \
        E.NONE
    assert check(fill()) == E.NONE
    assert check(fill(), base=0, size=0) == E.NONE                       # nothing is read
    assert check(fill(fill_value=0xFFFF_FF80)) == E.NONE                 # upper bits ignored
    assert check(fill(target=LoadTarget.ACC, elem=ElemType.WORD32, fill_value=0xFFFF_FFFF)) \
        == E.NONE
    assert check(fill(rows=8, local_cols=1, local_groups=8, local_row_step=8)) == E.NONE
    assert check(load(rows=6, local_cols=3, local_groups=2, local_row_step=10)) == E.NONE
    assert check(load(rows=6, local_cols=3, local_groups=2, local_row_step=0)) == E.NONE
    assert check(load(broadcast=1, dram_stride=0, rows=4, local_cols=2, local_groups=2,
                      local_row_step=5)) == E.NONE
    # largest placed row = 2 + 6 * 10 + 2 - 1 = 63, the last SPAD row
    assert check(load(rows=14, local_addr=2, local_cols=2, local_groups=7, local_row_step=10,
                      dram_stride=8)) == E.NONE


def test_walk_fill_and_placement_errors():
    # RESERVED: walk fields without a_cols, placement fields without local_cols
    assert check(compute(a_rows=1)) == E.RESERVED
    assert check(compute(a_col_step=1)) == E.RESERVED
    assert check(compute(a_row_step=1)) == E.RESERVED
    assert check(load(local_groups=1)) == E.RESERVED
    assert check(load(local_row_step=1)) == E.RESERVED
    # RESERVED: a fill with DMA fields, fill_value without fill
    assert check(fill(dram_addr=4)) == E.RESERVED
    assert check(fill(dram_stride=4)) == E.RESERVED
    assert check(fill(broadcast=1)) == E.RESERVED
    assert check(load(fill_value=1)) == E.RESERVED
    # ZERO_DIM
    assert check(walk(a_rows=0)) == E.ZERO_DIM
    assert check(load(rows=4, local_cols=2, local_groups=0)) == E.ZERO_DIM
    assert check(fill(rows=0)) == E.ZERO_DIM
    # BAD_COMBINATION: m / rows not the product (compared without truncation)
    assert check(walk(m=5)) == E.BAD_COMBINATION
    assert check(walk(m=0x10, a_cols=0x100, a_rows=0x101)) == E.BAD_COMBINATION
    assert check(load(rows=5, local_cols=2, local_groups=2)) == E.BAD_COMBINATION
    assert check(load(rows=0x10, local_cols=0x100, local_groups=0x101)) == E.BAD_COMBINATION
    assert check(fill(target=LoadTarget.ACC)) == E.BAD_COMBINATION
    # MISALIGNED / STRIDE / DMA_WINDOW never apply to a fill
    assert check(fill(elem=ElemType.FP16, cols=8)) == E.NONE
    # LOCAL_RANGE: the largest row, computed without overflow
    assert check(walk(a_addr=40, a_rows=3, a_row_step=10, a_cols=3, a_col_step=2, m=9)) == \
        E.LOCAL_RANGE
    assert check(walk(a_addr=0, a_rows=2, a_row_step=0xFFFF, a_cols=3, m=6)) == E.LOCAL_RANGE
    assert check(walk(a_addr=0, a_rows=1, a_cols=2, a_col_step=64, m=2)) == E.LOCAL_RANGE
    assert check(walk(a_addr=63, a_rows=1, a_cols=1, a_col_step=0xFFFF, a_row_step=0xFFFF,
                      m=1)) == E.NONE
    assert check(load(rows=14, local_addr=3, local_cols=2, local_groups=7, local_row_step=10,
                      dram_stride=8)) == E.LOCAL_RANGE
    assert check(fill(rows=2, local_cols=1, local_groups=2, local_row_step=0xFFFF)) == \
        E.LOCAL_RANGE
    assert check(fill(target=LoadTarget.ACC, elem=ElemType.WORD32, local_addr=31, rows=2)) == \
        E.LOCAL_RANGE
    # the order between the new checks
    assert check(walk(a_rows=0, m=5, a_addr=0xFFFF)) == E.ZERO_DIM
    assert check(walk(m=5, a_addr=0xFFFF)) == E.BAD_COMBINATION
    assert check(fill(dram_addr=1, rows=0)) == E.RESERVED
    assert check(load(rows=5, local_cols=2, local_groups=2, dram_addr=BASE + 1)) == \
        E.BAD_COMBINATION


def test_fill_footprint():
    from dure.rtl.npu.descriptor import decode
    assert footprint(*decode(fill())) is None


def test_fixed_only_post_processing():
    """Without the fp32 post-processing the STOREs that need it are refused, the rest stay."""
    from dure.rtl.npu.commands import RequantMode
    tfl = dict(scale=1, scale_addr=30)
    for mode in (RequantMode.TFLITE_DOUBLE_ROUNDING, RequantMode.TFLITE_SINGLE_ROUNDING):
        assert check(store(requant=mode, **tfl), FIXED_ONLY) == E.NONE
    assert check(store(), INT8_ONLY) == E.NONE
    assert check(store(), FIXED_ONLY) == E.BAD_COMBINATION              # FLOAT_SCALE
    fp16 = dict(out=OutType.FP16, lo=0, hi=0, dram_stride=16)
    assert check(store(**fp16), INT8_ONLY) == E.NONE
    assert check(store(**fp16), FIXED_ONLY) == E.BAD_COMBINATION
    raw = dict(out=OutType.INT32, scale=0, lo=0, hi=0, dram_stride=32)
    assert check(store(**raw), FIXED_ONLY) == E.NONE
    # Earlier checks still win; later ones are not reached.
    assert check(store(cols=9, dram_stride=16), FIXED_ONLY) == E.DIM_TOO_LARGE
    assert check(store(dram_stride=7), FIXED_ONLY) == E.BAD_COMBINATION
    assert check(compute(), FIXED_ONLY) == E.NONE
    assert check(load(elem=ElemType.FP16, dram_stride=16), FIXED_ONLY) == E.NONE


def test_fixed_only_needs_int8_only():
    with pytest.raises(ValueError, match="npu_float_post"):
        dataclasses.replace(CFG, npu_float_post=False)

