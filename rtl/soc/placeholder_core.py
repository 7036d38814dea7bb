"""Stand-in for :class:`dure.rtl.core.core.Core` until the core lands: same ports, does nothing.

Used by :mod:`.soc` only when ``rtl/core/core.py`` does not exist, so the SoC and SimTop elaborate
(and the simulator harness can be built against their ports) before the core is written. It
never issues a bus request and never retires an instruction.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from ..core.rvfi import RVFISignature

__all__ = ["PlaceholderCore"]


class PlaceholderCore(wiring.Component):
    """The Core's contract (contracts.md) with no behaviour: all outputs are 0."""

    ibus: Out(BusSignature())
    dbus: Out(BusSignature())
    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    mtime: In(64)
    rvfi: Out(RVFISignature())

    def __init__(self, *, reset_vector=0x8000_0000, hartid=0):
        self.reset_vector = reset_vector
        self.hartid = hartid
        super().__init__()

    def elaborate(self, platform):
        return Module()
