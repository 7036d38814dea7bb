"""Test-exit register: the firmware reports pass / fail to the simulator.

Register map (byte offsets from ``DURE_TEST_EXIT_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------------
======  ====  ====  ==========================================================================
offset  name  acc.  meaning
======  ====  ====  ==========================================================================
0x0     exit  W     writing pulses ``exit_valid`` with ``exit_code`` = the value written
                    (1 = pass, ``(n << 1) | 1`` = fail n; lanes not enabled by ``be`` read 0).
                    Reads return 0.
======  ====  ====  ==========================================================================

Any other offset answers with a bus error.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .registers import offset

__all__ = ["TestExit"]


class TestExit(wiring.Component):
    """The test-exit register.

    Parameters
    ----------
    addr_width : int
        Word-address width of the bus port (the region's size).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    exit_valid : Out(1)
        1 for exactly one cycle, the cycle after a write to ``exit`` is granted.
    exit_code : Out(32)
        The value written; holds its value until the next write.

    Latency
    -------
    Grants every cycle; responds one cycle after the grant.
    """

    __test__ = False        # not a pytest test class despite its name

    def __init__(self, addr_width=10):
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "exit_valid": Out(1),
            "exit_code": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        hit = bus.addr == offset("test_exit", "exit") // 4
        rvalid = Signal()
        err = Signal()
        m.d.comb += bus.gnt.eq(1)
        m.d.sync += [rvalid.eq(bus.req), err.eq(bus.req & ~hit), self.exit_valid.eq(0)]
        with m.If(bus.req & bus.we & hit):
            lanes = Cat(Mux(bus.be[i], bus.wdata[8 * i:8 * i + 8], 0) for i in range(4))
            m.d.sync += [self.exit_valid.eq(1), self.exit_code.eq(lanes)]
        m.d.comb += [bus.rvalid.eq(rvalid), bus.err.eq(err), bus.rdata.eq(0)]
        return m
