"""PMP check: random entry tables and addresses against the reference model's decision."""

import gc
import random
import warnings

import pytest
from amaranth.sim import Simulator
from dure.rtl.core.pmp import PMPCheck, napot_care
from dure.sim.verif.core_ref import pmp_allows


def random_table(rng, n):
    cfgs, addrs = [], []
    base = rng.getrandbits(30)
    for _ in range(n):
        cfg = rng.choice([0, 1, 2, 3]) << 3 | rng.getrandbits(3) | rng.getrandbits(1) << 7
        if rng.random() < 0.1:
            addr = rng.choice([0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x3FFF_FFFF])
        else:   # near a common base, so that ranges overlap and addresses hit them
            addr = (base + rng.randint(-64, 64)) & 0xFFFF_FFFF
            if cfg >> 3 & 3 == 3:
                addr |= (1 << rng.randint(0, 6)) - 1
        cfgs.append(cfg)
        addrs.append(addr)
    return cfgs, addrs, base


@pytest.mark.parametrize("entries", [1, 4, 16])
def test_pmp_check_matches_reference(entries):
    rng = random.Random(entries)
    dut = PMPCheck(entries)
    sim = Simulator(dut)

    async def bench(ctx):
        checked = faults = 0
        for _ in range(60):
            cfgs, addrs, base = random_table(rng, entries)
            for i in range(entries):
                ctx.set(dut.cfg[i], cfgs[i])
                ctx.set(dut.pmpaddr[i], addrs[i])
                ctx.set(dut.care[i], napot_care(addrs[i]))
            for _ in range(20):
                if rng.random() < 0.8:
                    addr = ((base + rng.randint(-80, 80)) << 2 | rng.getrandbits(2)) & 0xFFFF_FFFF
                else:
                    addr = rng.getrandbits(32)
                priv_m = rng.getrandbits(1)
                access = 1 << rng.randrange(3)
                ctx.set(dut.addr, addr)
                ctx.set(dut.priv_m, priv_m)
                ctx.set(dut.access, access)
                want = not pmp_allows(cfgs, addrs, priv_m, addr, access)
                assert ctx.get(dut.fault) == want, (cfgs, addrs, hex(addr), priv_m, access)
                checked += 1
                faults += want
        assert 0.1 * checked < faults < 0.9 * checked   # both outcomes well represented

    sim.add_testbench(bench)
    sim.run()


def test_napot_all_ones_and_tor_bounds():
    dut = PMPCheck(2)
    sim = Simulator(dut)

    async def bench(ctx):
        # Entry 0 TOR [0x100, 0x200) words: read only; entry 1 NAPOT all ones: everything RWX.
        ctx.set(dut.cfg[0], 1 << 3 | 0b001)
        ctx.set(dut.pmpaddr[0], 0x200)
        ctx.set(dut.care[0], napot_care(0x200))
        ctx.set(dut.cfg[1], 3 << 3 | 0b111)
        ctx.set(dut.pmpaddr[1], 0xFFFF_FFFF)
        ctx.set(dut.care[1], napot_care(0xFFFF_FFFF))
        ctx.set(dut.priv_m, 0)
        for addr, access, fault in [(0x0, 2, 1), (0x7FC, 2, 1), (0x800, 2, 0),
                                    (0xFFFF_FFFC, 4, 0), (0x400, 1, 0)]:
            ctx.set(dut.addr, addr)
            ctx.set(dut.access, access)
            assert ctx.get(dut.fault) == fault, hex(addr)

    sim.add_testbench(bench)
    sim.run()


def test_bad_entries():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the half-built component is never elaborated
        with pytest.raises(ValueError, match="entries must be an integer in 1..16") as info:
            PMPCheck(17)
        del info
        gc.collect()
