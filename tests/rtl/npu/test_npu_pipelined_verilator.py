"""The 4x4 NPU with the ULX3S's pipelined units (``npu_load_pipeline``: the LOAD unit's two
row stages; ``npu_eltwise_pipeline``: the TFLite ADD's three rescaling stages;
``npu_eltwise_operand_regs``: the element-wise unit's operand register stage;
``npu_store_wait_reg``: the STORE unit's registered per-row wait) and its other
timing options (``npu_dma_side_slices``: a register slice on each side of the DMA's arbiter;
``npu_hazard_regs``: the dispatcher's registered hazard scoreboard) on Verilator:
W4A16 (the pipelined int4 x fp16 dequantization), int4 and 2:4 sparse int8 GEMMs, and
an INT8 ADD layer whose STOREs follow its ELTWISE rows, each equal to the golden model and the
command model bit for bit (the model, the checked runs and the GEMM cases: this folder's
conftest.py). Needs its own 4x4 NPU model (minutes to build once), hence slow."""

import dataclasses

import numpy as np
import pytest
from dure.sim.eltwise_plan import add_int8_program
from dure.sim.golden_tflite import add_int8
from dure.sim.golden_tflite_params import add_params

from dure.config import MAIN_BASE, preset

# the ULX3S's combination: the pipelined units without npu_load_follow (SoCConfig refuses both)
CFG = dataclasses.replace(preset("npu-small"), npu_load_pipeline=True,
                          npu_eltwise_pipeline=True, npu_eltwise_operand_regs=True,
                          npu_store_wait_reg=True,
                          npu_load_follow=False,
                          npu_dma_side_slices=True, npu_hazard_regs=True,
                          npu_row_hazard=False)

pytestmark = pytest.mark.slow


def test_w4a16(npu_layer):
    npu_layer.w4a16(seed=31, m=3)


@pytest.mark.parametrize("fmt", ["int4", "int8-sparse24"])
def test_int8_gemms(npu_layer, fmt):
    rng = np.random.default_rng(32 + len(fmt))
    m, k, n = 5, 44, 10
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    lo, hi = (-8, 7) if fmt == "int4" else (-128, 127)
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    if fmt != "int4":
        keep = rng.random((k // 4, 4, n)).argsort(axis=1) < 2
        w = np.where(keep.reshape(k, n), w, 0).astype(np.int8)
    bias = rng.integers(-3000, 3000, n, dtype=np.int32)
    npu_layer.int8_gemm(fmt, a, w, bias)


def test_add_int8_layer(npu_layer):
    rng = np.random.default_rng(33)
    a = rng.integers(-128, 128, (1, 6, 5, 7), dtype=np.int8)
    b = rng.integers(-128, 128, (1, 6, 5, 7), dtype=np.int8)
    a.reshape(-1)[:2], b.reshape(-1)[:2] = [-128, 127], [-128, -128]
    params = add_params(0.05, 0.07, 0.02)
    kw = dict(input1_zero_point=-128, input2_zero_point=127, output_zero_point=-5, lo=-128,
              hi=127)
    addrs = npu_layer.ADDRS
    b_addr = MAIN_BASE + 0x10000
    program = add_int8_program(CFG, a.shape, params, a_addr=addrs["a_addr"], b_addr=b_addr,
                               out_addr=addrs["out_addr"], param_addr=addrs["param_addr"], **kw)
    got, _ = npu_layer.run(program, [(addrs["a_addr"], a), (b_addr, b)])
    want = add_int8(a, b, params, **kw)
    assert np.array_equal(got, want)
    assert {-128, 127} <= set(want.reshape(-1).tolist())
