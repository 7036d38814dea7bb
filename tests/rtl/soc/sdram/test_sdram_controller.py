# amaranth: UnusedElaboratable=no
"""SDRAM controller against the chip model: initialisation, data, refresh, timing rules."""

import dataclasses
import random

import pytest
from dure.rtl.npu.load_unit import load_row_bytes
from dure.rtl.soc.sdram import IS42S16160B_7, IS42S16160G_7, SdramController, SdramTiming, part
from dure.sim.verif.sdram_chip import IS42S16160B, IS42S16160G, SdramViolation
from dure.sim.verif.sdram_dma import dma_bench
from dure.sim.verif.sdram_traffic import (
    Request,
    bench,
    check_responses,
    random_requests,
    sequential_requests,
    simulate,
)

from dure.config import preset

CLK = 100_000_000
# Short power-up wait and refresh period so that simulations stay short: the chip model gets
# the same shortening (a refresh row counter of 4 rows, each to be refreshed every 6.4 us).
FAST = dataclasses.replace(IS42S16160G_7, t_init=2e-6, t_refi=1.5e-6)
FAST_CHIP = dataclasses.replace(IS42S16160G, t_init=2e-6, refresh_rows=4, t_ref=6.4e-6)
START = 260  # cycles: past the initialisation of FAST at 100 MHz


def _run(requests, timing=FAST, datasheet=FAST_CHIP, clk=CLK, lookahead=True,
         clock_inverted=False, **kwargs):
    controller = SdramController(timing, clk_freq=clk, lookahead=lookahead,
                                 chip_clock_inverted=clock_inverted)
    traffic = simulate(controller, requests, clk_freq=clk, datasheet=datasheet,
                       clock_inverted=clock_inverted, **kwargs)
    check_responses(requests, traffic)
    return traffic


def test_init_sequence_then_write_and_read_with_byte_enables():
    requests = [
        Request(0x10, we=1, wdata=0x1122_3344, idle=START),
        Request(0x10),
        Request(0x10, we=1, wdata=0xAABB_CCDD, be=0b0101),
        Request(0x10),
        Request(0x10, we=1, wdata=0xEEFF_0000, be=0b1000),
        Request(0x10),
        Request(0x11, we=1, wdata=0x5555_6666, be=0b0110),
        Request(0x11),
    ]
    traffic = _run(requests)
    data = [r.rdata for r in traffic.responses]
    assert data[1] == 0x1122_3344
    assert data[3] == 0x11BB_33DD
    assert data[5] == 0xEEBB_33DD
    assert data[7] & 0x00FF_FF00 == 0x0055_6600
    commands = traffic.chip.commands
    assert commands["LOAD MODE REGISTER"] == 1
    assert commands["READ"] == 4 and commands["WRITE"] == 4


def test_requests_during_initialisation_wait():
    requests = [Request(3, we=1, wdata=0xCAFE_F00D), Request(3), Request(3)]
    traffic = _run(requests)
    assert traffic.responses[2].rdata == 0xCAFE_F00D
    # Two requests wait in the queue; the third is granted once the first is issued.
    assert traffic.grants[:2] == [0, 1]
    assert traffic.grants[2] > FAST.cycles(CLK).init


@pytest.mark.parametrize("seed, lookahead", [(1, True), (2, True), (3, False)])
def test_random_traffic_against_shadow_memory(seed, lookahead):
    rng = random.Random(seed)
    # A small address space folds into a few rows of every bank: row hits, misses, conflicts.
    words = 1 << 12
    requests = random_requests(rng, 300, words)
    requests[0].idle = START
    traffic = _run(requests, lookahead=lookahead)
    assert len(traffic.chip.refreshes) >= 4      # refreshes happened under load


def test_cas_latency_3():
    rng = random.Random(11)
    requests = random_requests(rng, 200, 1 << 12)
    requests[0].idle = START
    timing = dataclasses.replace(FAST, cas_latency=3)
    traffic = _run(requests, timing=timing)
    alone = [Request(9, idle=START), Request(9, idle=30)]
    traffic = _run(alone, timing=timing)
    assert traffic.responses[1].cycle - traffic.grants[1] == 3 + 4


