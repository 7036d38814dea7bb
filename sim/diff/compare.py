"""Lock-step comparison of the SoC's retirement trace against the reference ISS.

:func:`compare` walks two record lists instruction by instruction and returns the first
:class:`Mismatch` (or None). Compared per instruction: ``pc``, ``insn``, ``trap``, ``intr``
(the first instruction of a trap handler), ``rd_addr``, ``rd_wdata``, ``pc_wdata`` (the trap
vector for a trapping instruction); for loads ``mem_addr``,
``mem_rmask`` and the bytes of ``mem_rdata`` under the mask; for stores ``mem_addr``,
``mem_wmask`` and the bytes of ``mem_wdata`` under the mask (bytes outside the mask are don't
care, and so is ``mem_addr`` of instructions that do not access memory).

:func:`run_diff` is one whole differential test: generate, assemble, run the reference, run the
SoC through :func:`dure.sim.runner.run_elf` with a trace, compare.
"""

import pathlib
from dataclasses import dataclass

from dure.config import default_variant, preset

from .assemble import assemble
from .disasm import disassemble
from .generator import generate
from .reference import run_reference
from .trace import FIELDS, format_record, read_trace

__all__ = ["Mismatch", "compare", "DiffResult", "run_diff", "lane_mask"]


def lane_mask(mask):
    """32-bit mask of the bytes selected by a 4-bit byte mask."""
    return sum(0xFF << 8 * i for i in range(4) if mask >> i & 1)


def _differences(ref, dut):
    fields = []
    for name in ("pc", "insn", "trap", "intr", "rd_addr", "rd_wdata", "pc_wdata",
                 "mem_rmask", "mem_wmask"):
        if getattr(ref, name) != getattr(dut, name):
            fields.append(name)
    if (ref.mem_rmask or ref.mem_wmask) and ref.mem_addr != dut.mem_addr:
        fields.append("mem_addr")
    if ref.mem_rmask == dut.mem_rmask:
        lanes = lane_mask(ref.mem_rmask)
        if ref.mem_rdata & lanes != dut.mem_rdata & lanes:
            fields.append("mem_rdata")
    if ref.mem_wmask == dut.mem_wmask:
        lanes = lane_mask(ref.mem_wmask)
        if ref.mem_wdata & lanes != dut.mem_wdata & lanes:
            fields.append("mem_wdata")
    return fields


@dataclass
class Mismatch:
    """The first instruction where the SoC and the reference disagree.

    Attributes
    ----------
    index : int
        Position in the retirement order (0 = first instruction).
    fields : list of str
        Names of the fields that differ; ``["missing"]`` when the SoC trace ended early.
    ref, dut : TraceRecord or None
        The two records (``dut`` is None when missing).
    context : list of TraceRecord
        Up to a few instructions that retired identically just before.
    """

    index: int
    fields: list
    ref: object
    dut: object
    context: list

    def report(self):
        """Multi-line human-readable description, with disassembly."""
        def line(tag, record):
            return f"  {tag} {format_record(record)}   {disassemble(record.insn, record.pc)}"
        header = " ".join(FIELDS)
        out = [f"mismatch at instruction {self.index}: {', '.join(self.fields)}",
               f"       {header}"]
        for offset, record in enumerate(self.context):
            out.append(line(f"#{self.index - len(self.context) + offset:<4}", record))
        out.append(line("ref  ", self.ref))
        if self.dut is None:
            out.append("  dut   (trace ended)")
        else:
            out.append(line("dut  ", self.dut))
            for name in self.fields:
                out.append(f"  {name}: expected 0x{getattr(self.ref, name):08x}, "
                           f"got 0x{getattr(self.dut, name):08x}")
        return "\n".join(out)


def compare(ref, dut, context=4):
    """First :class:`Mismatch` between record lists ``ref`` and ``dut``, or None.

    ``dut`` may be longer than ``ref`` (the SoC keeps retiring the final spin loop until the
    simulator sees the exit); it must not be shorter.
    """
    for index, expected in enumerate(ref):
        got = dut[index] if index < len(dut) else None
        fields = ["missing"] if got is None else _differences(expected, got)
        if fields:
            return Mismatch(index, fields, expected, got, ref[max(0, index - context):index])
    return None


@dataclass
class DiffResult:
    """Outcome of :func:`run_diff` for one seed."""

    seed: int
    compared: int
    mismatch: Mismatch | None
    status: str
    workdir: pathlib.Path

    @property
    def ok(self):
        return self.mismatch is None and self.status == "pass"

    def report(self):
        head = f"seed {self.seed}: {self.compared} instructions compared, SoC {self.status}"
        if self.mismatch is None:
            return head
        return f"{head}\n{self.mismatch.report()}\n  program: {self.workdir / 'prog.S'}"


def run_diff(seed, length, workdir, config=None, max_cycles=None, traps=False):
    """Generate program ``seed``, run it on the reference and on the SoC, compare the traces.

    With ``traps`` the program raises exceptions and its handler reads mcause, mtval and mepc
    (:func:`.generator.generate`), which the reference models
    (:func:`.reference.run_reference`): the trap records, the handler's first instruction and
    its CSR reads are compared like any other instruction.

    Files (``prog.S``, ``prog.elf``, ``soc.trace``) are left in ``workdir``. The cycle limit
    defaults to 100 cycles per reference instruction (plus a margin), so a hung core fails fast.

    The simulator stops at the cycle where the test-exit register is written, which may come
    before the exit store itself retires: a SoC trace that lacks exactly that last record is
    accepted when the SoC passed (the exit code 1 proves the store's address and data).
    """
    from dure.sim.runner import run_elf  # the simulator (Verilator) only when needed

    config = config or preset(default_variant())
    workdir = pathlib.Path(workdir)
    elf = assemble(generate(seed, length, traps=traps), workdir)
    ref = run_reference(elf, config, traps=traps)
    trace = workdir / "soc.trace"
    if max_cycles is None:
        max_cycles = 100 * len(ref.records) + 10_000
    result = run_elf(elf, config=config, max_cycles=max_cycles, trace=trace)
    dut = read_trace(trace) if trace.is_file() else []
    mismatch = compare(ref.records, dut)
    if (mismatch is not None and mismatch.fields == ["missing"] and result.status == "pass"
            and mismatch.index == len(ref.records) - 1):
        mismatch = None
    compared = mismatch.index if mismatch else len(ref.records)
    return DiffResult(seed, compared, mismatch, result.status, workdir)
