"""The NPU firmware on the simulated SoC (Verilator model of SimTop with the real core and NPU):
the Python-golden vectors on the NPU (ending with an interrupt-driven FENCE wait), a layer run
as one LIST, the GEMM benchmark, whose MACs per cycle are printed (``pytest -s``) and must
reach a floor, the error interrupt through the trap path and DMA bus errors during core
traffic. The vectors, the LIST and both error paths also run on the shipped 8x8 `sim` SoC (the
variant `make sim` runs) under `make fuzz`: its Verilator model is one more build of ~5 minutes,
the longest step of `make test` when it was there (the shipped 8x8 NPU stays in `make test` on
Amaranth's simulator: tests/rtl/npu/test_npu.py::test_shipped_npu_gemm). The self-test and the
full vectors (both also run the CPU reference path in soft-float, ~10 M cycles each) are slow
tests."""

import re

import pytest

from dure.config import preset

MAX_CYCLES = 60_000_000
# The NPU variant of the test suite (4x4: builds and runs much faster than the 8x8 of `sim`).
CONFIG = preset("npu-small")
# The shipped configuration (issue: verification of what users run): the 8x8 dual-precision NPU.
SHIPPED = preset("sim")
# The 8x8 cases: make fuzz (their model build, ~5 min, is the first test there: build_first).
SHIPPED_SLOW = pytest.param(SHIPPED, marks=[pytest.mark.slow, pytest.mark.build_first])
BOTH = pytest.mark.parametrize("config", [CONFIG, SHIPPED_SLOW], ids=["npu-small", "sim"])
# npu-small is a 4x4 array (peak 16 MACs/cycle) whose COMPUTEs cover 4 rows of K, so the core's
# descriptor pushes, not the array, bound these GEMMs; the floors catch a large regression of
# driver or NPU. (The 8x8 figures are `make bench`'s; tests/sim/test_npu_bench.py checks the
# 90 % of peak of 256^3 under `make fuzz`.)
FLOORS = {"npu_gemm_int8_256x64x64": 2.0, "npu_gemm_int8_64x256x32": 1.5,
          "npu_gemm_fp16_128x64x32": 1.5}
BENCH = re.compile(r"^BENCH (\S+) cycles=(\d+) macs=(\d+) macs_per_cycle=(\d+)\.(\d+)", re.M)


def run(path, max_cycles=MAX_CYCLES, config=CONFIG):
    from dure.sim.runner import run_elf

    result = run_elf(path, config=config, max_cycles=max_cycles)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{path.name}: {result.status} failure={result.failure} after {result.cycles} cycles\n"
        f"{uart}")
    return result, uart


@BOTH
def test_vectors_on_the_soc(programs, config):
    _, uart = run(programs / "npu_vectors_npu.elf", config=config)
    assert "cases pass on the NPU" in uart


@BOTH
def test_list_on_the_soc(programs, config):
    """A GEMM layer pushed descriptor by descriptor and as one LIST (outputs equal the CPU's
    sums), and a list with malformed entries (ERROR, ERROR_INDEX, DONE == ISSUED)."""
    _, uart = run(programs / "npu_list.elf", config=config)
    assert "npu_list pass" in uart, uart
    push, lst = map(int, re.search(r"LIST push_cycles=(\d+) list_cycles=(\d+)", uart).groups())
    print(f"\n{uart.strip()}")
    assert lst < push


@pytest.mark.slow
@pytest.mark.parametrize("name", ["npu_selftest", "npu_vectors"])
def test_cpu_path_programs_on_the_soc(programs, name):
    _, uart = run(programs / f"{name}.elf")
    assert "pass" in uart


def test_gemm_throughput_on_the_soc(programs):
    _, uart = run(programs / "npu_bench.elf")
    lines = BENCH.findall(uart)
    assert [line[0] for line in lines] == list(FLOORS), uart
    print()
    rates = {}
    for name, cycles, macs, whole, frac in lines:
        rates[name] = int(whole) + int(frac) / 1000
        print(f"{name}: {cycles} cycles, {macs} MACs, {rates[name]:.3f} MACs/cycle "
              f"(peak {CONFIG.npu_peak_macs_per_cycle})")
        assert int(macs) / int(cycles) == pytest.approx(rates[name], abs=0.001)
    for name, floor in FLOORS.items():
        assert rates[name] > floor, f"{name}: only {rates[name]} MACs/cycle"


@BOTH
def test_error_interrupt_through_the_trap_path(programs, config):
    """Malformed descriptors raise the NPU error interrupt; the firmware's trap handler reads
    and clears ERROR, and the NPU keeps working (firmware/npu_apps/npu_irq_error)."""
    _, uart = run(programs / "npu_irq_error.elf", max_cycles=200_000, config=config)   # ~7 k cycles
    assert "irq-error: 4 cases pass" in uart


@BOTH
def test_dma_bus_error_during_core_traffic(programs, config):
    """A LOAD and a STORE whose rows run past the end of main memory (the DMA window opened
    beyond it) take DMA bus errors while the core writes and reads back a buffer in main
    memory: ERROR = BUS_ERROR with the command's sequence number, every word the core read was
    the one it wrote, the start of main memory (the aliased block) unchanged, and the NPU
    copies exactly afterwards (firmware/npu_apps/npu_dma_error)."""
    _, uart = run(programs / "npu_dma_error.elf", max_cycles=2_000_000, config=config)
    found = re.search(r"dma-error: 2 cases pass overlap=(\d+)", uart)
    assert found, uart
    assert int(found[1]) >= 1      # the core checked words while each transfer was running
