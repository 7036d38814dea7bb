# amaranth: UnusedElaboratable=no
"""Run millions of input vectors through a pipelined Amaranth component on Verilator.

The component must have flat ports only: a clock enable ``en`` (In(1)), a valid pair
``i_valid`` / ``o_valid``, and any number of data inputs and outputs of at most 64 bits each.
Every other ``In`` member is a data input and every other ``Out`` member a data output, in the
order of the signature.

:func:`build` turns the component into Verilog (``amaranth.back.verilog.convert``,
``emit_src=False``) and compiles it with the testbench ``vector_harness.cpp`` beside this file
(its port list in a generated ``vector_ports.h``) through the build service
(:mod:`dure.sim.verilator_build`) into ``build/vectors/<name>-<key>/``.
:func:`model` does the same for ``cls(*args)`` and keeps an index from the class's sources and
the arguments to the build, so a model built before is found without generating its Verilog
again (the fixtures of the unit tests use it; the first line of this file tells Amaranth that
a component made here and then found built is not a forgotten one).
:meth:`VectorModel.run` writes the inputs to a binary file, the testbench offers one vector per
cycle (holding it while ``en`` is low, and leaving pseudo-random gaps with ``i_valid``
low when asked to), samples outputs on enabled cycles where ``o_valid`` is high, and writes them
back together with each vector's latency counted in enabled cycles.
"""

import pathlib
import subprocess
import tempfile

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ..rtlgen import class_sources
from ..verilator_build import STDERR, Verilation, build_model

__all__ = ["VectorModel", "build", "model"]

_CONTROL = ("en", "i_valid", "o_valid")

_TESTBENCH = pathlib.Path(__file__).resolve().with_suffix(".cpp")


def _ports(component):
    inputs, outputs = [], []
    for name, member in component.signature.members.items():
        if not member.is_port:
            raise TypeError(f"vector harness needs flat ports; {name!r} is an interface")
        shape = Shape.cast(member.shape)
        if shape.width > 64:
            raise TypeError(f"vector harness handles ports of up to 64 bits; {name!r} has "
                            f"{shape.width}")
        if name in _CONTROL:
            continue
        (inputs if member.flow == wiring.In else outputs).append(
            (name, shape.width, shape.signed))
    missing = [name for name in _CONTROL if name not in component.signature.members]
    if missing:
        raise TypeError(f"vector harness needs ports {_CONTROL}; missing {missing}")
    return inputs, outputs


class VectorModel:
    """A built Verilator model of one component (made by :func:`build`).

    Attributes
    ----------
    inputs, outputs : list of (name, width, signed)
        Data ports in signature order.
    executable : pathlib.Path
        The compiled testbench.
    """

    def __init__(self, executable, inputs, outputs):
        self.executable = executable
        self.inputs = inputs
        self.outputs = outputs

    def run(self, *, stall_per_mille=0, gap_per_mille=0, seed=1, **vectors):
        """Drive every vector through the model; return outputs and latencies.

        Parameters
        ----------
        stall_per_mille : int
            Share (in 1/1000) of cycles with ``en`` low, chosen pseudo-randomly from ``seed``.
        gap_per_mille : int
            Share (in 1/1000) of cycles where no vector is offered (``i_valid`` low, the inputs
            keep showing the next vector).
        **vectors : array_like
            One array per data input, all of the same length; values are masked to the port
            width (negative numbers for signed ports are fine).

        Returns
        -------
        dict
            One ``uint64`` array per data output (raw bit patterns, in input order), and
            ``"latency"``: enabled cycles from each input to its output.
        """
        names = [name for name, _, _ in self.inputs]
        if sorted(vectors) != sorted(names):
            raise TypeError(f"vector inputs must be exactly {names}, not {sorted(vectors)}")
        for knob, value in (("stall_per_mille", stall_per_mille),
                            ("gap_per_mille", gap_per_mille)):
            if not 0 <= value < 1000:
                raise ValueError(f"{knob} must be in [0, 1000), not {value}")
        columns = []
        for name, width, _ in self.inputs:
            column = np.asarray(vectors[name]).astype(np.int64).view(np.uint64)
            columns.append(column & np.uint64((1 << width) - 1))
        count = len(columns[0])
        if any(len(column) != count for column in columns):
            raise ValueError("all vector inputs must have the same length")
        if count == 0:
            return {**{name: np.zeros(0, np.uint64) for name, _, _ in self.outputs},
                    "latency": np.zeros(0, np.uint64)}
        with tempfile.TemporaryDirectory(dir=self.executable.parent, prefix="run-") as tmp:
            tmp = pathlib.Path(tmp)
            np.stack(columns, axis=1).astype("<u8").tofile(tmp / "in.bin")
            result = subprocess.run(
                [str(self.executable), str(tmp / "in.bin"), str(tmp / "out.bin"), str(count),
                 str(seed), str(stall_per_mille), str(gap_per_mille)],
                capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"vector run failed: {result.stderr.strip()}")
            out = np.fromfile(tmp / "out.bin", dtype="<u8").reshape(count, len(self.outputs) + 1)
        named = {name: out[:, k].copy() for k, (name, _, _) in enumerate(self.outputs)}
        named["latency"] = out[:, -1].copy()
        return named


