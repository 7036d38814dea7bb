"""Every firmware program (the ISA suite, CSR / trap / interrupt tests, benchmarks) on the SoC
variants with the other control cores, each with its RAM on the single-port SPRAM path
(behavioural model) as on the iCEBreaker, and the programs linked for the variant's memory
sizes (``build/firmware-<variant>``, like ``make board-firmware``):

- ``cpu-tiny``: the multi-cycle core (:mod:`dure.rtl.core_tiny`), the iCEBreaker's; make test.
- ``cpu-small``: the pipelined core without forwarding / predictor (``rtl/core/options.py``);
  no board uses it, so its sweep runs under ``make fuzz``."""

import pytest
from dure.sim.verif.firmware_build import BUILD, build_firmware, program_names

MAX_CYCLES = 20_000_000
VARIANTS = [pytest.param("cpu-tiny", id="tiny"),
            pytest.param("cpu-small", id="small", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=VARIANTS)
def firmware(request):
    """``(variant, folder of its ELFs)``, built once per variant."""
    variant = request.param
    build = BUILD.parent / f"firmware-{variant}"
    include = BUILD.parent / f"include-{variant}"
    try:
        return variant, build_firmware(build, include, variant)
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.mark.parametrize("name", program_names())
def test_program_passes(firmware, name):
    from dure.sim.runner import run_elf

    from dure.config import preset

    variant, build = firmware
    result = run_elf(build / f"{name}.elf", preset(variant), max_cycles=MAX_CYCLES)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", (
        f"{name}: {result.status} failure={result.failure} exit={result.exit_code} "
        f"after {result.cycles} cycles\n{uart}")
    assert result.instret > 0
    if name == "hello":
        assert uart.startswith(f"Hello from Dure ({variant} variant")
