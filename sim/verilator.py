"""The Verilator model of the simulation top with the C++ harness, built by the build service.

A model is the executable ``build/sim/<label>-<hash>/<flavour>/Vdure_sim_top`` (see
:mod:`dure.sim.rtlgen` for the hash and the Verilog). Flavours:

``plain``
    No waveform code: the fast model every run uses.
``vcd``, ``fst``
    Waveform dumping compiled in (``--trace-vcd`` / ``--trace-fst``), built on first request.
``coverage``
    Verilator's line and toggle coverage compiled in; each run writes its counts into
    ``$DURE_CODE_COVERAGE`` (:func:`dure.sim.verilator_build.code_coverage_dir`). While that
    variable is set, a request for ``plain`` gets this flavour.

Building, caching and concurrency (lock, temporary folder, atomic rename) are the build
service's (:mod:`dure.sim.verilator_build`); this module only says what the SoC model is: the
harness ``harness.cpp``, C++17, -O2 for the evaluation code (-O1 in a coverage build),
``--x-initial 0`` (the Verilog leaves all-zero memory initialisation out), and the waveform
flags of each flavour.
"""

import pathlib
import subprocess
import sysconfig

from dure.errors import UserError

from .rtlgen import TOP_NAME, generate_verilog, model_dir
from .verilator_build import (
    COVERAGE_ARGS,
    STDERR,
    Verilation,
    cached,
    code_coverage_dir,
    tool,
    verilate,
)

__all__ = ["FLAVOURS", "build_model"]

FLAVOURS = ("plain", "vcd", "fst", "coverage")

_HARNESS = pathlib.Path(__file__).resolve().parent / "harness.cpp"

_FLAVOUR_ARGS = {
    "plain": [],
    "vcd": ["--trace-vcd", "-CFLAGS", "-DDURE_WAVES_VCD"],
    "fst": ["--trace-fst", "-CFLAGS", "-DDURE_WAVES_FST"],
    "coverage": list(COVERAGE_ARGS),
}


def _has_header(header):
    probe = subprocess.run([tool("CXX", "g++"), "-E", "-x", "c++", "-"],
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


# C++ optimisation (OPT_FAST, OPT_SLOW, OPT_GLOBAL): -O2 for the evaluation code; a coverage
# build is several times larger (a counter per line and per bit) and runs a bounded test set,
# so it compiles at -O1 / -O0.
_OPT = {"coverage": ("-O1", "-O0", "-O1")}


def _verilation(verilog, flavour, jobs):
    return Verilation(
        top=TOP_NAME, sources=(pathlib.Path(verilog), _HARNESS), output=f"V{TOP_NAME}",
        prefix=None, args=("-CFLAGS", "-std=c++17", "-LDFLAGS", "-pthread",
                           *_FLAVOUR_ARGS[flavour]),
        opt=_OPT.get(flavour, ("-O2", "-O1", "-O2")), x_initial="0", jobs=jobs)


def build_model(config, *, flavour="plain", top=None, jobs=2, log=STDERR):
    """Path of the Verilator model executable for ``config``, building it if needed.

    Parameters
    ----------
    config : SoCConfig
        The variant to build.
    flavour : str
        ``plain``, ``vcd``, ``fst`` or ``coverage`` (see the module docstring; ``plain`` means
        ``coverage`` while code coverage is on).
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
    if flavour == "plain" and code_coverage_dir() is not None:
        flavour = "coverage"
    directory = model_dir(config, top)
    exe = directory / flavour / f"V{TOP_NAME}"
    if exe.is_file():
        return exe

    def make(folder):
        verilog = generate_verilog(config, top, directory)
        verilate(_verilation(verilog, flavour, jobs), folder,
                 setup=_fst_args if flavour == "fst" else None)

    cached(directory / flavour, make, log=log, what=f"the Verilator model ({flavour})")
    return exe
