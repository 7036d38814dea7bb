"""Packed weights (LOAD weight_format) on the golden command model: tiled GEMMs whose weights
are INT4 / W4A16 / 2:4 sparse equal the golden W4A8 / W4A16 / sparse GEMMs bit for bit, and the
validator refuses malformed packed LOADs (a refused LOAD changes nothing)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import (
    ElemType,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    WeightFormat,
)
from dure.rtl.npu.descriptor import encode
from dure.sim import golden, golden_int4, golden_sparse24
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.npu_model import NpuModel
from dure.sim.npu_validate import validate
from dure.sim.weight_formats import pack_weights

from dure.config import SoCConfig

MAIN = 0x4000_0000
SMALL = SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32,
                  main_size=256 * 1024)
ODD = SoCConfig(npu_rows=8, npu_cols=6, npu_spad_rows=128, npu_acc_rows=64,
                main_size=256 * 1024)


def sparse_int(rng, k, n, lo, hi):
    """Random 2:4-sparse (K, N) int8 in [lo, hi]: per group of 4, 0..2 non-zeros."""
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    keep = np.zeros((k // 4, 4, n), bool)
    for g in range(k // 4):
        for j in range(n):
            count = rng.integers(0, 3)
            keep[g, rng.choice(4, count, replace=False), j] = True
    return np.where(keep.reshape(k, n), w, 0).astype(np.int8)


def run_packed(config, a, packed, *, precision, out):
    """The GEMM a x packed weights on the model; returns (output, model)."""
    model = NpuModel(config, memory={MAIN: bytes(config.main_size)})
    m, k = a.shape
    n = packed.n
    eb = a.itemsize
    a_addr, b_addr = MAIN + 64 + eb, MAIN + 4096 + (2 if eb == 2 else 3)
    out_addr = (b_addr + len(packed.data) + 64) // 4 * 4
    ob = {OutType.INT32: 4, OutType.FP32: 4}[out]
    model.place(a_addr, a)
    model.write(b_addr, packed.data)
    model.set_window(MAIN, out_addr + m * n * ob - MAIN)
    words = gemm_descriptors(
        config, m, k, n, precision=precision, a_addr=a_addr, a_stride=k * eb, b_addr=0,
        b_stride=0, out_addr=out_addr, out_stride=n * ob, out=out,
        w_loads=lambda k0, rows, n0, cols, local: packed.loads(b_addr, k0, rows, n0, cols,
                                                               local))
    codes = model.run(words)
    assert set(codes) == {ErrorCode.NONE}
    dtype = np.int32 if out == OutType.INT32 else np.float32
    return model.fetch(out_addr, (m, n), dtype), model


SHAPES = [(1, 8, 8), (3, 36, 13), (16, 64, 21), (2, 200, 9)]


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["4x8", "8x6"])
@pytest.mark.parametrize("shape", SHAPES)
def test_int4_w4a8_is_golden(config, shape):
    m, k, n = shape
    rng = np.random.default_rng(k * n + m)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    q = rng.integers(-8, 8, (k, n), dtype=np.int8)
    packed = pack_weights("int4", q, tile=config.npu_cols)
    got, model = run_packed(config, a, packed, precision=Precision.INT8, out=OutType.INT32)
    assert np.array_equal(got, golden_int4.gemm_w4a8(a, q))
    assert len(packed.data) == k * ((n + 1) // 2)


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["4x8", "8x6"])
@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("group", [32, 64])
def test_int4_w4a16_is_golden(config, shape, group):
    m, k, n = shape
    rng = np.random.default_rng(k * n + m + group)
    a = rng.normal(0, 1, (m, k)).astype(np.float16)
    q = rng.integers(-8, 8, (k, n), dtype=np.int8)
    scales = (rng.normal(0, 1, (-(-k // group), n)) * np.float16(2.0) **
              rng.integers(-20, 14, (-(-k // group), n))).astype(np.float16)
    scales.reshape(-1)[:3] = [np.float16(-0.0), np.float16(6e-8), np.float16(60000)]
    packed = pack_weights("int4", q, precision="fp16", tile=config.npu_cols, scales=scales,
                          group_size=group)
    got, _ = run_packed(config, a, packed, precision=Precision.FP16, out=OutType.FP32)
    want = golden_int4.gemm_w4a16(a, q, scales, group)
    assert np.array_equal(golden.bits(got), golden.bits(want))


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["4x8", "8x6"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fmt", ["int8-sparse24", "int4-sparse24"])
def test_sparse24_is_golden(config, shape, fmt):
    m, k, n = shape
    rng = np.random.default_rng(k * n + m + len(fmt))
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    lo, hi = (-128, 127) if fmt == "int8-sparse24" else (-8, 7)
    w = sparse_int(rng, k, n, lo, hi)
    packed = pack_weights(fmt, w, tile=config.npu_cols)
    got, model = run_packed(config, a, packed, precision=Precision.INT8, out=OutType.INT32)
    values, meta = golden_sparse24.compress_24(w)
    assert np.array_equal(got, golden_sparse24.gemm_sparse24_int8(a, values, meta))
    dense_bytes = k * n
    assert len(packed.data) <= dense_bytes * (5 / 8 if fmt == "int8-sparse24" else 3 / 8) + k


def test_pack_errors_name_the_weight_and_the_group():
    q = np.zeros((8, 4), np.int8)
    q[3, 2] = 8
    with pytest.raises(ValueError, match=r"B\[3, 2\] = 8"):
        pack_weights("int4", q)
    w = np.zeros((8, 4), np.int8)
    w[4:7, 1] = 5
    with pytest.raises(ValueError, match="column 1, rows 4..7 hold 3"):
        pack_weights("int8-sparse24", w)
    with pytest.raises(ValueError, match="K % 4"):
        pack_weights("int8-sparse24", np.zeros((6, 4), np.int8))
    with pytest.raises(ValueError, match="group size"):
        pack_weights("int4", q * 0, precision="fp16", scales=np.ones((1, 4), np.float16),
                     group_size=16)


def test_sparse_code_with_unordered_positions_expands_by_the_rule():
    """A code with p0 >= p1 is not refused: lane = v0 at p0, else v1 at p1, else 0."""
    model = NpuModel(SMALL, memory={MAIN: bytes(4096)})
    model.set_window(MAIN, 4096)
    # 2 lanes: lane 0 code p0=2, p1=2 (0b1010); lane 1 code p0=3, p1=1 (0b0111).
    row = bytes([5, 0xF9, 7, 0x82, 0x7A])        # v0 = (5, -7), v1 = (7, -126), codes
    model.write(MAIN, row)
    code = model.execute(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                                weight_format=WeightFormat.SPARSE24, dram_addr=MAIN,
                                dram_stride=5, rows=4, cols=2, local_addr=0))
    assert code == ErrorCode.NONE
    got = model.spad[0:4, :2].view(np.int16)
    assert got.tolist() == [[0, 0], [0, -126], [5, 0], [0, -7]]
    assert model.dma_rd == 8                     # the two bus words of the 5-byte row


def _load(**fields):
    base = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, weight_format=WeightFormat.INT4,
                dram_addr=MAIN, dram_stride=4, rows=8, cols=8, local_addr=0)
    base.update(fields)
    return encode(Opcode.LOAD, **base)


MALFORMED = [
    (dict(weight_format=WeightFormat.SPARSE24_LANES, cols=6, dram_stride=8),
     ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.SPARSE24_INT4_LANES, cols=2, dram_stride=8),
     ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.SPARSE24_LANES, elem=ElemType.FP16),
     ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.SPARSE24_LANES, dram_stride=4), ErrorCode.STRIDE),
    (dict(weight_format=WeightFormat.SPARSE24_INT4_LANES, dram_stride=2), ErrorCode.STRIDE),
    (dict(weight_format=WeightFormat.SPARSE24_LANES, dram_stride=5, dram_addr=MAIN + 4096 - 39),
     ErrorCode.DMA_WINDOW),
    (dict(weight_format=WeightFormat.INT4_FP16_ROWS, elem=ElemType.FP16, fill_value=2,
          dram_stride=18), ErrorCode.RESERVED),
    (dict(weight_format=WeightFormat.INT4_FP16_ROWS, dram_stride=18), ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.INT4_FP16_ROWS, elem=ElemType.FP16, rows=6,
          dram_stride=18), ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.INT4_FP16_ROWS, elem=ElemType.FP16, dram_stride=17),
     ErrorCode.STRIDE),
    (dict(weight_format=WeightFormat.INT4_FP16_ROWS, elem=ElemType.FP16, dram_stride=18,
          dram_addr=MAIN + 4096 - 35), ErrorCode.DMA_WINDOW),
    (dict(fill_value=1), ErrorCode.RESERVED),
    (dict(target=LoadTarget.ACC, elem=ElemType.WORD32), ErrorCode.BAD_COMBINATION),
    (dict(elem=ElemType.FP16), ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.INT4_FP16, elem=ElemType.INT8), ErrorCode.BAD_COMBINATION),
    (dict(broadcast=1), ErrorCode.BAD_COMBINATION),
    (dict(fill=1, dram_addr=0, dram_stride=0), ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.SPARSE24, rows=6, dram_stride=20),
     ErrorCode.BAD_COMBINATION),
    (dict(weight_format=WeightFormat.INT4_FP16, elem=ElemType.FP16, scale_addr=MAIN + 1),
     ErrorCode.MISALIGNED),
    (dict(dram_stride=3), ErrorCode.STRIDE),
    (dict(weight_format=WeightFormat.SPARSE24, dram_stride=19), ErrorCode.STRIDE),
    (dict(weight_format=WeightFormat.SPARSE24_INT4, dram_stride=11), ErrorCode.STRIDE),
    (dict(local_addr=60), ErrorCode.LOCAL_RANGE),
    (dict(dram_addr=MAIN + 4096 - 31), ErrorCode.DMA_WINDOW),
    (dict(weight_format=WeightFormat.INT4_FP16, elem=ElemType.FP16, scale_addr=MAIN + 4096 - 14),
     ErrorCode.DMA_WINDOW),
    (dict(weight_format=WeightFormat.INT4_FP16, elem=ElemType.FP16, scale_addr=MAIN - 2),
     ErrorCode.DMA_WINDOW),
]


@pytest.mark.parametrize("fields, code", MALFORMED)
def test_malformed_packed_loads_are_refused_and_change_nothing(fields, code):
    model = NpuModel(SMALL, memory={MAIN: bytes(4096)})
    model.set_window(MAIN, 4096)
    model.write(MAIN, bytes(range(256)) * 16)
    words = _load(**fields)
    assert validate(words, SMALL, MAIN, 4096) == code
    spad = model.spad.copy()
    assert model.execute(words) == code
    assert np.array_equal(model.spad, spad) and model.dma_rd == 0


def test_legal_edges_are_accepted():
    ok = [_load(), _load(dram_addr=MAIN + 4096 - 32),
          _load(weight_format=WeightFormat.SPARSE24, dram_stride=20, dram_addr=MAIN + 3),
          _load(weight_format=WeightFormat.SPARSE24_INT4, dram_stride=12, cols=7),
          _load(weight_format=WeightFormat.INT4_FP16, elem=ElemType.FP16,
                scale_addr=MAIN + 4096 - 16),
          _load(local_cols=2, local_groups=4, local_row_step=5),
          _load(weight_format=WeightFormat.SPARSE24_LANES, dram_stride=5,
                dram_addr=MAIN + 4096 - 40),
          _load(weight_format=WeightFormat.SPARSE24_INT4_LANES, dram_stride=3, rows=5, cols=4),
          _load(weight_format=WeightFormat.INT4_FP16_ROWS, elem=ElemType.FP16, dram_stride=18,
                dram_addr=MAIN + 4096 - 36)]
    for words in ok:
        assert validate(words, SMALL, MAIN, 4096) == ErrorCode.NONE
