"""The SoC: core, bus fabric, memories and peripherals, wired after the config's memory map.

Bus topology
------------
::

    (core.ibus and core.dbus pass through the hold gate first, then with soc_grant_buffers
     through a grant buffer each)
    core.ibus --> ibus decoder (executable regions only) --+--> RAM port A
                                                           +--> ROM port A (if rom_size)
                                                           +--> main arbiter, initiator 0
                                                           +--> (anything else: err =
                                                                 instruction access fault)
    core.dbus --+--> dbus arbiter --> dbus decoder (every region)
    ext --------+                      +--> RAM arbiter initiator 0, ROM port B,
                                       +--> main arbiter initiator 1,
                                       +--> CLINT, UART, GPIO, test exit, irq controller,
                                       +--> INT8 dot-product unit (only with dot_unit),
                                       +--> NPU registers (err when npu_rows = 0),
                                       +--> (unmapped: err)
    npu.dma ----> DMA decoder --+--> main arbiter initiator 2
                                +--> RAM arbiter initiator 1
                                +--> (anything else: err)
    (with npu_list_port the NPU's LIST fetcher has a decoder of its own:
    npu.list ---> list decoder -+--> joins the DMA's main path (2-way round-robin, DMA first)
                                +--> joins the DMA's RAM path (the same)
                                +--> (anything else: err))
    dot.mem ----> main arbiter, the initiator after the DMAs (only with dot_unit)
    (with soc_main_slices the core's two paths to main memory pass a register slice each
     before the main arbiter; with soc_parked_arbiters the dbus and RAM arbiters present
     the request of an owner register, home the core; with soc_periph_slices the CLINT,
     UART, GPIO, test exit, irq controller and dot-product unit sit behind a register slice
     each; with soc_late_ram_writes the RAM writes port B's requests a cycle after their
     grant, from registers: LateWriteRam; with soc_irq_regs the core's interrupt inputs
     pass a flip-flop each; with soc_hold_regs the core's reset comes from a flip-flop)
    main arbiter (round-robin) --> main-memory model (or the SDRAM controller)
    RAM arbiter (round-robin) --> RAM port B

With ``config.npu_tiles`` = K > 1 there are K NPUs (``npu``, ``npu1``, ...), each a dbus target
at its own region and each with its own DMA decoder: tile t's DMA is RAM arbiter initiator
1 + t, and main arbiter initiator 2 + t (``main_bandwidth="shared"``: everyone on the one
main-memory port) or, with ``"scaled"``, main-memory port t of its own (tile 0 stays main arbiter
initiator 2, beside the core). A counter block (``tiles``, :class:`.tile_counters.TileCounters`)
counts each tile's DMA cycles of waiting for a grant. Tile t's interrupt is irq source
:func:`.registers.npu_irq` (t).

The core's instruction and data ports reach the on-chip RAM through separate ports, so they
never contend there (with ``config.ram_kind`` ``"spram"`` or ``"single"`` the RAM has one port
and they take turns, :class:`.single_port_ram.SinglePortRam`); they share main memory through a
round-robin arbiter, together with the NPU's DMA. The DMA gets every main-memory grant the
core does not ask for, so it streams at the memory's full bandwidth while the core runs from
on-chip RAM. The NPU's interrupt is source 1 of the irq controller.
"""

from amaranth.hdl import Cat, Const, Module, ResetInserter
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.arbiter import Arbiter
from ..bus.decoder import Decoder
from ..bus.error import ErrorResponder
from ..bus.grant_buffer import GrantBuffer
from ..bus.register_slice import RegisterSlice
from ..bus.signature import BusSignature
from ..core.rvfi import RVFISignature
from ..npu.npu import Npu
from .clint import Clint
from .cpu import make_core
from .dot_unit import DotUnit
from .gpio import Gpio
from .hold import HoldGate
from .irq import IrqController
from .late_write_ram import LateWriteRam
from .main_memory import MainMemory
from .ram import Ram
from .registers import IRQ_SOURCES, irq_source_count, npu_irq
from .sdram import SdramController, SdramPinSignature, part
from .single_port_ram import SinglePortRam
from .test_exit import TestExit
from .tile_counters import TileCounters
from .uart import Uart

__all__ = ["Soc"]


