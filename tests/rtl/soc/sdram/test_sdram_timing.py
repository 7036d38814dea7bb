"""Datasheet times to cycles."""

import pytest
from dure.rtl.soc.sdram import IS42S16160G_7, SdramCycles, SdramTiming


def test_is42s16160g_at_100_and_20_mhz():
    assert IS42S16160G_7.size == 32 * 1024 * 1024
    assert IS42S16160G_7.cycles(100_000_000) == SdramCycles(
        rcd=2, rp=2, ras=4, rc=6, rrd=2, wr=2, rfc=6, mrd=2, init=10_000,
        refresh_period=781 - 20, cas_latency=2)
    c = IS42S16160G_7.cycles(20_000_000)
    assert (c.rcd, c.rp, c.ras, c.rc, c.wr, c.rfc, c.init) == (1, 1, 1, 2, 1, 2, 2000)
    assert c.refresh_period < 156                  # 7.8125 us


def test_exact_multiples_do_not_round_up():
    # 15 ns at 200 MHz is exactly 3 cycles.
    assert SdramTiming(t_rcd=15e-9).cycles(200_000_000).rcd == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"t_rcd": 0}, "t_rcd must be a positive time"),
    ({"t_mrd": 0}, "t_mrd must be an integer number of cycles >= 1"),
    ({"init_refreshes": 1}, "init_refreshes must be an integer >= 2"),
    ({"row_bits": 15}, "row_bits must be an integer in 11..14"),
    ({"col_bits": 11}, "col_bits must be an integer in 8..10"),
    ({"bank_bits": 3}, "bank_bits must be 1 or 2"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SdramTiming(**kwargs)
