"""Write minimal ELF files byte by byte, for loader tests and toy programs (no toolchain)."""

import struct

__all__ = ["make_elf"]

EM_RISCV = 243


def make_elf(segments, entry, *, elfclass=1, data=1, machine=EM_RISCV, etype=2):
    """Bytes of an ELF with one PT_LOAD program header per ``(paddr, bytes, memsz)`` segment.

    ``elfclass`` 1 = 32-bit, 2 = 64-bit; ``data`` 1 = little-endian, 2 = big-endian;
    ``etype`` 2 = ET_EXEC, 3 = ET_DYN.
    """
    e = "<" if data == 1 else ">"
    wide = elfclass == 2
    ehsize, phentsize = (64, 56) if wide else (52, 32)
    phoff = ehsize
    offset = phoff + phentsize * len(segments)
    headers, payload = [], b""
    for paddr, blob, memsz in segments:
        if wide:
            headers.append(struct.pack(e + "IIQQQQQQ", 1, 7, offset + len(payload), paddr, paddr,
                                       len(blob), memsz, 4))
        else:
            headers.append(struct.pack(e + "IIIIIIII", 1, offset + len(payload), paddr, paddr,
                                       len(blob), memsz, 7, 4))
        payload += blob
    ident = b"\x7fELF" + bytes([elfclass, data, 1, 0]) + bytes(8)
    if wide:
        header = ident + struct.pack(e + "HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0,
                                     ehsize, phentsize, len(segments), 64, 0, 0)
    else:
        header = ident + struct.pack(e + "HHIIIIIHHHHHH", etype, machine, 1, entry, phoff, 0, 0,
                                     ehsize, phentsize, len(segments), 40, 0, 0)
    return header + b"".join(headers) + payload