#: The dbus targets that ``soc_periph_slices`` puts behind a register slice each (not the
#: memories, not the NPUs' registers).
_PERIPHERALS = ("clint", "uart", "gpio", "test_exit", "irq", "dot")


def _width(region):
    return max(1, (region.size // 4).bit_length() - 1)


class Soc(wiring.Component):
    """The whole SoC for one :class:`dure.config.SoCConfig`.

    Parameters
    ----------
    config : SoCConfig
        The variant: memory sizes, main-memory timing, UART, GPIO width.
    uart_phy : str
        ``"serial"`` (8N1 pins, for boards) or ``"byte"`` (byte streams, for SimTop).
    rom_init, ram_init, main_init : iterable of int
        Initial words of the boot ROM, the on-chip RAM and main memory.
    sim_memories : bool
        Build on-chip RAM and main memory as the simulation-only Verilog primitive of
        :mod:`.sim_memory` (fast to generate; Verilator only; no ``ram_init``/``main_init``).
    fpga_primitives : bool
        Build the memories the config puts in SPRAM (``ram_kind`` / ``main_kind``) from
        ``SB_SPRAM256KA`` instances (iCE40UP5K bitstreams; no ``ram_init``/``main_init`` for
        them). Otherwise they are behavioural models with the same port behaviour.
    sdram_clk_freq : int, optional
        Only with ``config.main_kind == "sdram"``: the clock frequency in Hz the SDRAM
        controller's timing is rounded to (default ``config.clk_freq``). The simulated ULX3S
        runs at a slow nominal clock but its controller keeps the board's real clock, so the
        cycle counts are the board's.
    npu_factory : callable, optional
        Builds each NPU tile instead of :class:`~dure.rtl.npu.npu.Npu`: called as
        ``npu_factory(config, addr_width=w)``, it returns a component with Npu's members
        ``bus`` (``In(BusSignature(w))``), ``dma`` (``Out(BusSignature())``) and ``irq``
        (``Out(1)``), wired exactly where the NPU would be. For measurements that keep the
        fabric but not the NPU (``fpga/soc_fmax.py``). Ignored without an NPU.

    Members
    -------
    hold : In(1)
        While 1 the core is held in reset (through :class:`.hold.HoldGate`, which also keeps it
        off the bus and in reset until its orphan responses have drained); memories and
        peripherals keep running, boot-ROM writes are allowed (through ``ext``).
    ext : In(BusSignature())
        An extra bus initiator (program loader, debug link) sharing the data-side fabric with
        the core's data port through a round-robin arbiter; it reaches every region.
    uart_tx : Out(1) or Out(stream.Signature(8))
        Serial line, or (``uart_phy="byte"``) the bytes the firmware sends.
    uart_rx : In(1) or In(stream.Signature(8))
        Serial line, or (``uart_phy="byte"``) bytes for the firmware.
    sdram : Out(SdramPinSignature())
        Only with ``config.main_kind == "sdram"``: the SDRAM pins of main memory
        (:class:`.sdram.SdramController`; a board connects them with :class:`.sdram.SdramIO`).
    gpio_out : Out(config.gpio_width)
    gpio_in : In(config.gpio_width)
    exit_valid : Out(1)
        One-cycle pulse when the firmware writes the test-exit register.
    exit_code : Out(32)
        The value written.
    rvfi : Out(RVFISignature())
        The core's retirement trace.

    Latency
    -------
    The fabric adds no cycles: on-chip RAM answers one cycle after the grant on both core
    ports, main memory ``config.main_latency`` cycles after the grant.
    """

    def __init__(self, config, *, uart_phy="serial", rom_init=(), ram_init=(), main_init=(),
                 sim_memories=False, fpga_primitives=False, sdram_clk_freq=None,
                 npu_factory=None):
        if npu_factory is not None and not callable(npu_factory):
            raise TypeError(f"npu_factory must be callable, not {npu_factory!r}")
        self._npu_factory = npu_factory or Npu
        if uart_phy not in ("serial", "byte"):
            raise ValueError(f"uart_phy must be 'serial' or 'byte', not {uart_phy!r}")
        if rom_init and not config.rom_size:
            raise ValueError("rom_init given but the variant has no boot ROM (rom_size = 0)")
        self._config = config
        self._uart_phy = uart_phy
        self._inits = {"rom": tuple(rom_init), "ram": tuple(ram_init), "main": tuple(main_init)}
        self._sim_memories = bool(sim_memories)
        self._fpga_primitives = bool(fpga_primitives)
        if sdram_clk_freq is not None and config.main_kind != "sdram":
            raise ValueError("sdram_clk_freq is only for a variant with main_kind 'sdram'")
        self._sdram_clk_freq = config.clk_freq if sdram_clk_freq is None else sdram_clk_freq
        if uart_phy == "serial":
            uart = {"uart_tx": Out(1, init=1), "uart_rx": In(1, init=1)}
        else:
            uart = {"uart_tx": Out(stream.Signature(8)), "uart_rx": In(stream.Signature(8))}
        sdram = {}
        if config.main_kind == "sdram":
            if main_init:
                raise ValueError("the SDRAM has no initial contents; load them")
            chip = part(config.sdram_part)
            sdram = {"sdram": Out(SdramPinSignature(addr_pins=chip.addr_pins,
                                                    bank_bits=chip.bank_bits))}
        super().__init__({
            "hold": In(1),
            "ext": In(BusSignature()),
            **uart,
            **sdram,
            "gpio_out": Out(config.gpio_width),
            "gpio_in": In(config.gpio_width),
            "exit_valid": Out(1),
            "exit_code": Out(32),
            "rvfi": Out(RVFISignature()),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        regions = {region.name: region for region in config.regions}

        core = make_core(config.core, reset_vector=config.reset_vector,
                         pmp_entries=config.pmp_entries, triggers=config.triggers)
        m.submodules.hold_gate = gate = HoldGate(registered=config.soc_hold_regs)
        m.d.comb += gate.hold.eq(self.hold)
        m.submodules.core = ResetInserter(gate.core_reset)(core)
        wiring.connect(m, core.ibus, gate.ibus)
        wiring.connect(m, core.dbus, gate.dbus)
        wiring.connect(m, core.rvfi, wiring.flipped(self.rvfi))

        # Fabric.
        depth = {"max_outstanding": config.bus_outstanding} if config.bus_outstanding else {}
        m.submodules.ibus_decoder = ibus = Decoder(
            [r for r in config.regions if r.executable], **depth)
        parked = {"parked": True} if config.soc_parked_arbiters else {}
        m.submodules.dbus_arbiter = dbus_arbiter = Arbiter(2, **depth, **parked)
        m.submodules.dbus_decoder = dbus = Decoder(config.regions, **depth)
        ibus_out, dbus_out = gate.ibus_out, gate.dbus_out
        if config.soc_grant_buffers:
            # The core's grants from a register (timing only: no cycle while the fabric grants).
            m.submodules.ibus_grant = ibus_grant = GrantBuffer()
            m.submodules.dbus_grant = dbus_grant = GrantBuffer()
            wiring.connect(m, ibus_out, ibus_grant.up)
            wiring.connect(m, dbus_out, dbus_grant.up)
            ibus_out, dbus_out = ibus_grant.down, dbus_grant.down
        wiring.connect(m, ibus_out, ibus.bus)
        wiring.connect(m, dbus_out, dbus_arbiter.port(0))
        wiring.connect(m, wiring.flipped(self.ext), dbus_arbiter.port(1))
        wiring.connect(m, dbus_arbiter.bus, dbus.bus)

        # Memories.
        if config.ram_kind in ("spram", "single"):
            # "single": the same one-port RAM in block RAM (a bitstream's too, not SPRAM).
            backing = ("spram" if self._fpga_primitives and config.ram_kind == "spram" else
                       "sim_primitive" if self._sim_memories else "memory")
            m.submodules.ram = ram = SinglePortRam(config.ram_size, init=self._inits["ram"],
                                                   backing=backing)
        elif config.soc_late_ram_writes:
            m.submodules.ram = ram = LateWriteRam(config.ram_size, init=self._inits["ram"],
                                                  sim_primitive=self._sim_memories)
        else:
            m.submodules.ram = ram = Ram(config.ram_size, init=self._inits["ram"],
                                         sim_primitive=self._sim_memories)
        wiring.connect(m, ibus.targets.ram, ram.a)
        has_npu = bool(config.npu_rows)
        if has_npu:
            ram_width = _width(regions["ram"])
            m.submodules.ram_arbiter = ram_arbiter = Arbiter(1 + config.npu_tiles,
                                                             addr_width=ram_width, **depth,
                                                             **parked)
            wiring.connect(m, dbus.targets.ram, ram_arbiter.port(0))
            wiring.connect(m, ram_arbiter.bus, ram.b)
        else:
            wiring.connect(m, dbus.targets.ram, ram.b)
        if config.rom_size:
            m.submodules.rom = rom = Ram(config.rom_size, init=self._inits["rom"],
                                         read_only=True)
            wiring.connect(m, ibus.targets.rom, rom.a)
            wiring.connect(m, dbus.targets.rom, rom.b)
            m.d.comb += rom.write_enable.eq(self.hold)
        main_width = _width(regions["main"])
        tiles = config.npu_tiles if has_npu else 0
        ports = config.main_ports
        # Port 0 of main memory: the core's two ports and, with one port, every tile's DMA;
        # with "scaled" bandwidth tile t > 0 owns port t alone.
        port0_dmas = tiles if ports == 1 else min(tiles, 1)
        dot_port = 2 + port0_dmas       # the dot-product unit's reader, after the DMAs
        m.submodules.main_arbiter = main_arbiter = Arbiter(dot_port + config.dot_unit, **depth,
                                                           addr_width=main_width)
        if config.main_kind == "sdram":
            # Boards clock the chip with the inverted system clock (SdramIO).
            m.submodules.main = main = SdramController(part(config.sdram_part),
                                                       clk_freq=self._sdram_clk_freq,
                                                       chip_clock_inverted=True)
            wiring.connect(m, main.pins, wiring.flipped(self.sdram))
        else:
            m.submodules.main = main = MainMemory(
                config.main_size, latency=config.main_latency,
                bytes_per_cycle=config.main_bytes_per_cycle, init=self._inits["main"],
                sim_primitive=self._sim_memories,
                spram=config.main_kind == "spram" and self._fpga_primitives,
                **({"ports": ports} if ports > 1 else {}))
        for index, core_port in enumerate((ibus.targets.main, dbus.targets.main)):
            if config.soc_main_slices:
                # One cycle more per core access to main memory: the core's request logic
                # stops at the slice's registers.
                m.submodules[f"main_slice{index}"] = main_slice = RegisterSlice(main_width)
                wiring.connect(m, core_port, main_slice.up)
                core_port = main_slice.down
            wiring.connect(m, core_port, main_arbiter.port(index))
        wiring.connect(m, main_arbiter.bus, main.bus)

        # Peripherals.
        m.submodules.clint = clint = Clint(_width(regions["clint"]), bits=config.clint_bits)
        m.submodules.uart = uart = Uart(
            fifo_depth=config.uart_fifo_depth, divisor=config.uart_divisor,
            phy=self._uart_phy, addr_width=_width(regions["uart"]))
        m.submodules.gpio = gpio = Gpio(config.gpio_width, addr_width=_width(regions["gpio"]))
        m.submodules.test_exit = test_exit = TestExit(_width(regions["test_exit"]))
        m.submodules.irq = irq = IrqController(irq_source_count(config.npu_tiles),
                                               addr_width=_width(regions["irq"]))
        targets = [("clint", clint), ("uart", uart), ("gpio", gpio), ("test_exit", test_exit),
                   ("irq", irq)]
        if config.dot_unit:
            m.submodules.dot = dot = DotUnit(_width(regions["dot"]), mem_addr_width=main_width)
            wiring.connect(m, dot.mem, main_arbiter.port(dot_port))
            targets.append(("dot", dot))
        sources = [Const(0, 1)] * irq_source_count(config.npu_tiles)
        sources[IRQ_SOURCES["uart"]] = uart.irq
        if has_npu:
            npus = self._npu_tiles(m, config, regions, dbus, main, main_arbiter, ram_arbiter)
            for t, npu in enumerate(npus):
                targets.append((config.npu_region_name(t), npu))
                sources[npu_irq(t)] = npu.irq
        else:
            m.submodules.npu = npu = ErrorResponder(_width(regions["npu"]))
            targets.append(("npu", npu))
        sliced = _PERIPHERALS if config.soc_periph_slices else ()
        for name, target in targets:
            port = getattr(dbus.targets, name)
            if name in sliced:
                # One cycle more per access: the core's request stops at the slice.
                m.submodules[f"{name}_slice"] = periph_slice = RegisterSlice(len(port.addr))
                wiring.connect(m, port, periph_slice.up)
                port = periph_slice.down
            wiring.connect(m, port, target.bus)

        lines = ((core.irq_software, clint.irq_software), (core.irq_timer, clint.irq_timer),
                 (core.irq_external, irq.irq_external))
        for core_line, line in lines:
            # soc_irq_regs: one cycle later, from a flip-flop (the peripherals' state off
            # the core's trap and request logic).
            domain = m.d.sync if config.soc_irq_regs else m.d.comb
            domain += core_line.eq(line)
        m.d.comb += [
            irq.sources.eq(Cat(*sources)),
            core.mtime.eq(clint.mtime),
            self.gpio_out.eq(gpio.gpio_out),
            gpio.gpio_in.eq(self.gpio_in),
            self.exit_valid.eq(test_exit.exit_valid),
            self.exit_code.eq(test_exit.exit_code),
        ]
        if self._uart_phy == "serial":
            m.d.comb += [self.uart_tx.eq(uart.tx), uart.rx.eq(self.uart_rx)]
        else:
            wiring.connect(m, uart.tx_data, wiring.flipped(self.uart_tx))
            wiring.connect(m, wiring.flipped(self.uart_rx), uart.rx_data)
        return m

    def _npu_tiles(self, m, config, regions, dbus, main, main_arbiter, ram_arbiter):
        """The NPU tiles, each with its DMA decoder onto main memory and the RAM arbiter; with
        several tiles also the ``tiles`` counter block. Returns the tiles in order."""
        npus = []
        tiles = config.npu_tiles
        counters = None
        if tiles > 1:
            m.submodules.tile_counters = counters = TileCounters(
                tiles, addr_width=_width(regions["tiles"]))
            wiring.connect(m, dbus.targets.tiles, counters.bus)
        for t in range(tiles):
            suffix = "" if t == 0 else str(t)
            npu = self._npu_factory(config,
                                    addr_width=_width(regions[config.npu_region_name(t)]))
            dma = Decoder([regions["main"], regions["ram"]])
            m.submodules[f"npu{suffix}"] = npu
            m.submodules[f"dma_decoder{suffix}"] = dma
            if config.npu_dma_slice:
                m.submodules[f"dma_slice{suffix}"] = dma_slice = RegisterSlice()
                wiring.connect(m, npu.dma, dma_slice.up)
                wiring.connect(m, dma_slice.down, dma.bus)
            else:
                wiring.connect(m, npu.dma, dma.bus)
            dma_main, dma_ram = dma.targets.main, dma.targets.ram
            if config.npu_list_port:
                dma_main, dma_ram = self._list_path(m, suffix, npu, dma_main, dma_ram)
            if config.main_ports == 1:
                wiring.connect(m, dma_main, main_arbiter.port(2 + t))
            elif t == 0:
                wiring.connect(m, dma_main, main_arbiter.port(2))
            else:
                wiring.connect(m, dma_main, main.port(t))
            wiring.connect(m, dma_ram, ram_arbiter.port(1 + t))
            if counters is not None:
                m.d.comb += [counters.req[t].eq(npu.dma.req), counters.gnt[t].eq(npu.dma.gnt)]
            npus.append(npu)
        return npus

    def _list_path(self, m, suffix, npu, dma_main, dma_ram):
        """``config.npu_list_port``: the tile's LIST fetcher (``npu.list``) through a decoder
        of its own onto main memory and on-chip RAM, each beside the DMA's path there behind a
        round-robin arbiter (the DMA initiator 0, the fetcher 1; no cycle added). Returns the
        merged (main, ram) paths that take the DMA's places on the SoC's arbiters."""
        config = self._config
        regions = {region.name: region for region in config.regions}
        fetch = Decoder([regions["main"], regions["ram"]])
        m.submodules[f"list_decoder{suffix}"] = fetch
        wiring.connect(m, npu.list, fetch.bus)
        merged = []
        for name, dma_path in (("main", dma_main), ("ram", dma_ram)):
            # as deep as the DMA's decoder: the join never throttles the DMA's stream
            join = Arbiter(2, addr_width=_width(regions[name]), max_outstanding=32)
            m.submodules[f"{name}_join{suffix}"] = join
            wiring.connect(m, dma_path, join.port(0))
            wiring.connect(m, getattr(fetch.targets, name), join.port(1))
            merged.append(join.bus)
        return tuple(merged)
