"""NPU register block: the bus target of the ``npu`` region (:class:`~.commands.Register`).

Register behaviour beyond :class:`~.commands.Register`'s table:

* Byte enables are honoured by CONTROL, DMA_BASE, DMA_SIZE and CMD0..7; a STATUS write clears
  the W1C bits set in the enabled bytes; any write to DOORBELL pushes the staged descriptor
  (CMD0..7 keep their values, so a similar command needs only the changed words rewritten).
* Writes to read-only registers are ignored; reads of write-only registers (CMD*, DOORBELL)
  return 0. Offsets not in the table answer with a bus error.
* ERROR holds the first failure (refusal or BUS_ERROR) since STATUS.error was last cleared;
  a failure in the cycle that clears the bit is recorded.
* PERF_*_LO reads latch that counter's upper half, returned by the next PERF_*_HI read
  (each counter has its own latch).
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.bytes import merge_bytes
from ..bus.signature import BusSignature
from .commands import (
    ID_MAGIC,
    PERF_COUNTERS,
    SEQ_BITS,
    Control,
    ErrorCode,
    Register,
    Status,
    config_word,
)
from .descriptor import DESCRIPTOR_LAYOUT

__all__ = ["NpuRegisters"]


def _word(register):
    return Register[register].value // 4 if isinstance(register, str) else register.value // 4


class NpuRegisters(wiring.Component):
    """Registers, descriptor staging and doorbell of the NPU.

    Parameters
    ----------
    config : SoCConfig
        For the CONFIG register.
    addr_width : int
        Word-address width of the bus port (the decoder strips the region base).

    Members
    -------
    bus : In(BusSignature(addr_width))
        Register port.
    push : Out(stream.Signature(DESCRIPTOR_LAYOUT))
        The staged descriptor, offered while a DOORBELL write waits for its grant (the grant
        is ``push.ready``).
    queue_full, busy : In(1)
        STATUS.queue_full and STATUS.busy.
    err_valid, err_code, err_seq, fence_irq, retired : In
        Events from the dispatcher (see :class:`~.dispatch.Dispatcher`).
    perf : In(ArrayLayout(64, 8))
        Counter values in :data:`PERF_COUNTERS` order.
    perf_clear : Out(1)
        One-cycle pulse when CONTROL is written with bit ``perf_clear`` set.
    dma_base, dma_size : Out(32)
        The DMA window registers (reset 0: empty window).
    irq : Out(1)
        ``(STATUS.error & CONTROL.irq_error) | (STATUS.fence_irq & CONTROL.irq_fence)``.

    Latency
    -------
    Grants every request at once except a DOORBELL write while the queue is full (held until
    there is room); responds one cycle after the grant.
    """

    def __init__(self, config, *, addr_width=14):
        self._config = config
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "push": Out(stream.Signature(DESCRIPTOR_LAYOUT)),
            "queue_full": In(1),
            "busy": In(1),
            "err_valid": In(1),
            "err_code": In(ErrorCode),
            "err_seq": In(SEQ_BITS),
            "fence_irq": In(1),
            "retired": In(3),
            "perf": In(data.ArrayLayout(64, len(PERF_COUNTERS))),
            "perf_clear": Out(1),
            "dma_base": Out(32),
            "dma_size": Out(32),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        staged = Signal(DESCRIPTOR_LAYOUT)
        irq_error = Signal()
        irq_fence = Signal()
        st_error = Signal()
        st_fence = Signal()
        error = Signal(32)
        issued = Signal(SEQ_BITS)
        done = Signal(SEQ_BITS)
        hi_latch = Signal(data.ArrayLayout(32, len(PERF_COUNTERS)))

        doorbell = bus.req & bus.we & (bus.addr == _word("DOORBELL"))
        m.d.comb += [
            self.push.valid.eq(doorbell),
            self.push.payload.eq(staged),
            bus.gnt.eq(~doorbell | self.push.ready),
        ]
        granted = bus.req & bus.gnt
        with m.If(self.push.valid & self.push.ready):
            m.d.sync += issued.eq(issued + 1)
        m.d.sync += done.eq(done + self.retired)

        # Sticky status bits: W1C writes first, events after (an event wins).
        w1c = Signal(32)
        m.d.comb += w1c.eq(merge_bytes(Const(0, 32), bus.wdata, bus.be))
        clear = granted & bus.we & (bus.addr == _word("STATUS"))
        clear_error = clear & w1c[Status.ERROR.value.bit_length() - 1]
        clear_fence = clear & w1c[Status.FENCE_IRQ.value.bit_length() - 1]
        with m.If(clear_error):
            m.d.sync += st_error.eq(0)
        with m.If(clear_fence):
            m.d.sync += st_fence.eq(0)
        with m.If(self.err_valid & (~st_error | clear_error)):
            m.d.sync += [st_error.eq(1), error.eq(Cat(self.err_code, Const(0, 4), self.err_seq))]
        with m.If(self.fence_irq):
            m.d.sync += st_fence.eq(1)
        m.d.comb += self.irq.eq((st_error & irq_error) | (st_fence & irq_fence))

        # Reads and writes.
        rvalid = Signal()
        rdata = Signal(32)
        err = Signal()
        m.d.sync += rvalid.eq(granted)
        perf_clear = Signal()
        m.d.comb += self.perf_clear.eq(perf_clear)
        bit = {flag: flag.value.bit_length() - 1 for flag in (*Control, *Status)}
        with m.If(granted):
            m.d.sync += [rdata.eq(0), err.eq(0)]
            with m.Switch(bus.addr):
                with m.Case(_word("ID")):
                    m.d.sync += rdata.eq(ID_MAGIC)
                with m.Case(_word("CONFIG")):
                    m.d.sync += rdata.eq(config_word(self._config))
                with m.Case(_word("STATUS")):
                    status = Signal(32)
                    m.d.comb += [status[bit[Status.BUSY]].eq(self.busy),
                                 status[bit[Status.QUEUE_FULL]].eq(self.queue_full),
                                 status[bit[Status.ERROR]].eq(st_error),
                                 status[bit[Status.FENCE_IRQ]].eq(st_fence)]
                    m.d.sync += rdata.eq(status)
                with m.Case(_word("CONTROL")):
                    control = Signal(32)
                    m.d.comb += [control[bit[Control.IRQ_ERROR]].eq(irq_error),
                                 control[bit[Control.IRQ_FENCE]].eq(irq_fence)]
                    m.d.sync += rdata.eq(control)
                    with m.If(bus.we):
                        new = merge_bytes(control, bus.wdata, bus.be)
                        m.d.sync += [irq_error.eq(new[bit[Control.IRQ_ERROR]]),
                                     irq_fence.eq(new[bit[Control.IRQ_FENCE]])]
                        m.d.comb += perf_clear.eq(new[bit[Control.PERF_CLEAR]])
                for name, reg in (("DMA_BASE", self.dma_base), ("DMA_SIZE", self.dma_size)):
                    with m.Case(_word(name)):
                        m.d.sync += rdata.eq(reg)
                        with m.If(bus.we):
                            m.d.sync += reg.eq(merge_bytes(reg, bus.wdata, bus.be))
                with m.Case(_word("ERROR")):
                    m.d.sync += rdata.eq(error)
                with m.Case(_word("ISSUED")):
                    m.d.sync += rdata.eq(issued)
                with m.Case(_word("DONE")):
                    m.d.sync += rdata.eq(done)
                for i in range(len(staged)):
                    with m.Case(_word(f"CMD{i}")):
                        with m.If(bus.we):
                            m.d.sync += staged[i].eq(merge_bytes(staged[i], bus.wdata, bus.be))
                with m.Case(_word("DOORBELL")):
                    pass
                for i, name in enumerate(PERF_COUNTERS):
                    with m.Case(_word(f"PERF_{name}_LO")):
                        m.d.sync += rdata.eq(self.perf[i][:32])
                        with m.If(~bus.we):
                            m.d.sync += hi_latch[i].eq(self.perf[i][32:])
                    with m.Case(_word(f"PERF_{name}_HI")):
                        m.d.sync += rdata.eq(hi_latch[i])
                with m.Default():
                    m.d.sync += err.eq(1)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.err.eq(err)]
        return m
