"""The transposed GEMV plan on the golden command model: bit-exact with the golden GEMMs (INT8,
W4A8 int4, FP16 with its sequential order), with and without bias, blocks and partial tiles."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode, load_source, read_bytes
from dure.rtl.npu.descriptor import decode
from dure.sim import golden, golden_int4, golden_sparse24
from dure.sim.gemv_plan import gemv_program
from dure.sim.gemv_weights import transposed_weights
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel

from dure.config import MAIN_BASE, SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=128, npu_acc_rows=64,
                main_size=1 << 20)
#: A^T resident in SPAD (K + 2 min(N, 256) rows fit) for the shapes below.
ROOMY = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=1024, npu_acc_rows=64,
                  main_size=1 << 20)
ADDRS = dict(a_addr=MAIN_BASE, out_addr=MAIN_BASE + 0x8000, param_addr=MAIN_BASE + 0x10000)


def _run(program, a, config=CFG):
    model = NpuModel(config, memory={MAIN_BASE: bytes(config.main_size)})
    model.set_window(MAIN_BASE, config.main_size)
    return run_on_model(model, program, [(MAIN_BASE, a)]), model


@pytest.mark.parametrize("k, n, nb", [(1, 1, None), (13, 70, None), (64, 40, 7), (30, 9, 9)])
@pytest.mark.parametrize("fmt", ["dense", "int4"])
@pytest.mark.parametrize("config", [CFG, ROOMY], ids=["per-tile-a", "resident-a"])
def test_int8_and_int4(k, n, nb, fmt, config):
    rng = np.random.default_rng(k * n)
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    lo, hi = (-8, 7) if fmt == "int4" else (-128, 127)
    b = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    bias = rng.integers(-999, 999, n, dtype=np.int32)
    for with_bias in (None, bias):
        program = gemv_program(config, b, precision="int8", fmt=fmt, nb=nb, bias=with_bias,
                               **ADDRS)
        got, model = _run(program, a, config)
        want = golden_int4.gemm_w4a8(a, b, with_bias) if fmt == "int4" else \
            golden.gemm_int8(a, b, with_bias)
        assert np.array_equal(got, want)
        assert model.error is None
    weight_bytes = n * (-(-k // 2) if fmt == "int4" else k)
    assert model.dma_rd >= weight_bytes


@pytest.mark.parametrize("out_dtype", ["fp32", "fp16"])
def test_fp16_order(out_dtype):
    rng = np.random.default_rng(3)
    k, n = 150, 21
    a = (rng.standard_normal((1, k)) * 8).astype(np.float16)
    b = (rng.standard_normal((k, n)) * 8).astype(np.float16)
    bias = rng.standard_normal(n).astype(np.float32)
    program = gemv_program(CFG, b, precision="fp16", out_dtype=out_dtype, bias=bias, **ADDRS)
    got, _ = _run(program, a)
    acc = golden.gemm_fp16(a, b, bias)
    want = acc if out_dtype == "fp32" else golden.fp16_postprocess(acc)
    assert np.array_equal(golden.bits(got), golden.bits(want))


def sparse_weights(rng, k, n, lo, hi):
    """Random 2:4-sparse K x N int8 weights in [lo, hi] (0, 1 or 2 kept per group)."""
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    keep = rng.random((k // 4, 4, n)).argsort(axis=1) < rng.integers(0, 3, (k // 4, 1, n))
    return np.where(keep.reshape(k, n), w, 0).astype(np.int8)


@pytest.mark.parametrize("k, n, nb", [(4, 1, None), (12, 70, None), (64, 40, 7), (36, 9, 9)])
@pytest.mark.parametrize("fmt", ["int8-sparse24", "int4-sparse24"])
@pytest.mark.parametrize("config", [CFG, ROOMY], ids=["per-tile-a", "resident-a"])
def test_sparse24(k, n, nb, fmt, config):
    """2:4 GEMV (lane-grouped LOADs) == the golden sparse GEMM == the dense GEMM of the
    expanded weights, bit for bit; the DMA reads the compressed bytes, not the dense ones."""
    rng = np.random.default_rng(k * n + len(fmt))
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    lo, hi = (-8, 7) if fmt.startswith("int4") else (-128, 127)
    b = sparse_weights(rng, k, n, lo, hi)
    bias = rng.integers(-999, 999, n, dtype=np.int32)
    for with_bias in (None, bias):
        program = gemv_program(config, b, precision="int8", fmt=fmt, nb=nb, bias=with_bias,
                               **ADDRS)
        got, model = _run(program, a, config)
        values, meta = golden_sparse24.compress_24(b)
        want = golden_sparse24.gemm_sparse24_int8(a, values, meta, with_bias)
        assert np.array_equal(want, golden.gemm_int8(a, b, with_bias))
        assert np.array_equal(got, want)
        assert model.error is None
    # R = 4 lanes per k tile: one group, 2 (int8) or 1 (int4) value bytes and 1 code byte;
    # every other byte the plan reads is an activation or a bias.
    weights = k * n * (3 if fmt.startswith("int8") else 2) // 4
    fields = [f for op, f in map(decode, program.descriptors) if op == Opcode.LOAD]
    packed = sum(load_source(f["rows"], f["cols"], f["weight_format"], f["elem"])[0]
                 * load_source(f["rows"], f["cols"], f["weight_format"], f["elem"])[1]
                 for f in fields if f["weight_format"])
    assert packed == weights
    # The DMA reads whole bus words, consecutive rows sharing theirs: a weight LOAD reads its
    # tile's records as one contiguous run (tile-major), so at most the two end words are
    # partly other bytes; the activation values (1-byte rows at stride 1) share words; an
    # ACC row is words already.
    # A 3-byte record (int8 values here) is padded to a bus word so that none straddles two.
    wloads = [f for f in fields if f["weight_format"]]
    spans = [load_source(f["rows"], f["cols"], f["weight_format"], f["elem"]) for f in wloads]
    stride = 4 if fmt.startswith("int8") else 2
    assert all(f["dram_stride"] == stride for f in wloads)
    wread = sum(read_bytes(f["dram_addr"], f["dram_stride"], rows, nbytes)
                for f, (rows, nbytes) in zip(wloads, spans, strict=True))
    on_bus = k * n * stride // 4
    assert on_bus <= wread <= on_bus + 8 * len(wloads)
    acts = sum(read_bytes(f["dram_addr"], f["dram_stride"], f["rows"], f["cols"])
               for f in fields if not f["weight_format"] and not f["target"])
    assert model.dma_rd == wread + acts + sum(
        4 * f["rows"] * f["cols"] for f in fields if f["target"])


def test_sparse24_unpadded_records():
    """``word_records=False`` keeps 3-byte 2:4 records (int8 values on the 4-row array) at a
    stride of 3: the same result bit for bit with about 3 / 4 of the weight bytes."""
    rng = np.random.default_rng(31)
    k, n = 48, 29
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    b = sparse_weights(rng, k, n, -128, 127)
    assert transposed_weights(b, "int8-sparse24", 4)[1] == 4
    assert transposed_weights(b, "int8-sparse24", 4, word_records=False)[1] == 3
    assert transposed_weights(np.clip(b, -8, 7), "int4-sparse24", 4)[1] == 2
    runs = []
    for word_records in (True, False):
        program = gemv_program(CFG, b, precision="int8", fmt="int8-sparse24",
                               word_records=word_records, **ADDRS)
        got, model = _run(program, a)
        assert np.array_equal(got, golden.gemm_int8(a, b)) and model.error is None
        strides = {f["dram_stride"] for op, f in map(decode, program.descriptors)
                   if op == Opcode.LOAD and f["weight_format"]}
        assert strides == {4 if word_records else 3}
        runs.append((model.dma_rd, len(program.descriptors)))
    # Padded records are whole words: exactly k n bytes of weights beside the same activation
    # bytes; unpadded, 3 / 4 of that plus at most the two partial end words of each LOAD.
    acts = runs[0][0] - k * n
    assert k * n * 3 // 4 <= runs[1][0] - acts <= k * n * 3 // 4 + 8 * runs[1][1]


@pytest.mark.parametrize("k, n, group", [(72, 21, 32), (16, 3, 64), (130, 40, 32)])
@pytest.mark.parametrize("config", [CFG, ROOMY], ids=["per-tile-a", "resident-a"])
def test_w4a16(k, n, group, config):
    """W4A16 GEMV (INT4_FP16_ROWS LOADs of 4 k tiles, walked COMPUTEs) == the golden W4A16
    GEMM bit for bit (FP16 order over k, edge scales: -0, subnormal, 60000 with overflow),
    fp32 and fp16 outputs, with a bias; the DMA reads 2 + 2 R bytes per 4 R weights."""
    rng = np.random.default_rng(k + n + group)
    a = (rng.standard_normal((1, k)) * 4).astype(np.float16)
    q = rng.integers(-8, 8, (k, n)).astype(np.int8)
    g = -(-k // group)
    scales = (rng.standard_normal((g, n)) * 2.0 ** rng.integers(-18, 10, (g, n))) \
        .astype(np.float16)
    scales.reshape(-1)[:3] = [np.float16(-0.0), np.float16(6e-8), np.float16(60000)]
    bias = rng.standard_normal(n).astype(np.float32)
    for out_dtype in ("fp32", "fp16"):
        program = gemv_program(config, q, precision="fp16", fmt="int4", scales=scales,
                               group_size=group, bias=bias, out_dtype=out_dtype, **ADDRS)
        got, model = _run(program, a, config)
        acc = golden_int4.gemm_w4a16(a, q, scales, group, bias)
        want = acc if out_dtype == "fp32" else golden.fp16_postprocess(acc)
        assert np.array_equal(golden.bits(got), golden.bits(want))
        assert model.error is None
    fields = [f for op, f in map(decode, program.descriptors) if op == Opcode.LOAD]
    # R = 4: one 10-byte source row (scale + 4 x 2 bytes) per channel per 16 k.
    assert sum(f["rows"] // 4 * 10 for f in fields if f["weight_format"]) == n * -(-k // 16) * 10


@pytest.mark.parametrize("precision, out_dtype, clamp", [
    ("int8", "int8", (-128, 127)), ("int8", "int8", (-5, 60)), ("int8", "fp16", (None, None)),
    ("fp16", "fp16", (None, None)), ("fp16", "fp32", (None, None))])
def test_scaled_outputs(precision, out_dtype, clamp):
    """A per-channel scale (one-element STOREs, a batch-1 classifier head such as kws_fc 1 x 64
    x 12, and a two-block case): equal to the golden GEMM's STORE post-processing."""
    from dure.sim.npu_job import reference

    rng = np.random.default_rng(len(out_dtype) + abs(clamp[0] or 0))
    for k, n, nb in ((64, 12, None), (40, 37, 16)):
        if precision == "int8":
            a = rng.integers(-128, 128, (1, k), dtype=np.int8)
            b = rng.integers(-128, 128, (k, n)).astype(np.int8)
            bias = rng.integers(-5000, 5000, n, dtype=np.int32)
            scale = (rng.uniform(0.5, 2.0, n) / 512).astype(np.float32)
            zp = 3 if out_dtype == "int8" else 0
        else:
            a = rng.standard_normal((1, k)).astype(np.float16)
            b = rng.standard_normal((k, n)).astype(np.float16)
            bias = rng.standard_normal(n).astype(np.float32)
            scale = rng.uniform(0.5, 2.0, n).astype(np.float32)
            zp = 0
        program = gemv_program(CFG, b, precision=precision, out_dtype=out_dtype, bias=bias,
                               scale=scale, zero_point=zp, lo=clamp[0], hi=clamp[1], nb=nb,
                               **ADDRS)
        got, model = _run(program, a)
        want = reference(precision, a, b, out_dtype=out_dtype, bias=bias, scale=scale,
                         zero_point=zp, lo=clamp[0], hi=clamp[1])
        assert np.array_equal(golden.bits(got), golden.bits(want))
        assert model.error is None


