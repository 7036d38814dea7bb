"""NpuDatapath 8x8 on Verilator: tiled GEMMs in INT8 and FP16 bit for bit against golden with a
slow, jittery bus; bus errors; and the throughput figures (DMA bandwidth, MACs per cycle)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, LoadTarget, OutType
from dure.rtl.npu.isa import Precision
from dure.sim import golden
from dure.sim.verif.datapath_model import build
from dure.sim.verif.gemm_program import gemm_expected, gemm_program, read_output
from dure.sim.verif.npu_datapath import Command, reference

from dure.config import MAIN_BASE, SoCConfig

# The 8x8 model takes several minutes to build on 2 cores, so this module runs under `make fuzz`;
# `make test` covers the datapath end to end at 2x2 (test_datapath.py), the whole NPU's
# throughput at 4x4 (test_npu.py) and NPU firmware on the npu-small SoC.
pytestmark = pytest.mark.slow

CFG = SoCConfig()     # 8x8, FP16, SPAD 2048 rows, ACC 1024 rows, main latency 10, 4 B/cycle


@pytest.fixture(scope="module")
def model():
    return build(CFG)


def check_gemm(model, a, b, *, stall=0.0, jitter=0, idle=0.0, seed=1, **kw):
    cmds, image, layout = gemm_program(CFG, a, b, base=MAIN_BASE, **kw)
    run = model.run(cmds, image, base=MAIN_BASE, stall=stall, jitter=jitter, idle=idle,
                    seed=seed)
    assert not run.errors.any()
    expect, _, _ = reference(CFG, cmds, image, MAIN_BASE)
    assert run.memory == expect, "main memory differs from the command-level reference"
    got = read_output(run.memory, layout, a.shape[0], b.shape[1], kw.get("out", OutType.INT32))
    np.testing.assert_array_equal(got, gemm_expected(a, b, **kw))
    return run


@pytest.mark.parametrize("seed", range(4))
def test_int8_gemms(model, seed):
    rng = np.random.default_rng(seed)
    m, k, n = (int(x) for x in rng.integers(1, [40, 30, 20]))
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    bias = rng.integers(-20000, 20000, n, dtype=np.int32)
    scale = (rng.random(n) * 0.01 + 1e-4).astype(np.float32)
    mode = seed % 4          # the fixed seeds 0..3 take every mode; a rotating seed one of them
    out = [OutType.INT8, OutType.INT32, OutType.FP16, OutType.INT8][mode]
    kw = dict(bias=bias)
    if out != OutType.INT32:
        kw["scale"] = scale
    if out == OutType.INT8:
        kw.update(zero_point=int(rng.integers(-20, 20)), lo=-90, hi=100)
    check_gemm(model, a, b, out=out, stall=[0, 0.3, 0.5, 0.1][mode], jitter=[0, 5, 2, 9][mode],
               idle=[0, 0.2, 0, 0.5][mode], seed=seed, **kw)


@pytest.mark.parametrize("seed", range(3))
def test_fp16_gemms(model, seed):
    rng = np.random.default_rng(100 + seed)
    m, k, n = (int(x) for x in rng.integers(1, [40, 30, 20]))
    a = (rng.standard_normal((m, k)) * 2.0 ** rng.integers(-6, 6, (m, k))).astype(np.float16)
    b = (rng.standard_normal((k, n)) * 2.0 ** rng.integers(-6, 6, (k, n))).astype(np.float16)
    a.view(np.uint16)[rng.random((m, k)) < 0.02] = 0x7C00          # a few infinities
    b.view(np.uint16)[rng.random((k, n)) < 0.02] = 0x8000          # and negative zeros
    bias = (rng.standard_normal(n) * 10).astype(np.float32)
    mode = seed % 3          # the fixed seeds 0..2 take every mode; a rotating seed one of them
    if mode == 0:
        kw = dict(out=OutType.FP32, bias=bias)
    else:
        kw = dict(out=OutType.FP16, bias=bias, scale=(rng.random(n) + 0.5).astype(np.float32),
                  lo=-30.0 * mode, hi=500.0)
    check_gemm(model, a, b, stall=0.2 * mode, jitter=3 * mode, idle=0.1 * mode, seed=seed, **kw)


def test_bus_errors(model):
    """A LOAD and a STORE hitting an err word report the error with done and stop; the
    commands after them run normally."""
    image = bytearray(np.random.default_rng(5).integers(0, 256, 4096, np.uint8))
    cmds = [
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN_BASE,
                             dram_stride=8, rows=64, cols=8, local_addr=0)),
        Command("load", dict(target=LoadTarget.ACC, elem=ElemType.WORD32,
                             dram_addr=MAIN_BASE + 1024, dram_stride=32, rows=4, cols=8,
                             local_addr=0)),
        Command("store", dict(out=OutType.INT32, acc_type=Precision.INT8,
                              dram_addr=MAIN_BASE + 2048, dram_stride=32, rows=4, cols=8,
                              acc_addr=0)),
        Command("store", dict(out=OutType.INT32, acc_type=Precision.INT8,
                              dram_addr=MAIN_BASE + 3072, dram_stride=32, rows=4, cols=8,
                              acc_addr=0)),
    ]
    err_words = [(MAIN_BASE + 8 * 40) // 4, (MAIN_BASE + 2048 + 32) // 4]
    run = model.run(cmds, image, base=MAIN_BASE, err_words=err_words, stall=0.2, seed=3)
    assert list(run.errors) == [True, False, True, False]
    expect, _, _ = reference(CFG, cmds[1:], image, MAIN_BASE)
    assert run.memory[2048:2080] == expect[2048:2080]      # the STORE's row before the error
    assert run.memory[3072:3200] == expect[3072:3200]      # the next STORE, complete


def test_throughput(model):
    """Measured: DMA read bandwidth of one large LOAD, and MACs per cycle of a 128x64x32 INT8
    GEMM's 32 COMPUTEs once A and W are on chip (N tiles inner, so consecutive COMPUTEs are
    independent and pipeline)."""
    rng = np.random.default_rng(9)
    m, k, n = 128, 64, 32
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    image = bytearray(m * k + k * n + 4 * m * n + 2048 * 8)
    image[:m * k] = a.tobytes()
    image[m * k:m * k + k * n] = b.tobytes()
    out_at = m * k + k * n
    big = len(image) - 2048 * 8
    loads, computes, stores = [], [], []
    # One large contiguous LOAD (the bandwidth figure): 2048 rows of 8 bytes.
    loads.append(Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8,
                                      dram_addr=MAIN_BASE + big, dram_stride=8, rows=2048,
                                      cols=8, local_addr=0)))
    for t in range(k // 8):        # A column tiles: rows t*128.. ; W tiles after them
        loads.append(Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8,
                                          dram_addr=MAIN_BASE + 8 * t, dram_stride=k, rows=m,
                                          cols=8, local_addr=128 * t)))
        for u in range(n // 8):
            loads.append(Command("load", dict(
                target=LoadTarget.SPAD, elem=ElemType.INT8,
                dram_addr=MAIN_BASE + m * k + 8 * t * n + 8 * u, dram_stride=n, rows=8, cols=8,
                local_addr=1024 + 8 * (4 * t + u))))
    for t in range(k // 8):
        for u in range(n // 8):
            computes.append(Command("exec", dict(
                precision=Precision.INT8, accumulate=int(t > 0), a_addr=128 * t,
                w_addr=1024 + 8 * (4 * t + u), acc_addr=128 * u, m=m, k=8, n=8)))
    for u in range(n // 8):
        stores.append(Command("store", dict(
            out=OutType.INT32, acc_type=Precision.INT8, dram_addr=MAIN_BASE + out_at + 32 * u,
            dram_stride=4 * n, rows=m, cols=8, acc_addr=128 * u)))
    cmds = loads + computes + stores
    run = model.run(cmds, image, base=MAIN_BASE)
    got = np.frombuffer(bytes(run.memory[out_at:out_at + 4 * m * n]), np.int32).reshape(m, n)
    np.testing.assert_array_equal(got, golden.gemm_int8(a, b))

    words = 2048 * 2
    load_cycles = run.done[0] - run.issue[0] + 1
    bw = words / load_cycles
    first, last = len(loads), len(loads) + len(computes) - 1
    compute_cycles = run.done[last] - run.issue[first] + 1
    macs = m * k * n
    util = macs / (compute_cycles * CFG.npu_peak_macs_per_cycle)
    lat = [int(run.done[i] - run.issue[i]) for i in range(first, first + 1)]
    print(f"\nDMA LOAD 2048x8 B: {words} words in {load_cycles} cycles = {bw:.1%} of main memory "
          f"bandwidth\nCOMPUTE x{len(computes)}: {macs} MACs in {compute_cycles} cycles = "
          f"{macs / compute_cycles:.1f} MACs/cycle ({util:.1%} of peak); first COMPUTE "
          f"issue->done {lat[0]} cycles; events: {run.events}")
    assert run.events["macs"] == macs and run.events["rows"] == m * len(computes)
    assert bw >= 0.9
    assert util >= 0.95


def test_latencies(model):
    """Issue-to-done latency of one-row LOAD, COMPUTE and STORE commands run one at a time."""
    from dure.rtl.npu.pe import pe_latencies
    from dure.rtl.npu.postproc import PostProcess

    image = bytearray(np.random.default_rng(1).integers(-3, 3, 256).astype(np.int8).tobytes())
    cmds = [
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN_BASE,
                             dram_stride=8, rows=9, cols=8, local_addr=0)),
        Command("load", dict(target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN_BASE,
                             dram_stride=8, rows=1, cols=8, local_addr=0)),
        Command("exec", dict(precision=Precision.INT8, a_addr=0, w_addr=1, acc_addr=0, m=1,
                             k=8, n=8)),
        Command("store", dict(out=OutType.INT32, acc_type=Precision.INT8,
                              dram_addr=MAIN_BASE + 128, dram_stride=32, rows=1, cols=8,
                              acc_addr=0)),
    ]
    run = model.run(cmds, image, base=MAIN_BASE, deps=[[], [0], [1], [2]])
    expect, _, _ = reference(CFG, cmds, image, MAIN_BASE)
    assert run.memory == expect
    lat = [int(d - i) for i, d in zip(run.issue, run.done, strict=True)]
    mul, add = pe_latencies(True)
    array_latency = CFG.npu_cols + 2 + mul + CFG.npu_rows * add     # SystolicArray.latency
    print(f"\nlatency issue->done: LOAD 1 row {lat[1]}, COMPUTE 1 row (8 weight rows first) "
          f"{lat[2]} (array {array_latency}), STORE 1 row {lat[3]} cycles "
          f"(main memory latency {CFG.main_latency}, PostProcess {PostProcess.LATENCY})")
    assert lat[1] <= CFG.main_latency + 8
    assert lat[2] <= CFG.npu_rows + array_latency + 8
    assert lat[3] <= CFG.main_latency + PostProcess.LATENCY + 12
