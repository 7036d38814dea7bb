"""Shared fixtures for the firmware tests: build the firmware (incrementally) once per session.

The build is the same as ``make firmware``: generate ``build/include/dure_soc.h`` from the
config, then ``make -C firmware``. A file lock keeps parallel pytest workers from running two
makes at once; make itself rebuilds only what changed.
"""

import fcntl
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BUILD = ROOT / "build" / "firmware"
INCLUDE = ROOT / "build" / "include"
PROGRAM_DIRS = ("apps", "isa", "bench")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))   # for unicorn_run


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
    return ["make", "-s", "-C", str(FIRMWARE), f"PY={sys.executable}", f"BUILD={build}",
            f"GEN_INCLUDE={include}"]


def build_firmware():
    """Generate the header and run make under a lock; returns the build folder."""
    BUILD.parent.mkdir(parents=True, exist_ok=True)
    with open(BUILD.parent / ".firmware.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "dure.cli", "gen-header", "--out",
                        str(INCLUDE / "dure_soc.h")], check=True)
        done = subprocess.run(make_args(), capture_output=True, text=True)
        if done.returncode:
            pytest.fail(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    return BUILD


@pytest.fixture(scope="session")
def firmware_build():
    return build_firmware()
