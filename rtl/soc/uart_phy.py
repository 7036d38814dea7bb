"""UART line coding, 8N1: a serializer (TX) and a deserializer (RX) with a run-time divisor."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartTx", "UartRx"]


class UartTx(wiring.Component):
    """Serializer: one start bit (0), eight data bits LSB first, one stop bit (1).

    Members
    -------
    divisor : In(16)
        Clock cycles per bit, >= 1 (sampled at the start of every bit).
    data : In(stream.Signature(8))
        Bytes to send; ``ready`` is 1 while the line is idle and in the last cycle of a stop
        bit (so a stream of bytes goes out with no idle time between frames).
    tx : Out(1)
        The line, driven from a register; 1 when idle.
    idle : Out(1)
        Nothing is being sent.
    """

    divisor: In(16)
    data: In(stream.Signature(8))
    tx: Out(1, init=1)
    idle: Out(1)

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(10, init=0x3FF)      # tx is shreg[0]; idle shifts in ones
        bits = Signal(range(11))
        count = Signal(16)
        # The next byte is taken in the last cycle of the stop bit, so frames go back to back.
        free = Signal()
        m.d.comb += [
            free.eq((bits == 0) | ((bits == 1) & (count == 0))),
            self.idle.eq(bits == 0),
            self.data.ready.eq(free),
            self.tx.eq(shreg[0]),
        ]
        with m.If(free & self.data.valid):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))),
                bits.eq(10),
                count.eq(self.divisor - 1),
            ]
        with m.Elif(bits == 0):
            pass
        with m.Elif(count == 0):
            m.d.sync += [
                shreg.eq(Cat(shreg[1:], Const(1, 1))),
                bits.eq(bits - 1),
                count.eq(self.divisor - 1),
            ]
        with m.Else():
            m.d.sync += count.eq(count - 1)
        return m


class UartRx(wiring.Component):
    """Deserializer: finds the start bit's falling edge, samples every bit in its middle.

    A start bit that is no longer 0 at its middle is ignored as a glitch; a stop bit that is 0
    drops the byte and pulses ``frame_error``.

    Members
    -------
    divisor : In(16)
        Clock cycles per bit, >= 2.
    rx : In(1)
        The line (asynchronous: it passes a two-flop synchroniser first).
    data : Out(stream.Signature(8))
        Received bytes; ``valid`` is a one-cycle pulse per byte and ``ready`` is ignored (the
        consumer must take the byte or count an overrun).
    frame_error : Out(1)
        One-cycle pulse: a byte arrived with a bad stop bit and was dropped.
    """

    divisor: In(16)
    rx: In(1, init=1)
    data: Out(stream.Signature(8))
    frame_error: Out(1)

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        shreg = Signal(8)
        bits = Signal(range(9))
        count = Signal(16)
        m.d.comb += self.data.payload.eq(shreg)
        m.d.sync += [self.data.valid.eq(0), self.frame_error.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += count.eq((self.divisor >> 1) - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(count == 0):
                    m.d.sync += [count.eq(self.divisor - 1), bits.eq(8)]
                    m.next = "DATA"
                    with m.If(rx):
                        m.next = "IDLE"
                with m.Else():
                    m.d.sync += count.eq(count - 1)
            with m.State("DATA"):
                with m.If(count == 0):
                    m.d.sync += [
                        shreg.eq(Cat(shreg[1:], rx)),
                        bits.eq(bits - 1),
                        count.eq(self.divisor - 1),
                    ]
                    with m.If(bits == 1):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += count.eq(count - 1)
            with m.State("STOP"):
                with m.If(count == 0):
                    m.d.sync += [self.data.valid.eq(rx), self.frame_error.eq(~rx)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += count.eq(count - 1)
        return m
