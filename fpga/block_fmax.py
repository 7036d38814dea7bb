"""fmax of one block of the ULX3S SoC alone on the ECP5-85F (speed grade 6): the NPU, its parts
and the SDRAM controller, each behind a scan wrapper, placed and routed out of context.

A block with hundreds of ports cannot go on pins, and ports left open let Yosys remove the
logic behind them. :class:`ScanTop` feeds every input bit of the block from one shift register
(``scan_in`` shifted in every cycle: every input comes from a flip-flop, as from a registered
neighbour in the SoC) and captures every output bit into a second one (``capture`` loads the
outputs, otherwise the register shifts towards ``scan_out``), so every input is controllable
and every output observable, with one LUT level or none on the wrapper's side of the block's
paths. The block's paths from its input registers to its output ports end in a flip-flop of
the wrapper: a path that would go on through a neighbour in the SoC is cut there, so a block's
figure is an upper bound for the same paths in the whole design (which also routes longer).

:data:`BLOCKS` names what can be measured; :func:`measure_block` runs the tools
(:func:`~dure.fpga.core_fmax.place_and_route`); ``dure bench-fpga-block`` (``make
bench-npu-fmax``) prints the figures.
"""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BLOCKS", "ScanTop", "block", "measure_block"]


def _leaves(component):
    """``(inputs, outputs)``: the block's port values of each direction, in signature order."""
    inputs, outputs = [], []
    for _path, member, value in component.signature.flatten(component):
        (inputs if member.flow == In else outputs).append(Value.cast(value))
    return inputs, outputs


class ScanTop(wiring.Component):
    """``block`` (a ``wiring.Component`` in the ``sync`` domain) with its ports on two scan
    chains.

    Members
    -------
    scan_in : In(1)
        Shifted into the input chain every cycle; the block's inputs are that chain's bits.
    capture : In(1)
        1: the output chain loads the block's outputs; 0: it shifts towards ``scan_out``.
    scan_out : Out(1)
        The last bit of the output chain.
    """

    scan_in: In(1)
    capture: In(1)
    scan_out: Out(1)

    def __init__(self, block):
        if not isinstance(block, wiring.Component):
            self._MustUse__silence = True       # refused: never elaborated, no warning
            raise TypeError(f"block must be a wiring.Component, not {block!r}")
        self._block = block
        inputs, outputs = _leaves(block)
        self.input_bits = sum(len(v) for v in inputs)
        self.output_bits = sum(len(v) for v in outputs)
        if not self.input_bits or not self.output_bits:
            self._MustUse__silence = True
            raise ValueError("the block needs at least one input and one output bit")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self._block
        inputs, outputs = _leaves(block)
        chain_in = Signal(self.input_bits)
        m.d.sync += chain_in.eq(Cat(self.scan_in, chain_in[:-1]))
        offset = 0
        for value in inputs:
            m.d.comb += value.eq(chain_in[offset:offset + len(value)])
            offset += len(value)
        outs = Cat(*outputs)
        chain_out = Signal(self.output_bits)
        with m.If(self.capture):
            m.d.sync += chain_out.eq(outs)
        with m.Else():
            m.d.sync += chain_out.eq(Cat(chain_out[1:], 0))
        m.d.comb += self.scan_out.eq(chain_out[0])
        return m


def _npu(config):
    from dure.rtl.npu.npu import Npu
    return Npu(config)


def _soc_command_options(config):
    """The ordering options the SoC's :class:`~dure.rtl.npu.npu.Npu` gives its command path:
    the ones its :class:`~dure.rtl.npu.datapath.NpuDatapath` states (the store unit orders the
    ACC rows, ``npu_load_follow``, the element-wise hand-over ``npu_eltwise_handover``), so
    a block measures the dispatcher the board builds."""
    from dure.rtl.npu.datapath import NpuDatapath
    return {"exec_orders_acc": True, "store_orders_acc": NpuDatapath.store_orders_acc,
            "load_follows": config.npu_load_follow,
            "eltwise_handover": config.npu_eltwise_handover}


def _control(config):
    from dure.rtl.npu.control import NpuControl
    return NpuControl(config, **_soc_command_options(config))


def _datapath(config):
    from dure.rtl.npu.datapath import NpuDatapath
    return NpuDatapath(config)


def _dispatcher(config):
    from dure.rtl.npu.dispatch import Dispatcher
    return Dispatcher(config, exec_depth=config.npu_exec_depth,
                      hazard_regs=config.npu_hazard_regs, **_soc_command_options(config))


def _validator(config):
    from dure.rtl.npu.validate import Validator
    return Validator(config)


def _store(config):
    from dure.rtl.npu.store_unit import StoreUnit
    return StoreUnit(config)


