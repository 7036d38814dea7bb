"""Test support for the NPU firmware: headers, building the NPU programs with the firmware
Makefile, and running them on Unicorn with the golden command model behind the NPU registers.

The NPU programs live in firmware/npu_apps/ (one folder each). They are built with the firmware
Makefile (``PROGRAM_DIRS`` pointed at that folder; the library is part of its runtime) into
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


def write_headers(include, config=None):
    """Write dure_soc.h and dure_npu.h for ``config`` into ``include``."""
    from dure import header

    config = config or preset("sim")
    include.mkdir(parents=True, exist_ok=True)
    _write_if_changed(include / "dure_soc.h", header.generate_header(config))
    _write_if_changed(include / "dure_npu.h", header.generate_npu_header(config))


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def build_npu_programs(build, include, programs=None):
    """Build firmware/npu_apps/* (or the named programs) into ``build``; returns ``build``."""
    build.mkdir(parents=True, exist_ok=True)
    targets = [str(build / f"{p}.elf") for p in programs] if programs else []
    with open(build / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            ["make", "-s", "-C", str(FIRMWARE), f"PY={sys.executable}", f"BUILD={build}",
             f"GEN_INCLUDE={include}", f"PROGRAM_DIRS={NPU_APPS}",
             *targets], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"NPU firmware build failed:\n{done.stdout}\n{done.stderr}")
    return build
