# amaranth: UnusedElaboratable=no
"""LIST through the command processor (command source, fetcher, validator, dispatcher,
registers) with a behavioural datapath and a memory on the fetch port: the units see exactly
the valid entries in order; ISSUED / DONE / ERROR / ERROR_INDEX equal the golden model's for
refused entries, a nested LIST, a refused LIST, a failed fetch and a LOAD entry's bus error.
The speculative fetch: entry 0 is read while the LIST is validated (cycle-exact, with and
without the fetcher's bypass); a LIST refused with its fetch in flight (reserved bits, window
checks the source does not make) gets the model's code, reads only its own range, gives the
units nothing, and the NPU runs the next commands; a LIST outside the window reads nothing."""

import dataclasses

import numpy as np
import pytest
from dure.rtl.npu.commands import ElemType, ErrorCode, LoadTarget, Opcode, OutType, Precision
from dure.rtl.npu.control import NpuControl
from dure.rtl.npu.descriptor import decode, encode, list_bytes
from dure.sim.npu_model import NpuModel
from dure.sim.npu_model_regs import NpuRegisters as ModelRegisters
from dure.sim.verif.bus import BusTarget, simulate
from dure.sim.verif.npu_control import StandInDatapath, reg_read, reg_write, submit

from dure.config import SoCConfig

CFG = SoCConfig(npu_rows=4, npu_cols=4, npu_spad_rows=64, npu_acc_rows=32, npu_queue_depth=4,
                main_size=64 * 1024)
MAIN = 0x4000_0000
LIST_A = MAIN + 0x1000
LIST_B = MAIN + 0x2000
HOLE = MAIN + 0x3000            # list memory answering err

LOAD = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN,
              dram_stride=4, rows=4, cols=4, local_addr=0)
LOAD_W = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8, dram_addr=MAIN + 64,
                dram_stride=4, rows=4, cols=4, local_addr=8)
COMPUTE = encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=8, acc_addr=0,
                 m=4, k=4, n=4)
STORE = encode(Opcode.STORE, out=OutType.INT32, acc_type=Precision.INT8, dram_addr=MAIN + 256,
               dram_stride=16, rows=4, cols=4, acc_addr=0)
# Reads unbacked memory: the model's BUS_ERROR; the stand-in datapath is told to fail it.
FAIL_LOAD = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=ElemType.INT8,
                   dram_addr=HOLE + 8, dram_stride=4, rows=1, cols=4, local_addr=20)


def lst(addr, count):
    return encode(Opcode.LIST, list_addr=addr, count=count)


def words_of(image):
    return [int(w) for w in np.frombuffer(image, "<u4")]


LIST_A_ENTRIES = [LOAD, encode(Opcode.LOAD, rows=0), LOAD_W, COMPUTE, lst(LIST_B, 1), STORE,
                  [Opcode.STORE.value, 0, 0, 0, 0, 0, 0, 1]]
LIST_B_ENTRIES = [LOAD, LOAD_W, COMPUTE, STORE, FAIL_LOAD]


def scenario():
    """(pushed descriptors, register reads after each group) in program order."""
    return [
        [encode(Opcode.FENCE), lst(LIST_A, len(LIST_A_ENTRIES)), encode(Opcode.FENCE)],
        [lst(LIST_B, len(LIST_B_ENTRIES))],                # FAIL_LOAD: bus error on execution
        [lst(LIST_A + 2, 3)],                              # MISALIGNED: retires 4 numbers
        [lst(HOLE - 64, 5)],                               # entry 2 lies in the hole
        [lst(LIST_A, 1)],
    ]


def model_run(groups):
    """The golden model's register values after each group (error cleared between groups)."""
    memory = bytearray(CFG.main_size)
    memory[LIST_A - MAIN:LIST_A - MAIN + 32 * len(LIST_A_ENTRIES)] = list_bytes(LIST_A_ENTRIES)
    memory[LIST_B - MAIN:LIST_B - MAIN + 32 * len(LIST_B_ENTRIES)] = list_bytes(LIST_B_ENTRIES)
    memory[HOLE - 64 - MAIN:HOLE - MAIN] = list_bytes([LOAD, LOAD_W])
    hole = HOLE - MAIN
    model = NpuModel(CFG, memory={MAIN: bytes(memory[:hole]),
                                  HOLE + 32: bytes(memory[hole + 32:])})
    model.set_window(MAIN, CFG.main_size)
    regs = ModelRegisters(model)
    out = []
    for group in groups:
        model.clear_error()
        for words in group:
            model.execute(words)
        out.append({name: regs.read(reg) for name, reg in REGS})
    return out, memory


