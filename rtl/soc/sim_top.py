"""SimTop: the Verilog top level the simulator builds (ports as sim/harness.cpp drives them)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..core.rvfi import RVFISignature
from .soc import Soc

__all__ = ["SimTop", "harness_members", "connect_harness_io", "READ_BACK_MEMBERS"]


def harness_members(config):
    """The members every top the simulator harness drives has (see :class:`SimTop`): the
    hold / loader port, the byte UART, the test exit, GPIO and the retirement trace."""
    return {
        "hold": In(1),
        "load_valid": In(1),
        "load_ready": Out(1),
        "load_addr": In(32),
        "load_data": In(32),
        "uart_tx_valid": Out(1),
        "uart_tx_data": Out(8),
        "uart_rx_valid": In(1),
        "uart_rx_ready": Out(1),
        "uart_rx_data": In(8),
        "exit_valid": Out(1),
        "exit_code": Out(32),
        "gpio_out": Out(config.gpio_width),
        "gpio_in": In(config.gpio_width),
        "rvfi": Out(RVFISignature()),
    }


def connect_harness_io(m, top, soc):
    """Wire a harness top's byte UART (TX drains one byte per cycle), GPIO and retirement trace
    to a :class:`~.soc.Soc` built with ``uart_phy="byte"``."""
    m.d.comb += [
        top.uart_tx_valid.eq(soc.uart_tx.valid),
        top.uart_tx_data.eq(soc.uart_tx.payload),
        soc.uart_tx.ready.eq(1),
        soc.uart_rx.valid.eq(top.uart_rx_valid),
        soc.uart_rx.payload.eq(top.uart_rx_data),
        top.uart_rx_ready.eq(soc.uart_rx.ready),
        top.gpio_out.eq(soc.gpio_out),
        soc.gpio_in.eq(top.gpio_in),
    ]
    wiring.connect(m, soc.rvfi, wiring.flipped(top.rvfi))


#: The read-back port :class:`SimTop` adds to :func:`harness_members`.
READ_BACK_MEMBERS = {
    "read_valid": In(1),
    "read_ready": Out(1),
    "read_addr": In(32),
    "read_rvalid": Out(1),
    "read_rdata": Out(32),
    "read_err": Out(1),
}


class SimTop(wiring.Component):
    """The SoC with a byte-port UART and a program loader, for Verilator.

    Parameters
    ----------
    config : SoCConfig
        The variant.
    sim_memories : bool
        On-chip RAM and main memory as the simulation-only Verilog primitive (see
        :mod:`.sim_memory`); the Verilator builds use it, Amaranth-simulator tests do not.

    Members
    -------
    hold : In(1)
        While 1 the core is held in reset (memories and peripherals run). The core also stays
        in reset until every word accepted on the loader port has been written, so the harness
        may drop ``hold`` right after the last ``load_valid & load_ready``.
    load_valid : In(1)
    load_ready : Out(1)
        Registered (does not depend on ``load_valid``); 1 whenever the two-entry loader queue
        has room, so one word per cycle is sustained into on-chip RAM.
    load_addr : In(32)
        Byte address, word aligned (bits 1..0 ignored).
    load_data : In(32)
        The word, written whole into RAM, main memory or the boot ROM on ``valid & ready``
        (through the SoC's ``ext`` bus port; a write elsewhere goes to whatever the address
        maps to, so the harness checks addresses first with ``config.loadable()``).
    read_valid : In(1)
    read_ready : Out(1)
    read_addr : In(32)
        Read-back port (an extension of the contract's loader, used while ``hold`` is 1, e.g.
        after the program exited): one word read through the same ``ext`` bus port on
        ``read_valid & read_ready``. Byte address, word aligned (bits 1..0 ignored); the harness
        checks addresses first. ``read_ready`` may depend on ``read_valid`` and ``read_addr``
        (it is the bus grant). Reads and loader writes are never in flight together: either
        waits until the other's responses are back.
    read_rvalid : Out(1)
    read_rdata : Out(32)
    read_err : Out(1)
        One response per accepted read, in order, at the earliest one cycle after it;
        ``read_err`` is 1 when the bus answered err.
    uart_tx_valid : Out(1)
    uart_tx_data : Out(8)
        One cycle per byte the firmware transmits (the TX FIFO drains one byte per cycle).
    uart_rx_valid : In(1)
    uart_rx_ready : Out(1)
    uart_rx_data : In(8)
        Bytes pushed into the UART RX FIFO on ``valid & ready``.
    exit_valid : Out(1)
    exit_code : Out(32)
        One-cycle pulse and value of a write to the test-exit register.
    gpio_out : Out(config.gpio_width)
    gpio_in : In(config.gpio_width)
    rvfi : Out(RVFISignature())
        The core's retirement trace (``rvfi__valid``, ``rvfi__insn``, ... in Verilog).
    """

    def __init__(self, config, *, sim_memories=False):
        self._config = config
        self._sim_memories = bool(sim_memories)
        super().__init__({**harness_members(config), **READ_BACK_MEMBERS})

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = Soc(self._config, uart_phy="byte",
                                      sim_memories=self._sim_memories)

        # Loader: a two-entry queue in front of the SoC's extra initiator port. Read-back
        # requests use the same port when no loader word is queued; `reading` is the kind of
        # the requests in flight, and the other kind waits until they have all been answered.
        m.submodules.load_queue = queue = SyncFIFO(width=62, depth=2)
        outstanding = Signal(range(64))
        reading = Signal()
        idle = outstanding == 0
        write_turn = queue.r_rdy & (idle | ~reading)
        read_turn = ~queue.r_rdy & self.read_valid & (idle | reading)
        m.d.comb += [
            self.load_ready.eq(queue.w_rdy),
            queue.w_en.eq(self.load_valid),
            queue.w_data.eq(Cat(self.load_addr[2:], self.load_data)),
            soc.ext.be.eq(0b1111),
        ]
        with m.If(write_turn):
            m.d.comb += [
                soc.ext.req.eq(1),
                soc.ext.addr.eq(queue.r_data[:30]),
                soc.ext.wdata.eq(queue.r_data[30:]),
                soc.ext.we.eq(1),
                queue.r_en.eq(soc.ext.gnt),
            ]
        with m.Elif(read_turn):
            m.d.comb += [
                soc.ext.req.eq(1),
                soc.ext.addr.eq(self.read_addr[2:]),
                self.read_ready.eq(soc.ext.gnt),
            ]
        with m.If(soc.ext.req & soc.ext.gnt):
            m.d.sync += reading.eq(read_turn)
        m.d.comb += [
            self.read_rvalid.eq(soc.ext.rvalid & reading),
            self.read_rdata.eq(soc.ext.rdata),
            self.read_err.eq(soc.ext.err),
        ]
        m.d.sync += outstanding.eq(outstanding + (soc.ext.req & soc.ext.gnt) - soc.ext.rvalid)
        m.d.comb += soc.hold.eq(self.hold | queue.r_rdy | (outstanding != 0))

        connect_harness_io(m, self, soc)
        m.d.comb += [
            self.exit_valid.eq(soc.exit_valid),
            self.exit_code.eq(soc.exit_code),
        ]
        return m
