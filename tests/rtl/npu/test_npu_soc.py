# amaranth: UnusedElaboratable=no
"""The NPU inside the SoC: programmed through the fabric (the SoC's ``ext`` initiator, core
held), DMA to main memory and on-chip RAM, the interrupt at the irq controller, and the DMA's
main-memory bandwidth."""

from dataclasses import replace

import numpy as np
import pytest
from dure.rtl.npu.commands import Control, ElemType, ErrorCode, LoadTarget, Opcode, OutType
from dure.rtl.npu.commands import Register as R
from dure.rtl.npu.descriptor import encode
from dure.rtl.soc.registers import IRQ_SOURCES, offset
from dure.rtl.soc.soc import Soc
from dure.sim.verif.bus import simulate, transact
from dure.sim.verif.gemm_program import gemm_expected, gemm_program, read_output

from dure.config import MAIN_BASE, NPU_BASE, NPU_TILE_STRIDE, RAM_BASE, SoCConfig

CFG = SoCConfig(ram_size=8192, main_size=16384, main_latency=6, npu_rows=4, npu_cols=4,
                npu_spad_rows=1024, npu_acc_rows=32, npu_queue_depth=4)
# The same with the register slice between the NPU's DMA and the fabric (as on the ULX3S).
CFG_SLICE = replace(CFG, npu_dma_slice=True)
# And the ULX3S's further timing options: a register slice on each side of the DMA's own
# arbiter and the dispatcher's registered hazard scoreboard.
CFG_SIDES = replace(CFG_SLICE, npu_dma_side_slices=True, npu_hazard_regs=True)
OPCODE = {"load": Opcode.LOAD, "exec": Opcode.COMPUTE, "store": Opcode.STORE}


def words_of(image):
    padded = bytes(image) + bytes(-len(image) % 4)
    return [int(w) for w in np.frombuffer(padded, "<u4")]


async def write(ctx, bus, addr, value):
    _, err = await transact(ctx, bus, addr >> 2, we=1, wdata=value)
    assert not err, hex(addr)


async def read(ctx, bus, addr):
    value, err = await transact(ctx, bus, addr >> 2)
    assert not err, hex(addr)
    return value


async def npu_idle(ctx, bus):
    for _ in range(50_000):
        if not await read(ctx, bus, NPU_BASE + R.STATUS.value) & 1:
            return
    raise AssertionError("the NPU never became idle")


# On-chip RAM through the slices under make fuzz: [main-slice] / [main-sides] run the NPU's
# DMA through the same slices, [ram-direct] the DMA into on-chip RAM (the target is decoded by
# the fabric after the slices, the same for main memory and RAM).
FABRIC_CASES = [pytest.param(where, cfg, id=f"{where}-{name}",
                             marks=pytest.mark.slow if where == "ram" and name != "direct" else ())
                for where in ("main", "ram")
                for name, cfg in (("direct", CFG), ("slice", CFG_SLICE), ("sides", CFG_SIDES))]


