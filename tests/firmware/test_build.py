"""The firmware build: every program is built, the ELFs are RV32IM for the reset vector, the
build is incremental, and missing variables give a clear message."""

import subprocess

import pytest
from dure.sim.verif.firmware_build import FIRMWARE, INCLUDE, make_args, program_names
from elftools.elf.elffile import ELFFile

from dure.config import preset

EF_RISCV_RVC = 0x1


def test_program_list_is_complete():
    names = program_names()
    assert "hello" in names
    assert any(n.startswith("isa_") for n in names)
    assert any(n.startswith("bench_") for n in names)


def test_every_program_is_an_rv32_elf_at_the_reset_vector(firmware_build):
    ram = preset("sim").region("ram")
    for name in program_names():
        path = firmware_build / f"{name}.elf"
        assert path.exists(), f"{name}.elf was not built"
        assert (firmware_build / f"{name}.bin").stat().st_size > 0
        with open(path, "rb") as f:
            elf = ELFFile(f)
            assert elf.elfclass == 32 and elf.header.e_machine == "EM_RISCV"
            assert elf.header.e_entry == ram.base, name
            assert not elf.header.e_flags & EF_RISCV_RVC, f"{name}: compressed code"
            for seg in elf.iter_segments():
                if seg.header.p_type == "PT_LOAD" and seg.header.p_memsz:
                    assert ram.contains(seg.header.p_vaddr, seg.header.p_memsz), name


def test_build_is_incremental(firmware_build):
    # Right after a build, make has nothing left to do (-q: exit 0 when up to date).
    done = subprocess.run(make_args() + ["-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("drop, message", [
    ("PY", "PY is not set"),
    ("GEN_INCLUDE", "GEN_INCLUDE is not set"),
])
def test_missing_variable_is_reported(drop, message):
    args = [a for a in make_args() if not a.startswith(f"{drop}=")]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode != 0
    assert message in done.stderr


def test_missing_header_is_reported(tmp_path):
    done = subprocess.run(make_args(include=tmp_path), capture_output=True, text=True)
    assert done.returncode != 0
    assert "dure_soc.h does not exist" in done.stderr
    assert INCLUDE != tmp_path and FIRMWARE.exists()


def test_main_memory_link(tmp_path):
    # link_main.ld puts the whole program in main memory, regions taken from the header.
    main = preset("sim").region("main")
    done = subprocess.run(make_args(build=tmp_path) + ["LDSCRIPT=common/link_main.ld",
                                                       f"{tmp_path}/hello.elf"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "hello.elf", "rb") as f:
        elf = ELFFile(f)
        assert elf.header.e_entry == main.base
        for seg in elf.iter_segments():
            if seg.header.p_type == "PT_LOAD" and seg.header.p_memsz:
                assert main.contains(seg.header.p_vaddr, seg.header.p_memsz)