def test_refusals():
    b = np.zeros((8, 4), np.int8)
    with pytest.raises(ValueError, match="int32"):
        gemv_program(CFG, b, precision="int8", out_dtype="int8", **ADDRS)
    with pytest.raises(ValueError, match="with a scale"):
        gemv_program(CFG, b, precision="int8", out_dtype="int32", scale=np.ones(4, np.float32),
                     **ADDRS)
    with pytest.raises(ValueError, match="for int8 output"):
        gemv_program(CFG, b, precision="int8", out_dtype="fp16", scale=np.ones(4, np.float32),
                     zero_point=1, **ADDRS)
    with pytest.raises(ValueError, match="int8-precision"):
        gemv_program(SoCConfig(npu_rows=3, npu_cols=4, npu_spad_rows=128, npu_acc_rows=64),
                     b, precision="int8", fmt="int4", **ADDRS)
    with pytest.raises(ValueError, match="int8-precision"):
        gemv_program(CFG, b, precision="fp16", fmt="int8-sparse24", **ADDRS)
    with pytest.raises(ValueError, match="group size"):
        gemv_program(CFG, b, precision="fp16", fmt="int4", **ADDRS)
    with pytest.raises(ValueError, match="multiple of 4 x the array's rows"):
        gemv_program(SoCConfig(npu_rows=16, npu_cols=4, npu_spad_rows=128, npu_acc_rows=64),
                     b, precision="fp16", fmt="int4", scales=np.ones((1, 4), np.float16),
                     group_size=32, **ADDRS)
    with pytest.raises(ValueError, match="scales and group_size"):
        gemv_program(CFG, b, precision="int8", fmt="int4", group_size=32, **ADDRS)
    with pytest.raises(ValueError, match="not 2:4 sparse"):
        gemv_program(CFG, b + 1, precision="int8", fmt="int8-sparse24", **ADDRS)
    with pytest.raises(ValueError, match="K % 4"):
        gemv_program(CFG, b[:6], precision="int8", fmt="int8-sparse24", **ADDRS)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        gemv_program(CFG, b + np.int8(9) * (np.arange(8)[:, None] == 0),
                     precision="int8", fmt="int4-sparse24", **ADDRS)
    with pytest.raises(ValueError, match="takes weights"):
        gemv_program(CFG, b, precision="int8", fmt="int2", **ADDRS)
    with pytest.raises(ValueError, match="nb must be"):
        gemv_program(CFG, b, precision="int8", nb=1000, **ADDRS)


