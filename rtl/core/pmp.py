"""Physical memory protection: the address check of one access port (fetch or data)."""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .isa import PMPCfg, PMPMode

__all__ = ["PMPCheck", "napot_care"]


def napot_care(pmpaddr):
    """The address bits a NAPOT entry compares, for a ``pmpaddr`` value (an Amaranth value or
    an int): all but the trailing ones of ``pmpaddr`` and the bit above them."""
    ones = pmpaddr & ~(pmpaddr + 1)
    care = ~((ones << 1) | 1)
    return care & 0xFFFF_FFFF if isinstance(care, int) else care[:32]


class PMPCheck(wiring.Component):
    """Combinational PMP check of one access against ``entries`` PMP entries.

    Granularity G = 0 (4 bytes): every mode (OFF, TOR, NA4, NAPOT) is available and an aligned
    access of at most 4 bytes lies in one granule, so the word address ``addr[31:2]`` decides
    (compared with the 34-bit PMP addresses ``pmpaddr[i]`` = address bits 33:2). The
    lowest-numbered matching entry decides: its R / W / X bit applies to U-mode always and to
    M-mode when its L bit is set; a matching entry without L allows M-mode. No match: M-mode
    is allowed, U-mode is denied (at least one entry is implemented).

    TOR entry ``i`` matches ``pmpaddr[i-1] <= a < pmpaddr[i]`` (``pmpaddr[-1]`` = 0); NA4
    ``a == pmpaddr[i]``; NAPOT ``pmpaddr[i]`` = ``base | (size / 8 - 1)`` (trailing ones give
    the size, ``pmpaddr[i]`` all ones covers everything).

    Parameters
    ----------
    entries : int
        Number of implemented PMP entries, 1..16.

    Members
    -------
    cfg : In(data.ArrayLayout(8, entries))
        ``pmpcfg`` bytes (L, A, X, W, R).
    pmpaddr : In(data.ArrayLayout(32, entries))
    care : In(data.ArrayLayout(32, entries))
        :func:`napot_care` of each ``pmpaddr`` (the CSR file keeps it in registers, computed
        when ``pmpaddr`` is written, so no check port needs an adder for it).
    priv_m : In(1)
        The access is made in M-mode (else U-mode).
    access : In(3)
        One-hot kind of access, in the bit order of the R / W / X permissions: 0b001 read,
        0b010 write, 0b100 execute.
    addr : In(32)
        Byte address of the access.
    fault : Out(1)
        The access is denied (access fault).
    """

    def __init__(self, entries):
        if not isinstance(entries, int) or not 1 <= entries <= 16:
            raise ValueError(f"entries must be an integer in 1..16, not {entries!r}")
        self._entries = entries
        super().__init__({
            "cfg": In(data.ArrayLayout(8, entries)),
            "pmpaddr": In(data.ArrayLayout(32, entries)),
            "care": In(data.ArrayLayout(32, entries)),
            "priv_m": In(1),
            "access": In(3),
            "addr": In(32),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._entries
        word = Signal(32)
        m.d.comb += word.eq(self.addr[2:])
        # word >= pmpaddr[i]: shared by entry i (upper bound) and entry i + 1 (lower bound).
        geq = [Signal(name=f"geq{i}") for i in range(n)]
        matches = []
        for i in range(n):
            cfg = self.cfg[i]
            a = self.pmpaddr[i]
            m.d.comb += geq[i].eq(word >= a)
            lower = Const(1) if i == 0 else geq[i - 1]
            care = self.care[i]
            match = Signal(name=f"match{i}")
            mode = cfg[PMPCfg["A"]:PMPCfg["A"] + 2]
            with m.Switch(mode):
                with m.Case(PMPMode.TOR):
                    m.d.comb += match.eq(lower & ~geq[i])
                with m.Case(PMPMode.NA4):
                    m.d.comb += match.eq(word == a)
                with m.Case(PMPMode.NAPOT):
                    m.d.comb += match.eq(((word ^ a) & care) == 0)
            matches.append(match)

        allowed = Signal()
        m.d.comb += allowed.eq(self.priv_m)           # no entry matches
        for i in reversed(range(n)):                   # entry 0 last: the highest priority
            cfg = self.cfg[i]
            perm = cfg[0:3]
            enforce = ~self.priv_m | cfg[PMPCfg["L"]]
            with m.If(matches[i]):
                m.d.comb += allowed.eq(~enforce | ((perm & self.access) != 0))
        m.d.comb += self.fault.eq(~allowed)
        return m
