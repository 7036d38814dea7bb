"""Packed weights (LOAD weight_format) on the Verilator model of a whole 4x4 NPU: GEMMs with
INT4 (W4A8), INT4_FP16 (W4A16) and 2:4 sparse int8 / int4 weights equal the golden models and
the command model bit for bit; malformed packed LOADs are refused with the model's codes and
change nothing (the SPAD rows they name still hold the earlier weights, memory is the
model's). The model, the checked runs and the GEMM cases shared with
test_npu_pipelined_verilator.py: this folder's conftest.py. Needs a 4x4 NPU model (a few
minutes to build once), hence slow."""

import random

import numpy as np
import pytest
from dure.rtl.npu.commands import (
    Control,
    ElemType,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Precision,
    Status,
    WeightFormat,
)
from dure.rtl.npu.descriptor import encode
from dure.sim import golden, golden_int4, golden_sparse24
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv

from dure.config import MAIN_BASE, preset

CFG = preset("npu-small")       # 4x4, FP16, the test suite's NPU variant
CHECK_MACS = True               # every checked run: the MACS counter equals the program's MACs

pytestmark = pytest.mark.slow


def sparse(rng, k, n, lo, hi):
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    keep = rng.random((k // 4, 4, n)).argsort(axis=1) < rng.integers(0, 3, (k // 4, 1, n))
    return np.where(keep.reshape(k, n), w, 0).astype(np.int8)


@pytest.mark.parametrize("fmt", ["int4", "int8-sparse24", "int4-sparse24"])
def test_int8_precision_formats(npu_layer, fmt):
    rng = np.random.default_rng(len(fmt))
    m, k, n = 3, 44, 10
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    lo, hi = (-128, 127) if fmt == "int8-sparse24" else (-8, 7)
    w = sparse(rng, k, n, lo, hi) if "sparse" in fmt else \
        rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    bias = rng.integers(-3000, 3000, n, dtype=np.int32)
    npu_layer.int8_gemm(fmt, a, w, bias)


def test_w4a16(npu_layer):
    npu_layer.w4a16(seed=16, m=2)


def _malformed():
    base = MAIN_BASE + 0x1000
    common = dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=base, dram_stride=8,
                  rows=4, cols=4, local_addr=4)
    fp = dict(elem=ElemType.FP16, weight_format=WeightFormat.INT4_FP16)
    return [
        dict(common, weight_format=7),
        dict(common, weight_format=WeightFormat.SPARSE24_LANES, cols=2),
        dict(common, weight_format=WeightFormat.SPARSE24_INT4_LANES, dram_stride=1),
        dict(common, weight_format=WeightFormat.INT4, fill_value=3),
        dict(common, weight_format=WeightFormat.SPARSE24, rows=6),
        dict(common, weight_format=WeightFormat.SPARSE24, broadcast=1),
        dict(common, weight_format=WeightFormat.INT4, target=LoadTarget.ACC,
             elem=ElemType.WORD32),
        dict(common, **fp, scale_addr=base + 1),
        dict(common, weight_format=WeightFormat.SPARSE24_INT4, dram_stride=5),
        dict(common, weight_format=WeightFormat.INT4, local_addr=CFG.npu_spad_rows - 3),
        dict(common, **fp, scale_addr=base + 0x1000 - 6),
        dict(common, weight_format=WeightFormat.SPARSE24, dram_addr=base + 0x1000 - 9),
    ]


def test_malformed_packed_loads_change_nothing(npu_rtl):
    """Dense A and W in SPAD, then each malformed packed LOAD aimed at W's rows, then a
    COMPUTE and STORE: the output is A @ W of the dense weights; every code is the model's."""
    rng = np.random.default_rng(5)
    image = bytearray(rng.integers(0, 256, 0x3000, np.uint8).tobytes())
    window = (MAIN_BASE + 0x1000, 0x1000)
    base = window[0]
    spad8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8)
    setup = [encode(Opcode.LOAD, **spad8, dram_addr=base + 0x100, dram_stride=4, rows=4,
                    cols=4, local_addr=0),
             encode(Opcode.LOAD, **spad8, dram_addr=base + 0x200, dram_stride=4, rows=4,
                    cols=4, local_addr=4)]
    bad = [encode(Opcode.LOAD, **f) for f in _malformed()]
    tail = [encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=4, acc_addr=0,
                   m=4, k=4, n=4),
            encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8,
                   dram_addr=base + 0x800, dram_stride=16, rows=4, cols=4, acc_addr=0)]
    descriptors = setup + bad + tail
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", window[1]),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    for words in descriptors:
        script += nv.submit(words) + [nv.wait_idle(), nv.read("STATUS"), nv.read("ERROR"),
                                      nv.write("STATUS", Status.ERROR.value)]
    run_ = npu_rtl.run(script, image, base=MAIN_BASE)
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    ref.set_window(*window)
    codes = []
    for words in descriptors:
        codes.append(ref.execute(words))
        ref.clear_error()
    assert all(code != ErrorCode.NONE for code in codes[2:-2])
    got = [e & 0xFFFF_FFFF if s & Status.ERROR.value else 0
           for s, e in zip(run_.values[0::2], run_.values[1::2], strict=True)]
    assert got == [0 if c == ErrorCode.NONE else c.value | seq << 8
                   for seq, c in enumerate(codes)]
    assert bytes(run_.memory) == ref.read(MAIN_BASE, len(image))
    a = np.frombuffer(bytes(image[0x1100:0x1110]), np.int8).reshape(4, 4)
    w = np.frombuffer(bytes(image[0x1200:0x1210]), np.int8).reshape(4, 4)
    out = np.frombuffer(bytes(run_.memory[0x1800:0x1840]), np.int32).reshape(4, 4)
    assert np.array_equal(out, golden.gemm_int8(a, w))


