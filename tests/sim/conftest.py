"""Fixtures for the simulator tests: the toy stand-in top, ELF writer, RISC-V assembler, and the
real SimTop model (built once per session through the shared cache in build/sim)."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

from dure.config import default_variant, preset

_HERE = pathlib.Path(__file__).resolve().parent

LINKER_SCRIPT = """\
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.start) *(.text*) }
  .data : { *(.data*) *(.rodata*) }
  .bss : { *(.bss*) }
}
"""


def _load(name):
    module_name = f"dure_tests_sim_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, _HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module      # inspect.getsourcefile needs it registered
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture(scope="session")
def toy_top():
    """The ToyTop class (same ports as SimTop, no CPU; see dure.sim.verif.toy_top)."""
    from dure.sim.verif.toy_top import ToyTop
    return ToyTop


@pytest.fixture(scope="session")
def make_elf():
    """``make_elf(segments, entry, **header fields) -> bytes`` (see elfmaker.py)."""
    return _load("elfmaker").make_elf


@pytest.fixture
def assemble(tmp_path):
    """``assemble(source, name) -> path``: RV32IM assembly to an ELF linked at 0x8000_0000."""
    (tmp_path / "link.ld").write_text(LINKER_SCRIPT)

    def build(source, name="prog"):
        src = tmp_path / f"{name}.S"
        src.write_text(source)
        elf = tmp_path / f"{name}.elf"
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target",
                        "riscv32-freestanding-none", "-mcpu=generic_rv32+m", "-nostdlib",
                        "-T", str(tmp_path / "link.ld"), str(src), "-o", str(elf)],
                       check=True, capture_output=True)
        return elf

    return build


@pytest.fixture(scope="session")
def simtop_model():
    """Path of the real SimTop model of the default test variant (plain flavour), built at most
    once per session."""
    from dure.sim.verilator import build_model
    return build_model(preset(default_variant()))
