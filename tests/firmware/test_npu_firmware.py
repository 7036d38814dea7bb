"""The NPU driver library end to end: firmware/npu_apps programs built with the firmware Makefile
and run on Unicorn with the golden command model behind the NPU registers (no RTL needed).

- npu_selftest: random-shape GEMMs (both precisions, every output type, bias, odd strides),
  FC and conv2d layers, NPU path against the CPU reference path; error reporting; irq wait.
- npu_vectors: inputs and outputs computed in Python with dure.sim.golden; the NPU path and the
  CPU path must both reproduce them byte for byte (a corrupted expected byte must fail).
- npu_list: a GEMM layer as one LIST doorbell, and a list with malformed entries.
- the descriptor stream the firmware pushes equals sim/gemm_descriptors.py's stream (the plan of
  sim/gemm_plan.py) for the same GEMM (one tiling, two implementations).
"""

import pytest
from dure.sim.verif.npu_unicorn import run_npu_unicorn
from dure.sim.verif.npu_vectors import default_cases
from elftools.elf.elffile import ELFFile

from dure.config import preset


def test_selftest_on_the_model(programs):
    run = run_npu_unicorn(programs / "npu_selftest.elf")
    uart = run.uart.decode("latin-1")
    assert run.status == "pass", (run.status, run.failure, run.error, uart)
    assert "gemm: 12 random cases agree" in uart and "npu_selftest: pass" in uart
    assert run.npu.model.macs > 30_000
    # CONFIG's gather bit reaches the firmware's npu_info
    assert f"gather={int(run.npu.model.config.npu_gather)} " in uart


@pytest.mark.parametrize("name", ["npu_vectors", "npu_vectors_npu"])
def test_vectors_on_the_model(programs, name):
    run = run_npu_unicorn(programs / f"{name}.elf")
    uart = run.uart.decode("latin-1")
    assert run.status == "pass", (run.status, run.failure, run.error, uart)
    assert f"npu_vectors: {len(default_cases())} cases pass" in uart
    assert ("CPU path" in uart) == (name == "npu_vectors")


def test_list_on_the_model(programs):
    """npu_list: a layer pushed and as one LIST, and a list with malformed entries (ERROR seq,
    ERROR_INDEX, DONE == ISSUED), through the golden model's registers."""
    run = run_npu_unicorn(programs / "npu_list.elf")
    uart = run.uart.decode("latin-1")
    assert run.status == "pass", (run.status, run.failure, run.error, uart)
    assert "npu_list pass" in uart and "entries=14" in uart


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


@pytest.mark.parametrize("variant", ["sim", "npu-small"])
def test_firmware_streams_are_the_python_plan(programs, variant):
    # Every GEMM case of npu_vectors: the descriptors the firmware pushes (between its FENCEs)
    # equal gemm_descriptors() for the same buffers, which npu_alloc places in order (a, b,
    # bias, scale, out; 4-byte aligned from the start of main memory) -- on 8x8 and 4x4.
    from dure.rtl.npu.commands import Opcode, OutType, Precision
    from dure.rtl.npu.descriptor import decode
    from dure.sim.gemm_descriptors import gemm_descriptors

    config = preset(variant)
    run = run_npu_unicorn(programs / "npu_vectors.elf", config=config)
    assert run.status == "pass", run.uart.decode("latin-1")
    fences = [i for i, w in enumerate(run.npu.log) if decode(w)[0] == Opcode.FENCE]
    starts = [0] + [i + 1 for i in fences]
    checked = 0
    for i, case in enumerate(default_cases()):
        if case.conv is not None:
            continue
        m, k = case.a.shape
        n = case.b.shape[1]
        eb = case.a.itemsize
        at = config.region("main").base
        addrs = {}
        for name, size in (("a", m * k * eb), ("b", k * n * eb),
                           ("bias", None if case.bias is None else 4 * n),
                           ("scale", None if case.scale is None else 4 * n),
                           ("out", case.expect.nbytes)):
            if size is not None:
                at = (at + 3) // 4 * 4
                addrs[name] = at
                at += size
        ob = case.expect.itemsize
        want = gemm_descriptors(
            config, m, k, n, precision=Precision(case.prec), a_addr=addrs["a"],
            a_stride=k * eb, b_addr=addrs["b"], b_stride=n * eb, out_addr=addrs["out"],
            out_stride=n * ob, out=OutType(case.out), bias_addr=addrs.get("bias"),
            scale_addr=addrs.get("scale"), zero_point=case.zero_point,
            lo=None, hi=None)
        got = run.npu.log[starts[i]:fences[i]]
        # gemm_descriptors takes float / int clamp bounds; the firmware passes raw words, so
        # compare with the bounds patched in from the case (STORE words 5 and 6).
        for words in want:
            if decode(words)[0] == Opcode.STORE and (case.out == 0 or case.clamp):
                words[0] |= (case.clamp and case.out != 0) << 8
                words[5], words[6] = case.lo, case.hi
        assert got == want, f"case {i}"
        checked += 1
    assert checked == 8
