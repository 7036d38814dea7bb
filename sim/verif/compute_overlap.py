"""COMPUTE streams on the whole NPU in Amaranth's simulator: the cycles each COMPUTE costs, and
random programs of back-to-back COMPUTEs (overlapping and disjoint ACC rows, accumulate chains)
with STOREs right after them, checked against the command model byte for byte.

:func:`run_npu` submits descriptor phases through the registers of an :class:`~dure.rtl.npu.npu.
Npu` (real datapath; ``weight_banks`` picks the array's shadow banks) and logs when each
COMPUTE reached the execute unit and when its ``done`` pulse came. :func:`compute_cost` measures
the busy cycles of ``count`` COMPUTEs of M rows (independent ones, or an accumulate chain) with
their operands resident in SPAD. :func:`random_program` builds the random programs.
"""

from dataclasses import dataclass

import numpy as np
from dure.rtl.npu.commands import Control, ElemType, LoadTarget, Opcode, OutType, Status
from dure.rtl.npu.descriptor import encode, list_bytes
from dure.sim.npu_model import NpuModel

from .npu_control import random_operands, reg_read, reg_write, resident_gemm, submit
from .npu_datapath import MemoryTarget
from .npu_sim import npu_simulation

__all__ = ["NpuRun", "run_npu", "compute_cost", "random_program"]


#: The performance counters :func:`run_npu` reads after the measured phase (low words).
PERF_READ = ("BUSY", "MACS", "COMPUTE", "STALL_DEP", "STALL_OUT", "DMA_RD")


@dataclass
class NpuRun:
    """Result of :func:`run_npu`: perf counters of the measured phase (:data:`PERF_READ`),
    ``ERROR``, the memory image, and per COMPUTE (in order) the
    cycle the execute unit accepted it and the cycle of its ``done`` pulse."""
    regs: dict
    memory: bytearray
    computes: list


def run_npu(config, phases, image, *, base, measured=0, weight_banks=None, latency=None):
    """Submit each phase's descriptors (lists of words), wait until the NPU is idle, next
    phase; the perf counters are cleared before phase ``measured`` and read after it."""
    sim = npu_simulation(config, weight_banks=weight_banks)
    dut, datapath = sim.design.npu, sim.design.datapath
    mem = bytearray(image)
    target = MemoryTarget(dut.dma, mem, base=base,
                          latency=config.main_latency if latency is None else latency)
    regs, computes = {}, []
    link = datapath.control

    async def monitor(ctx):
        cycle = 0
        pending = []
        while True:
            _, _, valid, ready, done = await ctx.tick().sample(
                link.exec_cmd.valid, link.exec_cmd.ready, link.exec_done)
            if valid and ready:
                computes.append([cycle, None])
                pending.append(len(computes) - 1)
            if done:
                computes[pending.pop(0)][1] = cycle
            cycle += 1

    async def bench(ctx):
        bus = dut.bus
        assert not await reg_write(ctx, bus, "DMA_BASE", base)
        assert not await reg_write(ctx, bus, "DMA_SIZE", len(image))
        for index, phase in enumerate(phases):
            if index == measured:
                assert not await reg_write(ctx, bus, "CONTROL", Control.PERF_CLEAR.value)
            for words in phase:
                await submit(ctx, bus, words)
            for _ in range(200_000):
                if not (await reg_read(ctx, bus, "STATUS"))[0] & Status.BUSY.value:
                    break
            else:
                raise AssertionError("the NPU never became idle")
            if index == measured:
                for name in PERF_READ:
                    regs[name] = (await reg_read(ctx, bus, f"PERF_{name}_LO"))[0]
        regs["ERROR"] = (await reg_read(ctx, bus, "ERROR"))[0]

    sim.run([bench], [target.serve, monitor])
    return NpuRun(regs, mem, computes)


