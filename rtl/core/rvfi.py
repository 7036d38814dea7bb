"""Retirement trace port (a subset of RVFI, the RISC-V Formal Interface).

The core reports every instruction it retires, and every instruction that traps, on this port
in program order, one per cycle at most. The simulator counts ``valid`` for instructions retired
and can dump the trace; the differential tests compare it against a reference ISS; formal checks
can be written against it.

Members
-------
valid : Out(1)
    One instruction left the pipeline this cycle (retired, or trapped).
insn : Out(32)
    Its instruction bits.
trap : Out(1)
    It raised a synchronous exception (it did not retire; ``rd_addr`` is 0 and no memory access
    is reported). ``pc_wdata`` is then the trap vector.
intr : Out(1)
    It is the first instruction of a trap handler entered by an interrupt or exception
    (RVFI ``intr``).
pc_rdata : Out(32)
    Its address.
pc_wdata : Out(32)
    Address of the next instruction in program order (branch target, trap vector, mepc on MRET).
rs1_addr, rs2_addr : Out(5)
    Source registers it read (0 when the instruction has no such operand; CSR immediates and
    shift amounts in the instruction are not sources).
rs1_rdata, rs2_rdata : Out(32)
    The values of those sources as the instruction used them (after forwarding; 0 for x0 or
    no source). Meaningful only when ``trap`` is 0 (a trapped instruction may not have
    waited for its operands). :class:`~dure.rtl.core_tiny.core.TinyCore` leaves these four
    members at 0.
rd_addr : Out(5)
    Destination register written, 0 if none (writes to x0 report 0).
rd_wdata : Out(32)
    Value written to ``rd_addr`` (0 when ``rd_addr`` is 0).
mem_addr : Out(32)
    Byte address of the load or store (as computed, before alignment).
mem_rmask : Out(4)
    Bytes read, relative to the word at ``mem_addr & ~3``; 0 for no load.
mem_wmask : Out(4)
    Bytes written, relative to the word at ``mem_addr & ~3``; 0 for no store.
mem_rdata : Out(32)
    Word read (bus data, before sign extension).
mem_wdata : Out(32)
    Word written (bus data, already shifted into the lanes of ``mem_wmask``).

A misaligned access that crosses a word boundary (two bus accesses) is reported once, with
wrap-around lanes: lane ``i`` of the masks and data is the access's byte whose address is ``i``
modulo 4, so the lanes below ``mem_addr & 3`` belong to the next word (``mem_rdata`` merges the
two words read; ``mem_wdata`` is the data sent to both).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["RVFISignature"]


class RVFISignature(wiring.Signature):
    """Signature of the retirement trace port, core side (all members are outputs)."""

    def __init__(self):
        super().__init__({
            "valid":     Out(1),
            "insn":      Out(32),
            "trap":      Out(1),
            "intr":      Out(1),
            "pc_rdata":  Out(32),
            "pc_wdata":  Out(32),
            "rs1_addr":  Out(5),
            "rs2_addr":  Out(5),
            "rs1_rdata": Out(32),
            "rs2_rdata": Out(32),
            "rd_addr":   Out(5),
            "rd_wdata":  Out(32),
            "mem_addr":  Out(32),
            "mem_rmask": Out(4),
            "mem_wmask": Out(4),
            "mem_rdata": Out(32),
            "mem_wdata": Out(32),
        })

    def __eq__(self, other):
        return isinstance(other, RVFISignature)

    def __hash__(self):
        return hash(RVFISignature)

    def __repr__(self):
        return "RVFISignature()"
