"""Shared fixtures for the firmware tests: the firmware and the NPU programs, built
(incrementally) once per session or module with :mod:`dure.sim.verif.firmware_build`; the
layer-table walker compiled for the host (:mod:`dure.sim.verif.layer_walker`) and the placing
of a compiled program, or its split across tiles, in its memory
(test_layer_table.py, test_layer_table_tiles.py); the firmware's layer planners compiled for the
host (:mod:`dure.sim.verif.npu_op_host`; test_npu_conv.py, test_npu_conv_pack.py,
test_npu_pool.py, test_npu_add_int8.py)."""

import pytest
from dure.sim.verif import layer_walker
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


@pytest.fixture(scope="session")
def op_lib(tmp_path_factory):
    """The firmware's layer planners compiled for the host with the sim variant's headers
    (:func:`dure.sim.verif.npu_op_host.op_library`), built once per session."""
    from dure.sim.verif.npu_op_host import op_library

    from dure.config import preset

    return op_library(tmp_path_factory.mktemp("npu_ops"), preset("sim"))


@pytest.fixture(scope="session")
def walker_lib(tmp_path_factory):
    """The host-compiled layer-table walker (:func:`dure.sim.verif.layer_walker.walker_library`),
    built once per session."""
    return layer_walker.walker_library(tmp_path_factory.mktemp("layer_walker"))


def _placed(program, records, results_addr, x):
    from dure.compiler import program as pg
    from dure.compiler.execute import load_inputs

    main = program.config.region("main")
    mem = layer_walker.Mem(main.base, results_addr + pg.results_bytes(len(records)) - main.base)
    load_inputs(mem, program, [x])
    return mem


def _load_program(program, x):
    from dure.compiler import program as pg

    commands_base, table_addr, results_addr = program.table_layout()
    records = program.layer_records(commands_base)
    assert all(r is not None for r in records), "a layer has no table record (no C kernel)"
    mem = _placed(program, records, results_addr, x)
    mem.write(commands_base, program.commands_bytes())
    mem.write(table_addr, pg.pack_layer_table(records, results_addr))
    return mem, table_addr, records


def _load_split(split, x):
    from dure.compiler import program as pg

    commands_base, table_addr, results_addr = split.layout()
    records = split.layer_records(commands_base)
    mem = _placed(split.program, records, results_addr, x)
    mem.write(split.params_base, split.params)
    mem.write(commands_base, split.commands_bytes())
    mem.write(table_addr, pg.pack_layer_table(records, results_addr))
    return mem, table_addr, records


@pytest.fixture
def load_program():
    """``load(program, x) -> (mem, table address, records)``: a compiled program (every layer
    with a table record) and its input placed as the SoC run places them."""
    return _load_program


@pytest.fixture
def load_split():
    """``load(split, x) -> (mem, table address, records)``: a program split across tiles
    (:mod:`dure.compiler.tile_split`) placed as ``run_split_soc`` places it: tile parameters,
    every tile's list, the table with its ``NPU_TILES`` records."""
    return _load_split
