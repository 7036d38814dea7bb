"""Every firmware program on the ``cpu-small`` variant: the small control core (no forwarding,
shifts on the multiplier, serial divider, 2-entry prefetch) with its RAM on the single-port
SPRAM path (behavioural model), as on the iCEBreaker. The programs are linked for that
variant's memory sizes (``build/firmware-cpu-small``, like ``make board-firmware``). No board
uses the small core (the iCEBreaker has the tiny one, tested in make test), so this sweep runs
under ``make fuzz``."""

import fcntl
import subprocess
import sys

import pytest
from conftest import BUILD, make_args, program_names

VARIANT = "cpu-small"
BUILD_SMALL = BUILD.parent / f"firmware-{VARIANT}"
INCLUDE_SMALL = BUILD.parent / f"include-{VARIANT}"
MAX_CYCLES = 20_000_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def firmware_small():
    BUILD_SMALL.parent.mkdir(parents=True, exist_ok=True)
    with open(BUILD_SMALL.parent / ".firmware.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "dure.cli", "gen-header", "--variant", VARIANT,
                        "--out", str(INCLUDE_SMALL / "dure_soc.h")], check=True)
        done = subprocess.run(make_args(BUILD_SMALL, INCLUDE_SMALL), capture_output=True,
                              text=True)
        if done.returncode:
            pytest.fail(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    return BUILD_SMALL


@pytest.mark.parametrize("name", program_names())
def test_program_passes_on_the_small_core(firmware_small, name):
    from dure.sim.runner import run_elf

    from dure.config import preset

    result = run_elf(firmware_small / f"{name}.elf", preset(VARIANT), max_cycles=MAX_CYCLES)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{name}: {result.status} failure={result.failure} exit={result.exit_code} "
        f"after {result.cycles} cycles\n{uart}")
    assert result.instret > 0
    if name == "hello":
        assert uart.startswith(f"Hello from Dure ({VARIANT} variant")
