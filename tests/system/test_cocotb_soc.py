"""cocotb + Verilator regression of the whole SoC: the ISA suite and directed trap/interrupt tests.

The testbench is ``tests/cocotb/tb_soc.py``. The Verilog comes from the simulator's generator
(:func:`dure.sim.rtlgen.generate_verilog`, so it is the same ``dure_sim_top`` that ``dure run``
simulates); the cocotb model is built once per Verilog hash into
``build/sim/<variant>-<hash>/cocotb/`` by the Verilator build service
(:func:`dure.sim.verilator_build.build_cocotb`: flags, lock, atomic rename) and reused by every
later run.

Programs: every ``build/firmware/isa_*.elf`` (``make firmware``) and the directed programs in
``tests/cocotb/programs/`` (assembled here).
"""

import os
import pathlib
import xml.etree.ElementTree as ET

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.rtlgen import TOP_NAME, build_root, generate_verilog
from dure.sim.verilator_build import build_cocotb

from dure.config import default_variant, preset

ROOT = pathlib.Path(__file__).resolve().parents[2]
TB_DIR = ROOT / "tests" / "cocotb"
PROGRAMS = TB_DIR / "programs"
DIRECTED_TESTS = ("traps_and_bus_errors", "interrupts", "hang_is_reported")

# The cocotb model's build (~30 s) starts the run instead of ending it (this file is collected
# near the end, where it left one xdist worker building while the other had nothing to do).
pytestmark = pytest.mark.build_first


@pytest.fixture(scope="module")
def model():
    """(runner, build_dir): the cocotb Verilator model of SimTop, built once per Verilog."""
    from cocotb_tools.runner import get_runner

    verilog = generate_verilog(preset(default_variant()))
    build_dir = build_cocotb(verilog.parent / "cocotb", sources=[verilog], toplevel=TOP_NAME)
    return get_runner("verilator"), build_dir


@pytest.fixture(scope="module")
def directed(tmp_path_factory):
    """Folder holding traps.elf, interrupts.elf and spin.elf."""
    folder = tmp_path_factory.mktemp("directed")
    for source in sorted(PROGRAMS.glob("*.S")):
        assemble(source.read_text(), folder, source.stem)
    return folder


def _failures(results_xml):
    """(names of all test cases, {name: message} of the failing ones) from cocotb's xUnit."""
    names, failed = [], {}
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        name = case.get("name")
        names.append(name)
        for tag in ("failure", "error"):
            for problem in case.iter(tag):
                failed[name] = (problem.get("message") or problem.text or tag).strip()
    return names, failed


def _run(model, directed, tmp_path, monkeypatch, testcases, elfs=(), max_cycles=2_000_000):
    runner, build_dir = model
    monkeypatch.syspath_prepend(str(TB_DIR))
    results = tmp_path / "results.xml"
    env = {"DURE_TB_ELFS": os.pathsep.join(str(p) for p in elfs),
           "DURE_TB_DIRECTED": str(directed),
           "DURE_TB_MAX_CYCLES": str(max_cycles),
           "DURE_BUILD": str(build_root())}
    try:
        runner.test(hdl_toplevel=TOP_NAME, hdl_toplevel_lang="verilog", test_module="tb_soc",
                    build_dir=build_dir, test_dir=tmp_path, results_xml=str(results), extra_env=env,
                    test_filter=testcases, log_file=tmp_path / "sim.log")
    except SystemExit:  # the runner exits on failures under pytest; the XML says which
        pass
    assert results.is_file(), f"cocotb wrote no results; log: {tmp_path / 'sim.log'}"
    return _failures(results)


def isa_elfs():
    return sorted((build_root() / "firmware").glob("isa_*.elf"))


def test_isa_suite(model, directed, tmp_path, monkeypatch):
    """Every ISA-suite program passes under cocotb (loaded through the loader port)."""
    elfs = isa_elfs()
    assert elfs, f"no isa_*.elf in {build_root() / 'firmware'}: run `make firmware` first"
    names, failed = _run(model, directed, tmp_path, monkeypatch, r"tb_soc\.program", elfs)
    assert len(names) == len(elfs), names
    assert not failed, "\n".join(f"{n}: {m}" for n, m in failed.items())


def test_directed(model, directed, tmp_path, monkeypatch):
    """Traps and bus errors (no hang), interrupts with UART input, the hang detector."""
    pattern = "|".join(rf"tb_soc\.{name}$" for name in DIRECTED_TESTS)
    names, failed = _run(model, directed, tmp_path, monkeypatch, pattern, max_cycles=200_000)
    assert sorted(n.split(".")[-1] for n in names) == sorted(DIRECTED_TESTS), names
    assert not failed, "\n".join(f"{n}: {m}" for n, m in failed.items())

