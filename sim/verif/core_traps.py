"""Trap-logging programs for the core tests, the one builder both the trap tests and the
privilege programs (:mod:`.core_priv`) use: a machine-mode trap handler that logs ``(mcause,
mtval, mepc)`` of every trap at :data:`LOG` (with ``mstatus``: also the ``mstatus`` seen in
the handler) and resumes after the trapping instruction, the prologue that installs it, the
patch of its address into the prologue, and the log read back from a run's memory;
:data:`BAD`, 256 bytes the tests' bus model answers with errors."""

from dure.rtl.core.isa import CSR

from .asm import Program
from .core_bench import RAM_BASE

__all__ = ["LOG", "BAD", "logging_handler", "prologue", "finish", "log_entries"]

LOG = RAM_BASE + 0x6000          # trap handlers log (mcause, mtval, mepc[, mstatus]) here
BAD = RAM_BASE + 0x7000          # 256 bytes answering bus errors


def _record_csrs(mstatus):
    """The CSRs one log record holds, in order."""
    return (CSR.MCAUSE, CSR.MTVAL, CSR.MEPC) + ((CSR.MSTATUS,) if mstatus else ())


def logging_handler(p, *, mstatus=False, fetch_resume=None):
    """Trap handler at label ``handler``: log mcause, mtval, mepc (and, with ``mstatus``,
    mstatus) at x20, advancing x20 by the record, then ``mret`` to mepc + 4, in the privilege
    level the trap came from (``mret`` restores it from mstatus.MPP).

    ``fetch_resume``: a register number; after an instruction access fault (mcause 1) the
    handler resumes at that register's value instead (mepc + 4 would fault again). Clobbers
    x25 (mcause), x26 (mtval, then mepc) and, with ``mstatus``, x27."""
    p.label("handler")
    for i, csr in enumerate(_record_csrs(mstatus)):
        reg = {CSR.MCAUSE: 25, CSR.MSTATUS: 27}.get(csr, 26)
        p.csrr(reg, csr)
        p.sw(reg, 20, 4 * i)
    p.addi(20, 20, 4 * len(_record_csrs(mstatus)))
    p.addi(26, 26, 4)
    if fetch_resume is not None:
        p.addi(25, 25, -1)
        p.bne(25, 0, "resume")
        p.addi(26, fetch_resume, 0)
        p.label("resume")
    p.csrw(CSR.MEPC, 26)
    p.mret()


def prologue(p):
    """Point ``mtvec`` at the handler (the address is patched in by :func:`finish`) and the
    log pointer x20 at :data:`LOG`. Must be the first code of ``p``."""
    p.li(1, 0)     # patched by finish()
    p.csrw(CSR.MTVEC, 1)
    p.li(20, LOG)


def finish(p):
    """The words of ``p`` (which has called :func:`prologue` and placed a ``handler`` label,
    e.g. with :func:`logging_handler`) with the handler's address patched into the
    prologue."""
    words = p.assemble()
    fix = Program()
    fix.li(1, p._labels["handler"])
    words[0:2] = fix.assemble()
    return words


def log_entries(result, n, *, mstatus=False):
    """The first ``n`` records the handler logged in ``result``: ``(mcause, mtval, mepc)``
    tuples, with ``mstatus`` ``(mcause, mtval, mepc, mstatus)``."""
    size = len(_record_csrs(mstatus))
    return [tuple(result.mem.load_word(LOG + 4 * (size * i + k)) for k in range(size))
            for i in range(n)]
