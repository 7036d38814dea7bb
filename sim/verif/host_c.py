"""Firmware C compiled for the host, so tests can call it through ctypes.

The firmware's planners, operators and soft-float routines are plain C with no RISC-V-only
parts; tests build them with the host's C compiler into a shared library and compare them with
their Python counterparts call by call. :func:`host_library` is that build, in one place: strict
warnings (``-Wall -Wextra -Werror``), ``firmware/include`` always on the include path, and the
generated SoC / NPU headers written beside the sources when a variant is given.
"""

import ctypes
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"

CFLAGS = ("-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC")


class HostCompilerMissing(RuntimeError):
    """No host C compiler (``gcc`` or ``cc``) on the PATH."""


def host_compiler():
    """Path of the host C compiler; :class:`HostCompilerMissing` if there is none."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise HostCompilerMissing("no host C compiler (gcc or cc) found on the PATH")
    return cc


def host_library(directory, name, sources, *, extra_sources=None, include_dirs=(),
                 variant=None):
    """Compile ``sources`` (paths) plus ``extra_sources`` (``{file name: C text}``, written
    into ``directory``) into ``directory/lib<name>.so`` and load it with ctypes.

    ``include_dirs`` are searched after ``directory`` and before ``firmware/include``. With a
    :class:`dure.config.SoCConfig` as ``variant``, its generated ``dure_soc.h`` and
    ``dure_npu.h`` are written into ``directory`` first. A compiler error raises
    :class:`subprocess.CalledProcessError` with the compiler's message on stderr.
    """
    directory = pathlib.Path(directory)
    if variant is not None:
        from dure.header import generate_header, generate_npu_header
        (directory / "dure_soc.h").write_text(generate_header(variant))
        (directory / "dure_npu.h").write_text(generate_npu_header(variant))
    written = []
    for file_name, text in (extra_sources or {}).items():
        path = directory / file_name
        path.write_text(text)
        written.append(path)
    so = directory / f"lib{name}.so"
    includes = [directory, *map(pathlib.Path, include_dirs), FIRMWARE / "include"]
    subprocess.run([host_compiler(), *CFLAGS, *(f"-I{d}" for d in includes),
                    *map(str, sources), *map(str, written), "-o", str(so)], check=True)
    return ctypes.CDLL(str(so))
