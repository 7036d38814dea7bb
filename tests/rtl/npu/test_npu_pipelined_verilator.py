"""The 4x4 NPU with the ULX3S's pipelined units (``npu_load_pipeline``: the LOAD unit's two
row stages; ``npu_eltwise_pipeline``: the TFLite ADD's three rescaling stages) on Verilator:
W4A16 (the pipelined int4 x fp16 dequantization), int4 and 2:4 sparse int8 GEMMs, and
an INT8 ADD layer whose STOREs follow its ELTWISE rows, each equal to the golden model and the
command model bit for bit. Needs its own 4x4 NPU model (minutes to build once), hence slow."""

import dataclasses

import numpy as np
import pytest
from dure.sim import golden, golden_int4, golden_sparse24
from dure.sim.eltwise_plan import add_int8_program
from dure.sim.golden_tflite import add_int8
from dure.sim.golden_tflite_params import add_params
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.layer_verilator import run_layer
from dure.sim.weight_formats import gemm_program, pack_weights

from dure.config import MAIN_BASE, preset

# the ULX3S's combination: the pipelined units without npu_load_follow (SoCConfig refuses both)
CFG = dataclasses.replace(preset("npu-small"), npu_load_pipeline=True,
                          npu_eltwise_pipeline=True, npu_load_follow=False)
SIZE = 1 << 18
ADDRS = dict(a_addr=MAIN_BASE + 0x100, out_addr=MAIN_BASE + 0x20000,
             param_addr=MAIN_BASE + 0x30000)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return nv.build(CFG)


def run(model, program, inputs):
    """``program`` on the RTL and on the command model: the RTL's output (asserted equal)."""
    got, perf, error = run_layer(model, program, inputs, base=MAIN_BASE, size=SIZE)
    assert error == 0
    ref = NpuModel(CFG, memory={MAIN_BASE: bytes(SIZE)})
    ref.set_window(MAIN_BASE, SIZE)
    want = run_on_model(ref, program, inputs)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    return got


def test_w4a16(model):
    rng = np.random.default_rng(31)
    m, k, n, group = 3, 72, 7, 32
    a = rng.standard_normal((m, k)).astype(np.float16)
    q = rng.integers(-8, 8, (k, n)).astype(np.int8)
    scales = (rng.standard_normal((3, n)) * 2.0 ** rng.integers(-18, 13, (3, n))) \
        .astype(np.float16)
    scales.reshape(-1)[:3] = [np.float16(-0.0), np.float16(6e-8), np.float16(60000)]
    packed = pack_weights("int4", q, precision="fp16", tile=CFG.npu_cols, scales=scales,
                          group_size=group)
    program = gemm_program(CFG, m, packed, precision="fp16", out_dtype="fp32", **ADDRS)
    got = run(model, program, [(ADDRS["a_addr"], a)])
    want = golden_int4.gemm_w4a16(a, q, scales, group)
    assert np.array_equal(golden.bits(got), golden.bits(want))


@pytest.mark.parametrize("fmt", ["int4", "int8-sparse24"])
def test_int8_gemms(model, fmt):
    rng = np.random.default_rng(32 + len(fmt))
    m, k, n = 5, 44, 10
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    lo, hi = (-8, 7) if fmt == "int4" else (-128, 127)
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    if fmt != "int4":
        keep = rng.random((k // 4, 4, n)).argsort(axis=1) < 2
        w = np.where(keep.reshape(k, n), w, 0).astype(np.int8)
    bias = rng.integers(-3000, 3000, n, dtype=np.int32)
    packed = pack_weights(fmt, w, tile=CFG.npu_cols)
    program = gemm_program(CFG, m, packed, precision="int8", out_dtype="int32", bias=bias,
                           **ADDRS)
    got = run(model, program, [(ADDRS["a_addr"], a)])
    if fmt == "int4":
        want = golden_int4.gemm_w4a8(a, w, bias)
    else:
        want = golden_sparse24.gemm_sparse24_int8(a, *golden_sparse24.compress_24(w), bias)
    assert np.array_equal(got, want)


def test_add_int8_layer(model):
    rng = np.random.default_rng(33)
    a = rng.integers(-128, 128, (1, 6, 5, 7), dtype=np.int8)
    b = rng.integers(-128, 128, (1, 6, 5, 7), dtype=np.int8)
    a.reshape(-1)[:2], b.reshape(-1)[:2] = [-128, 127], [-128, -128]
    params = add_params(0.05, 0.07, 0.02)
    kw = dict(input1_zero_point=-128, input2_zero_point=127, output_zero_point=-5, lo=-128,
              hi=127)
    b_addr = MAIN_BASE + 0x10000
    program = add_int8_program(CFG, a.shape, params, a_addr=ADDRS["a_addr"], b_addr=b_addr,
                               out_addr=ADDRS["out_addr"], param_addr=ADDRS["param_addr"], **kw)
    got = run(model, program, [(ADDRS["a_addr"], a), (b_addr, b)])
    want = add_int8(a, b, params, **kw)
    assert np.array_equal(got, want)
    assert {-128, 127} <= set(want.reshape(-1).tolist())
