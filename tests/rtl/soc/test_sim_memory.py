# amaranth: UnusedElaboratable=no
"""WordMemory: the Amaranth implementation's port behaviour against a model, the primitive's
Verilog text, argument checks. (The primitive itself runs in every Verilator SoC test: all
firmware is loaded into and runs from it.)"""

import random

import pytest
from amaranth.sim import Simulator
from dure.rtl.soc.sim_memory import WordMemory, sim_memory_verilog


def _accesses(seed, depth, ports, cycles=300):
    rng = random.Random(seed)
    return [[(rng.randrange(depth), rng.getrandbits(32), rng.getrandbits(4) if i == 0 or
              rng.random() < 0.3 else 0) for i in range(ports)] for _ in range(cycles)]


def _model(depth, ports, accesses):
    """Expected read data per cycle: the word before this cycle's writes."""
    mem = [0] * depth
    reads = []
    for cycle in accesses:
        reads.append([mem[addr] for addr, _, _ in cycle])
        for addr, data, we in cycle:
            for lane in range(4):
                if we >> lane & 1:
                    mask = 0xFF << (8 * lane)
                    mem[addr] = (mem[addr] & ~mask) | (data & mask)
    return reads


@pytest.mark.parametrize("ports", [1, 2])
def test_amaranth_memory_ports(ports):
    depth = 16
    accesses = _accesses(ports, depth, ports)
    expected = _model(depth, ports, accesses)
    dut = WordMemory(depth, ports)
    got = []

    async def bench(ctx):
        for cycle in accesses:
            for i, (addr, data, we) in enumerate(cycle):
                ctx.set(getattr(dut, f"addr{i}"), addr)
                ctx.set(getattr(dut, f"wdata{i}"), data)
                ctx.set(getattr(dut, f"we{i}"), we)
            await ctx.tick()
            got.append([ctx.get(getattr(dut, f"rdata{i}")) for i in range(ports)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected


def test_primitive_verilog_declares_every_port():
    text = sim_memory_verilog(2)
    for name in ("addr0", "wdata0", "we0", "rdata0", "addr1", "we1", "rdata1", "clk"):
        assert name in text
    assert "initial" not in text


def test_bad_arguments():
    with pytest.raises(ValueError, match="ports must be one of"):
        WordMemory(16, 0)
    with pytest.raises(ValueError, match="ports must be one of"):
        WordMemory(16, 99)
    with pytest.raises(ValueError, match="depth must be a power of two"):
        WordMemory(12, 1)
    with pytest.raises(ValueError, match="no initial contents"):
        WordMemory(16, 1, init=[1], primitive=True)
    with pytest.raises(ValueError, match=r"read_only_ports must be among 0..1, not \[2\]"):
        WordMemory(16, 2, read_only_ports=(2,))


def test_amaranth_memory_leaves_collisions_to_the_block_ram():
    """The synthesised memory carries ``no_rw_check`` (a dual-ported RAM maps to DP16KD, not
    flip-flops, whatever the logic around it)."""
    from amaranth.back import verilog
    text = verilog.convert(WordMemory(16, 2), name="mem", emit_src=False)
    assert "no_rw_check" in text
