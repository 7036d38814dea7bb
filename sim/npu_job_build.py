"""Build the ``npu_job`` firmware (firmware/npu_jobs/npu_job/), or another program of
firmware/npu_jobs/ (``npu_model_run``: a compiled model's layer table, walked whole), for
a variant, on demand.

The program is built with the firmware Makefile into ``build/firmware-jobs-<variant>/`` with
its own include folder holding the generated ``dure_soc.h``, ``dure_npu.h`` (:mod:`dure.header`)
and ``npu_job.h`` (:func:`dure.sim.npu_job_table.generate_header`). Headers are rewritten only when
their text changes and make is incremental, so calling :func:`job_elf` again is cheap. A lock
file serialises concurrent builds (pytest workers, two terminals).
"""

import fcntl
import pathlib
import subprocess
import sys

from dure.errors import UserError

from .npu_job_table import generate_header
from .rtlgen import build_root

__all__ = ["job_elf", "firmware_root", "optimisation"]

PROGRAM = "npu_job"


def firmware_root():
    """The repository's firmware/ folder (next to the installed ``sim`` package)."""
    return pathlib.Path(__file__).resolve().parent.parent / "firmware"


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


#: RAM sizes up to this are built for size: the boards' 64 KiB must hold the model runner's
#: code, data and its 16 KiB stack (at -O2 npu_model_run needs about 68 KiB).
SMALL_RAM = 64 * 1024


def optimisation(config):
    """The C optimisation flag of the job firmware for ``config``: ``-Os`` when its RAM is at
    most :data:`SMALL_RAM` (the boards), else ``-O2`` (the simulated variants' cycle counts)."""
    return "-Os" if config.ram_size <= SMALL_RAM else "-O2"


def job_elf(config, program=PROGRAM, folder="npu_jobs"):
    """Path of ``<program>.elf`` (default ``npu_job``) built for ``config``; builds it when
    needed. ``folder``: the firmware folder holding the program (``dot_apps`` for
    ``dot_model_run``, the runner of the dot-unit variants).

    Raises UserError when the firmware sources are missing or the build fails."""
    from dure import header

    firmware = firmware_root()
    if not (firmware / folder / program / "main.c").is_file():
        raise UserError(f"the {program} firmware sources are not in {firmware}/{folder}")
    base = build_root() / f"firmware-jobs-{config.name}"
    include, out = base / "include", base / "firmware"
    include.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_if_changed(include / "dure_soc.h", header.generate_header(config))
        _write_if_changed(include / "dure_npu.h", header.generate_npu_header(config))
        _write_if_changed(include / "npu_job.h", generate_header(config))
        runtime = ["common/crt0.S", "common/runtime.c", "common/printf.c", "common/string.c"]
        runtime += sorted(f"npu/{p.name}" for p in (firmware / "npu").glob("*.c"))
        done = subprocess.run(
            ["make", "-s", "-C", str(firmware), f"PY={sys.executable}", f"BUILD={out}",
             f"OPT={optimisation(config)}",
             f"GEN_INCLUDE={include}", f"PROGRAM_DIRS={firmware / folder}",
             f"RUNTIME_SRC={' '.join(runtime)}", str(out / f"{program}.elf")],
            capture_output=True, text=True)
    if done.returncode:
        tail = (done.stdout + done.stderr).strip()[-1500:]
        raise UserError(f"building {program}.elf failed:\n{tail}")
    return out / f"{program}.elf"
