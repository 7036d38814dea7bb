"""UART: TX and RX FIFOs, status, interrupts and a divisor, behind a register port.

Register map (byte offsets from ``DURE_UART_BASE``, see :mod:`.registers`)
--------------------------------------------------------------------------
======  ===========  ====  ====================================================================
offset  name         acc.  meaning
======  ===========  ====  ====================================================================
0x00    data         R/W   write: push ``wdata[7:0]`` into the TX FIFO. While the TX FIFO is
                           full the write is held off (``gnt = 0``) until there is room, so
                           firmware may write without polling. read: pop the RX FIFO; bits
                           7..0 = the byte, bit 31 (``rx_empty``) = 1 if the FIFO was empty
                           (then the byte is 0 and nothing is popped)
0x04    status       R/W1C bit 0 ``rx_valid`` (RX FIFO not empty), 1 ``rx_full``, 2 ``tx_empty``
                           (TX FIFO empty), 3 ``tx_full``, 4 ``tx_idle`` (TX FIFO empty and
                           the last stop bit sent), 5 ``rx_overrun`` (sticky: a byte arrived
                           while the RX FIFO was full and was dropped), 6 ``rx_frame_error``
                           (sticky: a byte had a bad stop bit and was dropped). Writing 1 to
                           bit 5 or 6 clears it; other bits are read-only
0x08    irq_enable   R/W   bit 0: interrupt while ``rx_valid``; bit 1: interrupt while
                           ``tx_empty``
0x0C    irq_pending  R     ``status[2:0] & irq_enable`` rearranged: bit 0 rx_valid, bit 1
                           tx_empty (each only if enabled). ``irq`` = OR of these bits
0x10    divisor      R/W   clock cycles per bit (16 bits, >= 2; reset: the config's
                           ``uart_divisor``). Unused by the byte-port PHY
======  ===========  ====  ====================================================================

Any other offset answers with a bus error. Byte enables are honoured for ``irq_enable`` and
``divisor``; ``data`` pushes when ``be[0]`` is set. The decoding is the ``uart`` table of
:mod:`.registers` through :class:`~..bus.regbank.RegisterBank`; the FIFO side effects of
``data`` and the sticky bits of ``status`` are written here against the bank's ports.

PHY: ``"serial"`` adds the 8N1 serializer / deserializer (:mod:`.uart_phy`) on ``tx`` / ``rx``
pins for boards; ``"byte"`` (SimTop) exposes the FIFOs as byte streams instead: ``tx_data``
presents the TX FIFO's head and pops it on ``ready`` (one byte per cycle), ``rx_data`` pushes
into the RX FIFO (``ready`` = not full, so no overrun).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .registers import with_changes
from .uart_phy import UartRx, UartTx

__all__ = ["Uart"]


class Uart(wiring.Component):
    """The UART.

    Parameters
    ----------
    fifo_depth : int
        Entries in each of the TX and RX FIFOs.
    divisor : int
        Reset value of the ``divisor`` register, 2..65535.
    phy : str
        ``"serial"`` (pins ``tx``, ``rx``) or ``"byte"`` (streams ``tx_data``, ``rx_data``).
    addr_width : int
        Word-address width of the bus port.

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    irq : Out(1)
        Level interrupt: any bit of ``irq_pending``.
    tx : Out(1)
        ``phy="serial"``: the transmit line (1 when idle).
    rx : In(1)
        ``phy="serial"``: the receive line.
    tx_data : Out(stream.Signature(8))
        ``phy="byte"``: bytes the firmware sent.
    rx_data : In(stream.Signature(8))
        ``phy="byte"``: bytes for the firmware to receive.

    Latency
    -------
    Grants every cycle, except a write to ``data`` while the TX FIFO is full (held until there
    is room); responds one cycle after the grant.
    """

    def __init__(self, *, fifo_depth, divisor, phy="serial", addr_width=10):
        if not isinstance(fifo_depth, int) or fifo_depth < 1:
            raise ValueError(f"fifo_depth must be an integer >= 1, not {fifo_depth!r}")
        if not isinstance(divisor, int) or not 2 <= divisor <= 0xFFFF:
            raise ValueError(f"divisor must be an integer in 2..65535, not {divisor!r}")
        if phy not in ("serial", "byte"):
            raise ValueError(f"phy must be 'serial' or 'byte', not {phy!r}")
        self._fifo_depth = fifo_depth
        self._divisor = divisor
        self._phy = phy
        self._addr_width = addr_width
        members = {"bus": In(BusSignature(addr_width)), "irq": Out(1)}
        if phy == "serial":
            members.update(tx=Out(1, init=1), rx=In(1, init=1))
        else:
            members.update(tx_data=Out(stream.Signature(8)), rx_data=In(stream.Signature(8)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx_fifo = tx_fifo = SyncFIFO(width=8, depth=self._fifo_depth)
        m.submodules.rx_fifo = rx_fifo = SyncFIFO(width=8, depth=self._fifo_depth)
        table = with_changes("uart", divisor={"reset": self._divisor})
        m.submodules.regs = regs = RegisterBank(table, addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        fields = {reg.name: reg for reg in table}

        def bit(register, name):
            return fields[register].bit(name)

        divisor = regs.divisor.data
        irq_enable = regs.irq_enable.data
        rx_overrun = Signal()
        rx_frame_error = Signal()
        tx_idle = Signal()

        # PHY side of the FIFOs.
        if self._phy == "serial":
            m.submodules.serializer = ser = UartTx()
            m.submodules.deserializer = des = UartRx()
            m.d.comb += [
                ser.divisor.eq(divisor),
                des.divisor.eq(divisor),
                self.tx.eq(ser.tx),
                des.rx.eq(self.rx),
                ser.data.valid.eq(tx_fifo.r_rdy),
                ser.data.payload.eq(tx_fifo.r_data),
                tx_fifo.r_en.eq(ser.data.ready),
                rx_fifo.w_data.eq(des.data.payload),
                rx_fifo.w_en.eq(des.data.valid),
                tx_idle.eq(~tx_fifo.r_rdy & ser.idle),
            ]
            with m.If(des.data.valid & ~rx_fifo.w_rdy):
                m.d.sync += rx_overrun.eq(1)
            with m.If(des.frame_error):
                m.d.sync += rx_frame_error.eq(1)
        else:
            m.d.comb += [
                self.tx_data.valid.eq(tx_fifo.r_rdy),
                self.tx_data.payload.eq(tx_fifo.r_data),
                tx_fifo.r_en.eq(self.tx_data.ready),
                rx_fifo.w_data.eq(self.rx_data.payload),
                rx_fifo.w_en.eq(self.rx_data.valid),
                self.rx_data.ready.eq(rx_fifo.w_rdy),
                tx_idle.eq(~tx_fifo.r_rdy),
            ]

        status = regs.status.r_data
        m.d.comb += [
            status[bit("status", "rx_valid")].eq(rx_fifo.r_rdy),
            status[bit("status", "rx_full")].eq(~rx_fifo.w_rdy),
            status[bit("status", "tx_empty")].eq(~tx_fifo.r_rdy),
            status[bit("status", "tx_full")].eq(~tx_fifo.w_rdy),
            status[bit("status", "tx_idle")].eq(tx_idle),
            status[bit("status", "rx_overrun")].eq(rx_overrun),
            status[bit("status", "rx_frame_error")].eq(rx_frame_error),
        ]
        pending = Signal(2)
        m.d.comb += [
            pending.eq(Cat(rx_fifo.r_rdy, ~tx_fifo.r_rdy) & irq_enable),
            self.irq.eq(pending.any()),
        ]

        m.d.comb += regs.irq_pending.r_data.eq(pending)

        # data: a write pushes its byte lane 0 (held off while the TX FIFO is full), a read
        # pops the RX FIFO.
        byte = Mux(rx_fifo.r_rdy, rx_fifo.r_data, 0)
        m.d.comb += [
            regs.data.w_ready.eq(tx_fifo.w_rdy),
            tx_fifo.w_data.eq(self.bus.wdata[:8]),
            tx_fifo.w_en.eq(regs.data.w_stb & self.bus.be[0]),
            rx_fifo.r_en.eq(regs.data.r_stb),
            regs.data.r_data.eq(Cat(byte, Const(0, 23), ~rx_fifo.r_rdy)),
        ]
        # status: the sticky bits clear on a write of 1 (after the events above: clear wins).
        with m.If(regs.status.w_stb):
            with m.If(regs.status.w_data[bit("status", "rx_overrun")]):
                m.d.sync += rx_overrun.eq(0)
            with m.If(regs.status.w_data[bit("status", "rx_frame_error")]):
                m.d.sync += rx_frame_error.eq(0)
        return m
