"""NpuDatapath end to end on the Amaranth simulator (2x2 array): LOAD, COMPUTE, STORE on its
command streams with a main-memory model, bit for bit against dure.sim.golden."""

import numpy as np
import pytest
from dure.rtl.npu.commands import OutType
from dure.rtl.npu.datapath import NpuDatapath
from dure.rtl.npu.gemm_program import gemm_expected, gemm_program, read_output
from dure.sim.verif.npu_datapath import MemoryTarget, reference, run_datapath

from dure.config import MAIN_BASE, SoCConfig

CFG = SoCConfig(npu_rows=2, npu_cols=2, npu_spad_rows=32, npu_acc_rows=16, main_latency=3)


def run_gemm(config, a, b, *, seed=0, gnt=1.0, latency=3, jitter=0, idle=0.0, **kw):
    cmds, image, layout = gemm_program(config, a, b, base=MAIN_BASE, **kw)
    dut = NpuDatapath(config)
    mem = bytearray(image)
    target = MemoryTarget(dut.bus, mem, base=MAIN_BASE, latency=latency, jitter=jitter,
                          gnt_probability=gnt, seed=seed)
    cycles, errors, _ = run_datapath(dut, config, cmds, target, seed=seed, idle=idle)
    assert not any(errors)
    expect_mem, _, _ = reference(config, cmds, image, MAIN_BASE)
    assert mem == expect_mem, "main memory differs from the command-level reference"
    out = kw.get("out", OutType.INT32)
    got = read_output(mem, layout, a.shape[0], b.shape[1], out)
    np.testing.assert_array_equal(got, gemm_expected(a, b, **kw))
    return cycles


def test_int8_odd_shapes_k_tiling_bias_requantize():
    """M=3, K=5 (3 K tiles), N=3 (2 N tiles), bias by broadcast LOAD, int8 requantization."""
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (3, 5), dtype=np.int8)
    b = rng.integers(-128, 128, (5, 3), dtype=np.int8)
    bias = rng.integers(-5000, 5000, 3, dtype=np.int32)
    scale = np.float32([0.01, 0.003, 0.02])
    run_gemm(CFG, a, b, bias=bias, scale=scale, out=OutType.INT8, zero_point=3, lo=-100,
             hi=90, gnt=0.6, latency=2, jitter=3, idle=0.2)


def test_int8_raw_int32():
    rng = np.random.default_rng(2)
    a = rng.integers(-128, 128, (4, 3), dtype=np.int8)
    b = rng.integers(-128, 128, (3, 2), dtype=np.int8)
    run_gemm(CFG, a, b, out=OutType.INT32)


@pytest.mark.parametrize("out", [OutType.FP16, OutType.FP32])
def test_fp16(out):
    """FP16 with K tiling (fp32 partial sums through ACC keep the sequential order), bias,
    scale and ReLU clamp (FP16 out) or raw fp32."""
    rng = np.random.default_rng(3 + out.value)
    a = (rng.standard_normal((3, 5)) * 4).astype(np.float16)
    b = (rng.standard_normal((5, 3)) * 4).astype(np.float16)
    bias = (rng.standard_normal(3) * 10).astype(np.float32)
    kw = dict(scale=np.float32([0.5, 1.25, -2.0]), lo=0.0, hi=30.0) if out == OutType.FP16 \
        else {}
    run_gemm(CFG, a, b, bias=bias, out=out, gnt=0.7, latency=4, jitter=2, **kw)