def test_random_packed_streams(npu_rtl):
    """Random descriptors (packed LOADs among them, mostly near-valid) one after another:
    final memory and the first error equal the command model's."""
    from dure.sim.npu_descriptors import random_descriptor

    rng = random.Random(21)
    image = bytearray(np.random.default_rng(21).integers(0, 256, 0x3000, np.uint8).tobytes())
    base, size = MAIN_BASE + 0x1000, 0x1000
    descriptors = []
    while len(descriptors) < 250:
        words = random_descriptor(rng, CFG)
        opcode = words[0] & 0xF
        if opcode not in (Opcode.LOAD.value, Opcode.COMPUTE.value, Opcode.STORE.value):
            continue
        if opcode in (Opcode.LOAD.value, Opcode.STORE.value):
            words[1] = base + rng.choice([-4, 0, 1, 2, 0x400, 0xFF0, 0xFFC]) if words[1] else 0
            words[2] = rng.choice([0, 3, 5, 8, 12, 20, 64]) if words[2] else 0
            words[3] = (words[3] & 0xFFFF_0000) | min(words[3] & 0xFFFF, 24)
            if (words[0] >> 10) & 7 == WeightFormat.INT4_FP16.value:
                words[5] = base + rng.choice([0, 2, 6, 0xFF8, 0xFFA, 0x1000])
        descriptors.append(words)
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", size)]
    for words in descriptors:
        script += nv.submit(words)
    script += [nv.wait_idle(), nv.read("ERROR")]
    run_ = npu_rtl.run(script, image, base=MAIN_BASE)
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(image)})
    ref.set_window(base, size)
    codes = [ref.execute(words) for words in descriptors]
    packed = [c for w, c in zip(descriptors, codes, strict=True)
              if w[0] & 0xF == Opcode.LOAD.value and (w[0] >> 10) & 7]
    assert ErrorCode.NONE in packed and len(set(packed)) >= 4
    want = 0 if ref.error is None else ref.error[0].value | ref.error[1] << 8
    assert run_.values[-1] == want
    assert bytes(run_.memory) == ref.read(MAIN_BASE, len(image))


