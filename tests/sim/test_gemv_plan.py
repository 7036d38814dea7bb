"""The transposed GEMV plan on the golden command model: bit-exact with the golden GEMMs (INT8,
W4A8 int4, FP16 with its sequential order), with and without bias, blocks and partial tiles."""

import numpy as np
import pytest
from dure.sim import golden, golden_int4
from dure.sim.gemv_plan import gemv_program
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


def test_refusals():
    b = np.zeros((8, 4), np.int8)
    with pytest.raises(ValueError, match="int32"):
        gemv_program(CFG, b, precision="int8", out_dtype="int8", **ADDRS)
    with pytest.raises(ValueError, match="W4A8"):
        gemv_program(CFG, b.astype(np.float16), precision="fp16", fmt="int4", **ADDRS)
    with pytest.raises(ValueError, match="nb must be"):
        gemv_program(CFG, b, precision="int8", nb=1000, **ADDRS)
