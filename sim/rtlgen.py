"""Verilog of the simulation top for one SoC variant, cached by a hash of everything it depends on.

The simulator builds ``SimTop(config)`` (:mod:`dure.rtl.soc.sim_top`) as a Verilog module called
``dure_sim_top``. The output lives in ``build/sim/<label>-<hash>/dure_sim_top.v`` where ``<hash>``
covers the configuration, the source of every Python file under ``rtl/``, ``dure/config.py``, the
simulator's own build sources (this file, :mod:`dure.sim.verilator`, the build service
:mod:`dure.sim.verilator_build`, ``harness.cpp``) and the Amaranth and Verilator versions (the
service's :func:`~dure.sim.verilator_build.cache_key`). For a stand-in top (tests) the ``rtl/``
part is replaced by the file defining it and the ``dure`` modules it uses. Any edit to one of
these gives a new directory; nothing is ever rebuilt in place.
"""

import inspect
import pathlib
import re

import dure.rtl
from amaranth.back import verilog

import dure.config

from .verilator_build import build_root, cache_key, write_atomic

__all__ = ["TOP_NAME", "build_root", "model_hash", "model_dir", "generate_verilog",
           "class_sources"]

#: Module name of the generated Verilog top (and of the Verilator model class, ``V<name>``).
TOP_NAME = "dure_sim_top"

_SIM_DIR = pathlib.Path(__file__).resolve().parent
_HARNESS_SOURCES = ("harness.cpp", "sdram_chip.h", "stall_counts.h", "rtlgen.py",
                    "verilator.py", "verilator_build.py")


def _default_top(config):
    from dure.rtl.soc.sim_top import SimTop
    return SimTop(config, sim_memories=True)


def _primitives_verilog():
    """Source of the simulation-only memory primitives a top may instantiate (modules that are
    not instantiated are ignored by Verilator, which builds only ``--top-module``)."""
    from dure.rtl.soc.sim_memory import SIM_MEMORY_PORT_COUNTS, sim_memory_verilog
    return "".join(sim_memory_verilog(ports) for ports in SIM_MEMORY_PORT_COUNTS)


def _dependencies(module):
    """Files of the ``dure`` modules that ``module`` uses, transitively (through its globals)."""
    seen, todo = {}, [module]
    while todo:
        mod = todo.pop()
        if mod is None or mod.__name__ in seen or not getattr(mod, "__file__", None):
            continue
        seen[mod.__name__] = pathlib.Path(mod.__file__).resolve()
        for value in vars(mod).values():
            used = value if inspect.ismodule(value) else inspect.getmodule(value)
            if used is not None and used.__name__.startswith("dure."):
                todo.append(used)
    return sorted(seen.values())


def _source_files(top):
    """What the Verilog depends on: for SimTop every file under ``rtl/`` (cheap to list, and no
    import can be missed); for a stand-in top its own file and the ``dure`` modules it uses."""
    if top is None:
        rtl_dir = pathlib.Path(dure.rtl.__file__).resolve().parent
        files = sorted(rtl_dir.rglob("*.py"))
    else:
        own = pathlib.Path(inspect.getsourcefile(top)).resolve()
        files = [own] + [f for f in _dependencies(inspect.getmodule(top)) if f != own]
    files.append(pathlib.Path(dure.config.__file__).resolve())
    files += [_SIM_DIR / name for name in _HARNESS_SOURCES]
    return files


def class_sources(cls):
    """Every file the Verilog of a ``cls`` instance can come from: the file defining ``cls``, the
    ``dure`` modules its module uses (transitively, through its globals), every file under
    ``rtl/`` (an import inside a function is missed by the walk) and ``dure/config.py``;
    sorted, without repeats."""
    rtl_dir = pathlib.Path(dure.rtl.__file__).resolve().parent
    files = {pathlib.Path(inspect.getsourcefile(cls)).resolve(),
             pathlib.Path(dure.config.__file__).resolve(), *rtl_dir.rglob("*.py"),
             *_dependencies(inspect.getmodule(cls))}
    return sorted(files)


def model_hash(config, top=None):
    """Hex digest (16 characters) naming the Verilog and models built for ``config``.

    ``top`` is a callable ``config -> Elaboratable`` standing in for ``SimTop`` (tests); None
    means the real ``SimTop``.
    """
    parts = [repr(config),
             "SimTop" if top is None else f"{top.__module__}.{top.__qualname__}"]
    for path in _source_files(top):
        try:
            rel = path.relative_to(_SIM_DIR.parent)
        except ValueError:
            rel = path.name
        parts += [str(rel), path.read_bytes()]
    return cache_key(parts)


def model_dir(config, top=None):
    """``build/sim/<label>-<hash>``: where the Verilog and every model flavour of it live."""
    label = config.name if top is None else f"{config.name}-{top.__name__.lower()}"
    return build_root() / "sim" / f"{label}-{model_hash(config, top)}"


# An `initial` block that only sets memory words to zero: Amaranth writes one per memory with
# `init=[]` (one line per word, 320k lines for the sim variant), which makes Verilator's build
# slow. The model is built with `--x-initial 0`, so dropping these blocks changes nothing.
_ZERO_INIT = re.compile(r"^ *initial begin\n(?: *[\w$\\.]+ ?\[\d+\] = \d+'[dhb]0+;\n)+ *end\n",
                        re.MULTILINE)


def strip_zero_memory_init(text):
    """``text`` without the all-zero memory ``initial`` blocks (see ``_ZERO_INIT``)."""
    return _ZERO_INIT.sub("", text)


def generate_verilog(config, top=None, directory=None):
    """Write ``dure_sim_top.v`` for ``config`` unless it exists; return its path.

    ``directory`` defaults to :func:`model_dir`. The file is written to a temporary name and
    renamed, so concurrent callers never see a partial file. All-zero memory initialisation is
    left out (the model starts from zeros anyway); the real SimTop is built with its large
    memories as simulation primitives (:mod:`dure.rtl.soc.sim_memory`), whose source is appended.
    """
    directory = directory or model_dir(config, top)
    path = directory / f"{TOP_NAME}.v"
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    elaboratable = (top or _default_top)(config)
    text = strip_zero_memory_init(verilog.convert(elaboratable, name=TOP_NAME, emit_src=False))
    text += _primitives_verilog()
    return write_atomic(path, text)
