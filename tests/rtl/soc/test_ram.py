# amaranth: UnusedElaboratable=no
"""On-chip RAM / boot ROM: byte enables, both ports every cycle, read-only mode."""

import pytest
from amaranth.back import rtlil
from dure.rtl.soc.ram import Ram
from dure.sim.verif.bus import Request, run_ports, simulate, transact


def test_both_ports_one_access_per_cycle():
    n = 32
    dut = Ram(1024, init=[0x1000 + i for i in range(n)])
    a = [Request(i) for i in range(n)]                                   # reads
    b = [Request(n + i, we=1, wdata=0xB000 + i) for i in range(n)]        # writes elsewhere
    result = run_ports(dut, {"a": a, "b": b})
    for initiator in result.values():
        assert initiator.grants == list(range(n))                        # granted every cycle
        assert [r.cycle for r in initiator.responses] == list(range(1, n + 1))
        assert all(r.err == 0 for r in initiator.responses)
    assert [r.rdata for r in result["a"].responses] == [0x1000 + i for i in range(n)]
    # Measured: 2 * n accesses completed in n + 1 cycles.
    last = max(r.cycle for i in result.values() for r in i.responses)
    assert 2 * n / (last + 1) > 1.9

    # And the writes landed: read them back on port a.
    dut = Ram(1024)
    writes = [Request(i, we=1, wdata=0xB000 + i) for i in range(8)]
    reads = [Request(i, idle=12 if i == 0 else 0) for i in range(8)]
    result = run_ports(dut, {"b": writes, "a": reads})
    assert [r.rdata for r in result["a"].responses] == [0xB000 + i for i in range(8)]


def test_byte_enables():
    dut = Ram(256)
    results = []

    async def bench(ctx):
        await transact(ctx, dut.a, 3, we=1, wdata=0x1122_3344)
        await transact(ctx, dut.a, 3, we=1, wdata=0xAABB_CCDD, be=0b0101)
        results.append(await transact(ctx, dut.b, 3))
        await transact(ctx, dut.b, 3, we=1, wdata=0xEEFF_0000, be=0b1000)
        await transact(ctx, dut.b, 3, we=1, wdata=0x0000_0000, be=0b0000)
        results.append(await transact(ctx, dut.a, 3))

    simulate(dut, [bench])
    assert results == [(0x11BB_33DD, 0), (0xEEBB_33DD, 0)]


def test_read_only_refuses_writes_unless_enabled():
    dut = Ram(256, init=[0xCAFE_F00D], read_only=True)
    results = []

    async def bench(ctx):
        results.append(await transact(ctx, dut.a, 0, we=1, wdata=0))
        results.append(await transact(ctx, dut.b, 0, we=1, wdata=0))
        results.append(await transact(ctx, dut.a, 0))
        ctx.set(dut.write_enable, 1)
        results.append((await transact(ctx, dut.b, 0, we=1, wdata=0x1234_5678))[1])
        ctx.set(dut.write_enable, 0)
        results.append(await transact(ctx, dut.a, 0))

    simulate(dut, [bench])
    assert results == [(results[0][0], 1), (results[1][0], 1), (0xCAFE_F00D, 0), 0,
                       (0x1234_5678, 0)]


def test_read_only_port_a_never_writes():
    """Port A (the instruction side) is refused a write even while writes are enabled."""
    dut = Ram(256, init=[0xCAFE_F00D], read_only=True)
    results = []

    async def bench(ctx):
        ctx.set(dut.write_enable, 1)
        results.append((await transact(ctx, dut.a, 0, we=1, wdata=0))[1])
        ctx.set(dut.write_enable, 0)
        results.append(await transact(ctx, dut.b, 0))

    simulate(dut, [bench])
    assert results == [1, (0xCAFE_F00D, 0)]


@pytest.mark.parametrize(("read_only", "write_ports"), [(True, 1), (False, 2)])
def test_write_ports_in_the_netlist(read_only, write_ports):
    """The boot ROM has one write port: with two, Yosys keeps the write-port priority and
    builds the memory from flip-flops unless it proves the ports never write together (the
    ULX3S build put its 4 KiB ROM in ~33 k flip-flops and did not fit)."""
    rtlil_text = rtlil.convert(Ram(1024, read_only=read_only), name="top")
    assert rtlil_text.count("cell $memwr_v2 ") == write_ports


@pytest.mark.parametrize("size, init, message", [
    (100, [], "power of two"),
    (16, [0] * 5, "init has 5 words but the memory holds only 4"),
    (16, [1 << 32], "init words must be integers"),
])
def test_bad_parameters(size, init, message):
    with pytest.raises(ValueError, match=message):
        Ram(size, init=init)
