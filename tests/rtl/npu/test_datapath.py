"""NpuDatapath end to end on the Amaranth simulator (2x2 array): LOAD, COMPUTE, STORE on its
command streams with a main-memory model, bit for bit against dure.sim.golden; with
``npu_load_follow`` COMPUTEs issued right behind the LOADs of their SPAD rows."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, LoadTarget, OutType
from dure.rtl.npu.datapath import NpuDatapath
from dure.sim.verif.gemm_program import gemm_expected, gemm_program, read_output
from dure.sim.verif.npu_datapath import (
    Command,
    MemoryTarget,
    dependencies,
    reference,
    run_datapath,
)

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


FOLLOW = dataclasses.replace(CFG, npu_load_follow=True)


def _follow_program(base, mem_bytes):
    """LOADs into SPAD each followed at once by the COMPUTE reading their rows: weights, A rows
    by a 2-D placement read by a walk, an overlapping placement (``local_row_step <
    local_cols``: its rows are free only when it is done), a FILL and a broadcast row; each
    COMPUTE's results STOREd as raw int32."""
    int8 = dict(target=LoadTarget.SPAD, elem=ElemType.INT8)
    cmds = [
        Command("load", dict(int8, dram_addr=base, dram_stride=2, rows=2, cols=2,
                             local_addr=24)),
        Command("load", dict(int8, dram_addr=base + 8, dram_stride=3, rows=6, cols=2,
                             local_addr=0, local_cols=3, local_groups=2, local_row_step=4)),
        Command("exec", dict(a_addr=0, w_addr=24, acc_addr=0, m=6, k=2, n=2, a_cols=3,
                             a_rows=2, a_col_step=1, a_row_step=4)),
        Command("load", dict(int8, dram_addr=base + 40, dram_stride=5, rows=6, cols=2,
                             local_addr=10, local_cols=3, local_groups=2, local_row_step=1)),
        Command("exec", dict(a_addr=10, w_addr=24, acc_addr=6, m=4, k=2, n=2)),
        Command("load", dict(int8, fill=1, fill_value=0x7F, rows=3, cols=2, local_addr=16)),
        Command("load", dict(int8, broadcast=1, dram_addr=base + 80, rows=2, cols=2,
                             local_addr=26)),
        Command("exec", dict(a_addr=15, w_addr=26, acc_addr=10, m=4, k=2, n=1,
                             accumulate=1)),
    ]
    out = base + mem_bytes - 128
    for acc0, rows in ((0, 6), (6, 4), (10, 4)):
        cmds.append(Command("store", dict(out=OutType.INT32, acc_type=0, rows=rows, cols=2,
                                          acc_addr=acc0, dram_addr=out + 8 * acc0,
                                          dram_stride=8)))
    return cmds


@pytest.mark.parametrize("overlap", [False, True], ids=["single", "overlap"])
@pytest.mark.parametrize("seed", [0, 1])
def test_compute_follows_its_loads(overlap, seed):
    """``npu_load_follow``: each COMPUTE is issued right behind the LOADs of its SPAD rows
    (no dependency on them) and still reads every row after it is written: main memory equals
    the command model's byte for byte, on a slow bus with stalls; and the first COMPUTE starts
    streaming before its LOAD of A rows is done."""
    config = dataclasses.replace(FOLLOW, npu_load_overlap=overlap)
    rng = np.random.default_rng(40 + seed)
    image = bytearray(rng.integers(0, 256, 384, dtype=np.uint8).tobytes())
    cmds = _follow_program(MAIN_BASE, len(image))
    deps = dependencies(cmds, config)
    assert deps[2] == [] and deps[4] == [] and 6 not in deps[7], deps
    dut = NpuDatapath(config)
    mem = bytearray(image)
    target = MemoryTarget(dut.bus, mem, base=MAIN_BASE, latency=4, jitter=2,
                          gnt_probability=0.6, seed=seed)
    _, errors, stamps = run_datapath(dut, config, cmds, target, seed=seed)
    assert not any(errors)
    expect, _, _ = reference(config, cmds, image, MAIN_BASE)
    assert mem == expect, "main memory differs from the command model"
    # The walk's COMPUTE was issued before its A rows' LOAD was done.
    assert stamps[2][0] < stamps[1][1], stamps


def test_compute_without_follow_waits_for_its_loads():
    """Without ``npu_load_follow`` the same program's COMPUTEs depend on their LOADs."""
    deps = dependencies(_follow_program(MAIN_BASE, 384), CFG)
    assert deps[2] == [0, 1] and deps[4] == [0, 3] and deps[7] == [5, 6], deps