def test_gemv_plan_streams_at_the_roofline(npu_layer):
    """The transposed GEMV plan (1 x 128 x 256 int8, with bias) on the 4x4 NPU: bit-exact with
    the command model and golden, and at least 78 % of the memory roofline bound (BUSY cycles;
    the bound counts the bytes the DMA moved; measured 80.7 %: the activation values come per
    K tile here, the SPAD of this variant being too small to keep them resident)."""
    from dure.sim.gemv_plan import gemv_program

    rng = np.random.default_rng(8)
    k, n = 128, 256
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-999, 999, n, dtype=np.int32)
    addrs = npu_layer.ADDRS
    program = gemv_program(CFG, b, precision="int8", bias=bias, **addrs)
    got, perf = npu_layer.run(program, [(addrs["a_addr"], a)])
    assert np.array_equal(got, golden.gemm_int8(a, b, bias))
    bound = min(CFG.npu_peak_macs_per_cycle,
                CFG.main_bytes_per_cycle * k * n / (perf["DMA_RD"] + perf["DMA_WR"]))
    rate = k * n / perf["BUSY"]
    print(f"\nGEMV 1x{k}x{n} int8 on 4x4: {rate:.2f} MACs/cycle, bound {bound:.2f} "
          f"({rate / bound:.1%})")
    assert rate >= 0.78 * bound


@pytest.mark.parametrize("fmt", ["int8-sparse24", "int4-sparse24", "w4a16"])
def test_gemv_plan_compressed_formats(npu_layer, fmt):
    """The transposed GEMV plan with 2:4 weights (lane-grouped LOADs) and W4A16 weights
    (INT4_FP16_ROWS LOADs, walked COMPUTEs) on the 4x4 NPU: bit-exact with the command model
    and the golden sparse / W4A16 GEMMs, with bias; the DMA moves the compressed bytes."""
    from dure.sim.gemv_plan import gemv_program

    rng = np.random.default_rng(len(fmt))
    k, n = 72, 44
    refs = []
    addrs = npu_layer.ADDRS
    bias = rng.integers(-999, 999, n, dtype=np.int32)
    if fmt == "w4a16":
        a = rng.standard_normal((1, k)).astype(np.float16)
        q = rng.integers(-8, 8, (k, n)).astype(np.int8)
        scales = (rng.standard_normal((3, n)) * 2.0 ** rng.integers(-12, 6, (3, n))) \
            .astype(np.float16)
        fbias = rng.standard_normal(n).astype(np.float32)
        program = gemv_program(CFG, q, precision="fp16", fmt="int4", scales=scales,
                               group_size=32, bias=fbias, **addrs)
        got, perf = npu_layer.run(program, [(addrs["a_addr"], a)], refs)
        want = golden_int4.gemm_w4a16(a, q, scales, 32, fbias)
        assert np.array_equal(golden.bits(got), golden.bits(want))
        weight_bytes = n * 5 * 10           # ceil(72 / 16) source rows of 2 + 2 * 4 bytes
    else:
        a = rng.integers(-128, 128, (1, k), dtype=np.int8)
        lo, hi = (-128, 127) if fmt.startswith("int8") else (-8, 7)
        b = sparse(rng, k, n, lo, hi)
        program = gemv_program(CFG, b, precision="int8", fmt=fmt, bias=bias, **addrs)
        got, perf = npu_layer.run(program, [(addrs["a_addr"], a)], refs)
        want = golden_sparse24.gemm_sparse24_int8(a, *golden_sparse24.compress_24(b), bias)
        assert np.array_equal(got, want)
        # R = 4: a 3-byte int8 2:4 record is padded to a bus word (gemv_plan word_records).
        weight_bytes = k * n * (4 if fmt.startswith("int8") else 2) // 4
    # Operand bytes (the command model's count; the NPU's DMA_RD adds the LIST's descriptors):
    # the compressed weights, the bias and the activations of each block.
    assert weight_bytes < refs[0].dma_rd <= weight_bytes + 4 * n + 2 * k * 4
    assert perf["DMA_RD"] >= refs[0].dma_rd