def _ports_header(inputs, outputs):
    """``vector_ports.h`` for the testbench: port counts and the statements that copy one vector
    in (``top->port = v[k];``) and one result out (``o[k] = top->port;``)."""
    sets = " ".join(f"top->{port} = v[{k}];" for k, (port, _, _) in enumerate(inputs))
    gets = " ".join(f"o[{k}] = top->{port};" for k, (port, _, _) in enumerate(outputs))
    return (f"#define DURE_NIN {len(inputs)}\n#define DURE_NOUT {len(outputs)}\n"
            f"#define DURE_SET_INPUTS {sets}\n#define DURE_GET_OUTPUTS {gets}\n")


def build(component, name, *, log=STDERR, made_from=None):
    """Compile ``component`` into a :class:`VectorModel`, reusing a cached build.

    Parameters
    ----------
    component : wiring.Component
        The unit; see the module docstring for its ports.
    name : str
        Verilog module name and build folder prefix (``build/vectors/<name>-<key>``).
    log : file or None
        Where to say that a build starts.
    made_from : list of str, optional
        What ``component`` is made from (:func:`model` gives it): then the Verilog is only
        generated when no build made from the same is indexed
        (:func:`dure.sim.verilator_build.build_model`). None: generated on every call.
    """
    inputs, outputs = _ports(component)

    def files():
        return {f"{name}.v": verilog.convert(component, name=name, emit_src=False),
                "vector_ports.h": _ports_header(inputs, outputs)}

    spec = Verilation(top=name, sources=(f"{name}.v", _TESTBENCH), opt=("-O2", "-O1", "-O1"))
    executable = build_model("vectors", name, spec, files=files if made_from else files(),
                             made_from=made_from, log=log)
    return VectorModel(executable, inputs, outputs)


def model(cls, *args, name=None, log=STDERR):
    """:func:`build` of ``cls(*args)`` (``name`` defaults to the class name) that generates the
    Verilog only when no model of the same class, arguments and sources was built before.

    The index key is the class's qualified name, the ``repr`` of each argument and the text of
    :func:`dure.sim.rtlgen.class_sources` (its file, the ``dure`` modules it uses, all of
    ``rtl/``, ``dure/config.py``); the build itself stays keyed on the Verilog text. An argument
    whose ``repr`` is not a stable value (``<... at 0x...>``) raises TypeError.
    """
    for arg in args:
        if " at 0x" in repr(arg):
            raise TypeError(f"vector harness model arguments need a stable repr, not {arg!r}")
    made_from = [f"{cls.__module__}.{cls.__qualname__}{args!r}"]
    made_from += [f"{path}\0{path.read_text()}" for path in class_sources(cls)]
    return build(cls(*args), name or cls.__name__, log=log, made_from=made_from)
