"""The reference validator on the 2:4 MAC-skipping flags: LOAD ``keep``, COMPUTE ``gather``,
STORE ``lane_sum`` (their positions, legal uses and refusals)."""

import dataclasses

import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.commands import WeightFormat as WF
from dure.rtl.npu.descriptor import encode
from dure.sim.npu_validate import validate

from dure.config import SoCConfig

E = ErrorCode
BASE, SIZE = 0x4000_0000, 0x1000
WITH = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32, npu_gather=True)
WITHOUT = dataclasses.replace(WITH, npu_gather=False)


def load(**kw):
    f = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, weight_format=WF.SPARSE24_INT4_LANES,
             keep=1, dram_addr=BASE, dram_stride=6, rows=4, cols=8, local_addr=0)
    f.update(kw)
    return encode(Opcode.LOAD, **f)


def compute(**kw):
    f = dict(precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0, m=4, k=4, n=4, gather=1)
    f.update(kw)
    return encode(Opcode.COMPUTE, **f)


def store(**kw):
    f = dict(out=OutType.INT32, acc_type=Precision.INT8, lane_sum=1, dram_addr=BASE,
             dram_stride=4, rows=4, cols=1, acc_addr=0)
    f.update(kw)
    return encode(Opcode.STORE, **f)


def check(words, config=WITH):
    return validate(words, config, BASE, SIZE)


def test_field_positions():
    assert load()[0] == load(keep=0)[0] | 1 << 13
    assert compute()[0] == compute(gather=0)[0] | 1 << 8
    assert store()[0] == store(lane_sum=0)[0] | 1 << 12


def test_legal_uses():
    assert check(load()) == E.NONE
    assert check(load(weight_format=WF.SPARSE24_LANES, dram_stride=10)) == E.NONE
    assert check(load(cols=2, dram_stride=2)) == E.NONE           # cols % 4 does not apply
    assert check(compute()) == E.NONE
    assert check(compute(n=8, k=4, accumulate=1)) == E.NONE
    assert check(store()) == E.NONE
    assert check(store(out=OutType.INT8, scale=1, lane_scales=1, scale_addr=20, lo=-128,
                       hi=127, dram_stride=1)) == E.NONE


@pytest.mark.parametrize("words", [load(), compute(), store()], ids=["keep", "gather", "sum"])
def test_refused_without_the_gather_path(words):
    assert check(words, WITHOUT) == E.BAD_COMBINATION


@pytest.mark.parametrize("fmt", [f for f in WF if f not in (WF.SPARSE24_LANES,
                                                             WF.SPARSE24_INT4_LANES)])
def test_keep_needs_a_lane_grouped_format(fmt):
    elem = ElemType.FP16 if fmt in (WF.INT4_FP16, WF.INT4_FP16_ROWS) else ElemType.INT8
    assert check(load(weight_format=fmt, elem=elem, dram_stride=64)) == E.BAD_COMBINATION


def test_keep_refusals():
    assert check(load(cols=3)) == E.BAD_COMBINATION                 # odd kept lanes
    assert check(load(target=LoadTarget.ACC, elem=ElemType.WORD32)) == E.BAD_COMBINATION
    assert check(load(broadcast=1)) == E.BAD_COMBINATION
    # the source row is that of 2 * cols dense lanes: 4 groups of int4 -> 4 + 2 bytes
    assert check(load(dram_stride=5)) == E.STRIDE
    assert check(load(dram_addr=BASE + SIZE - 3 * 6 - 5)) == E.DMA_WINDOW
    assert check(load(dram_addr=BASE + SIZE - 3 * 6 - 6)) == E.NONE


def test_gather_refusals():
    assert check(compute(precision=Precision.FP16)) == E.BAD_COMBINATION
    assert check(compute(diagonal=1)) == E.BAD_COMBINATION
    assert check(compute(k=5)) == E.DIM_TOO_LARGE                    # earlier code wins


def test_lane_sum_refusals():
    assert check(store(acc_type=Precision.FP16, out=OutType.FP32)) == E.BAD_COMBINATION
    assert check(store(cols=2, dram_stride=8)) == E.BAD_COMBINATION
    assert check(store(rows=40)) == E.LOCAL_RANGE


def test_keep_base6_variant():
    """keep with SPARSE24_INT4: 3 destination rows per source row of 2 cols bytes."""
    b6 = dict(weight_format=WF.SPARSE24_INT4, dram_stride=16, rows=6, cols=8)
    assert check(load(**b6)) == E.NONE
    assert check(load(**dict(b6, rows=3, cols=2, dram_stride=4))) == E.NONE
    assert check(load(**b6), WITHOUT) == E.BAD_COMBINATION
    assert check(load(**dict(b6, rows=4))) == E.BAD_COMBINATION        # rows % 3
    assert check(load(**dict(b6, cols=7))) == E.BAD_COMBINATION        # odd kept lanes
    assert check(load(**dict(b6, keep=0))) == E.BAD_COMBINATION        # rows % 4 again
    assert check(load(**dict(b6, keep=0, rows=8))) == E.NONE           # the expanding format
    assert check(load(**dict(b6, dram_stride=15))) == E.STRIDE
    # 2 source rows of 16 bytes: the last byte at dram_addr + 31
    assert check(load(**dict(b6, dram_addr=BASE + SIZE - 32))) == E.NONE
    assert check(load(**dict(b6, dram_addr=BASE + SIZE - 31))) == E.DMA_WINDOW
    assert check(load(**dict(b6, weight_format=WF.SPARSE24))) == E.BAD_COMBINATION