def _exec(config):
    from dure.rtl.npu.exec_unit import ExecUnit
    return ExecUnit(config)


def _load(config):
    from dure.rtl.npu.load_unit import LoadUnit
    return LoadUnit(config)


def _eltwise(config):
    from dure.rtl.npu.eltwise_unit import EltwiseUnit
    return EltwiseUnit(config)


def _dma(config):
    from dure.rtl.npu.datapath import dma_depth, load_row_bytes, store_row_bytes
    from dure.rtl.npu.dma import Dma
    return Dma(load_row_bytes(config), store_row_bytes(config), depth=dma_depth(config),
               side_slices=config.npu_dma_side_slices)


def _array(config):
    from dure.rtl.npu.array import SystolicArray
    return SystolicArray(config.npu_rows, config.npu_cols, fp16=config.npu_fp16,
                         gather=config.npu_gather)


def _pe(config):
    from dure.rtl.npu.pe import ProcessingElement
    return ProcessingElement(fp16=config.npu_fp16)


def _sdram(config):
    from dure.rtl.soc.sdram import IS42S16160G_7, SdramController
    return SdramController(IS42S16160G_7, clk_freq=config.clk_freq, chip_clock_inverted=True)


class NpuMemoryPath(wiring.Component):
    """The NPU's DMA and the bus fabric between it and the ULX3S's memories, wired as
    :class:`~dure.rtl.soc.soc.Soc` wires them: :class:`~dure.rtl.npu.dma.Dma` (with
    ``npu_dma_side_slices`` its reader / writer slices) -> the NPU's
    arbiter (port 1: ``fetch``, the LIST fetcher's) -> (with ``npu_dma_slice`` the register
    slice) -> the DMA decoder (main memory, RAM) ->
    the main-memory arbiter (ports 0 and 1: ``ibus`` / ``dbus``, the core's) -> the SDRAM
    controller, and the RAM arbiter (port 0: ``ram_dbus``) -> the RAM. Every handshake of
    that chain is combinational (``gnt`` from the target back to the initiator), so this
    block shows the paths that cross the NPU / fabric / controller boundary.

    Members
    -------
    dma_ports : the Dma's command and data streams (``rd_cmd`` ... ``wr_bytes``)
    fetch, ibus, dbus, ram_dbus : In(BusSignature)
        The other initiators of the arbiters.
    pins : Out(SdramPinSignature)
        The SDRAM controller's pins.
    """

    def __init__(self, config):
        from dure.rtl.bus.signature import BusSignature
        from dure.rtl.npu.datapath import dma_depth, load_row_bytes, store_row_bytes
        from dure.rtl.npu.dma import Dma
        from dure.rtl.soc.sdram import IS42S16160G_7, SdramController

        self._config = config
        self._dma = Dma(load_row_bytes(config), store_row_bytes(config),
                        depth=dma_depth(config), side_slices=config.npu_dma_side_slices)
        self._sdram = SdramController(IS42S16160G_7, clk_freq=config.clk_freq,
                                      chip_clock_inverted=True)
        regions = {region.name: region for region in config.regions}
        self._regions = regions
        members = {name: member for name, member in self._dma.signature.members.items()
                   if name != "bus"}
        members.update({
            "fetch": In(BusSignature()),
            "ibus": In(BusSignature(self._width(regions["main"]))),
            "dbus": In(BusSignature(self._width(regions["main"]))),
            "ram_dbus": In(BusSignature(self._width(regions["ram"]))),
            "pins": Out(self._sdram.signature.members["pins"].signature),
        })
        super().__init__(members)

    @staticmethod
    def _width(region):
        return max(1, (region.size // 4).bit_length() - 1)

    def elaborate(self, platform):
        from dure.rtl.bus.arbiter import Arbiter
        from dure.rtl.bus.decoder import Decoder
        from dure.rtl.npu.datapath import dma_depth
        from dure.rtl.soc.ram import Ram

        m = Module()
        config, regions = self._config, self._regions
        m.submodules.dma = dma = self._dma
        for name, member in dma.signature.members.items():
            if name == "bus":
                continue
            ours, theirs = getattr(self, name), getattr(dma, name)
            if member.is_signature:
                wiring.connect(m, wiring.flipped(ours), theirs)
            elif member.flow == In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        m.submodules.npu_arbiter = npu_arb = Arbiter(
            2, max_outstanding=2 * dma_depth(config) + 32)
        wiring.connect(m, dma.bus, npu_arb.port(0))
        wiring.connect(m, wiring.flipped(self.fetch), npu_arb.port(1))
        m.submodules.dma_decoder = decoder = Decoder([regions["main"], regions["ram"]])
        if config.npu_dma_slice:
            from dure.rtl.bus.register_slice import RegisterSlice
            m.submodules.dma_slice = dma_slice = RegisterSlice()
            wiring.connect(m, npu_arb.bus, dma_slice.up)
            wiring.connect(m, dma_slice.down, decoder.bus)
        else:
            wiring.connect(m, npu_arb.bus, decoder.bus)
        depth = {"max_outstanding": config.bus_outstanding} if config.bus_outstanding else {}
        m.submodules.main_arbiter = main_arb = Arbiter(
            3, addr_width=self._width(regions["main"]), **depth)
        wiring.connect(m, wiring.flipped(self.ibus), main_arb.port(0))
        wiring.connect(m, wiring.flipped(self.dbus), main_arb.port(1))
        wiring.connect(m, decoder.targets.main, main_arb.port(2))
        m.submodules.sdram = sdram = self._sdram
        wiring.connect(m, main_arb.bus, sdram.bus)
        wiring.connect(m, sdram.pins, wiring.flipped(self.pins))
        m.submodules.ram_arbiter = ram_arb = Arbiter(
            2, addr_width=self._width(regions["ram"]), **depth)
        wiring.connect(m, wiring.flipped(self.ram_dbus), ram_arb.port(0))
        wiring.connect(m, decoder.targets.ram, ram_arb.port(1))
        m.submodules.ram = ram = Ram(config.ram_size)
        wiring.connect(m, ram_arb.bus, ram.b)
        return m


def _memory_path(config):
    return NpuMemoryPath(config)


#: Blocks by name: ``(what it is, factory taking the SoCConfig)``, built as the SoC builds them.
BLOCKS = {
    "npu": ("the whole NPU (Npu)", _npu),
    "npu-control": ("command path: registers, queue, dispatcher, validator, counters",
                    _control),
    "npu-datapath": ("datapath: memories, DMA, array, load / exec / store / eltwise", _datapath),
    "dispatcher": ("dispatcher with its validator and hazard scoreboard", _dispatcher),
    "validator": ("descriptor validator", _validator),
    "store": ("STORE unit with its post-processing", _store),
    "exec": ("COMPUTE unit", _exec),
    "load": ("LOAD unit", _load),
    "eltwise": ("element-wise unit", _eltwise),
    "dma": ("DMA reader and writer", _dma),
    "array": ("systolic array", _array),
    "pe": ("one processing element", _pe),
    "sdram": ("SDRAM controller (IS42S16160G, chip clock inverted)", _sdram),
    "npu-memory": ("the NPU's DMA, the arbiters and decoder to main memory and RAM, the "
                   "SDRAM controller and the RAM", _memory_path),
}


def block(name, config):
    """The block called ``name`` (a key of :data:`BLOCKS`) built for ``config``."""
    if name not in BLOCKS:
        raise ValueError(f"unknown block {name!r}; choose from {', '.join(BLOCKS)}")
    if name != "sdram" and not config.npu_rows:
        raise ValueError(f"variant {config.name!r} has no NPU")
    return BLOCKS[name][1](config)


def measure_block(name, config, *, freq=100, seed=1, keep=None, route=True, log=print):
    """Synthesise and place (and route) block ``name`` of ``config`` in a :class:`ScanTop`;
    returns a :class:`~dure.fpga.core_fmax.FmaxResult` (as
    :func:`~dure.fpga.core_fmax.measure`)."""
    from amaranth.back import verilog

    from .core_fmax import place_and_route
    top = ScanTop(block(name, config))
    text = verilog.convert(top, name="scan_top", emit_src=False)
    return place_and_route(text, "scan_top", what=f"{name} of {config.name}", freq=freq,
                           seed=seed, keep=keep, route=route, log=log)


_CELL_SUFFIX = ("_TRELLIS", "_LUT4", "_CCU2C", "_PFUMX", "_L6MUX21", "_MULT18X18D", "_DP16KD",
                "_ALU54B", "_TRELLIS_RAM")


def _signal_name(net):
    """A nextpnr net or cell name cut back to the Amaranth signal it was made from."""
    cut = len(net)
    for suffix in _CELL_SUFFIX:
        at = net.find(suffix)
        if at > 0:
            cut = min(cut, at)
    return net[:cut]


def path_summary(lines):
    """nextpnr's critical path report (:func:`~dure.fpga.core_fmax.parse_critical_path`) as
    one line: the signals it passes through, in order, repeats removed, and the logic / routing
    split; empty when there is no report."""
    names, total = [], ""
    for line in lines:
        words = line.split()
        if len(words) >= 5 and words[0] in ("clk-to-q", "routing", "logic", "setup"):
            name = _signal_name(words[4])
            if not names or names[-1] != name:
                names.append(name)
        elif "ns logic" in line:
            total = line.strip()
    if not names:
        return ""
    return " -> ".join(names) + (f" ({total})" if total else "")
