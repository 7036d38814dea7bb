"""Exit mailbox: after the program writes the test-exit register, restart the core in the boot
loader with the exit code stored where the boot loader finds it.

On a board nobody watches ``exit_valid``; the program's ``exit()`` ends in a ``wfi`` loop. The
mailbox turns that into a report the host can read: it holds the core, writes
:data:`~dure.fpga.protocol.MAILBOX_MAGIC` and the exit code into the last two words of the boot
ROM (writable while the core is held) and releases the core, which starts again at the reset
vector: the boot loader, which sends the code to the host in an ``EXIT`` frame
(:mod:`dure.fpga.protocol`). After a reset the mailbox first clears the magic word, so a stale
code is never reported twice.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from dure.rtl.bus.signature import BusSignature

from .protocol import MAILBOX_MAGIC, mailbox_offsets

__all__ = ["ExitMailbox"]


class ExitMailbox(wiring.Component):
    """Mailbox writer on the SoC's ``ext`` bus port.

    Parameters
    ----------
    config : SoCConfig
        The variant; must have a boot ROM.

    Members
    -------
    exit_valid : In(1)
    exit_code : In(32)
        The SoC's test-exit pulse and value.
    bus_free : In(1)
        1 when no other user of the ``ext`` port has a request or response outstanding; the
        mailbox starts a write only then.
    bus : Out(BusSignature())
        Drives the SoC's ``ext`` port while ``busy``.
    busy : Out(1)
        The mailbox owns ``bus`` (from the cycle it starts until its last response).
    hold : Out(1)
        Hold the core in reset: from the exit pulse (or reset) until the mailbox is written.

    Latency
    -------
    Two writes, one at a time, each waiting for its response; the core is released the cycle
    after the last response.
    """

    def __init__(self, config):
        if not config.rom_size:
            raise ValueError(f"variant {config.name!r} has no boot ROM; the exit mailbox "
                             "lives in its last words")
        self._magic_addr = (config.region("rom").base + mailbox_offsets(config.rom_size)[0]) >> 2
        self._code_addr = self._magic_addr + 1
        super().__init__({
            "exit_valid": In(1),
            "exit_code": In(32),
            "bus_free": In(1),
            "bus": Out(BusSignature()),
            "busy": Out(1),
            "hold": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        code = Signal(32)
        m.d.comb += bus.be.eq(0b1111)
        m.d.comb += bus.we.eq(1)

        with m.FSM(init="CLEAR"):
            # After reset: magic := 0.
            with m.State("CLEAR"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(self.bus_free)]
                m.d.comb += [bus.addr.eq(self._magic_addr), bus.wdata.eq(0),
                             bus.req.eq(self.bus_free)]
                with m.If(self.bus_free & bus.gnt):
                    m.next = "CLEAR_WAIT"
            with m.State("CLEAR_WAIT"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(1)]
                with m.If(bus.rvalid):
                    m.next = "IDLE"
            with m.State("IDLE"):
                with m.If(self.exit_valid):
                    m.d.sync += code.eq(self.exit_code)
                    m.next = "CODE"
            with m.State("CODE"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(self.bus_free)]
                m.d.comb += [bus.addr.eq(self._code_addr), bus.wdata.eq(code),
                             bus.req.eq(self.bus_free)]
                with m.If(self.bus_free & bus.gnt):
                    m.next = "CODE_WAIT"
            with m.State("CODE_WAIT"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(1)]
                with m.If(bus.rvalid):
                    m.next = "MAGIC"
            with m.State("MAGIC"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(1)]
                m.d.comb += [bus.addr.eq(self._magic_addr), bus.wdata.eq(MAILBOX_MAGIC),
                             bus.req.eq(1)]
                with m.If(bus.gnt):
                    m.next = "MAGIC_WAIT"
            with m.State("MAGIC_WAIT"):
                m.d.comb += [self.hold.eq(1), self.busy.eq(1)]
                with m.If(bus.rvalid):
                    m.next = "IDLE"
        return m