REGS = [("ISSUED", 0x1C), ("DONE", 0x20), ("ERROR", 0x18), ("ERROR_INDEX", 0x24)]


def _run_groups(dut, datapath, target, groups):
    """Runs ``groups`` of descriptors through ``dut`` (an NpuControl; ``datapath`` and the
    fetch port's ``target`` served in the background): per group, ERROR cleared, the group
    pushed, BUSY awaited; returns per group the REGS values (ERROR / ERROR_INDEX only while
    STATUS.error is set: they hold their last values once cleared)."""
    got = []

    async def bench(ctx):
        bus = dut.bus
        assert not await reg_write(ctx, bus, "DMA_BASE", MAIN)
        assert not await reg_write(ctx, bus, "DMA_SIZE", CFG.main_size)
        for group in groups:
            assert not await reg_write(ctx, bus, "STATUS", 1 << 2)      # clear ERROR
            for desc in group:
                await submit(ctx, bus, desc)
            while (await reg_read(ctx, bus, "STATUS"))[0] & 1:
                pass
            error = (await reg_read(ctx, bus, "STATUS"))[0] & 1 << 2
            got.append({name: (await reg_read(ctx, bus, name))[0] for name, _ in REGS
                        if error or not name.startswith("ERROR")})

    simulate(dut, [bench], [datapath.run, target.serve])
    return got


