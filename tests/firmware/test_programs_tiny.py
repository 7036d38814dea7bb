"""Every firmware program (the ISA suite, CSR / trap / interrupt tests, benchmarks) on the
``cpu-tiny`` variant: the tiny multi-cycle control core (:mod:`dure.rtl.core_mc`) with its RAM
on the single-port SPRAM path (behavioural model), as on the iCEBreaker. The programs are
linked for that variant's memory sizes (``build/firmware-cpu-tiny``)."""

import fcntl
import subprocess
import sys

import pytest
from conftest import BUILD, make_args, program_names

VARIANT = "cpu-tiny"
BUILD_TINY = BUILD.parent / f"firmware-{VARIANT}"
INCLUDE_TINY = BUILD.parent / f"include-{VARIANT}"
MAX_CYCLES = 20_000_000


@pytest.fixture(scope="module")
def firmware_tiny():
    BUILD_TINY.parent.mkdir(parents=True, exist_ok=True)
    with open(BUILD_TINY.parent / ".firmware.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "dure.cli", "gen-header", "--variant", VARIANT,
                        "--out", str(INCLUDE_TINY / "dure_soc.h")], check=True)
        done = subprocess.run(make_args(BUILD_TINY, INCLUDE_TINY), capture_output=True,
                              text=True)
        if done.returncode:
            pytest.fail(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    return BUILD_TINY


@pytest.mark.parametrize("name", program_names())
def test_program_passes_on_the_tiny_core(firmware_tiny, name):
    from dure.sim.runner import run_elf

    from dure.config import preset

    result = run_elf(firmware_tiny / f"{name}.elf", preset(VARIANT), max_cycles=MAX_CYCLES)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{name}: {result.status} failure={result.failure} exit={result.exit_code} "
        f"after {result.cycles} cycles\n{uart}")
    assert result.instret > 0
    if name == "hello":
        assert uart.startswith(f"Hello from Dure ({VARIANT} variant")
