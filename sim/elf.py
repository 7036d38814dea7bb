"""Load an RV32 ELF executable into a checked program image for the simulator.

Rules (each violation raises :class:`dure.errors.UserError` with a one-line message):

* the file exists and is an ELF: 32-bit (ELFCLASS32), little-endian, ``EM_RISCV``, ``ET_EXEC``;
* it has at least one non-empty ``PT_LOAD`` segment; each is loaded at its physical address
  (``p_paddr``, the load address) as ``p_filesz`` bytes from the file followed by zeros up to
  ``p_memsz``, and must lie entirely inside one loadable region of the variant (on-chip RAM,
  main memory, boot ROM; :meth:`SoCConfig.loadable`); segments must not overlap;
* the entry point is 4-byte aligned and inside an executable loadable region. The SoC starts at
  the reset vector; if the entry point is elsewhere, a two-instruction trampoline
  (``lui t0, %hi(entry)``; ``jalr x0, %lo(entry)(t0)``) is placed at the reset vector, which is
  allowed only when no segment covers those 8 bytes (program bytes are never overwritten).
"""

import io
import pathlib
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from dure.errors import UserError

__all__ = ["Program", "load_elf", "trampoline"]

_IMAGE_MAGIC = b"DUREIMG1"


def trampoline(entry):
    """The 8 bytes ``lui t0, %hi(entry); jalr x0, %lo(entry)(t0)`` (little-endian)."""
    hi = ((entry + 0x800) >> 12) & 0xFFFFF
    lo = (entry - (hi << 12)) & 0xFFF
    lui = (hi << 12) | (5 << 7) | 0x37
    jalr = (lo << 20) | (5 << 15) | 0x67
    return struct.pack("<II", lui, jalr)


@dataclass(frozen=True)
class Program:
    """A checked program: what to write into memory before the core starts.

    Attributes
    ----------
    path : pathlib.Path
        The ELF it came from.
    entry : int
        Entry point of the ELF.
    segments : tuple of (int, bytes)
        Byte address and contents (zero fill included) of every piece to load, in address order;
        includes the trampoline when there is one.
    """

    path: pathlib.Path
    entry: int
    segments: tuple

    def with_data(self, data, config):
        """This program plus extra data segments ``[(address, bytes)]``: a new Program.

        Each segment must be non-empty, lie inside one loadable region of ``config`` and
        overlap neither the program's segments nor another data segment (UserError)."""
        extra = []
        for item in data:
            try:
                addr, blob = item
                addr, blob = int(addr), bytes(memoryview(blob))
            except (TypeError, ValueError):
                raise UserError(f"a data segment is (address, bytes), not {item!r}") from None
            if not blob:
                raise UserError(f"data segment at 0x{addr:08x} is empty")
            if addr < 0 or config.loadable(addr, len(blob)) is None:
                raise UserError(
                    f"data segment 0x{addr:08x}..0x{addr + len(blob) - 1:08x} ({len(blob)} "
                    f"bytes) is outside the memories of variant {config.name!r}")
            extra.append((addr, blob))
        segments = sorted(list(self.segments) + extra)
        for (a, da), (b, _) in zip(segments, segments[1:], strict=False):
            if a + len(da) > b:
                raise UserError(f"data segment overlaps the program or another data segment: "
                                f"0x{a:08x} (+{len(da)}) and 0x{b:08x}")
        return Program(path=self.path, entry=self.entry, segments=tuple(segments))

    def word_runs(self):
        """Contiguous runs of whole words covering every segment, as ``(address, bytes)``.

        Bytes of a word that no segment covers are zero (memory is zero after reset anyway)."""
        spans = sorted((addr & ~3, (addr + len(data) + 3) & ~3) for addr, data in self.segments)
        runs = []
        for start, end in spans:
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
        out = []
        for start, end in runs:
            buf = bytearray(end - start)
            for addr, data in self.segments:
                if start <= addr < end:
                    buf[addr - start:addr - start + len(data)] = data
            out.append((start, bytes(buf)))
        return out

    def image(self):
        """The harness's image file contents (format in ``harness.cpp``)."""
        runs = self.word_runs()
        parts = [_IMAGE_MAGIC, struct.pack("<I", len(runs))]
        for addr, data in runs:
            parts += [struct.pack("<II", addr, len(data) // 4), data]
        return b"".join(parts)


def _segments(elf, name, config):
    segments = []
    for index, seg in enumerate(elf.iter_segments()):
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        addr, filesz, memsz = seg["p_paddr"], seg["p_filesz"], seg["p_memsz"]
        if filesz > memsz:
            raise UserError(f"{name}: segment {index} has p_filesz > p_memsz")
        data = seg.data()
        if len(data) != filesz:
            raise UserError(f"{name}: truncated ELF (segment {index} data is incomplete)")
        if config.loadable(addr, memsz) is None:
            raise UserError(
                f"{name}: segment {index} at 0x{addr:08x}..0x{addr + memsz - 1:08x} is outside "
                f"the memories of variant {config.name!r} (ram 0x{config.region('ram').base:08x}"
                f" size 0x{config.ram_size:x}, main 0x{config.region('main').base:08x}"
                f" size 0x{config.main_size:x})")
        segments.append((addr, bytes(data) + bytes(memsz - filesz)))
    if not segments:
        raise UserError(f"{name}: no loadable (PT_LOAD) segments")
    segments.sort()
    for (a, da), (b, _) in zip(segments, segments[1:], strict=False):
        if a + len(da) > b:
            raise UserError(f"{name}: segments at 0x{a:08x} and 0x{b:08x} overlap")
    return segments


def _covered(segments, addr, length):
    return any(a < addr + length and addr < a + len(d) for a, d in segments)


def load_elf(path, config):
    """Read and check the ELF at ``path`` for ``config``; return a :class:`Program`."""
    path = pathlib.Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{name}: is a directory, not an ELF file") from None
    except OSError as error:
        raise UserError(f"{name}: cannot read ({error.strerror})") from None
    if raw[:4] != b"\x7fELF":
        raise UserError(f"{name}: not an ELF file")
    if len(raw) < 6 or raw[4] != 1:
        raise UserError(f"{name}: not a 32-bit ELF (ELFCLASS32 needed for RV32)")
    if raw[5] != 1:
        raise UserError(f"{name}: not a little-endian ELF")
    try:
        elf = ELFFile(io.BytesIO(raw))
        if elf["e_machine"] != "EM_RISCV":
            raise UserError(f"{name}: not a RISC-V ELF (machine {elf['e_machine']})")
        if elf["e_type"] != "ET_EXEC":
            raise UserError(f"{name}: not an executable ELF (type {elf['e_type']})")
        entry = elf["e_entry"]
        segments = _segments(elf, name, config)
    except UserError:
        raise
    except (ELFError, struct.error, ValueError, OSError, KeyError) as error:
        raise UserError(f"{name}: malformed or truncated ELF ({error})") from None

    region = config.loadable(entry, 4)
    if region is None or not region.executable or entry % 4:
        raise UserError(f"{name}: entry point 0x{entry:08x} is not an aligned address in "
                        "executable memory")
    if entry != config.reset_vector:
        if _covered(segments, config.reset_vector, 8):
            raise UserError(
                f"{name}: entry point 0x{entry:08x} is not the reset vector "
                f"0x{config.reset_vector:08x}, and the program occupies the reset vector")
        segments = sorted(segments + [(config.reset_vector, trampoline(entry))])
    return Program(path=path, entry=entry, segments=tuple(segments))
