"""fmax of a board's SoC without its NPU on the ECP5-85F (speed grade 6): the control core with
the whole bus fabric of the board, placed and routed out of context (issue 15).

The core alone (:mod:`.core_fmax`) ties its grants to 1, so Yosys removes every path that
ends in the core's reaction to a grant; on the board those paths run through the hold gate,
the grant buffers, the data-bus arbiter (shared with the boot link), the decoders and the RAM
and main-memory arbiters (shared with the NPU's DMA, main memory granted by the SDRAM
controller). :class:`SocNoNpuTop` keeps all of them and leaves out only the NPU's own logic,
which takes most of the board and an hour to route:

* :class:`~dure.rtl.soc.soc.Soc` of the board's variant (``ulx3s`` by default: its options,
  memories, SDRAM controller, peripherals), with the boot ROM, as :class:`~dure.fpga.top.
  BoardTop` builds it;
* the exit mailbox on the ``ext`` port (the board's other ``dbus`` initiator);
* in each NPU tile's place :class:`NpuStandIn`: a register target on the data bus and a DMA
  initiator that streams requests (read or write, to main memory or RAM, as the core
  programs it) through the same slice, DMA decoder and arbiters as the NPU's DMA.

The board's pins are the top's ports (UART, GPIO, SDRAM): out of context nextpnr times no
path from or to a port, as on the board, where the SDRAM controller registers its pins.

:func:`measure_soc` runs Yosys and nextpnr (``router1`` as the ULX3S's flow; ~10-20 min on
the shared machine); ``dure bench-cpu --fmax-only --soc [VARIANT]`` prints it.
"""

from dataclasses import replace

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from dure.rtl.npu.npu import npu_ports
from dure.rtl.soc.soc import Soc

from dure.config import SoCConfig, preset
from dure.errors import UserError

from .mailbox import ExitMailbox

__all__ = ["NpuStandIn", "SocNoNpuTop", "measure_soc", "soc_config"]


class NpuStandIn(wiring.Component):
    """Stands in for an NPU tile in :class:`~dure.rtl.soc.soc.Soc`: its bus ports only.

    Registers (word offsets on ``bus``; reads and writes granted at once, answered one cycle
    later, writes take whole words):

    * 0 ``ADDR``: word address of the next DMA request (30 bits), advances by one per grant;
    * 1 ``COUNT``: requests left; writing it starts that many requests (read: still left);
    * 2 ``DATA``: the write data pattern (a request writes ``DATA ^ ADDR``); read: the XOR of
      every read response's data since reset;
    * 3 ``WRITE``: bit 0: the requests write (1) or read (0); read: bit 0 as written, bit 1
      a response with ``err`` was seen.

    The DMA holds every request stable until it is granted and accepts every response.
    ``irq`` is 1 while ``COUNT`` is 0 and ``WRITE`` bit 0 is set (a level, as an NPU's).

    Parameters
    ----------
    config : SoCConfig
        The variant (unused; the Npu's constructor signature).
    addr_width : int
        Word-address width of ``bus``, at least 2.

    Members
    -------
    bus : In(BusSignature(addr_width))
    dma : Out(BusSignature())
    list : Out(BusSignature())
        Only with ``config.npu_list_port`` (as the NPU's): never requests.
    irq : Out(1)
    """

    def __init__(self, config=None, *, addr_width=10):
        if not isinstance(addr_width, int) or addr_width < 2:
            self._MustUse__silence = True       # refused: never elaborated, no warning
            raise ValueError(f"addr_width must be an integer >= 2, not {addr_width!r}")
        self._list_port = bool(config is not None and config.npu_list_port)
        super().__init__(npu_ports(addr_width, list_port=self._list_port))

    def elaborate(self, platform):
        m = Module()
        bus, dma = self.bus, self.dma
        if self._list_port:
            m.d.comb += self.list.req.eq(0)     # the LIST fetcher's port: idle
        addr, count, data, write = Signal(30), Signal(16), Signal(32), Signal()
        sum_, err_seen = Signal(32), Signal()
        m.d.comb += [
            dma.req.eq(count != 0), dma.addr.eq(addr), dma.we.eq(write),
            dma.be.eq(0b1111), dma.wdata.eq(data ^ addr),
            self.irq.eq((count == 0) & write),
        ]
        with m.If(dma.req & dma.gnt):
            m.d.sync += [addr.eq(addr + 1), count.eq(count - 1)]
        with m.If(dma.rvalid):
            m.d.sync += [sum_.eq(sum_ ^ dma.rdata), err_seen.eq(err_seen | dma.err)]

        rvalid, rdata = Signal(), Signal(32)
        reg = bus.addr[:2]
        m.d.comb += [bus.gnt.eq(1), bus.rvalid.eq(rvalid), bus.rdata.eq(rdata),
                     bus.err.eq(0)]
        m.d.sync += rvalid.eq(bus.req)
        with m.If(bus.req):
            with m.Switch(reg):
                with m.Case(0):
                    m.d.sync += rdata.eq(addr)
                with m.Case(1):
                    m.d.sync += rdata.eq(count)
                with m.Case(2):
                    m.d.sync += rdata.eq(sum_)
                with m.Case(3):
                    m.d.sync += rdata.eq(write | err_seen << 1)
            with m.If(bus.we):
                with m.Switch(reg):
                    with m.Case(0):
                        m.d.sync += addr.eq(bus.wdata[:30])
                    with m.Case(1):
                        m.d.sync += count.eq(bus.wdata[:16])
                    with m.Case(2):
                        m.d.sync += data.eq(bus.wdata)
                    with m.Case(3):
                        m.d.sync += write.eq(bus.wdata[0])
        return m


