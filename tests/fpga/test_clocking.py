"""PLL parameter solvers: exact frequencies within the datasheet limits, clear errors otherwise."""

import pytest
from dure.fpga.clocking import ecp5_pll, ice40_pll


@pytest.mark.parametrize("f_out", [25_000_000, 40_000_000, 50_000_000, 60_000_000, 75_000_000,
                                   100_000_000])
def test_ecp5_exact(f_out):
    s = ecp5_pll(25_000_000, f_out)
    assert 25_000_000 * s.clkfb_div == f_out * s.clki_div
    assert 400e6 <= s.f_vco <= 800e6
    assert 3.125e6 <= 25_000_000 / s.clki_div <= 400e6


@pytest.mark.parametrize("f_out", [18_000_000, 24_000_000, 30_000_000, 36_000_000, 48_000_000])
def test_ice40_exact(f_out):
    s = ice40_pll(12_000_000, f_out)
    assert 12_000_000 * (s.divf + 1) == f_out * (s.divr + 1) * 2 ** s.divq
    f_vco = 12_000_000 / (s.divr + 1) * (s.divf + 1)
    assert 533e6 <= f_vco <= 1066e6
    assert 1 <= s.divq <= 6 and 1 <= s.filter_range <= 6


def test_unreachable_frequencies_name_the_nearest():
    with pytest.raises(ValueError, match="nearest"):
        ice40_pll(12_000_000, 13_000_000)       # below the 16 MHz output minimum
    with pytest.raises(ValueError, match="3.125..400 MHz"):
        ecp5_pll(25_000_000, 500_000_000)