def compute_cost(config, kind, m, count, *, chain=False, weight_banks=None, base=0x4000_0000,
                 seed=5, as_list=False):
    """Busy cycles per COMPUTE of ``count`` COMPUTEs of ``m`` rows, full tiles (k = rows,
    n = cols), A and W resident in SPAD: independent ones (an M x rows x count*cols GEMM, N
    tiles innermost: each COMPUTE its own weights and ACC rows) or, with ``chain``, an
    accumulate chain (M x count*rows x cols, K tiles innermost: each COMPUTE accumulates onto
    the previous one's rows). The output is checked bit for bit against the golden GEMM.
    The COMPUTEs are pushed through the registers (the testbench needs about 18 cycles per
    descriptor), or with ``as_list`` fetched by one LIST (32 bytes per entry at the main
    memory's bandwidth). Returns ``(cycles per COMPUTE, NpuRun)``."""
    rows, cols = config.npu_rows, config.npu_cols
    k, n = (rows * count, cols) if chain else (rows, cols * count)
    a, b, expect = random_operands(kind, m, k, n, seed)
    gemm = resident_gemm(config, a, b, base=base, k_inner=chain)
    image, computes = gemm.image, gemm.computes
    if as_list:
        image = image + bytes(-len(image) % 32)
        computes = [encode(Opcode.LIST, list_addr=base + len(image), count=len(computes))]
        image += list_bytes(gemm.computes)
    phases = [gemm.loads + [encode(Opcode.FENCE)], computes, gemm.stores]
    run = run_npu(config, phases, image, base=base, measured=1, weight_banks=weight_banks)
    assert run.regs["ERROR"] == 0
    got = np.frombuffer(bytes(run.memory[gemm.out_at:gemm.out_at + 4 * m * n]), np.uint32)
    np.testing.assert_array_equal(got.reshape(m, n), expect)
    assert run.regs["COMPUTE"] == m * count
    return run.regs["BUSY"] / count, run


def random_program(config, kind, rng, *, count=12, base=0x4000_0000, acc_rows=24):
    """A random program and its expected memory image: SPAD and ACC rows loaded from main
    memory, then ``count`` COMPUTEs of random m / k / n / SPAD rows, each writing ACC rows
    that repeat the previous COMPUTE's (an accumulate chain), overlap them partly, or miss
    them, accumulating or not; about every third one followed at once by a STORE of its rows;
    at the end one STORE of all ``acc_rows`` ACC rows. Precision ``kind`` ("int8" / "fp16")
    throughout. Returns ``(descriptors, image, expected image)``; the expectation is the
    command model's (:class:`~dure.sim.npu_model.NpuModel`) run of the same descriptors."""
    rows, cols, lanes = config.npu_rows, config.npu_cols, config.npu_lanes
    fp = kind == "fp16"
    eb, elem, prec = (2, ElemType.FP16, 1) if fp else (1, ElemType.INT8, 0)
    spad_rows = 48
    if fp:
        spad = rng.standard_normal((spad_rows, lanes)).astype(np.float16)
        acc = rng.standard_normal((acc_rows, cols)).astype(np.float32)
    else:
        spad = rng.integers(-128, 128, (spad_rows, lanes), dtype=np.int8)
        acc = rng.integers(-2**31, 2**31, (acc_rows, cols), dtype=np.int64).astype(np.int32)
    acc_at = spad.nbytes
    out_at = acc_at + acc.nbytes
    stores = -(-count // 2) + 1
    image = bytearray(out_at + stores * acc_rows * cols * 4)
    image[:acc_at] = spad.tobytes()
    image[acc_at:out_at] = acc.tobytes()
    out = OutType.FP32 if fp else OutType.INT32
    words = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=base,
                    dram_stride=lanes * eb, rows=spad_rows, cols=lanes, local_addr=0),
             encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=base + acc_at, dram_stride=cols * 4, rows=acc_rows, cols=cols,
                    local_addr=0)]
    prev = (0, 4)
    slot = 0
    for _ in range(count):
        m = int(rng.integers(1, 13))
        how = rng.choice(["same", "overlap", "apart"])
        if how == "same":
            m = prev[1]
            acc_addr = prev[0]
        elif how == "overlap":
            acc_addr = int(np.clip(prev[0] + rng.integers(-m + 1, prev[1]), 0, acc_rows - m))
        else:
            acc_addr = int(rng.integers(0, acc_rows - m + 1))
        k = int(rng.integers(1, rows + 1))
        words.append(encode(Opcode.COMPUTE, precision=prec,
                            accumulate=int(how == "same" or rng.random() < 0.6),
                            a_addr=int(rng.integers(0, spad_rows - m + 1)),
                            w_addr=int(rng.integers(0, spad_rows - k + 1)),
                            acc_addr=acc_addr, m=m, k=k, n=int(rng.integers(1, cols + 1))))
        prev = (acc_addr, m)
        if rng.random() < 0.35 and slot < stores - 1:
            words.append(encode(Opcode.STORE, out=out, acc_type=prec,
                                dram_addr=base + out_at + slot * acc_rows * cols * 4,
                                dram_stride=cols * 4, rows=m, cols=cols, acc_addr=acc_addr))
            slot += 1
    words.append(encode(Opcode.STORE, out=out, acc_type=prec,
                        dram_addr=base + out_at + (stores - 1) * acc_rows * cols * 4,
                        dram_stride=cols * 4, rows=acc_rows, cols=cols, acc_addr=0))
    model = NpuModel(config, memory={base: bytes(image)})
    model.set_window(base, len(image))
    model.run(words)
    assert model.error is None, model.error
    return words, image, bytearray(model.read(base, len(image)))