@pytest.mark.parametrize("where,cfg", FABRIC_CASES)
def test_gemm_through_the_fabric(where, cfg):
    rng = np.random.default_rng(11)
    a = rng.integers(-128, 128, (5, 6), dtype=np.int8)
    b = rng.integers(-128, 128, (6, 5), dtype=np.int8)
    base = MAIN_BASE if where == "main" else RAM_BASE + 0x1000
    commands, image, layout = gemm_program(cfg, a, b, base=base, out=OutType.INT32)
    init = words_of(image)
    if where == "main":
        dut = Soc(cfg, uart_phy="byte", main_init=init)
    else:
        dut = Soc(cfg, uart_phy="byte", ram_init=[0] * (0x1000 // 4) + init)
    result = {}

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        bus = dut.ext
        await write(ctx, bus, NPU_BASE + R.DMA_BASE.value, base)
        await write(ctx, bus, NPU_BASE + R.DMA_SIZE.value, len(image))
        await write(ctx, bus, NPU_BASE + R.CONTROL.value, Control.IRQ_FENCE.value)
        irq = 0x1000_3000
        await write(ctx, bus, irq + offset("irq", "enable"), 1 << IRQ_SOURCES["npu"])
        descriptors = [encode(OPCODE[c.unit], **c.fields) for c in commands]
        descriptors.append(encode(Opcode.FENCE, irq=1))
        for words in descriptors:
            for index, word in enumerate(words):
                await write(ctx, bus, NPU_BASE + R.CMD0.value + 4 * index, word)
            await write(ctx, bus, NPU_BASE + R.DOORBELL.value, 0)
        await npu_idle(ctx, bus)
        result["error"] = await read(ctx, bus, NPU_BASE + R.ERROR.value)
        result["pending"] = await read(ctx, bus, irq + offset("irq", "pending"))
        out = bytearray(len(image))
        for at in range(layout.out, len(image) - 3, 4):
            out[at:at + 4] = (await read(ctx, bus, base + at)).to_bytes(4, "little")
        result["out"] = read_output(out, layout, 5, 5, OutType.INT32)

    simulate(dut, [bench])
    assert result["error"] == 0
    assert result["pending"] == 1 << IRQ_SOURCES["npu"]
    np.testing.assert_array_equal(result["out"], gemm_expected(a, b, out=OutType.INT32))


# The fabric slice alone under make fuzz: [sides] streams through the same slice (CFG_SIDES is
# CFG_SLICE plus the side slices) to the same bound.
@pytest.mark.parametrize("cfg", [pytest.param(CFG, id="direct"),
                                 pytest.param(CFG_SLICE, id="slice", marks=pytest.mark.slow),
                                 pytest.param(CFG_SIDES, id="sides")])
def test_dma_streams_main_memory_at_full_bandwidth(cfg):
    rows = 512                                   # 512 rows of 4 fp16 = 4 KiB
    dut = Soc(cfg, uart_phy="byte")
    result = {}

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        bus = dut.ext
        await write(ctx, bus, NPU_BASE + R.DMA_BASE.value, MAIN_BASE)
        await write(ctx, bus, NPU_BASE + R.DMA_SIZE.value, cfg.main_size)
        words = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.FP16,
                       dram_addr=MAIN_BASE, dram_stride=8, rows=rows, cols=4, local_addr=0)
        for index, word in enumerate(words):
            await write(ctx, bus, NPU_BASE + R.CMD0.value + 4 * index, word)
        await write(ctx, bus, NPU_BASE + R.DOORBELL.value, 0)
        await npu_idle(ctx, bus)
        for name in ("ERROR", "PERF_DMA_RD_LO", "PERF_BUSY_LO", "PERF_STALL_MEM_LO"):
            result[name] = await read(ctx, bus, NPU_BASE + R[name].value)

    simulate(dut, [bench])
    assert result["ERROR"] == ErrorCode.NONE.value
    assert result["PERF_DMA_RD_LO"] == rows * 8
    rate = result["PERF_DMA_RD_LO"] / result["PERF_BUSY_LO"]
    print(f"DMA: {rows * 8} bytes in {result['PERF_BUSY_LO']} busy cycles = {rate:.2f} B/cycle "
          f"(main memory: {cfg.main_bytes_per_cycle}), stall_mem {result['PERF_STALL_MEM_LO']}")
    assert rate >= 0.9 * cfg.main_bytes_per_cycle


def test_variant_without_npu_answers_err():
    dut = Soc(SoCConfig(ram_size=1024, main_size=1024, npu_rows=0), uart_phy="byte")
    result = {}

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        result["read"] = await transact(ctx, dut.ext, (NPU_BASE + R.ID.value) >> 2)
        result["write"] = await transact(ctx, dut.ext, (NPU_BASE + R.DOORBELL.value) >> 2,
                                         we=1, wdata=0)

    simulate(dut, [bench])
    assert result["read"][1] == 1 and result["write"][1] == 1


# The LIST fetcher on its own path (npu_list_port): the list in on-chip RAM or main memory, the
# data in main memory; with two tiles, tile 1 runs it (its own list decoder and joins).
@pytest.mark.parametrize("where,tiles", [("ram", 1), ("main", 1),
                                         pytest.param("ram", 2, marks=pytest.mark.slow)])
def test_list_over_its_own_path(where, tiles):
    from dure.rtl.npu.descriptor import list_bytes
    cfg = replace(CFG, npu_list_port=True, npu_tiles=tiles)
    rng = np.random.default_rng(12)
    a = rng.integers(-128, 128, (5, 6), dtype=np.int8)
    b = rng.integers(-128, 128, (6, 5), dtype=np.int8)
    commands, image, layout = gemm_program(cfg, a, b, base=MAIN_BASE, out=OutType.INT32)
    entries = [encode(OPCODE[c.unit], **c.fields) for c in commands]
    entries.append(encode(Opcode.FENCE, irq=1))
    listed = list_bytes(entries)
    image = bytes(image) + bytes(-len(image) % 32)
    if where == "main":
        list_addr = MAIN_BASE + len(image)
        dut = Soc(cfg, uart_phy="byte", main_init=words_of(image + listed))
    else:
        list_addr = RAM_BASE + 0x1000
        dut = Soc(cfg, uart_phy="byte", main_init=words_of(image),
                  ram_init=[0] * (0x1000 // 4) + words_of(listed))
    npu = NPU_BASE + (tiles - 1) * NPU_TILE_STRIDE
    result = {}

    async def bench(ctx):
        ctx.set(dut.hold, 1)
        bus = dut.ext
        await write(ctx, bus, npu + R.DMA_BASE.value, MAIN_BASE)
        await write(ctx, bus, npu + R.DMA_SIZE.value, RAM_BASE + cfg.ram_size - MAIN_BASE)
        words = encode(Opcode.LIST, list_addr=list_addr, count=len(entries))
        for index, word in enumerate(words):
            await write(ctx, bus, npu + R.CMD0.value + 4 * index, word)
        await write(ctx, bus, npu + R.DOORBELL.value, 0)
        for _ in range(50_000):
            if not await read(ctx, bus, npu + R.STATUS.value) & 1:
                break
        else:
            raise AssertionError("the NPU never became idle")
        for name in ("ERROR", "DONE"):
            result[name] = await read(ctx, bus, npu + R[name].value)
        out = bytearray(len(image))
        for at in range(layout.out, len(image) - 3, 4):
            out[at:at + 4] = (await read(ctx, bus, MAIN_BASE + at)).to_bytes(4, "little")
        result["out"] = read_output(out, layout, 5, 5, OutType.INT32)

    simulate(dut, [bench])
    assert result["ERROR"] == 0
    assert result["DONE"] == len(entries) + 1
    np.testing.assert_array_equal(result["out"], gemm_expected(a, b, out=OutType.INT32))
