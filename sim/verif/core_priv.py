"""Programs for the core's privilege tests (U-mode, PMP, triggers): a machine-mode trap handler
that logs ``(mcause, mtval, mepc, mstatus)`` of every trap at :data:`LOG` and returns to the
privilege level the trap came from (the shared builder of :mod:`.core_traps`), the switch to
U-mode, label patching, :func:`check` (run, compare with the reference model, compare the trap
log with the expected one) and the PMP set-up; :data:`D` is the data area the PMP entries
cover."""

from dure.rtl.core.isa import CSR

from .asm import Program
from .core_bench import RAM_BASE, run
from .core_random import compare
from .core_traps import LOG, log_entries, logging_handler, prologue
from .core_traps import finish as finish_traps

__all__ = ["LOG", "D", "NAPOT", "TOR", "NA4", "R", "W", "X", "L", "start", "handler", "finish",
           "to_user", "patch_labels", "log", "check", "pmp_setup"]

D = RAM_BASE + 0x9000            # data area the PMP entries cover (no bus errors there)
#: pmpcfg address-matching modes and permission / lock bits.
NAPOT, TOR, NA4 = 3 << 3, 1 << 3, 2 << 3
R, W, X, L = 1, 2, 4, 0x80


def start(p):
    """Point ``mtvec`` at the handler (patched in by :func:`finish`), x20 at :data:`LOG`
    (:func:`~.core_traps.prologue`)."""
    prologue(p)


def handler(p):
    """Log mcause, mtval, mepc, mstatus; resume at x21 after a fetch fault (mcause 1), else
    at mepc + 4, in the privilege level the trap came from (the shared
    :func:`~.core_traps.logging_handler`)."""
    logging_handler(p, mstatus=True, fetch_resume=21)


def finish(p):
    """Append the :func:`handler` and return the words with its address patched in."""
    handler(p)
    return finish_traps(p)


def to_user(p, label):
    """MRET to ``label`` in U-mode."""
    p.li(2, 0x1800)
    p.csrrc(0, CSR.MSTATUS, 2)
    p.li(2, 0)                   # patched: label address
    p.label(f"la_{label}")
    p.csrw(CSR.MEPC, 2)
    p.mret()


def patch_labels(p, words, names):
    """Fill the ``li x2, 0`` before each ``la_<name>`` with the address of ``name``."""
    for name in names:
        at = (p._labels[f"la_{name}"] - RAM_BASE) // 4
        fix = Program()
        fix.li(2, p._labels[name])
        code = fix.assemble()
        assert len(code) == 2
        words[at - 2:at] = code
    return words


def log(result, n):
    """The first ``n`` ``(mcause, mtval, mepc, mstatus)`` records the handler logged."""
    return log_entries(result, n, mstatus=True)


def check(p, names, expected, data=None, **kw):
    """Finish ``p`` (labels ``names`` patched, :func:`patch_labels`), run it (``data``: extra
    memory words, ``kw``: :func:`~.core_bench.run`'s options), compare it with the reference and
    its trap log with ``expected`` (and nothing after it); returns the run's result."""
    words = patch_labels(p, finish(p), names)
    result = run(words, data=data, max_cycles=kw.pop("max_cycles", 3000), **kw)
    compare(words, result, data=data)
    got = log(result, len(expected) + 1)
    assert got[:-1] == expected
    assert got[-1] == (0, 0, 0, 0), "more traps than expected"
    return result


def pmp_setup(p, table):
    """Write ``table`` (``(pmpcfg byte, pmpaddr)`` per entry, from entry 0) into the PMP CSRs."""
    for i, (_cfg, addr) in enumerate(table):
        p.li(2, addr)
        p.csrw(0x3B0 + i, 2)
    for k in range(0, len(table), 4):
        p.li(2, sum(cfg << 8 * (i - k) for i, (cfg, _) in enumerate(table[k:k + 4], start=k)))
        p.csrw(0x3A0 + k // 4, 2)
