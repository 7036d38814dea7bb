"""Test support for the NPU firmware: headers, building the NPU programs with the firmware
Makefile, and running them on Unicorn with the golden command model behind the NPU registers.

The NPU programs live in firmware/npu_apps/ (one folder each). They are built with the firmware
Makefile (``PROGRAM_DIRS`` pointed at that folder, the library in ``RUNTIME_SRC``) into
build/firmware-npu/, with an include folder holding the generated dure_soc.h, dure_npu.h and, for
data-driven programs, a ``npu_test_data.h`` written by the test.
"""

import fcntl
import pathlib
import subprocess
import sys

from dure.config import preset

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
NPU_APPS = FIRMWARE / "npu_apps"
RUNTIME = ["common/crt0.S", "common/runtime.c", "common/printf.c", "common/string.c"]


def npu_library_sources():
    return sorted(f"npu/{p.name}" for p in (FIRMWARE / "npu").glob("*.c"))


def shim_npu_header():
    """dure_npu.h as the generator is expected to write it (registers of the npu region, field
    masks, enumerations, descriptor field positions), from the same Python tables. Used only
    while dure/header.py does not export the NPU yet."""
    from dure.rtl.npu import commands as c
    from dure.rtl.npu.descriptor import FIELDS

    lines = ["/* dure_npu.h (test shim generated from rtl/npu/commands.py) */",
             "#ifndef DURE_NPU_H_", "#define DURE_NPU_H_"]

    def define(name, value):
        lines.append(f"#ifndef {name}\n#define {name} 0x{value:08X}u\n#endif")

    for reg in c.Register:
        define(f"DURE_NPU_{reg.name}", reg.value)
    for flag in c.Status:
        define(f"DURE_NPU_STATUS_{flag.name}", flag.value)
    for flag in c.Control:
        define(f"DURE_NPU_CONTROL_{flag.name}", flag.value)
    for name, (lsb, width) in {"ROWS": (0, 6), "COLS": (6, 6), "FP16": (12, 1),
                               "LOG2_SPAD_ROWS": (16, 5), "LOG2_ACC_ROWS": (24, 5)}.items():
        define(f"DURE_NPU_CONFIG_{name}", ((1 << width) - 1) << lsb)
    define("DURE_NPU_ERROR_CODE", 0xF)
    define("DURE_NPU_ERROR_SEQ", 0xFFFF_FF00)
    define("DURE_NPU_ID_MAGIC", c.ID_MAGIC)
    for prefix, enum in (("OP", c.Opcode), ("TARGET", c.LoadTarget), ("ELEM", c.ElemType),
                         ("OUT", c.OutType), ("PREC", c.Precision), ("ERR", c.ErrorCode)):
        for member in enum:
            define(f"DURE_NPU_{prefix}_{member.name}", member.value)
    for opcode, fields in FIELDS.items():
        for name, f in fields.items():
            base = f"DURE_NPU_{opcode.name}_{name.upper()}"
            define(f"{base}_WORD", f.word)
            define(f"{base}_LSB", f.lsb)
            define(f"{base}_WIDTH", f.width)
    lines += ["#endif", ""]
    return "\n".join(lines)


def write_headers(include, config=None):
    """Write dure_soc.h and dure_npu.h for ``config`` into ``include``."""
    from dure import header

    config = config or preset("sim")
    include.mkdir(parents=True, exist_ok=True)
    soc = header.generate_header(config)
    _write_if_changed(include / "dure_soc.h", soc)
    if hasattr(header, "generate_npu_header"):
        npu = header.generate_npu_header(config)
    else:
        npu = shim_npu_header()
    _write_if_changed(include / "dure_npu.h", npu)


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def build_npu_programs(build, include, programs=None):
    """Build firmware/npu_apps/* (or the named programs) into ``build``; returns ``build``."""
    build.mkdir(parents=True, exist_ok=True)
    runtime = " ".join(RUNTIME + npu_library_sources())
    targets = [str(build / f"{p}.elf") for p in programs] if programs else []
    with open(build / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            ["make", "-s", "-C", str(FIRMWARE), f"PY={sys.executable}", f"BUILD={build}",
             f"GEN_INCLUDE={include}", f"PROGRAM_DIRS={NPU_APPS}", f"RUNTIME_SRC={runtime}",
             *targets], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"NPU firmware build failed:\n{done.stdout}\n{done.stderr}")
    return build
