"""ELF loader: every bad input is a one-line UserError; good input gives the right image."""

import struct

import pytest
from dure.sim.elf import load_elf, trampoline

from dure.config import preset
from dure.errors import UserError

CONFIG = preset("sim")
RAM = 0x8000_0000
CODE = struct.pack("<2I", 0x00000013, 0x0000006F)     # nop; j .


def write(tmp_path, data, name="prog.elf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def error_of(path):
    with pytest.raises(UserError) as info:
        load_elf(path, CONFIG)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_elf(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE, 16), (RAM + 0x100, b"\x01\x02\x03", 3)], RAM))
    program = load_elf(path, CONFIG)
    assert program.entry == RAM
    assert program.segments == ((RAM, CODE + bytes(8)), (RAM + 0x100, b"\x01\x02\x03"))
    assert program.word_runs() == [(RAM, CODE + bytes(8)), (RAM + 0x100, b"\x01\x02\x03\x00")]


def test_image_format(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM + 0x12, b"\xaa\xbb\xcc", 3)], RAM + 0x40))
    image = load_elf(path, CONFIG).image()
    # trampoline at the reset vector, then the segment padded to whole words
    assert image[:8] == b"DUREIMG1"
    assert struct.unpack_from("<I", image, 8) == (2,)
    assert struct.unpack_from("<II", image, 12) == (RAM, 2)
    assert image[20:28] == trampoline(RAM + 0x40)
    assert struct.unpack_from("<II", image, 28) == (RAM + 0x10, 2)
    assert image[36:] == b"\x00\x00\xaa\xbb\xcc\x00\x00\x00"


def test_main_memory_segment(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE, 8), (0x4000_0000, b"x" * 8, 4096)], RAM))
    assert load_elf(path, CONFIG).segments[0] == (0x4000_0000, b"x" * 8 + bytes(4088))


@pytest.mark.parametrize("entry, expected", [
    (0x8000_1234, (0x80001 << 12 | 5 << 7 | 0x37, 0x234 << 20 | 5 << 15 | 0x67)),
    (0x8000_0800, (0x80001 << 12 | 5 << 7 | 0x37, 0x800 << 20 | 5 << 15 | 0x67)),  # lo = -2048
])
def test_trampoline_encoding(entry, expected):
    assert struct.unpack("<2I", trampoline(entry)) == expected


def test_entry_elsewhere_gets_trampoline(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM + 0x1000, CODE, 8)], RAM + 0x1000))
    program = load_elf(path, CONFIG)
    assert program.segments[0] == (RAM, trampoline(RAM + 0x1000))


def test_entry_elsewhere_with_reset_vector_taken(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE * 4, 32)], RAM + 8))
    assert "occupies the reset vector" in error_of(path)


def test_missing_file(tmp_path):
    assert "no such file" in error_of(tmp_path / "nothere.elf")


def test_directory(tmp_path):
    assert "is a directory" in error_of(tmp_path)


def test_not_an_elf(tmp_path):
    assert "not an ELF" in error_of(write(tmp_path, b"hello world\n" * 10))


def test_empty_file(tmp_path):
    assert "not an ELF" in error_of(write(tmp_path, b""))


def test_64_bit(tmp_path, make_elf):
    assert "32-bit" in error_of(write(tmp_path, make_elf([(RAM, CODE, 8)], RAM, elfclass=2)))


def test_big_endian(tmp_path, make_elf):
    assert "little-endian" in error_of(write(tmp_path, make_elf([(RAM, CODE, 8)], RAM, data=2)))


def test_wrong_machine(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE, 8)], RAM, machine=62))   # x86-64
    assert "not a RISC-V ELF" in error_of(path)


def test_not_executable(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE, 8)], RAM, etype=3))
    assert "not an executable" in error_of(path)


@pytest.mark.parametrize("cut", [20, 60, 90])
def test_truncated(tmp_path, make_elf, cut):
    data = make_elf([(RAM, CODE * 8, 64)], RAM)
    assert "truncated" in error_of(write(tmp_path, data[:cut]))


def test_segment_outside_memory(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(0x2000_0000, CODE, 8)], RAM))
    assert "outside the memories" in error_of(path)


def test_segment_past_end_of_ram(tmp_path, make_elf):
    end = RAM + CONFIG.ram_size
    path = write(tmp_path, make_elf([(RAM, CODE, 8), (end - 4, CODE, 8)], RAM))
    assert "outside the memories" in error_of(path)


def test_no_loadable_segments(tmp_path, make_elf):
    assert "no loadable" in error_of(write(tmp_path, make_elf([], RAM)))


def test_overlapping_segments(tmp_path, make_elf):
    path = write(tmp_path, make_elf([(RAM, CODE, 16), (RAM + 8, CODE, 8)], RAM))
    assert "overlap" in error_of(path)


def test_filesz_above_memsz(tmp_path, make_elf):
    assert "p_filesz" in error_of(write(tmp_path, make_elf([(RAM, CODE, 4)], RAM)))


@pytest.mark.parametrize("entry", [0x2000_0000, RAM + 2, 0x1000_0000])
def test_bad_entry(tmp_path, make_elf, entry):
    path = write(tmp_path, make_elf([(RAM + 0x100, CODE, 8)], entry))
    assert "entry point" in error_of(path)
