"""Building firmware for tests: the programs of ``make firmware`` and the NPU programs.

:func:`build_firmware` does what ``make firmware`` does (generate ``dure_soc.h`` from the config,
then ``make -C firmware``) under a file lock, so parallel pytest workers never run two makes in
one build folder at once; make itself rebuilds only what changed. :func:`program_names` lists
the programs that Makefile builds, found the way it finds them.

The NPU programs live in firmware/npu_apps/ (one folder each). :func:`build_npu_programs` builds
them with the same Makefile (``PROGRAM_DIRS`` pointed at that folder; the library is part of its
runtime) with an include folder holding the generated dure_soc.h, dure_npu.h
(:func:`write_headers`) and, for data-driven programs, a ``npu_test_data.h`` written by the test.

Paths are those of the source tree (this package is used from an editable install).
"""

import fcntl
import pathlib
import subprocess
import sys

from dure.config import preset

__all__ = ["ROOT", "FIRMWARE", "BUILD", "INCLUDE", "NPU_APPS", "NPU_BUILD", "NPU_INCLUDE",
           "PROGRAM_DIRS", "program_names", "make_args", "build_firmware", "write_headers",
           "build_npu_programs"]

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
#: Where ``make firmware`` puts the ELFs and the generated header.
BUILD = ROOT / "build" / "firmware"
INCLUDE = ROOT / "build" / "include"
#: Folders of firmware/ whose programs the Makefile builds.
PROGRAM_DIRS = ("apps", "isa", "bench")
NPU_APPS = FIRMWARE / "npu_apps"
NPU_BUILD = ROOT / "build" / "firmware-npu"
NPU_INCLUDE = ROOT / "build" / "include-npu"


def program_names():
    """Every program the firmware Makefile builds, found the way the Makefile finds them."""
    names = set()
    for folder in PROGRAM_DIRS:
        for path in (FIRMWARE / folder).iterdir():
            if path.is_file() and path.suffix in (".c", ".S"):
                names.add(path.stem)
            elif path.is_dir() and any(p.suffix in (".c", ".S") for p in path.iterdir()):
                names.add(path.name)
    return sorted(names)


def make_args(build=BUILD, include=INCLUDE):
    """The ``make`` command line that builds the firmware into ``build`` with ``include``."""
    return ["make", "-s", "-C", str(FIRMWARE), f"PY={sys.executable}", f"BUILD={build}",
            f"GEN_INCLUDE={include}"]


def build_firmware(build=BUILD, include=INCLUDE, variant=None):
    """Generate the header (of ``variant``, default: the default variant) and run make, under a
    lock in ``build``'s parent folder; returns ``build``. ``RuntimeError`` with make's output if
    the build fails."""
    build.parent.mkdir(parents=True, exist_ok=True)
    header = ["--variant", variant] if variant else []
    with open(build.parent / ".firmware.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "dure.cli", "gen-header", *header, "--out",
                        str(include / "dure_soc.h")], check=True)
        done = subprocess.run(make_args(build, include), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    return build


def write_headers(include, config=None):
    """Write dure_soc.h, dure_npu.h and npu_layer.h (the table of the npu_layer program,
    :mod:`dure.sim.npu_layer_job`) for ``config`` (default: the ``sim`` preset) into
    ``include``, leaving files whose text is unchanged untouched (make sees no new date)."""
    from dure.sim.npu_layer_job import generate_header as layer_header

    from dure import header

    config = config or preset("sim")
    include.mkdir(parents=True, exist_ok=True)
    _write_if_changed(include / "dure_soc.h", header.generate_header(config))
    _write_if_changed(include / "dure_npu.h", header.generate_npu_header(config))
    _write_if_changed(include / "npu_layer.h", layer_header(config))


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def build_npu_programs(build, include, programs=None):
    """Build firmware/npu_apps/* (or the named programs) into ``build``; returns ``build``.
    ``RuntimeError`` with make's output if the build fails."""
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
