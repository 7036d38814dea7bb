"""Trap-logging programs for the core tests: a machine-mode trap handler that logs
``(mcause, mtval, mepc)`` of every trap at :data:`LOG` and resumes after the trapping
instruction, the prologue that installs it, and the log read back from a run's memory;
:data:`BAD`, 256 bytes the tests' bus model answers with errors."""

from dure.rtl.core.isa import CSR

from .asm import Program
from .core_bench import RAM_BASE

__all__ = ["LOG", "BAD", "logging_handler", "prologue", "finish", "log_entries"]

LOG = RAM_BASE + 0x6000          # trap handlers log (mcause, mtval, mepc) here
BAD = RAM_BASE + 0x7000          # 256 bytes answering bus errors


def logging_handler(p):
    """Trap handler: log mcause, mtval, mepc at x20 (advancing it), resume at mepc + 4."""
    p.label("handler")
    p.csrr(25, CSR.MCAUSE)
    p.sw(25, 20, 0)
    p.csrr(25, CSR.MTVAL)
    p.sw(25, 20, 4)
    p.csrr(25, CSR.MEPC)
    p.sw(25, 20, 8)
    p.addi(20, 20, 12)
    p.addi(25, 25, 4)
    p.csrw(CSR.MEPC, 25)
    p.mret()


def prologue(p):
    """Point ``mtvec`` at the handler (the address is patched in by :func:`finish`) and the
    log pointer x20 at :data:`LOG`."""
    p.li(1, 0)     # patched by finish()
    p.csrw(CSR.MTVEC, 1)
    p.li(20, LOG)


def finish(p):
    """The words of ``p`` (which has called :func:`prologue` and :func:`logging_handler`) with
    the handler's address patched into the prologue."""
    words = p.assemble()
    fix = Program()
    fix.li(1, p._labels["handler"])
    words[0:2] = fix.assemble()
    return words


def log_entries(result, n):
    """The first ``n`` ``(mcause, mtval, mepc)`` records the handler logged in ``result``."""
    return [tuple(result.mem.load_word(LOG + 12 * i + 4 * k) for k in range(3))
            for i in range(n)]
