# amaranth: UnusedElaboratable=no
"""Single-port RAM (the SPRAM path): byte enables, fetch / data contention, back-to-back
accesses, against a word-array model; the SPRAM wrapper's structure; argument checks."""

import random

import pytest
from amaranth.back import rtlil
from dure.rtl.soc.single_port_ram import SinglePortRam
from dure.rtl.soc.spram import SpramMemory, spram_blocks
from dure.sim.verif.bus import Request, run_ports, simulate, transact


def test_byte_enables():
    dut = SinglePortRam(256)
    results = []

    async def bench(ctx):
        await transact(ctx, dut.a, 3, we=1, wdata=0x1122_3344)
        await transact(ctx, dut.a, 3, we=1, wdata=0xAABB_CCDD, be=0b0101)
        results.append(await transact(ctx, dut.b, 3))
        await transact(ctx, dut.b, 3, we=1, wdata=0xEEFF_0000, be=0b1000)
        await transact(ctx, dut.b, 3, we=1, wdata=0x0000_0000, be=0b0000)
        results.append(await transact(ctx, dut.a, 3))
        for be in range(16):
            await transact(ctx, dut.b, 4, we=1, wdata=0)
            await transact(ctx, dut.b, 4, we=1, wdata=0xFFFF_FFFF, be=be)
            results.append((await transact(ctx, dut.a, 4))[0])

    simulate(dut, [bench])
    assert results[:2] == [(0x11BB_33DD, 0), (0xEEBB_33DD, 0)]
    assert results[2:] == [sum(0xFF << 8 * i for i in range(4) if be >> i & 1)
                           for be in range(16)]


def test_one_port_alone_runs_back_to_back():
    n = 24
    dut = SinglePortRam(1024, init=[0x1000 + i for i in range(n)])
    for port in ("a", "b"):
        reads = [Request(i) for i in range(n)]
        result = run_ports(dut, {port: reads})[port]
        assert result.grants == list(range(n))
        assert [r.cycle for r in result.responses] == list(range(1, n + 1))
        assert [r.rdata for r in result.responses] == [0x1000 + i for i in range(n)]


def test_contention_alternates_and_both_finish():
    """Both ports request every cycle: they take turns (data first), each waits at most one
    cycle, each port's answers come in order one cycle after its grants, and the data port's
    writes are seen by later fetches of the same word."""
    n = 20
    dut = SinglePortRam(1024, init=[0x1000 + i for i in range(2 * n)])
    a = [Request(n + i) for i in range(n)]                                 # fetches
    b = [Request(i, we=1, wdata=0xB000 + i) if i % 2 else Request(n + i) for i in range(n)]
    result = run_ports(dut, {"a": a, "b": b})
    ga, gb = result["a"].grants, result["b"].grants
    assert not set(ga) & set(gb)                       # one access per cycle
    assert sorted(ga + gb) == list(range(2 * n))       # and one every cycle
    assert gb[0] == 0 and ga[0] == 1                   # data first, then fetch
    for grants in (ga, gb):
        assert all(later - earlier <= 2 for earlier, later in zip(grants, grants[1:], strict=False))
    for name in ("a", "b"):
        assert [r.cycle for r in result[name].responses] == [g + 1 for g in result[name].grants]
    assert [r.rdata for r in result["a"].responses] == [0x1000 + n + i for i in range(n)]
    reads_b = [r.rdata for r, q in zip(result["b"].responses, b, strict=True) if not q.we]
    assert reads_b == [0x1000 + n + i for i in range(0, n, 2)]


@pytest.mark.parametrize("seed", range(3))
def test_random_traffic_against_model(seed):
    """Random reads and byte-masked writes with random idle gaps on both ports."""
    rng = random.Random(seed)
    words = 16
    model = [0] * words

    def requests():
        return [Request(rng.randrange(words), we=rng.random() < 0.5,
                        wdata=rng.getrandbits(32), be=rng.getrandbits(4),
                        idle=rng.choice([0, 0, 0, 1, 2])) for _ in range(40)]

    per_port = {"a": requests(), "b": requests()}
    dut = SinglePortRam(words * 4)
    result = run_ports(dut, per_port)
    # Replay in grant order (one grant per cycle) against the model.
    events = sorted((g, name, i) for name in per_port for i, g in enumerate(result[name].grants))
    assert len({g for g, _, _ in events}) == len(events)
    for _, name, i in events:
        q = per_port[name][i]
        if q.we:
            mask = sum(0xFF << 8 * k for k in range(4) if q.be >> k & 1)
            model[q.addr] = model[q.addr] & ~mask | q.wdata & mask
        else:
            assert result[name].responses[i].rdata == model[q.addr], (name, i)
        assert result[name].responses[i].err == 0


def test_spram_wrapper_structure():
    def instances(depth):
        return rtlil.convert(SpramMemory(depth)).count("SB_SPRAM256KA")

    assert instances(16384) == 2 and instances(1024) == 2 and instances(32768) == 4
    assert spram_blocks(64 * 1024) == 2 and spram_blocks(128 * 1024) == 4
    assert spram_blocks(8 * 1024) == 2
    text = rtlil.convert(SinglePortRam(64 * 1024, backing="spram"))
    assert text.count("SB_SPRAM256KA") == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="backing must be one of"):
        SinglePortRam(1024, backing="bram")
    with pytest.raises(ValueError, match="has no initial contents"):
        SinglePortRam(1024, init=[1], backing="spram")
    with pytest.raises(ValueError, match="depth must be a power of two in 2..32768"):
        SinglePortRam(256 * 1024, backing="spram")
