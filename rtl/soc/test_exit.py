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

Any other offset answers with a bus error. The decoding is the ``test_exit`` table of
:mod:`.registers` through :class:`~..bus.regbank.RegisterBank`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import registers

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
        self._addr_width = addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "exit_valid": Out(1),
            "exit_code": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(registers("test_exit"),
                                                addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        # w_data: the enabled lanes of the write, the others 0.
        m.d.sync += self.exit_valid.eq(regs.exit.w_stb)
        with m.If(regs.exit.w_stb):
            m.d.sync += self.exit_code.eq(regs.exit.w_data)
        return m