@pytest.mark.slow
@pytest.mark.parametrize("clk", [20_000_000, 50_000_000, 100_000_000, 133_000_000])
@pytest.mark.parametrize("cas_latency", [2, 3])
@pytest.mark.parametrize("lookahead", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_random_sweep(clk, cas_latency, lookahead, seed):
    clock_inverted = seed == 2
    if clk > 1 / IS42S16160G.t_ck_cl2 and cas_latency == 2:
        pytest.skip("the part needs CL 3 above 133 MHz")
    rng = random.Random(seed)
    words = 1 << rng.choice([10, 12, 23])
    requests = random_requests(rng, 1500, words, write_fraction=rng.choice([0.2, 0.5, 0.8]),
                               idle_max=rng.choice([1, 3, 20]))
    requests[0].idle = 50 + int(2e-6 * clk)
    timing = dataclasses.replace(FAST, cas_latency=cas_latency, t_refi=4e-6)
    _run(requests, timing=timing, clk=clk, lookahead=lookahead, clock_inverted=clock_inverted,
         datasheet=dataclasses.replace(FAST_CHIP, t_ref=4 * 4.2e-6))


def test_random_traffic_across_the_whole_part():
    rng = random.Random(7)
    words = 1 << (IS42S16160G_7.row_bits + IS42S16160G_7.bank_bits + IS42S16160G_7.col_bits - 1)
    requests = random_requests(rng, 200, words, hot_words=16)
    _run(requests)


def test_refresh_keeps_up_while_idle_and_under_load():
    requests = sequential_requests(0, 400, we=1, first_idle=START)
    requests += sequential_requests(0, 400, we=0)
    traffic = _run(requests, extra_cycles=2000)
    refreshes = traffic.chip.refreshes[2:]     # after the two of the initialisation
    gaps = [b - a for a, b in zip(refreshes, refreshes[1:], strict=False)]
    period = FAST.cycles(CLK).refresh_period
    assert max(gaps) <= period + 30 and min(gaps) >= period - 30


def test_real_timing_short_span():
    """The datasheet values (100 us power-up wait, 7.8 us refresh interval) on both sides."""
    requests = random_requests(random.Random(3), 60, 1 << 10)
    requests[0].idle = 10_050
    traffic = _run(requests, timing=IS42S16160G_7, datasheet=IS42S16160G, extra_cycles=1600)
    assert traffic.chip.commands["AUTO REFRESH"] >= 3


@pytest.mark.parametrize("clock_inverted", [False, True])
def test_twenty_megahertz(clock_inverted):
    """The ULX3S's clock: every time rounds to one or two cycles. On the board the chip's
    clock is inverted (SdramIO): read data comes a cycle early."""
    requests = random_requests(random.Random(4), 200, 1 << 12)
    requests[0].idle = 50
    traffic = _run(requests, clk=20_000_000, timing=dataclasses.replace(FAST, t_refi=4e-6),
                   datasheet=dataclasses.replace(FAST_CHIP, t_ref=4 * 4.2e-6),
                   clock_inverted=clock_inverted)
    assert len(traffic.chip.refreshes) >= 10


def test_icesugar_pro_part_at_the_board_clock():
    """The iCESugar-Pro's IS42S16160B-7 at its preset's clock, the datasheet values on both
    sides (200 us power-up wait, 8 refreshes in the initialisation, tRAS two cycles) and the
    board's inverted chip clock; the ULX3S's part's timing breaks this chip's rules."""
    config = preset("icesugar-pro")
    assert part(config.sdram_part) is IS42S16160B_7
    clk = config.clk_freq
    requests = random_requests(random.Random(8), 60, 1 << 10, write_fraction=0.6)
    requests[0].idle = IS42S16160B_7.cycles(clk).init + 50
    traffic = _run(requests, timing=IS42S16160B_7, datasheet=IS42S16160B, clk=clk,
                   clock_inverted=True, extra_cycles=600)
    assert traffic.chip.commands["AUTO REFRESH"] >= 8 + 2
    with pytest.raises(SdramViolation, match="power-up wait"):
        _run(requests[:2], timing=IS42S16160G_7, datasheet=IS42S16160B, clk=clk,
             clock_inverted=True)
    with pytest.raises(SdramViolation, match="8 AUTO REFRESH"):
        _run(requests[:2], timing=dataclasses.replace(IS42S16160G_7, t_init=200e-6),
             datasheet=IS42S16160B, clk=clk, clock_inverted=True)


def test_inverted_clock_mismatch_is_caught():
    """A controller that expects a common clock edge reads the wrong beats from a chip on the
    inverted clock."""
    requests = [Request(1, we=1, wdata=0x1234_5678, idle=START), Request(1)]
    controller = SdramController(FAST, clk_freq=CLK)
    traffic = simulate(controller, requests, clk_freq=CLK, datasheet=FAST_CHIP,
                       clock_inverted=True)
    assert traffic.responses[1].rdata != 0x1234_5678


# The model catches controllers that break the datasheet.

@pytest.mark.parametrize("field, value, rule", [
    ("t_rcd", 5e-9, "tRCD"),
    ("t_rp", 5e-9, "tRP"),
    ("t_ras", 5e-9, "tRAS"),
    ("t_wr", 5e-9, "tWR"),
    ("t_rfc", 5e-9, "tRFC"),
])
def test_mistimed_controller_is_caught(field, value, rule):
    timing = dataclasses.replace(FAST, **{field: value})
    rng = random.Random(5)
    requests = random_requests(rng, 200, 1 << 12, write_fraction=0.6)
    requests[0].idle = START
    with pytest.raises(SdramViolation, match=rule):
        _run(requests, timing=timing)


def test_slow_refresh_is_caught():
    timing = dataclasses.replace(FAST, t_refi=3e-6)
    with pytest.raises(SdramViolation, match="tREF"):
        _run([Request(0, idle=START)], timing=timing, extra_cycles=2000)


def test_short_power_up_wait_is_caught():
    chip = dataclasses.replace(FAST_CHIP, t_init=4e-6)
    with pytest.raises(SdramViolation, match="power-up wait"):
        _run([Request(0)], datasheet=chip)


def test_too_fast_clock_for_cas_latency_is_caught():
    with pytest.raises(SdramViolation, match="minimum at CAS latency 2"):
        _run([Request(0)], clk=143_000_000, timing=dataclasses.replace(FAST, t_refi=2e-6))


def test_unknown_part():
    with pytest.raises(ValueError, match="unknown SDRAM part 'MT48LC16M16'; choose one of: "
                                         "IS42S16160G-7, IS42S16160B-7"):
        part("MT48LC16M16")
    with pytest.raises(ValueError, match="unknown SDRAM part"):
        dataclasses.replace(preset("ulx3s"), sdram_part="IS42S16160")


def test_bad_timing_parameters():
    with pytest.raises(ValueError, match="cas_latency must be 2 or 3"):
        SdramTiming(cas_latency=4)
    with pytest.raises(ValueError, match="too few for the refresh margin"):
        SdramTiming(t_refi=100e-9).cycles(100_000_000)


def test_bandwidth_and_latency(capsys):
    """Measured numbers (printed; run with -s to see them). Cycle counts are deterministic."""
    timing = dataclasses.replace(IS42S16160G_7, t_init=2e-6)
    chip = dataclasses.replace(IS42S16160G, t_init=2e-6)
    results = bench(timing, clk_freq=CLK, datasheet=chip, count=128)
    alone = bench(timing, clk_freq=CLK, datasheet=chip, count=128, lookahead=False)
    with capsys.disabled():
        print()
        for name, value in results.items():
            print(f"SDRAM at {CLK / 1e6:g} MHz: {name}: {value:.3g} "
                  f"(without look-ahead: {alone[name]:.3g})")
    assert results["sequential read B/cycle"] > 1.9
    assert results["sequential write B/cycle"] > 1.9
    assert results["read latency, open row (cycles)"] == IS42S16160G_7.cas_latency + 4


def test_bandwidth_and_latency_on_the_board(capsys):
    """The ULX3S's controller at its preset's clock with the board's inverted chip clock
    (printed): sequential streams near the 16-bit bus's 2 B/cycle, and a read to the open row
    answered one cycle sooner than on a common clock edge."""
    config = preset("ulx3s")
    timing = dataclasses.replace(part(config.sdram_part), t_init=2e-6)
    chip = dataclasses.replace(IS42S16160G, t_init=2e-6)
    results = bench(timing, clk_freq=config.clk_freq, datasheet=chip, count=128,
                    clock_inverted=True)
    with capsys.disabled():
        print()
        for name, value in results.items():
            print(f"SDRAM at {config.clk_freq / 1e6:g} MHz, inverted chip clock: "
                  f"{name}: {value:.3g}")
    assert results["sequential read B/cycle"] > 1.9
    assert results["sequential write B/cycle"] > 1.9
    hit, closed, miss = (results[f"read latency, {name} (cycles)"]
                         for name in ("open row", "closed bank", "row miss"))
    assert hit == timing.cas_latency + 3
    assert hit < closed < miss


def test_npu_dma_bandwidth_on_the_board(capsys):
    """The NPU's DMA reader and writer (ulx3s variant) on the SDRAM at the board's clock with
    its inverted chip clock: printed; contiguous reads near the 2 B/cycle peak (the reader's
    look-ahead chains the rows), contiguous writes at one row per row's words + at most 1.5
    cycles (the writer pays a little per row: 1.6 B/cycle with the 4x2 preset's 10-byte rows,
    1.91 with a 4x4's 16-byte rows)."""
    config = preset("ulx3s")
    words = -(-min(load_row_bytes(config), 16) // 2)
    timing = dataclasses.replace(IS42S16160G_7, t_init=2e-6)
    chip = dataclasses.replace(IS42S16160G, t_init=2e-6)
    results = dma_bench(config, timing, datasheet=chip)
    with capsys.disabled():
        print()
        for name, value in results.items():
            print(f"SDRAM at {config.clk_freq / 1e6:g} MHz: {name}: {value:.3g}")
    assert results["DMA read, contiguous (B/cycle)"] > 1.8
    assert results["DMA write, contiguous (B/cycle)"] > 2 * words / (words + 1.5)