@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("config", [CFG, ROOMY], ids=["per-tile-a", "resident-a"])
def test_chunked_dense_loads(precision, config):
    """Dense weights in chunks of up to 2 or 4 k tiles (one LOAD per chunk, the last two
    tiles one per LOAD): the same result bit for bit as one k tile per LOAD (FP16: the same
    sequential order), fewer weight LOADs; a chunk outside 1..8, or of compressed weights,
    is refused."""
    rng = np.random.default_rng(41)
    k, n = 48, 37
    if precision == "int8":
        a = rng.integers(-128, 128, (1, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        bias = rng.integers(-999, 999, n, dtype=np.int32)
    else:
        a = (rng.standard_normal((1, k)) * 8).astype(np.float16)
        b = (rng.standard_normal((k, n)) * 8).astype(np.float16)
        bias = rng.standard_normal(n).astype(np.float32)
    outs, loads = [], []
    for chunk in (1, 2, 4):
        program = gemv_program(config, b, precision=precision, bias=bias, chunk=chunk, nb=5,
                               **ADDRS)
        got, model = _run(program, a, config)
        assert model.error is None
        outs.append(golden.bits(got) if precision == "fp16" else got)
        loads.append(sum(1 for d in program.descriptors if decode(d)[0] == Opcode.LOAD
                         and decode(d)[1]["target"] == 0 and decode(d)[1]["cols"] == 4))
    want = golden.gemm_int8(a, b, bias) if precision == "int8" else \
        golden.bits(golden.gemm_fp16(a, b, bias))
    assert all(np.array_equal(o, want) for o in outs)
    assert loads[0] > loads[1] > loads[2]
    with pytest.raises(ValueError, match="chunk must be"):
        gemv_program(config, b, precision=precision, chunk=9, **ADDRS)
    with pytest.raises(ValueError, match="chunk must be"):
        gemv_program(config, b.astype(np.int8) if precision == "int8" else b, fmt="int4",
                     precision="int8", chunk=2, **ADDRS)


def _spad_rows(program):
    """(lowest, one past the highest) SPAD row the program's LOADs and COMPUTEs touch, and the
    ACC rows its COMPUTEs write."""
    spad, acc = set(), set()
    for d in program.descriptors:
        op, f = decode(d)
        if op == Opcode.LOAD and f["target"] == 0:
            spad.update(range(f["local_addr"], f["local_addr"] + f["rows"]))
        elif op == Opcode.COMPUTE:
            acc.update(range(f["acc_addr"], f["acc_addr"] + f["m"]))
    return spad, acc


@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("config", [CFG, ROOMY], ids=["per-tile-a", "resident-a"])
def test_flip_moves_the_layout_not_the_result(precision, config):
    """``flip``: the same result bit for bit, the SPAD layout ending at the last SPAD row and
    the first block in the upper ACC half, so a flipped and an unflipped layer use disjoint
    ACC rows and, when both fit, disjoint SPAD rows (the compiler alternates them for
    prefetch_next)."""
    rng = np.random.default_rng(77)
    k, n = 24, 11
    if precision == "int8":
        a = rng.integers(-128, 128, (1, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n)).astype(np.int8)
        bias = rng.integers(-999, 999, n, dtype=np.int32)
        want = golden.gemm_int8(a, b, bias)
    else:
        a = (rng.standard_normal((1, k)) * 8).astype(np.float16)
        b = (rng.standard_normal((k, n)) * 8).astype(np.float16)
        bias = rng.standard_normal(n).astype(np.float32)
        want = golden.bits(golden.gemm_fp16(a, b, bias))
    rows = []
    for flip in (False, True):
        program = gemv_program(config, b, precision=precision, bias=bias, nb=n, flip=flip,
                               **ADDRS)
        got, model = _run(program, a, config)
        assert model.error is None
        assert np.array_equal(golden.bits(got) if precision == "fp16" else got, want)
        rows.append(_spad_rows(program))
    (spad0, acc0), (spad1, acc1) = rows
    assert min(spad0) == 0 and max(spad1) == config.npu_spad_rows - 1
    assert not acc0 & acc1
    # Disjoint SPAD rows whenever the two layouts fit side by side (always with ROOMY; the
    # small SPAD of CFG cannot hold both).
    fits = len(spad0) + len(spad1) <= config.npu_spad_rows
    assert fits == (config is ROOMY)
    assert not (fits and spad0 & spad1)
    assert min(acc1) == config.npu_acc_rows // 2
