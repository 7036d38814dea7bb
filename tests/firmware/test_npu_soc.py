"""The NPU firmware on the simulated SoC (Verilator model of SimTop with the real core and NPU):
the Python-golden vectors on the NPU (ending with an interrupt-driven FENCE wait) and the GEMM
benchmark, whose MACs per cycle are printed (``pytest -s``) and must reach a floor. The
self-test and the full vectors (both also run the CPU reference path in soft-float, ~10 M
cycles each) are slow tests."""

import re

import pytest
from test_npu_firmware import BUILD, INCLUDE, programs  # noqa: F401  (fixture)

from dure.config import preset

MAX_CYCLES = 60_000_000
# The NPU variant of the test suite (4x4: builds and runs much faster than the 8x8 of `sim`).
CONFIG = preset("npu-small")
BENCH = re.compile(r"^BENCH (\S+) cycles=(\d+) macs=(\d+) macs_per_cycle=(\d+)\.(\d+)", re.M)


def run(path):
    from dure.sim.runner import run_elf

    result = run_elf(path, config=CONFIG, max_cycles=MAX_CYCLES)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{path.name}: {result.status} failure={result.failure} after {result.cycles} cycles\n"
        f"{uart}")
    return result, uart


def test_vectors_on_the_soc(programs):  # noqa: F811
    _, uart = run(programs / "npu_vectors_npu.elf")
    assert "cases pass on the NPU" in uart


@pytest.mark.slow
@pytest.mark.parametrize("name", ["npu_selftest", "npu_vectors"])
def test_cpu_path_programs_on_the_soc(programs, name):  # noqa: F811
    _, uart = run(programs / f"{name}.elf")
    assert "pass" in uart


def test_gemm_throughput_on_the_soc(programs):  # noqa: F811
    _, uart = run(programs / "npu_bench.elf")
    lines = BENCH.findall(uart)
    assert len(lines) == 3, uart
    print()
    for name, cycles, macs, whole, frac in lines:
        rate = int(whole) + int(frac) / 1000
        print(f"{name}: {cycles} cycles, {macs} MACs, {rate:.3f} MACs/cycle")
        assert int(macs) / int(cycles) == pytest.approx(rate, abs=0.001)
        peak = CONFIG.npu_peak_macs_per_cycle
        assert rate > peak / 2, f"{name}: only {rate} MACs/cycle, peak {peak}"
