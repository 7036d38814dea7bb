"""Assemble and link a generated program into an ELF with ``zig cc`` (pip's ``ziglang``).

The program is linked at the on-chip RAM base (the reset vector of the ``sim`` variant):
``.text`` first, then ``.data`` aligned to 16 bytes.
"""

import pathlib
import subprocess
import sys

from dure.config import RAM_BASE

__all__ = ["AssembleError", "assemble", "LINKER_SCRIPT"]

LINKER_SCRIPT = f"""ENTRY(_start)
SECTIONS
{{
  . = 0x{RAM_BASE:08x};
  .text : {{ *(.text*) }}
  . = ALIGN(16);
  .data : {{ *(.data*) *(.sdata*) *(.rodata*) }}
  /DISCARD/ : {{ *(.comment) *(.riscv.attributes) }}
}}
"""

_TARGET = ["-target", "riscv32-freestanding-none", "-mcpu=generic_rv32+m", "-nostdlib"]


class AssembleError(RuntimeError):
    """The assembler or linker refused the program."""


def _zig(args, what):
    cmd = [sys.executable, "-m", "ziglang", "cc", *_TARGET, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise AssembleError(f"{what} failed ({' '.join(cmd)}):\n{proc.stderr.strip()}")


def assemble(source, workdir, name="prog"):
    """Write ``source`` to ``workdir/name.S`` and build ``workdir/name.elf``; return its path.

    Raises
    ------
    AssembleError
        With the tool's message when assembling or linking fails.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    asm = workdir / f"{name}.S"
    obj = workdir / f"{name}.o"
    elf = workdir / f"{name}.elf"
    script = workdir / "link.ld"
    asm.write_text(source)
    script.write_text(LINKER_SCRIPT)
    _zig(["-c", str(asm), "-o", str(obj)], "assembling")
    _zig(["-T", str(script), str(obj), "-o", str(elf)], "linking")
    return elf
