"""The SDRAM chip model on its own: data, CAS latency, DQM, and every timing rule it checks.

The model is driven through :meth:`SdramChip.step` with hand-written command sequences, at
10 ns per cycle (tRCD = tRP = 15 ns: 2 cycles; tRAS = 37 ns: 4; tRC = tRFC = 60 ns: 6).
"""

import dataclasses

import pytest
from dure.sim.verif.sdram_chip import IS42S16160G, SdramChip, SdramViolation

DATASHEET = dataclasses.replace(IS42S16160G, t_init=100e-9, refresh_rows=4, t_ref=4e-6)
CODES = {"NOP": (0, 0, 0), "READ": (0, 1, 0), "WRITE": (0, 1, 1), "ACTIVE": (1, 0, 0),
         "PRECHARGE": (1, 0, 1), "REFRESH": (1, 1, 0), "MODE": (1, 1, 1)}
MODE_CL2_BL2 = 0b010_0_001


class Driver:
    """Issues commands one per cycle and records what the chip drives."""

    def __init__(self, datasheet=DATASHEET, clk_period=10e-9, clock_inverted=False):
        self.chip = SdramChip(None, clk_period=clk_period, datasheet=datasheet,
                              clock_inverted=clock_inverted)
        self.out = {}

    def __call__(self, name="NOP", ba=0, a=0, dqm=0, dq=None, wait=0):
        cs = name != "NOP"
        drive = self.chip.step(1, cs, *CODES[name], ba, a, dqm, dq or 0, dq is not None)
        if drive is not None:
            self.out[self.chip.cycle] = drive
        for _ in range(wait):
            self()

    def init(self, mode=MODE_CL2_BL2):
        self(wait=10)                       # 100 ns power-up wait
        self("PRECHARGE", a=1 << 10, wait=1)
        self("REFRESH", wait=5)
        self("REFRESH", wait=5)
        self("MODE", a=mode, wait=1)


def test_write_then_read_with_cas_latency_and_dqm():
    d = Driver()
    d.init()
    d("ACTIVE", ba=2, a=77, wait=1)
    d("WRITE", ba=2, a=8, dq=0x1111)
    d(dq=0x2222, dqm=0b01)                   # low byte of the second beat masked
    d(wait=1)
    start = d.chip.cycle
    d("READ", ba=2, a=8, wait=4)
    first = start + 2                        # CL 2: data in the second cycle after READ
    assert d.out[first] == 0x1111
    assert d.out[first + 1] == 0x2200 | (SdramChip.unwritten(2, 77, 9) & 0xFF)
    assert first - 1 not in d.out and first + 2 not in d.out
    assert d.chip.memory[2, 77, 8] == 0x1111


def test_inverted_clock_reads_a_cycle_early_and_holds_dq_half_a_cycle():
    d = Driver(clock_inverted=True)
    d.init()
    d("ACTIVE", a=1, wait=1)
    d("WRITE", a=0, dq=0x1111)
    d(dq=0x2222, wait=1)
    start = d.chip.cycle
    d("READ", a=0, wait=2)
    assert d.out == {start + 1: 0x1111, start + 2: 0x2222}
    with pytest.raises(SdramViolation, match="drives DQ"):
        d("WRITE", a=0, dq=0x3333)           # the chip still drives the second beat


def test_cas_latency_3_and_burst_order():
    d = Driver()
    d.init(mode=0b011_0_001)
    d("ACTIVE", a=5, wait=1)
    d("WRITE", a=3, dq=0xAAAA)               # burst of 2 from column 3 wraps to column 2
    d(dq=0xBBBB, wait=1)
    assert d.chip.memory[0, 5, 3] == 0xAAAA and d.chip.memory[0, 5, 2] == 0xBBBB
    start = d.chip.cycle
    d("READ", a=2, wait=5)
    assert d.out[start + 3] == 0xBBBB and d.out[start + 4] == 0xAAAA


def _violation(sequence, match):
    d = Driver()
    d.init()
    with pytest.raises(SdramViolation, match=match):
        sequence(d)


@pytest.mark.parametrize("sequence, match", [
    (lambda d: (d("ACTIVE"), d("READ")), "tRCD"),
    (lambda d: (d("ACTIVE", wait=2), d("PRECHARGE")), "tRAS"),
    (lambda d: (d("ACTIVE", wait=3), d("PRECHARGE"), d("ACTIVE")), "tRP"),
    (lambda d: (d("ACTIVE"), d("ACTIVE", ba=1)), "tRRD"),
    (lambda d: (d("ACTIVE", wait=3), d("WRITE", dq=1), d(dq=2), d("PRECHARGE")), "tWR"),
    (lambda d: (d("REFRESH", wait=2), d("ACTIVE")), "tRFC"),
    (lambda d: (d("ACTIVE", wait=4), d("ACTIVE")), "already open"),
    (lambda d: d("READ"), "no open row"),
    (lambda d: (d("ACTIVE", wait=5), d("REFRESH")), "bank 0 has row 0 open"),
    (lambda d: (d("ACTIVE", wait=3), d("READ", wait=1), d("WRITE", dq=1)), "drives DQ"),
    (lambda d: (d("ACTIVE", wait=3), d("WRITE")), "DQ not driven"),
    (lambda d: d(wait=400), "tREF"),
])
def test_timing_violations_are_named(sequence, match):
    _violation(sequence, match)


def test_trc_and_tras_max():
    # Parts where tRC is longer than tRAS + tRP, and rows may stay open 1 us.
    d = Driver(dataclasses.replace(DATASHEET, t_rc=70e-9, t_ras_max=1e-6))
    d.init()
    d("ACTIVE", wait=3)
    d("PRECHARGE", wait=1)
    with pytest.raises(SdramViolation, match="tRC"):
        d("ACTIVE")
    d = Driver(dataclasses.replace(DATASHEET, t_ras_max=1e-6))
    d.init()
    d("ACTIVE", wait=99)
    with pytest.raises(SdramViolation, match="tRAS max"):
        d(wait=2)


def test_commands_before_initialisation():
    d = Driver()
    with pytest.raises(SdramViolation, match="power-up wait"):
        d("PRECHARGE", a=1 << 10)
    d = Driver()
    d(wait=10)
    with pytest.raises(SdramViolation, match="must be PRECHARGE ALL"):
        d("PRECHARGE")
    d = Driver()
    d(wait=10)
    d("PRECHARGE", a=1 << 10, wait=1)
    d("MODE", a=MODE_CL2_BL2, wait=1)
    d("REFRESH", wait=5)
    with pytest.raises(SdramViolation, match="initialisation is complete"):
        d("ACTIVE")


def test_refresh_rate_kept_by_regular_refreshes():
    d = Driver()
    d.init()
    for _ in range(20):                      # one refresh per 900 ns: each row every 3.6 us
        d("REFRESH", wait=89)
    assert d.chip.commands["AUTO REFRESH"] == 22


def test_clock_too_fast_for_cas_latency():
    d = Driver(clk_period=7e-9)
    d(wait=15)
    d("PRECHARGE", a=1 << 10, wait=3)
    with pytest.raises(SdramViolation, match="minimum at CAS latency 2"):
        d("MODE", a=MODE_CL2_BL2)
