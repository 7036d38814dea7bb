"""The NPU driver library end to end: firmware/npu_apps programs built with the firmware Makefile
and run on Unicorn with the golden command model behind the NPU registers (no RTL needed).

- npu_selftest: random-shape GEMMs (both precisions, every output type, bias, odd strides),
  FC and conv2d layers, NPU path against the CPU reference path; error reporting; irq wait.
- npu_vectors: inputs and outputs computed in Python with dure.sim.golden; the NPU path and the
  CPU path must both reproduce them byte for byte (a corrupted expected byte must fail).
- the descriptor stream the firmware pushes equals sim/npu_model_gemm.py's plan for the same
  GEMM (one tiling, two implementations).
"""

import pathlib

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from npu_fw import build_npu_programs, write_headers
from npu_unicorn import run_npu_unicorn
from npu_vectors import default_cases, render

from dure.config import preset

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "firmware-npu"
INCLUDE = ROOT / "build" / "include-npu"


@pytest.fixture(scope="module")
def programs():
    write_headers(INCLUDE)
    data = INCLUDE / "npu_test_data.h"
    text = render(default_cases())
    if not data.exists() or data.read_text() != text:
        data.write_text(text)
    return build_npu_programs(BUILD, INCLUDE)


def test_selftest_on_the_model(programs):
    run = run_npu_unicorn(programs / "npu_selftest.elf")
    uart = run.uart.decode("latin-1")
    assert run.status == "pass", (run.status, run.failure, run.error, uart)
    assert "gemm: 12 random cases agree" in uart and "npu_selftest: pass" in uart
    assert run.npu.model.macs > 30_000


@pytest.mark.parametrize("name", ["npu_vectors", "npu_vectors_npu"])
def test_vectors_on_the_model(programs, name):
    run = run_npu_unicorn(programs / f"{name}.elf")
    uart = run.uart.decode("latin-1")
    assert run.status == "pass", (run.status, run.failure, run.error, uart)
    assert f"npu_vectors: {len(default_cases())} cases pass" in uart
    assert ("CPU path" in uart) == (name == "npu_vectors")


def _symbol(elf_path, name):
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        sym = elf.get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        addr = sym["st_value"]
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + \
                    seg["p_filesz"]:
                return seg["p_offset"] + addr - seg["p_vaddr"]
    raise KeyError(name)


@pytest.mark.parametrize("case", [0, 5])
def test_a_wrong_expected_byte_fails(programs, tmp_path, case):
    # Flip one byte of case i's golden output in a copy of the ELF: the NPU check must fail
    # with failure 10 * i + 1, so the passes above are not vacuous.
    elf = programs / "npu_vectors.elf"
    data = bytearray(elf.read_bytes())
    at = _symbol(elf, f"v{case}_expect") + 3
    data[at] ^= 0x10
    bad = tmp_path / "bad.elf"
    bad.write_bytes(bytes(data))
    run = run_npu_unicorn(bad)
    assert (run.status, run.failure) == ("fail", 10 * case + 1), run.uart.decode("latin-1")


def test_firmware_stream_is_the_python_plan(programs):
    # Record the descriptors of case 1 (9 x 70 x 33 int8 with bias) as the firmware pushes them
    # and compare with gemm_descriptors() for the same addresses.
    from dure.rtl.npu.commands import Opcode, OutType, Precision
    from dure.rtl.npu.descriptor import decode
    from dure.sim.npu_model_gemm import gemm_descriptors

    run = run_npu_unicorn(programs / "npu_vectors.elf")
    assert run.status == "pass"
    pushed = run.npu.log
    fences = [i for i, w in enumerate(pushed) if decode(w)[0] == Opcode.FENCE]
    first = pushed[fences[0] + 1:fences[1]]          # case 1: between the first two fences
    loads = [decode(w)[1] for w in first if decode(w)[0] == Opcode.LOAD]
    stores = [decode(w)[1] for w in first if decode(w)[0] == Opcode.STORE]
    a_addr = min(f["dram_addr"] for f in loads if f["target"] == 0 and f["dram_stride"] == 70)
    b_addr = min(f["dram_addr"] for f in loads if f["target"] == 0 and f["dram_stride"] == 33)
    bias = min(f["dram_addr"] for f in loads if f["target"] == 1)
    out = min(f["dram_addr"] for f in stores)
    want = gemm_descriptors(preset("sim"), 9, 70, 33, precision=Precision.INT8, a_addr=a_addr,
                            a_stride=70, b_addr=b_addr, b_stride=33, out_addr=out,
                            out_stride=33 * 4, out=OutType.INT32, bias_addr=bias)
    assert [list(w) for w in first] == [list(w) for w in want]
    assert np.sum([decode(w)[0] == Opcode.COMPUTE for w in first]) == 9 * 5
