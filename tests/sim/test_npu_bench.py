"""The GEMM benchmark on the 8x8 `sim` SoC: large compute-bound GEMMs through the firmware reach
90 % of the array's peak, bit-exact. Cycle counts of the simulation are deterministic, so the
floor cannot flake; it needs the 8x8 SoC model (minutes to build), hence ``make fuzz``.
The figures themselves are printed by ``make bench``."""

import pytest
from dure.sim.npu_bench import markdown, run_shape

from dure.config import preset

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_gemm256_reaches_90_percent_of_peak(precision):
    config = preset("sim")
    row = run_shape(config, "gemm256", 256, 256, 256, precision)
    print("\n" + markdown([row]))
    assert row.exact
    assert row.macs / row.cycles >= 0.90 * config.npu_peak_macs_per_cycle
