"""NPU register block: the bus target of the ``npu`` region (:class:`~.commands.Register`).

Register behaviour beyond :class:`~.commands.Register`'s table:

* Byte enables are honoured by CONTROL, DMA_BASE, DMA_SIZE and CMD0..7; a STATUS write clears
  the W1C bits set in the enabled bytes; any write to DOORBELL pushes the staged descriptor
  (CMD0..7 keep their values, so a similar command needs only the changed words rewritten).
* Writes to read-only registers are ignored; reads of write-only registers (CMD*, DOORBELL)
  return 0. Offsets not in the table answer with a bus error.
* ERROR holds the first failure (refusal or BUS_ERROR) since STATUS.error was last cleared;
  a failure in the cycle that clears the bit is recorded. ERROR_INDEX is written with it.
* ISSUED grows by 1 per DOORBELL push, by ``count + 1`` for a LIST (word 2 bits 15:0).
* PERF_*_LO reads latch that counter's upper half, returned by the next PERF_*_HI read
  (each counter has its own latch).

The decoding comes from :func:`register_table` through :class:`~..bus.regbank.RegisterBank`
(which holds DMA_BASE, DMA_SIZE and the staged CMD words); the side effects above are written
here against the bank's ports.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.regbank import Register as BankRegister
from ..bus.regbank import RegisterBank
from ..bus.signature import BusSignature
from .commands import (
    DESCRIPTOR_WORDS,
    ID_MAGIC,
    PERF_COUNTERS,
    SEQ_BITS,
    Control,
    ErrorCode,
    Opcode,
    Register,
    Status,
    config_word,
)
from .descriptor import DESCRIPTOR_LAYOUT, FIELDS

__all__ = ["NpuRegisters", "register_table"]


#: Access of each register of :class:`~.commands.Register` (see its docstring); bank
#: storage for the plain read/write and staging registers, the rest is held here.
_ACCESS = {
    "ID": "r", "CONFIG": "r", "STATUS": "rw1c", "CONTROL": "rw", "DMA_BASE": "rw",
    "DMA_SIZE": "rw", "ERROR": "r", "ISSUED": "r", "DONE": "r", "ERROR_INDEX": "r",
    "DOORBELL": "w",
    **{f"CMD{i}": "w" for i in range(DESCRIPTOR_WORDS)},
    **{f"PERF_{name}_{half}": "r" for name in PERF_COUNTERS for half in ("LO", "HI")},
}
_STORAGE = {"DMA_BASE", "DMA_SIZE", *(f"CMD{i}" for i in range(DESCRIPTOR_WORDS))}


def register_table():
    """The NPU's registers as a :class:`~..bus.regbank.Register` table (port names are the
    :class:`~.commands.Register` names in lower case)."""
    return tuple(BankRegister(reg.name.lower(), reg.value, _ACCESS[reg.name],
                              storage=reg.name in _STORAGE, stall=reg.name == "DOORBELL")
                 for reg in Register)


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
    err_valid, err_code, err_seq, err_index, fence_irq, retired : In
        Events from the dispatcher (see :class:`~.dispatch.Dispatcher`); ``err_index`` 0xFFFF
        reads as ERROR_INDEX 0xFFFF_FFFF.
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
        self._addr_width = addr_width
        super().__init__({
            "bus": In(BusSignature(addr_width)),
            "push": Out(stream.Signature(DESCRIPTOR_LAYOUT)),
            "queue_full": In(1),
            "busy": In(1),
            "err_valid": In(1),
            "err_code": In(ErrorCode),
            "err_seq": In(SEQ_BITS),
            "err_index": In(16),
            "fence_irq": In(1),
            "retired": In(17),
            "perf": In(data.ArrayLayout(64, len(PERF_COUNTERS))),
            "perf_clear": Out(1),
            "dma_base": Out(32),
            "dma_size": Out(32),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = RegisterBank(register_table(), addr_width=self._addr_width)
        wiring.connect(m, wiring.flipped(self.bus), bank.bus)

        irq_error = Signal()
        irq_fence = Signal()
        st_error = Signal()
        st_fence = Signal()
        error = Signal(32)
        error_index = Signal(32, init=0xFFFF_FFFF)
        issued = Signal(SEQ_BITS)
        done = Signal(SEQ_BITS)
        hi_latch = Signal(data.ArrayLayout(32, len(PERF_COUNTERS)))
        bit = {flag: flag.value.bit_length() - 1 for flag in (*Control, *Status)}

        # DOORBELL: the staged words are offered while the write waits for its grant.
        m.d.comb += [
            self.push.valid.eq(bank.doorbell.w_req),
            self.push.payload.eq(Cat(getattr(bank, f"cmd{i}").data
                                     for i in range(DESCRIPTOR_WORDS))),
            bank.doorbell.w_ready.eq(self.push.ready),
        ]
        # A LIST takes count + 1 sequence numbers (commands.py, LIST).
        pushed = self.push.payload
        count_field = FIELDS[Opcode.LIST]["count"]
        list_extra = Mux(pushed[0][:4] == Opcode.LIST.value,
                         pushed[count_field.word][:count_field.width], 0)
        with m.If(self.push.valid & self.push.ready):
            m.d.sync += issued.eq(issued + 1 + list_extra)
        m.d.sync += done.eq(done + self.retired)

        # Sticky status bits: W1C writes first, events after (an event wins).
        clear_error = bank.status.w_stb & bank.status.w_data[bit[Status.ERROR]]
        clear_fence = bank.status.w_stb & bank.status.w_data[bit[Status.FENCE_IRQ]]
        with m.If(clear_error):
            m.d.sync += st_error.eq(0)
        with m.If(clear_fence):
            m.d.sync += st_fence.eq(0)
        with m.If(self.err_valid & (~st_error | clear_error)):
            m.d.sync += [st_error.eq(1), error.eq(Cat(self.err_code, Const(0, 4), self.err_seq)),
                         error_index.eq(Mux(self.err_index == 0xFFFF, 0xFFFF_FFFF,
                                            self.err_index))]
        with m.If(self.fence_irq):
            m.d.sync += st_fence.eq(1)
        m.d.comb += self.irq.eq((st_error & irq_error) | (st_fence & irq_fence))

        status = bank.status.r_data
        control = bank.control.r_data
        m.d.comb += [
            bank.id.r_data.eq(ID_MAGIC),
            bank.config.r_data.eq(config_word(self._config)),
            status[bit[Status.BUSY]].eq(self.busy),
            status[bit[Status.QUEUE_FULL]].eq(self.queue_full),
            status[bit[Status.ERROR]].eq(st_error),
            status[bit[Status.FENCE_IRQ]].eq(st_fence),
            control[bit[Control.IRQ_ERROR]].eq(irq_error),
            control[bit[Control.IRQ_FENCE]].eq(irq_fence),
            bank.error.r_data.eq(error),
            bank.issued.r_data.eq(issued),
            bank.done.r_data.eq(done),
            bank.error_index.r_data.eq(error_index),
            self.dma_base.eq(bank.dma_base.data),
            self.dma_size.eq(bank.dma_size.data),
        ]
        # CONTROL: irq enables held here; perf_clear pulses with the write.
        with m.If(bank.control.w_stb):
            new = bank.control.w_data
            m.d.sync += [irq_error.eq(new[bit[Control.IRQ_ERROR]]),
                         irq_fence.eq(new[bit[Control.IRQ_FENCE]])]
        m.d.comb += self.perf_clear.eq(bank.control.w_stb & bank.control.w_data[
            bit[Control.PERF_CLEAR]])

        # PERF_*: a LO read latches the upper half for the HI read.
        for i, name in enumerate(PERF_COUNTERS):
            lo = getattr(bank, f"perf_{name.lower()}_lo")
            hi = getattr(bank, f"perf_{name.lower()}_hi")
            m.d.comb += [lo.r_data.eq(self.perf[i][:32]), hi.r_data.eq(hi_latch[i])]
            with m.If(lo.r_stb):
                m.d.sync += hi_latch[i].eq(self.perf[i][32:])
        return m
