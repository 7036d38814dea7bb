"""The command model's 2:4 MAC-skipping path (LOAD ``keep``, COMPUTE ``gather``, STORE
``lane_sum``): the tagged lanes bit for bit, and a whole GEMV through the three commands equal to
the golden dense GEMV of the expanded weights and to the golden skipping GEMV."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.commands import WeightFormat as WF
from dure.rtl.npu.descriptor import encode
from dure.sim import golden
from dure.sim.golden_sparse24 import compress_24, gemm_sparse24_skip_int8
from dure.sim.npu_model import NpuModel, perf_macs
from dure.sim.verif.sparse_records import lane_records, sparse_weights

from dure.config import preset

MAIN = 0x4000_0000
SIM = dataclasses.replace(preset("sim"), npu_gather=True)


def fresh(size=1 << 16):
    model = NpuModel(SIM, memory={MAIN: bytes(size)})
    model.set_window(MAIN, size)
    return model


def test_keep_load_writes_values_and_positions():
    model = fresh()
    model.spad[:] = 0xAAAA
    # int8 values: 2 groups; codes 0x3 | (0x1 << 2) -> p0 = 3, p1 = 1 (not increasing: as coded)
    model.write(MAIN, bytes([0x80, 0x7F, 0xFF, 0x01, 0x0D, 0x00]))
    code = model.execute(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WF.SPARSE24_LANES, keep=1, dram_addr=MAIN,
                                dram_stride=6, rows=1, cols=4, local_addr=3))
    assert code == ErrorCode.NONE
    # group 0: code 0xD = p0 1, p1 3; group 1: code 0 = p0 0, p1 0
    assert list(model.spad[3]) == [0x180, 0x37F, 0x0FF, 0x001, 0, 0, 0, 0]
    assert (model.spad[2] == 0xAAAA).all() and (model.spad[4] == 0xAAAA).all()
    # int4 values: -8 and 7, then -1 and 1; codes 0x6 (p0 2, p1 1), 0xE (p0 2, p1 3)
    model.write(MAIN + 8, bytes([0x78, 0x1F, 0xE6]))
    code = model.execute(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WF.SPARSE24_INT4_LANES, keep=1,
                                dram_addr=MAIN + 8, dram_stride=3, rows=1, cols=4, local_addr=5))
    assert code == ErrorCode.NONE
    assert list(model.spad[5]) == [0x2F8, 0x107, 0x2FF, 0x301, 0, 0, 0, 0]
    assert model.dma_rd == 8 + 4


def test_keep_base6_load_splits_a_source_row_into_three_tagged_rows():
    """keep + SPARSE24_INT4: 3 records of g int4 value bytes, then g base-6 code bytes; a
    code byte above 215 zeroes its groups in all three rows."""
    model = fresh()
    model.spad[:] = 0xAAAA
    # g = 2 groups (cols 4). Records: values (v0 | v1 << 4) per group byte.
    vals = [0x78, 0x1F, 0x32, 0x9A, 0x00, 0xF8]
    # group 0: i0 = 5 (2, 3), i1 = 0 (0, 1), i2 = 2 (0, 3) -> 5 + 0 + 72 = 77; group 1: 216
    model.write(MAIN, bytes(vals + [77, 216]))
    code = model.execute(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WF.SPARSE24_INT4, keep=1, dram_addr=MAIN,
                                dram_stride=8, rows=3, cols=4, local_addr=3))
    assert code == ErrorCode.NONE
    assert list(model.spad[3]) == [0x2F8, 0x307, 0, 0, 0, 0, 0, 0]
    assert list(model.spad[4]) == [0x002, 0x103, 0, 0, 0, 0, 0, 0]
    assert list(model.spad[5]) == [0x000, 0x300, 0, 0, 0, 0, 0, 0]
    assert (model.spad[2] == 0xAAAA).all() and (model.spad[6] == 0xAAAA).all()
    assert model.dma_rd == 8
    # the last legal byte, 215: i = 5, 5, 5 -> positions (2, 3) in all three rows
    model.write(MAIN + 8, bytes([0x11, 0x22, 0x33, 215]))
    assert model.execute(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WF.SPARSE24_INT4, keep=1, dram_addr=MAIN + 8,
                                dram_stride=4, rows=3, cols=2, local_addr=10)) == ErrorCode.NONE
    assert [list(model.spad[r][:2]) for r in (10, 11, 12)] == \
        [[0x201, 0x301], [0x202, 0x302], [0x203, 0x303]]


def test_gather_takes_each_lane_in_its_tagged_column_only():
    model = fresh()
    # A lanes: value | tag << 8; tags 0..3 and one lane tagged 3 used with n = 3 (no column)
    a = [(-128 & 0xFF) | 0 << 8, 5 | 1 << 8, 7 | 2 << 8, (-3 & 0xFF) | 3 << 8, 9 | 0 << 8,
         0xFFFF, 0xFFFF, 0xFFFF]
    model.spad[0] = a
    w = np.arange(1, 41, dtype=np.int16).reshape(5, 8)
    w[0, 0] = -128
    model.spad[8:13] = w.view(np.uint16)
    model.acc[0] = 7
    ok = model.execute(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8,
                              acc_addr=0, m=1, k=5, n=3, accumulate=1, gather=1))
    assert ok == ErrorCode.NONE
    expect = [7 + (-128) * (-128) + 9 * 33, 7 + 5 * 10, 7 + 7 * 19, 7, 7, 7, 7, 7]
    assert list(model.acc[0].view(np.int32)[:3]) == expect[:3]
    assert list(model.acc[0][3:]) == [7] * 5          # lanes >= n untouched
    assert model.macs == 5


def test_lane_sum_store_sums_lanes_0_to_3_wrapping():
    model = fresh()
    model.acc[0] = np.array([0x7FFF_FFFF, 1, 5, -2, 1000, 1000, 1000, 1000], np.int64) \
        .astype(np.uint32)
    model.acc[1] = np.array([-100, 30, 0, 0, 9, 9, 9, 9], np.int32).view(np.uint32)
    ok = model.execute(encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                              lane_sum=1, dram_addr=MAIN, dram_stride=4, rows=2, cols=1,
                              acc_addr=0))
    assert ok == ErrorCode.NONE
    got = np.frombuffer(model.read(MAIN, 8), np.int32)
    assert list(got) == [-0x8000_0000 + 3, -70]


@pytest.mark.parametrize("int4", [False, True], ids=["int8", "int4"])
@pytest.mark.parametrize("out", [OutType.INT32, OutType.INT8])
def test_gather_gemv_equals_dense_gemv(int4, out):
    """y = x B for 2:4 B (K x N): tagged weight rows, candidate activation tiles (two placed
    LOADs), gather COMPUTEs over the k tiles, one lane_sum STORE."""
    rng = np.random.default_rng(13 + int4 + 2 * (out == OutType.INT8))
    r = SIM.npu_rows
    tile = 2 * r                                    # dense k per tagged row
    k, n = 6 * tile, 37
    lo, hi = (-8, 7) if int4 else (-128, 127)
    b = sparse_weights(rng, k, n, lo, hi)
    x = rng.integers(-128, 128, k).astype(np.int8)
    x[rng.random(k) < 0.1] = rng.choice([-128, 127])
    model = fresh()
    x_at, w_at, out_at, scale_at = MAIN, MAIN + 1024, MAIN + 0xC000, MAIN + 0xD000
    model.write(x_at, x.tobytes())
    records = lane_records(b, tile, int4)
    per = records[0].shape[1]
    for t, rec in enumerate(records):
        model.write(w_at + t * n * per, rec.tobytes())
    base, groups = 1024, k // 4
    cmds = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=x_at,
                   dram_stride=4, rows=groups, cols=4, local_addr=base + s, local_cols=1,
                   local_groups=groups, local_row_step=2) for s in (0, 1)]
    for t in range(len(records)):
        cmds.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                           weight_format=WF.SPARSE24_INT4_LANES if int4 else WF.SPARSE24_LANES,
                           keep=1, dram_addr=w_at + t * n * per, dram_stride=per, rows=n,
                           cols=r, local_addr=0))
        cmds.append(encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0,
                           w_addr=base + t * r, acc_addr=0, m=n, k=r, n=4, accumulate=t > 0,
                           gather=1))
    if out == OutType.INT32:
        cmds.append(encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8, lane_sum=1,
                           dram_addr=out_at, dram_stride=4, rows=n, cols=1, acc_addr=0))
    else:
        scales = (rng.random(n) * 2e-3).astype(np.float32)
        for g in range(0, n, SIM.npu_cols):
            part = scales[g:g + SIM.npu_cols]
            model.write(scale_at + 4 * g, part.tobytes())
        cmds.append(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                           dram_addr=scale_at, dram_stride=4 * SIM.npu_cols,
                           rows=(n + 7) // 8, cols=8, local_addr=2000))
        cmds.append(encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, lane_sum=1,
                           scale=1, lane_scales=1, zero_point=-3, lo=-100, hi=127,
                           dram_addr=out_at, dram_stride=1, rows=n, cols=1, acc_addr=0,
                           scale_addr=2000))
    for words in cmds:
        assert model.execute(words) == ErrorCode.NONE
    dense = golden.gemm_int8(x[None, :], b)[0]
    values, meta = compress_24(b)
    assert (gemm_sparse24_skip_int8(x[None, :], values, meta)[0] == dense).all()
    if out == OutType.INT32:
        got = np.frombuffer(model.read(out_at, 4 * n), np.int32)
        assert (got == dense).all()
    else:
        got = np.frombuffer(model.read(out_at, n), np.int8)
        assert (got == golden.requantize(dense[None, :], scales, -3, -100, 127)[0]).all()
    assert model.macs == perf_macs(cmds) == len(records) * n * r
