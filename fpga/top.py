"""The board top level: clock and reset, the SoC with the boot loader in its ROM, the exit
mailbox, UART pins, LEDs and buttons. One class for every board; :mod:`.boards` says which pins.

Main memory is on-chip (block RAM or SPRAM, ``config.main_size`` bytes behind the SoC's
main-memory model), or with ``config.main_kind == "sdram"`` (the ULX3S) the board's SDRAM
behind the SoC's SDRAM controller, whose pins are joined here to the board's ``sdram``
resource (:class:`dure.rtl.soc.sdram.SdramIO`).

NPU hook: the NPU lives inside :class:`dure.rtl.soc.soc.Soc` (its register region is reserved
in the memory map), so when it lands there every board gets it with no change here; the ULX3S
preset leaves most of the ECP5's block RAM free for its scratchpad and accumulators.
"""

from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib import io, wiring
from dure.rtl.soc.sdram import SdramIO
from dure.rtl.soc.soc import Soc

from .clocking import ClockReset
from .mailbox import ExitMailbox

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """Everything that goes into one board's bitstream.

    Parameters
    ----------
    board : Board
        The target (:data:`dure.fpga.boards.BOARDS`).
    rom_init : sequence of int
        Words of the boot ROM (the boot loader, :func:`dure.fpga.bootrom.boot_words`).
    config : SoCConfig, optional
        Overrides the board's preset (tests).
    """

    def __init__(self, board, rom_init, *, config=None):
        self.board = board
        self.config = config or board.config
        if not self.config.rom_size:
            raise ValueError(f"variant {self.config.name!r} has no boot ROM (rom_size = 0); "
                             "boards need one for the boot loader")
        self.rom_init = tuple(rom_init)

    def elaborate(self, platform):
        m = Module()
        board, config = self.board, self.config
        m.domains.sync = ClockDomain("sync")       # clock and reset come from ClockReset

        clk = platform.request(board.clock, 0, dir="-")
        f_in = int(platform.lookup(board.clock, 0).clock.frequency)
        m.submodules.crg = crg = ClockReset(board.family, clk, f_in=f_in, f_out=config.clk_freq)
        if board.reset is not None:
            m.submodules.reset_button = button = io.Buffer(
                "i", platform.request(*board.reset, dir="-"))
            m.d.comb += crg.button.eq(button.i)

        m.submodules.soc = soc = Soc(config, uart_phy="serial", rom_init=self.rom_init,
                                     fpga_primitives=True)
        m.submodules.mailbox = mailbox = ExitMailbox(config)
        wiring.connect(m, mailbox.bus, soc.ext)
        m.d.comb += [
            mailbox.bus_free.eq(1),            # the mailbox is the only other initiator
            mailbox.exit_valid.eq(soc.exit_valid),
            mailbox.exit_code.eq(soc.exit_code),
            soc.hold.eq(mailbox.hold),
        ]

        if config.main_kind == "sdram":
            m.submodules.sdram_io = sdram_io = SdramIO(platform.request("sdram", 0, dir="-"))
            wiring.connect(m, soc.sdram, sdram_io.pins)

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.d.comb += [tx.o.eq(soc.uart_tx), soc.uart_rx.eq(rx.i)]

        requested = {}
        for bit, (name, number, *sub) in enumerate(board.leds[:config.gpio_width]):
            key = (name, number)
            if key not in requested:
                requested[key] = platform.request(name, number, dir="-")
            port = getattr(requested[key], sub[0]) if sub else requested[key]   # RGB: r, g, b
            m.submodules[f"led_{bit}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(soc.gpio_out[bit])
        for bit, (name, number) in enumerate(board.buttons[:config.gpio_width]):
            m.submodules[f"button_{bit}"] = button = io.Buffer(
                "i", platform.request(name, number, dir="-"))
            m.d.comb += soc.gpio_in[bit].eq(button.i)
        for index, (name, number, sub) in enumerate(board.tie_high):
            port = getattr(platform.request(name, number, dir="-"), sub)
            m.submodules[f"tie_high_{index}"] = tie = io.Buffer("o", port)
            m.d.comb += tie.o.eq(1)
        return m