class SocNoNpuTop(wiring.Component):
    """The measured design: a board's :class:`~dure.rtl.soc.soc.Soc` with
    :class:`NpuStandIn` for its NPU and the exit mailbox on ``ext`` (module docstring).

    Parameters
    ----------
    config : SoCConfig
        A variant with a boot ROM and an NPU (the stand-in takes the NPU's place).

    Members
    -------
    uart_rx : In(1)
    uart_tx : Out(1)
    gpio_in, gpio_out : In / Out(config.gpio_width)
    sdram : Out(SdramPinSignature()), only with ``config.main_kind == "sdram"``
    """

    def __init__(self, config):
        if not isinstance(config, SoCConfig) or not config.rom_size or not config.npu_rows:
            self._MustUse__silence = True       # refused: never elaborated, no warning
        if not isinstance(config, SoCConfig):
            raise TypeError(f"config must be a SoCConfig, not {config!r}")
        if not config.rom_size or not config.npu_rows:
            raise ValueError(f"variant {config.name!r} needs a boot ROM and an NPU (whose "
                             "place the stand-in takes)")
        self._config = config
        self._soc = Soc(config, uart_phy="serial", fpga_primitives=True,
                        npu_factory=NpuStandIn)
        members = {
            "uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
            "gpio_in": In(config.gpio_width), "gpio_out": Out(config.gpio_width),
        }
        if config.main_kind == "sdram":
            members["sdram"] = self._soc.signature.members["sdram"]
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config = self._config
        m.submodules.soc = soc = self._soc
        m.submodules.mailbox = mailbox = ExitMailbox(config)
        wiring.connect(m, mailbox.bus, soc.ext)
        m.d.comb += [
            mailbox.bus_free.eq(1),
            mailbox.exit_valid.eq(soc.exit_valid),
            mailbox.exit_code.eq(soc.exit_code),
            soc.hold.eq(mailbox.hold),
            self.uart_tx.eq(soc.uart_tx), soc.uart_rx.eq(self.uart_rx),
            self.gpio_out.eq(soc.gpio_out), soc.gpio_in.eq(self.gpio_in),
        ]
        if config.main_kind == "sdram":
            wiring.connect(m, soc.sdram, wiring.flipped(self.sdram))
        return m


def soc_config(variant="ulx3s", options=()):
    """The variant's :class:`~dure.config.SoCConfig` with ``options`` (pairs ``(name,
    value)``, e.g. ``("soc_grant_buffers", False)``) replaced; :class:`~dure.errors.
    UserError` for an unknown variant or field or a value the config refuses."""
    try:
        config = preset(variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    fields = SoCConfig.__dataclass_fields__
    changes = {}
    for name, value in options:
        if name not in fields or name == "name":
            raise UserError(f"unknown SoC option {name!r}")
        changes[name] = value
    try:
        return replace(config, **changes)
    except (TypeError, ValueError) as error:
        raise UserError(f"variant {variant!r} with {dict(changes)}: {error}") from None


def measure_soc(config, *, freq=100, seed=1, router="router1", keep=None, route=True,
                log=print):
    """Synthesise and place (and route) :class:`SocNoNpuTop` of ``config`` for the
    LFE5U-85F, speed grade 6; returns a :class:`~dure.fpga.core_fmax.FmaxResult` (as
    :func:`~dure.fpga.core_fmax.measure`)."""
    from amaranth.back import verilog

    from .core_fmax import place_and_route
    text = verilog.convert(SocNoNpuTop(config), name="soc_top", emit_src=False)
    return place_and_route(text, "soc_top", what=f"the {config.name} SoC without its NPU",
                           freq=freq, seed=seed, router=router, keep=keep, route=route,
                           log=log)