def test_list_through_control_matches_model():
    groups = scenario()
    expect, memory = model_run(groups)
    dut = NpuControl(CFG)
    fail = decode(FAIL_LOAD)[1]
    datapath = StandInDatapath(
        dut.datapath, latency=lambda unit, f: 6,
        bus_error=lambda unit, f: unit == "load" and f["dram_addr"] == fail["dram_addr"])
    words = words_of(bytes(memory))
    target = BusTarget(dut.fetch, latency=4, gnt_probability=0.7, seed=3,
                       memory={MAIN // 4 + i: w for i, w in enumerate(words)},
                       errors={HOLE // 4 + i for i in range(8)})
    got = _run_groups(dut, datapath, target, groups)
    for index, (g, e) in enumerate(zip(got, expect, strict=True)):
        assert g == {name: e[name] for name in g}, (index, g, e)
    # The units ran exactly the valid entries, in order.
    ran = [(run.unit, run.fields) for run in datapath.runs]
    valid = [LOAD, LOAD_W, COMPUTE, STORE] * 2 + [FAIL_LOAD] + [LOAD, LOAD_W, LOAD]
    want = []
    for words in valid:
        opcode, fields = decode(words)
        want.append(({Opcode.LOAD: "load", Opcode.COMPUTE: "exec",
                      Opcode.STORE: "store"}[opcode], fields))
    assert [u for u, _ in ran] == [u for u, _ in want]
    for (unit, fields), (_, wanted) in zip(ran, want, strict=True):
        assert {k: v for k, v in fields.items() if k in wanted} == \
            {k: v for k, v in wanted.items() if k in fields}, unit
    # Sanity of the scenario itself: each group left an error but the last.
    assert [e["ERROR"] & 0xF for e in expect] == [
        ErrorCode.ZERO_DIM.value, ErrorCode.BUS_ERROR.value, ErrorCode.MISALIGNED.value,
        ErrorCode.BUS_ERROR.value, 0]


def _first_unit_cycle(cfg, desc, latency, memory):
    """Pushes ``desc``; cycles from the DOORBELL's response to the fetcher's first request
    and to the first command offered to a unit (None if none within 200 cycles)."""
    dut = NpuControl(cfg)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 6)
    target = BusTarget(dut.fetch, latency=latency, memory=memory)
    seen = {}

    async def bench(ctx):
        assert not await reg_write(ctx, dut.bus, "DMA_BASE", MAIN)
        assert not await reg_write(ctx, dut.bus, "DMA_SIZE", CFG.main_size)
        await submit(ctx, dut.bus, desc)
        for cycle in range(1, 200):
            *_, req, load = await ctx.tick().sample(dut.fetch.req, dut.datapath.load_cmd.valid)
            if req:
                seen.setdefault("req", cycle)
            if load:
                seen.setdefault("unit", cycle)

    simulate(dut, [bench], [datapath.run, target.serve])
    return seen


@pytest.mark.parametrize("list_port", [False, True])
@pytest.mark.parametrize("latency", [1, 4])
def test_entry_zero_is_fetched_while_the_list_is_validated(list_port, latency):
    """Cycle-exact: the fetcher requests entry 0's first word 3 cycles after the LIST's
    DOORBELL response (before: 7, after the front accepted it), and the first entry reaches
    its unit ``9 + latency`` cycles after a pushed LOAD would (``+ 2`` without the bypass of
    ``npu_list_port``; it was 16 at latency 1 before the speculative fetch)."""
    cfg = dataclasses.replace(CFG, npu_list_port=list_port)
    memory = {LIST_A // 4 + i: w for i, w in enumerate(words_of(list_bytes([LOAD, STORE])))}
    pushed = _first_unit_cycle(cfg, LOAD, latency, memory)
    listed = _first_unit_cycle(cfg, lst(LIST_A, 2), latency, memory)
    assert "req" not in pushed
    assert listed["req"] == 3
    assert listed["unit"] - pushed["unit"] == 9 + latency + (0 if list_port else 2)


def _refusal_run(cfg, groups, memory, *, latency, gnt):
    """Runs ``groups`` (register values read after each, as :func:`test_list_through_control_
    matches_model`); returns (values per group, the units' runs, the fetch log)."""
    dut = NpuControl(cfg)
    datapath = StandInDatapath(dut.datapath, latency=lambda unit, f: 6)
    target = BusTarget(dut.fetch, latency=latency, gnt_probability=gnt, seed=4,
                       memory={MAIN // 4 + i: w for i, w in enumerate(words_of(bytes(memory)))})
    return _run_groups(dut, datapath, target, groups), datapath.runs, target.log


@pytest.mark.parametrize("list_port", [False, True])
@pytest.mark.parametrize("latency,gnt", [(1, 1.0), (6, 0.6)])
def test_refused_list_with_its_fetch_in_flight(list_port, latency, gnt):
    """LISTs inside the window refused by checks the source does not make (a reserved bit in
    word 3, in word 2's upper half, in word 0) are fetched speculatively and refused: ERROR,
    ERROR_INDEX, ISSUED and DONE equal the model's, no entry reaches a unit, only the refused
    LIST's own words were read; a LIST past the window end reads nothing; then a good LIST
    and a pushed LOAD run exactly as the model says."""
    cfg = dataclasses.replace(CFG, npu_list_port=list_port)
    memory = bytearray(CFG.main_size)
    entries = [LOAD, LOAD_W, COMPUTE, STORE]
    memory[LIST_A - MAIN:LIST_A - MAIN + 32 * len(entries)] = list_bytes(entries)
    reserved_w3 = lst(LIST_A, 4)
    reserved_w3[3] = 1
    reserved_w2 = lst(LIST_A, 4)
    reserved_w2[2] |= 1 << 20
    reserved_w0 = lst(LIST_A, 4)
    reserved_w0[0] |= 1 << 9
    outside = lst(MAIN + CFG.main_size - 64, 3)
    groups = [[reserved_w3], [reserved_w2], [reserved_w0], [outside],
              [lst(LIST_A, 4)], [LOAD]]
    got, runs, log = _refusal_run(cfg, groups, memory, latency=latency, gnt=gnt)
    model = NpuModel(CFG, memory={MAIN: bytes(memory)})
    model.set_window(MAIN, CFG.main_size)
    regs = ModelRegisters(model)
    expect = []
    for group in groups:
        model.clear_error()
        for words in group:
            model.execute(words)
        expect.append({name: regs.read(reg) for name, reg in REGS})
    for index, (g, e) in enumerate(zip(got, expect, strict=True)):
        assert g == {name: e[name] for name in g}, (index, g, e)
    assert [e["ERROR"] & 0xF for e in expect[:4]] == [ErrorCode.RESERVED.value] * 3 + [
        ErrorCode.DMA_WINDOW.value]
    # the units ran the good LIST's entries and the LOAD only
    assert [run.unit for run in runs] == ["load", "load", "exec", "store", "load"]
    # each refused LIST inside the window was read speculatively, within its own range only
    words = [addr for _, addr, *_ in log]
    assert all(LIST_A // 4 <= addr < LIST_A // 4 + 32 for addr in words)
    assert words.count(LIST_A // 4) == 4
    assert not any(we for _, _, we, *_ in log)
