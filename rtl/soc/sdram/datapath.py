"""Data path of the SDRAM controller: write beats out, read beats in, responses in order."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SdramDatapath"]


class SdramDatapath(wiring.Component):
    """Splits written words into two 16-bit beats, joins read beats into words, and answers
    every access a fixed number of cycles after its command.

    Parameters
    ----------
    cas_latency : int
        CAS latency of the chip.
    read_delay : int
        Cycles the read data reaches ``dq_i`` later than ``cas_latency`` cycles after the
        READ on the pins: > 0 for I/O registers on the board, -1 when the chip's clock is the
        inverted system clock (its data comes half a cycle early and is caught a cycle early).

    Members
    -------
    issue, issue_we : In(1), In(1)
        A READ (``issue_we = 0``) or WRITE is decided in this cycle; its command reaches the
        pins in the next cycle.
    wdata, be : In(32), In(4)
        The write's data and byte enables, with ``issue``.
    dq_o, dq_oe, dqm : Out(16), Out(1), Out(2)
        Data pins, registered: the low half-word with the WRITE command, the high half-word in
        the cycle after; ``dqm`` masks the bytes whose enable is 0.
    dq_i : In(16)
        Data pins in.
    rvalid, rdata : Out(1), Out(32)
        The response of each access, in order.

    Latency
    -------
    Every response comes ``cas_latency + 3 + read_delay`` cycles after ``issue``: the
    command register, CAS latency, two beats, and the capture register.
    """

    def __init__(self, *, cas_latency, read_delay=0):
        if not isinstance(read_delay, int) or read_delay < -1:
            raise ValueError(f"read_delay must be an integer >= -1, not {read_delay!r}")
        self._cl, self._read_delay = cas_latency, read_delay
        self.latency = cas_latency + 3 + read_delay
        super().__init__({
            "issue": In(1),
            "issue_we": In(1),
            "wdata": In(32),
            "be": In(4),
            "dq_o": Out(16),
            "dq_oe": Out(1),
            "dqm": Out(2),
            "dq_i": In(16),
            "rvalid": Out(1),
            "rdata": Out(32),
        })

    def elaborate(self, platform):
        m = Module()

        high = Signal(16)
        high_mask = Signal(2)
        second_beat = Signal()
        m.d.sync += [self.dq_oe.eq(0), self.dqm.eq(0), second_beat.eq(0)]
        with m.If(self.issue & self.issue_we):
            m.d.sync += [
                self.dq_o.eq(self.wdata[:16]),
                self.dq_oe.eq(1),
                self.dqm.eq(~self.be[:2]),
                high.eq(self.wdata[16:]),
                high_mask.eq(~self.be[2:]),
                second_beat.eq(1),
            ]
        with m.If(second_beat):
            m.d.sync += [self.dq_o.eq(high), self.dq_oe.eq(1), self.dqm.eq(high_mask)]

        # Beats: the newest in `beat1`, the one before in `beat0`.
        beat0 = Signal(16)
        beat1 = Signal(16)
        m.d.sync += [beat1.eq(self.dq_i), beat0.eq(beat1)]

        pending = Signal(self.latency)
        m.d.sync += pending.eq(Cat(self.issue, pending[:-1]))
        m.d.comb += [
            self.rvalid.eq(pending[-1]),
            self.rdata.eq(Cat(beat0, beat1)),
        ]
        return m
