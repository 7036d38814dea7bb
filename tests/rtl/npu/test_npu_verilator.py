"""The whole 8x8 NPU on Verilator, programmed through its registers: MACs per cycle of a
128x64x32 GEMM from the perf counters, with its operands already in SPAD (COMPUTEs back to back
through the dispatcher) and streamed from main memory, in both tiling orders; outputs bit-exact
with golden. Those are slow (``make fuzz``); one short run of the shipped 8x8 NPU (the ``sim``
variant's) is in every ``make test``: it pays the model build once (cached under
``build/npu_verilator/``) and runs small INT8 and FP16 GEMMs and a refused command."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import Control, ElemType, ErrorCode, LoadTarget, Opcode, Status
from dure.rtl.npu.descriptor import encode
from dure.sim import golden
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.npu_control import resident_gemm

from dure.config import MAIN_BASE, SoCConfig, preset

CFG = SoCConfig()     # 8x8, FP16, SPAD 2048 rows, ACC 1024 rows, queue 8, main latency 10
PERF = ("BUSY", "MACS", "COMPUTE", "STALL_DEP", "DMA_RD")



@pytest.fixture(scope="module")
def model():
    return nv.build(CFG)


def measure(model, kind, m, k, n, *, on_chip, k_inner=False, seed=3):
    """Runs a :func:`resident_gemm`; returns the perf counters of the COMPUTE phase (on chip)
    or of the LOAD + COMPUTE stream, with MACs/cycle and utilisation."""
    rng = np.random.default_rng(seed)
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        expect = golden.gemm_int8(a, b).view(np.uint32)
    else:
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
        expect = golden.gemm_fp16(a, b).view(np.uint32)
    gemm = resident_gemm(CFG, a, b, base=MAIN_BASE, k_inner=k_inner)
    phases = [gemm.loads + [encode(Opcode.FENCE)], gemm.computes] if on_chip else [gemm.stream]
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", len(gemm.image))]
    for index, phase in enumerate(phases):
        if index == len(phases) - 1:
            script.append(nv.write("CONTROL", Control.PERF_CLEAR.value))
        script += [op for words in phase for op in nv.submit(words)] + [nv.wait_idle()]
    script += [nv.read(f"PERF_{name}_LO") for name in PERF]
    script += [op for words in gemm.stores for op in nv.submit(words)]
    script += [nv.wait_idle(), nv.read("ERROR")]
    run = model.run(script, gemm.image, base=MAIN_BASE)
    assert run.values[-1] == 0
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    regs = dict(zip(PERF, run.values, strict=False))
    assert regs["MACS"] == m * k * n
    regs["macs_per_cycle"] = regs["MACS"] / regs["BUSY"]
    regs["utilisation"] = regs["macs_per_cycle"] / CFG.npu_peak_macs_per_cycle
    order = "K inner" if k_inner else "N inner"
    print(f"\n{kind} {m}x{k}x{n} {'on chip' if on_chip else 'streaming'}, {order}: "
          f"{regs['MACS']} MACs in {regs['BUSY']} busy cycles = {regs['macs_per_cycle']:.1f} "
          f"MACs/cycle ({regs['utilisation']:.1%} of peak); array rows {regs['COMPUTE']}, "
          f"stall_dep {regs['STALL_DEP']}, DMA read {regs['DMA_RD']} B")
    return regs


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_on_chip_gemm_reaches_peak(model, kind):
    """N tiles innermost: 32 COMPUTEs of 128 rows stream back to back."""
    assert measure(model, kind, 128, 64, 32, on_chip=True)["utilisation"] >= 0.9


@pytest.mark.slow
def test_k_inner_order_serialises(model):
    """K tiles innermost (the firmware's first GEMM plan, since replaced): each COMPUTE
    accumulates onto the previous one's ACC rows, so it waits for that one's last result row
    (RAW): about 128 / (128 + array latency + a few) of peak, and the result is still exact."""
    regs = measure(model, "int8", 128, 64, 32, on_chip=True, k_inner=True)
    assert regs["utilisation"] < 0.75 and regs["STALL_DEP"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["int8", "fp16"])
def test_streaming_gemm(model, kind):
    """Every LOAD in the program (A once per K tile, each W tile just before its COMPUTE). INT8
    is compute-bound here (2560 cycles of DMA for 4096 array rows) and stays near peak; FP16
    moves twice the bytes (5120 cycles at 4 B/cycle: at most 80 % of peak) and is bound by
    main memory plus the serial first A tile."""
    regs = measure(model, kind, 128, 64, 32, on_chip=False)
    bound = min(1.0, regs["COMPUTE"] / (regs["DMA_RD"] / CFG.main_bytes_per_cycle))
    print(f"bandwidth bound {bound:.1%} of peak, reached {regs['utilisation'] / bound:.1%} of it")
    if kind == "int8":
        assert regs["utilisation"] >= 0.85


def test_shipped_npu_short_run(model):
    """The 8x8 NPU of the ``sim`` variant in every ``make test``: streamed INT8 and FP16 GEMMs
    with odd shapes (K and N tiles, partial tiles) bit-exact with golden, then a refused
    command (ERROR = its code and sequence number) after which a LOAD still runs."""
    shipped = preset("sim")
    npu_fields = [f for f in dataclasses.fields(CFG) if f.name.startswith("npu_")]
    assert npu_fields and all(getattr(CFG, f.name) == getattr(shipped, f.name)
                              for f in npu_fields), "the model is not the shipped NPU"
    for kind in ("int8", "fp16"):
        regs = measure(model, kind, 20, 19, 11, on_chip=False, seed=11)
        assert regs["MACS"] == 20 * 19 * 11
    bad = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN_BASE,
                 dram_stride=16, rows=0, cols=4, local_addr=0)
    good = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN_BASE,
                  dram_stride=16, rows=2, cols=4, local_addr=0)
    script = [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", 4096), nv.read("ISSUED")]
    script += nv.submit(bad) + [nv.wait_idle(), nv.read("ERROR"),
                                nv.write("STATUS", Status.ERROR.value), nv.read("STATUS")]
    script += nv.submit(good) + [nv.wait_idle(), nv.read("PERF_DMA_RD_LO"), nv.read("STATUS")]
    run = model.run(script, bytearray(4096), base=MAIN_BASE)
    issued, error, status, dma_rd, status_end = run.values
    assert error == (issued << 8) | ErrorCode.ZERO_DIM.value
    assert not status & Status.ERROR.value and not status_end & Status.ERROR.value
    assert dma_rd >= 8
