"""The SoC-without-NPU fmax flow (dure.fpga.soc_fmax) without the tools: the NPU stand-in
keeps the bus protocol, the measured design elaborates with it in the NPU's place, and the
options of ``dure bench-cpu --soc`` are checked."""

import random

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator
from dure.fpga.core_fmax import place_and_route
from dure.fpga.soc_fmax import NpuStandIn, SocNoNpuTop, soc_config

from dure.commands.bench_cpu import parse_options
from dure.config import preset
from dure.errors import UserError


def _run_standin(count, write, seed):
    """Program the stand-in over its register port, answer its DMA with random grants and
    response delays; returns (requests seen, read sum register, status register)."""
    dut = NpuStandIn(addr_width=4)
    rng = random.Random(seed)
    seen = []
    memory = {a: rng.getrandbits(32) for a in range(0x100, 0x100 + count)}

    async def reg(ctx, index, value=None):
        ctx.set(dut.bus.req, 1)
        ctx.set(dut.bus.addr, index)
        ctx.set(dut.bus.we, value is not None)
        ctx.set(dut.bus.wdata, value or 0)
        await ctx.tick()
        ctx.set(dut.bus.req, 0)
        assert ctx.get(dut.bus.rvalid) == 1
        return ctx.get(dut.bus.rdata)

    async def bench(ctx):
        await reg(ctx, 0, 0x100)
        await reg(ctx, 2, 0xA5A5_0000)
        await reg(ctx, 3, write)
        await reg(ctx, 1, count)
        pending = []          # cycles until each granted request's response
        presented = None
        for _ in range(20 * count + 20):
            req = ctx.get(dut.dma.req)
            fields = (ctx.get(dut.dma.addr), ctx.get(dut.dma.we), ctx.get(dut.dma.wdata))
            if presented is not None:
                assert req and fields == presented, "a refused request changed"
            gnt = req and rng.random() < 0.5
            ctx.set(dut.dma.gnt, gnt)
            ready = pending and pending[0][0] == 0
            if ready:
                _, addr = pending.pop(0)
                ctx.set(dut.dma.rvalid, 1)
                ctx.set(dut.dma.rdata, 0 if write else memory[addr])
            else:
                ctx.set(dut.dma.rvalid, 0)
            pending = [(max(0, d - 1), a) for d, a in pending]
            if gnt:
                seen.append(fields)
                pending.append((rng.randrange(3), fields[0]))
            presented = fields if req and not gnt else None
            await ctx.tick()
        ctx.set(dut.dma.gnt, 0)
        ctx.set(dut.dma.rvalid, 0)
        assert not pending
        assert await reg(ctx, 1) == 0
        result.extend([await reg(ctx, 2), await reg(ctx, 3), ctx.get(dut.irq)])

    result = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen, memory, result


@pytest.mark.parametrize("seed", [3])
@pytest.mark.parametrize("write", [0, 1])
def test_standin_streams_its_requests_once_in_order(write, seed):
    seen, memory, (total, status, irq) = _run_standin(12, write, seed=seed)
    assert [addr for addr, _, _ in seen] == list(range(0x100, 0x10C))
    assert all(we == write for _, we, _ in seen)
    if write:
        assert [data for _, _, data in seen] == [0xA5A5_0000 ^ a for a in range(0x100, 0x10C)]
        assert (total, status, irq) == (0, 1, 1)
    else:
        expect = 0
        for word in memory.values():
            expect ^= word
        assert (total, status, irq) == (expect, 0, 0)


def test_standin_refuses_a_narrow_port():
    with pytest.raises(ValueError, match="addr_width"):
        NpuStandIn(addr_width=1)


def test_soc_without_npu_elaborates_with_the_standin():
    text = verilog.convert(SocNoNpuTop(soc_config("ulx3s")), name="soc_top", emit_src=False)
    assert "module soc_top" in text
    assert "grant" in text and "main_slice" in text      # the ulx3s fabric options are built
    assert "dispatch" not in text                         # and no NPU logic


def test_soc_without_npu_needs_a_board_variant():
    with pytest.raises(ValueError, match="boot ROM and an NPU"):
        SocNoNpuTop(preset("cpu"))
    with pytest.raises(TypeError):
        SocNoNpuTop("ulx3s")


def test_soc_config_options():
    config = soc_config("ulx3s", [("soc_grant_buffers", False)])
    assert not config.soc_grant_buffers and config.soc_main_slices
    assert soc_config("ulx3s").clk_freq == preset("ulx3s").clk_freq
    with pytest.raises(UserError, match="unknown SoC option"):
        soc_config("ulx3s", [("no_such_field", 1)])
    with pytest.raises(UserError, match="must be a bool"):
        soc_config("ulx3s", [("soc_main_slices", 2)])
    with pytest.raises(UserError, match="unknown SoC variant"):
        soc_config("nope")


def test_parse_options():
    assert parse_options(["a=1", "b=true", "c=0x10", "d=x"]) == [
        ("a", 1), ("b", True), ("c", 16), ("d", "x")]
    with pytest.raises(UserError, match="NAME=VALUE"):
        parse_options(["novalue"])


def test_place_and_route_refuses_an_unknown_router():
    with pytest.raises(ValueError, match="router"):
        place_and_route("", "top", what="nothing", router="router3")


def test_standin_follows_the_list_port():
    """With ``npu_list_port`` the stand-in offers the NPU's ``list`` initiator too (idle), so
    the SoC wires its list decoder and joins as for the NPU."""
    from dure.rtl.npu.npu import npu_ports

    with_port = NpuStandIn(preset("npu-small"), addr_width=4)
    without = NpuStandIn(preset("ulx3s"), addr_width=4)
    for dut in (with_port, without):
        dut._MustUse__silence = True          # ports only, not elaborated here
    assert set(with_port.signature.members) == set(npu_ports(4, list_port=True))
    assert "list" not in without.signature.members
