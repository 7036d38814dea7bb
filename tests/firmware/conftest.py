"""Shared fixtures for the firmware tests: the firmware and the NPU programs, built
(incrementally) once per session or module with :mod:`dure.sim.verif.firmware_build`."""

import pytest
from dure.sim.verif.firmware_build import (
    NPU_BUILD,
    NPU_INCLUDE,
    build_firmware,
    build_npu_programs,
    write_headers,
)
from dure.sim.verif.npu_vectors import default_cases, render


@pytest.fixture(scope="session")
def firmware_build():
    """The folder of ``make firmware``'s ELFs (built the same way)."""
    try:
        return build_firmware()
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def programs():
    """The folder of the NPU programs (firmware/npu_apps), built with the sim variant's headers
    and the golden vectors of :mod:`dure.sim.verif.npu_vectors`."""
    write_headers(NPU_INCLUDE)
    data = NPU_INCLUDE / "npu_test_data.h"
    text = render(default_cases())
    if not data.exists() or data.read_text() != text:
        data.write_text(text)
    return build_npu_programs(NPU_BUILD, NPU_INCLUDE)
