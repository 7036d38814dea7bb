# amaranth: UnusedElaboratable=no
"""The RAM with registered data-port writes: the same answers and cycles as Ram on port B
(its own writes forwarded), port A reading the words one cycle later, port A read-only."""

import random

import pytest
from dure.rtl.soc.late_write_ram import LateWriteRam
from dure.rtl.soc.ram import Ram
from dure.sim.verif.bus import Request, run_ports, simulate, transact


def _model(init, requests):
    """Read data of each request on one port, the port seeing its own writes in order."""
    words = dict(enumerate(init))
    out = []
    for r in requests:
        old = words.get(r.addr, 0)
        if r.we:
            mask = sum(0xFF << 8 * i for i in range(4) if r.be >> i & 1)
            words[r.addr] = old & ~mask | r.wdata & mask
        out.append(old)
    return out


def _random_requests(seed, n=300, words=4):
    """Back-to-back reads and writes (random byte enables, sometimes none) to a few words,
    with an idle cycle now and then: most reads follow a write to their word."""
    rng = random.Random(seed)
    return [Request(rng.randrange(words), we=rng.random() < 0.5,
                    wdata=rng.getrandbits(32), be=rng.randrange(16),
                    idle=rng.random() < 0.1)
            for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_port_b_reads_its_own_writes_like_ram(seed):
    """Every read on B returns what B wrote before it, also in the very next cycle (the
    written lanes forwarded, the others from the block RAM), granted and answered in the
    same cycles as Ram."""
    init = [0x1111_1111 * (i + 1) for i in range(4)]
    requests = _random_requests(seed)
    late = run_ports(LateWriteRam(64, init=init), {"b": requests})["b"]
    ram = run_ports(Ram(64, init=init), {"b": requests})["b"]
    assert late.grants == ram.grants
    assert [r.cycle for r in late.responses] == [r.cycle for r in ram.responses]
    expected = _model(init, requests)
    reads = [i for i, r in enumerate(requests) if not r.we]
    assert any(requests[i - 1].we and requests[i - 1].addr == requests[i].addr
               and requests[i - 1].be and not requests[i].idle for i in reads)
    assert [late.responses[i].rdata for i in reads] == [expected[i] for i in reads]
    assert [ram.responses[i].rdata for i in reads] == [expected[i] for i in reads]
    assert all(r.err == 0 for r in late.responses)


def test_both_ports_one_access_per_cycle():
    n = 32
    dut = LateWriteRam(1024, init=[0x1000 + i for i in range(n)])
    a = [Request(i) for i in range(n)]                                   # reads
    b = [Request(n + i, we=1, wdata=0xB000 + i) for i in range(n)]        # writes elsewhere
    result = run_ports(dut, {"a": a, "b": b})
    for initiator in result.values():
        assert initiator.grants == list(range(n))
        assert [r.cycle for r in initiator.responses] == list(range(1, n + 1))
        assert all(r.err == 0 for r in initiator.responses)
    assert [r.rdata for r in result["a"].responses] == [0x1000 + i for i in range(n)]


def test_port_a_sees_a_write_from_the_second_cycle_after_its_grant():
    """A write on B granted in cycle 0 is in the block RAM at the end of cycle 1: a read on A
    in cycle 1 still gets the old word (in simulation; undefined in a bitstream), one in
    cycle 2 the new one."""
    results = {}
    for delay in (1, 2):
        dut = LateWriteRam(64, init=[0xAAAA_AAAA])
        got = run_ports(dut, {"b": [Request(0, we=1, wdata=0x1234_5678, be=0b0110)],
                         "a": [Request(0, idle=delay)]})
        assert got["b"].grants == [0] and got["a"].grants == [delay]
        results[delay] = got["a"].responses[0].rdata
    assert results == {1: 0xAAAA_AAAA, 2: 0xAA34_56AA}


def test_port_a_is_read_only():
    dut = LateWriteRam(64, init=[0xCAFE_F00D])
    results = []

    async def bench(ctx):
        results.append((await transact(ctx, dut.a, 0, we=1, wdata=0))[1])
        results.append(await transact(ctx, dut.a, 0))
        results.append(await transact(ctx, dut.b, 0))

    simulate(dut, [bench])
    assert results == [1, (0xCAFE_F00D, 0), (0xCAFE_F00D, 0)]


def test_bad_parameters():
    with pytest.raises(ValueError, match="power of two"):
        LateWriteRam(100)
