"""A stand-in for SimTop with the same ports, for testing the simulator harness on its own.

The toy has no CPU. After ``hold`` falls it walks the words it was loaded with, from the reset
vector upwards, one word per cycle, and treats the top byte of each as a command:

=====  =====================================================================
0x01   send the low byte on the UART
0x02   write the low 24 bits to the test-exit register
0x03   wait for one UART input byte and send it back
0x04   report a trapping instruction on the retirement port
0x05   spin here forever (no retirement)
other  retire as a no-op
=====  =====================================================================

Every executed word except 0x05 is reported on the retirement port (``rvfi``). The loader port
is ready only every other cycle, to exercise the harness's handshake.
"""

from amaranth import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from dure.rtl.soc.sim_top import harness_members

__all__ = ["ToyTop"]

_DEPTH = 1024


class ToyTop(wiring.Component):
    """Toy stand-in for ``SimTop``; same ports as in the simulator contract."""

    def __init__(self, config):
        self._config = config
        super().__init__(harness_members(config))

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32, depth=_DEPTH, init=[])
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")

        toggle = Signal()
        m.d.sync += toggle.eq(~toggle)
        m.d.comb += [
            self.load_ready.eq(toggle),
            wr.addr.eq(self.load_addr[2:]),
            wr.data.eq(self.load_data),
            wr.en.eq(self.load_valid & self.load_ready & self.hold),
        ]

        pc = Signal(32, init=self._config.reset_vector)
        word = rd.data
        op = word[24:32]
        m.d.comb += [
            rd.addr.eq(pc[2:]),
            self.gpio_out.eq(self.gpio_in),
            self.rvfi.insn.eq(word),
            self.rvfi.pc_rdata.eq(pc),
            self.rvfi.pc_wdata.eq(pc + 4),
            self.rvfi.rd_wdata.eq(0),
            self.rvfi.mem_addr.eq(Const(0x1234_5678, 32)),
        ]
        step = Signal()
        with m.If(self.hold):
            m.d.sync += pc.eq(self._config.reset_vector)
        with m.Else():
            with m.Switch(op):
                with m.Case(0x01):
                    m.d.comb += [
                        self.uart_tx_valid.eq(1),
                        self.uart_tx_data.eq(word[:8]),
                        step.eq(1),
                    ]
                with m.Case(0x02):
                    m.d.comb += [
                        self.exit_valid.eq(1),
                        self.exit_code.eq(word[:24]),
                        step.eq(1),
                    ]
                with m.Case(0x03):
                    m.d.comb += self.uart_rx_ready.eq(1)
                    with m.If(self.uart_rx_valid):
                        m.d.comb += [
                            self.uart_tx_valid.eq(1),
                            self.uart_tx_data.eq(self.uart_rx_data),
                            step.eq(1),
                        ]
                with m.Case(0x04):
                    m.d.comb += [self.rvfi.trap.eq(1), step.eq(1)]
                with m.Case(0x05):
                    pass
                with m.Default():
                    m.d.comb += [self.rvfi.rd_addr.eq(word[:5]), step.eq(1)]
            with m.If(step):
                m.d.comb += self.rvfi.valid.eq(1)
                m.d.sync += pc.eq(pc + 4)
        return m
