"""The one description of an SoC variant.

Everything that differs between variants (memory sizes, clock, main-memory timing, later the NPU
shape) lives in one frozen :class:`SoCConfig`. The RTL is elaborated from it, the C header the
firmware includes is generated from it (:mod:`dure.header`), and the simulator and golden models
read their parameters from it. Nothing is hand-copied between Python and C.

The memory map is fixed across variants (only region sizes change), so a program linked for one
variant runs on any other variant whose memories are large enough.

Memory map (byte addresses)
---------------------------
=============  ===============  ==========================================================
base           size             region
=============  ===============  ==========================================================
0x0000_0000    ``rom_size``     boot ROM (UART boot loader on boards; absent when 0)
0x0200_0000    64 KiB           CLINT-compatible timer: msip +0x0, mtimecmp +0x4000,
                                mtime +0xBFF8 (the SiFive CLINT layout)
0x1000_0000    4 KiB            UART
0x1000_1000    4 KiB            GPIO / LEDs
0x1000_2000    4 KiB            test-exit register (write 1: pass; (n << 1) | 1: fail n)
0x1000_3000    4 KiB            external-interrupt controller (pending / enable)
0x1000_4000    4 KiB            tile fabric counters (only with ``npu_tiles`` > 1)
0x1000_5000    4 KiB            INT8 dot-product unit (only with ``dot_unit``)
0x1100_0000    64 KiB           NPU registers (rtl/npu/commands.py); tile t of ``npu_tiles``
                                at ``0x1100_0000 + t * 0x1_0000`` (regions ``npu``, ``npu1``..)
0x4000_0000    ``main_size``    main memory (latency / bandwidth modelled in simulation)
0x8000_0000    ``ram_size``     on-chip RAM: code and data; the reset vector is its base
=============  ===============  ==========================================================

Every address outside these regions answers with a bus error (an access-fault trap).
"""

import os
from dataclasses import dataclass, replace

__all__ = ["Region", "SoCConfig", "PRESETS", "preset", "default_variant", "VARIANT_ENV",
           "NPU_TILE_STRIDE", "MAX_NPU_TILES", "MAIN_BANDWIDTHS"]


@dataclass(frozen=True)
class Region:
    """One address region.

    Attributes
    ----------
    name : str
        Identifier used in generated headers (``DURE_<NAME>_BASE``).
    base : int
        Byte address of the first byte; aligned to ``size`` rounded up to a power of two.
    size : int
        Size in bytes.
    executable : bool
        Whether instruction fetch is allowed (fetch elsewhere is an instruction access fault).
    description : str
        One line for the README and the header.
    """

    name: str
    base: int
    size: int
    executable: bool
    description: str

    @property
    def end(self):
        """One past the last byte."""
        return self.base + self.size

    def contains(self, addr, length=1):
        """True if ``[addr, addr + length)`` lies inside this region."""
        return self.base <= addr and addr + length <= self.end


ROM_BASE = 0x0000_0000
CLINT_BASE = 0x0200_0000
UART_BASE = 0x1000_0000
GPIO_BASE = 0x1000_1000
TEST_EXIT_BASE = 0x1000_2000
IRQ_BASE = 0x1000_3000
TILES_BASE = 0x1000_4000
DOT_BASE = 0x1000_5000
NPU_BASE = 0x1100_0000
#: Byte distance between the register regions of two NPU tiles.
NPU_TILE_STRIDE = 0x1_0000
#: Most NPU tiles one SoC may have.
MAX_NPU_TILES = 8
#: How main memory serves several tiles (``SoCConfig.main_bandwidth``).
MAIN_BANDWIDTHS = ("shared", "scaled")
MAIN_BASE = 0x4000_0000
RAM_BASE = 0x8000_0000


def _check_pow2(name, value, minimum):
    if not isinstance(value, int) or value < minimum or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= {minimum}, not {value!r}")


@dataclass(frozen=True)
class SoCConfig:
    """One SoC variant.

    Parameters
    ----------
    name : str
        Variant name (``sim``, ``ulx3s``, ``icebreaker``, ...).
    clk_freq : int
        Core clock in Hz; sets the UART divisor and the ``time`` CSR rate documentation.
    ram_size : int
        On-chip RAM at :data:`RAM_BASE`, bytes, power of two.
    rom_size : int
        Boot ROM at :data:`ROM_BASE`, bytes; 0 for none.
    main_size : int
        Main memory at :data:`MAIN_BASE`, bytes, power of two.
    main_latency : int
        Cycles from a granted main-memory request to its response (simulation model), >= 1.
    main_bytes_per_cycle : int
        Sustained main-memory bandwidth in bytes per cycle (simulation model), 1..4.
    uart_baud : int
        UART line rate.
    uart_fifo_depth : int
        Depth of each UART FIFO (TX and RX), power of two.
    gpio_width : int
        Number of GPIO outputs (LEDs) and inputs.
    npu_rows, npu_cols : int
        Shape of the NPU's systolic array (rows = K per pass, cols = output channels per pass);
        ``npu_rows = 0`` builds no NPU.
    npu_fp16 : bool
        Build the FP16 datapath (otherwise INT8 only; FP16 commands are rejected).
    npu_float_post : bool
        Build the fp32 post-processing of STORE (the ``FLOAT_SCALE`` requantization of INT8 ->
        INT8 and the INT8 -> FP16 dequantization). ``False`` (needs ``npu_fp16=False``): the
        STORE unit keeps only the TFLite fixed-point requantization modes and the raw INT32
        output, and refuses the fp32 ones with ``BAD_COMBINATION`` (a small INT8-only board
        build; :mod:`dure.rtl.npu.commands`).
    npu_eltwise : bool
        Build the element-wise unit (the ``ELTWISE`` command: TFLite INT8 ADD, max pooling);
        ``False`` refuses every ELTWISE with ``BAD_COMBINATION``.
    npu_eltwise_fp16 : bool
        Build the element-wise unit's FP16 ``MAC`` (per lane two fp16 x fp16 multipliers and
        two fp32 adders: FP16 depthwise convolution off the array). Takes effect only with
        ``npu_fp16`` and ``npu_eltwise`` (:attr:`npu_eltwise_fp16_mac`); without it an FP16
        MAC is refused with ``BAD_COMBINATION``.
    npu_gather : bool
        Build the 2:4 MAC-skipping path (LOAD ``keep``, with int4 also its shared base-6
        code variant and the load unit's base-6 decoders, COMPUTE ``gather``, STORE
        ``lane_sum``; :mod:`dure.rtl.npu.commands`, ``docs/sparse_skip.md``); needs
        ``npu_cols >= 4``. ``False`` refuses the three flags with ``BAD_COMBINATION``. The
        NPU's CONFIG register shows it in bit 13 (``GATHER``).
    npu_load_overlap : bool
        Back-to-back LOADs without a bus bubble: the load unit takes the next LOAD while the
        previous one's rows still arrive and the DMA reader requests its rows while the
        previous one's responses are outstanding (:class:`~dure.rtl.npu.dma_reader.DmaReader`
        ``overlap``; the dispatcher keeps two LOADs in flight). Timing only: every command's
        effect, error and DONE count are unchanged. ``False``: each LOAD starts after the
        previous one's last response (the board builds, whose Verilog it leaves unchanged).
    npu_load_pipeline : bool
        Two pipeline stages in the load unit's row path (after the source row's shifts and
        the lane formatting; inside the int4 dequantization, after its normalised product),
        for the FPGA clock:
        a row is written 2 cycles after the DMA reader presents it and each LOAD's ``done``
        comes 2 cycles later (the next LOAD starts after it). Timing only: every command's
        effect and error are unchanged. ``False`` (``sim``): a row is written in the cycle
        it arrives.
    npu_eltwise_pipeline : bool
        Three more pipeline stages for the element-wise unit's TFLite ADD (each input's
        product, its rounding high half, its rounding shift; then the sum as before): one
        multiply per stage, for the FPGA clock. An ADD's rows are written 3 cycles later
        (``m + 6`` cycles from acceptance to ``done``); results unchanged. ``False``
        (``sim``): the ADD is one compute stage.
    npu_eltwise_operand_regs : bool
        The element-wise unit registers its operands (both SPAD rows, the ACC row, the MAC's
        weights and the row's fields) before its compute stage, so no block RAM's
        clock-to-out (5.8 ns on the ECP5) lies on a path through the lanes' multipliers and
        adders into the output register (the routed ULX3S board's critical path before it,
        ``fpga/README.md``, session 21). Every ELTWISE row is written one cycle later
        (``m + 4`` cycles from acceptance to ``done``, ``m + 5`` for a MAC, ``m + 7`` for a
        pipelined ADD); rows keep their rate and every result is unchanged. Timing only.
        ``False`` (``sim``): the lanes compute from the memories' read ports. Needs
        ``npu_eltwise``.
    npu_store_wait_reg : bool
        The STORE unit takes its per-row wait (the execute / element-wise unit's
        ``acc_pending``) from a register: it asks for the row it reads next from registers
        and reads it in a later cycle, so no row-range compare lies between its ACC read
        address and the ACC block RAM's read enable (the routed ULX3S board's critical path
        before it, ``fpga/README.md``, session 21, branch clock50b). A STORE row that had to
        wait for its COMPUTE / ELTWISE result is read one cycle after it is written, and a
        STORE without a scale row reads its first row one cycle later; rows keep one per
        cycle and every result is unchanged. Timing only. ``False`` (``sim``): the answer is
        combinational.
    npu_eltwise_handover : bool
        The element-wise unit takes the next ELTWISE while the current one's last rows drain
        (the dispatcher keeps two in flight; :class:`~dure.rtl.npu.eltwise_unit.EltwiseUnit`):
        back-to-back commands ``m + 1`` cycles apart. Timing only: results unchanged. On in
        ``sim``, ``npu-small`` and their multi-tile twins since session 17 (which fixed the
        mismatch it showed in session 16: a MAC handed over read its weight rows over a
        row stalled in the compute stage); off in ``ulx3s``. Needs ``npu_eltwise``.
    npu_load_follow : bool
        A COMPUTE follows the LOADs that write its SPAD rows row by row: the dispatcher
        issues it beside an in-flight LOAD into SPAD, and the execute unit reads a SPAD row
        (weight or activation) only once no accepted LOAD still has to write it (the load
        unit's ``spad_wait``; :class:`~dure.rtl.npu.exec_unit.ExecUnit`). Timing only, like
        ``npu_load_overlap``. ``False``: a COMPUTE waits until every LOAD writing rows it
        reads is done (the board builds, whose Verilog it leaves unchanged). Not together
        with ``npu_load_pipeline`` (refused).
    npu_row_hazard : bool
        Row-exact hazards between a LOAD's 2-D placement and a walked COMPUTE: the
        dispatcher's footprints carry each one's column window modulo its row pitch, so a
        LOAD and a COMPUTE sharing a pitch but no column (a FILL of side padding columns, a
        walk of image columns) do not conflict (:func:`~dure.rtl.npu.hazard.conflict_lc`),
        and the load unit's ``spad_wait`` answers only for the rows of an ordered
        placement's groups, not its whole range (:class:`~dure.rtl.npu.load_unit.LoadUnit`).
        Timing only. Needs ``npu_load_follow``. On in ``sim``, ``npu-small`` and their
        multi-tile twins (session 19); off on the boards (each comparison adds a modulo).
    npu_spad_rows : int
        Scratchpad depth in rows of ``max(npu_rows, npu_cols)`` 16-bit lanes, power of two.
    npu_acc_rows : int
        Accumulator depth in rows of ``npu_cols`` 32-bit lanes, power of two.
    npu_queue_depth : int
        Command queue entries, power of two (1: a single descriptor waits between the
        DOORBELL and the dispatcher, the smallest board build).
    npu_exec_depth : int
        COMPUTEs the dispatcher keeps in flight at once (issued, not yet done), >= 1: each
        in-flight COMPUTE has a footprint in the hazard scoreboard that every pending
        command is compared with (:class:`~dure.rtl.npu.dispatch.Dispatcher`
        ``exec_depth``). Timing only: fewer lets fewer short COMPUTEs stream through the
        array back to back, every command's effect is unchanged. Default 8.
    npu_list_entries : int
        LIST entries the fetcher buffers ahead of the dispatcher, >= 1
        (:class:`~dure.rtl.npu.list_fetch.ListFetcher` ``entries``). Timing only. Default 4.
    npu_list_port : bool
        The LIST entry fetcher gets a bus initiator of its own (the NPU's ``list`` member,
        :class:`~dure.rtl.npu.npu.Npu`), routed by a decoder of its own to the on-chip RAM
        (beside the DMA on the RAM arbiter's NPU port) and to main memory (beside the DMA on
        its main-memory port), instead of sharing the DMA port: a list in on-chip RAM is read
        a word per cycle without taking a port cycle from the datapath's DMA. Timing only:
        the LIST's validation (the DMA window) and its errors are unchanged. ``False``
        (default; the board builds): the fetcher shares the DMA port (round-robin, prefetching
        into its idle cycles).
    npu_narrow_footprints : bool
        The dispatcher's hazard footprints keep row numbers in the bits of the deeper of SPAD
        and ACC (``log2(max(npu_spad_rows, npu_acc_rows))``) instead of 16 bits
        (:func:`dure.rtl.npu.hazard.footprint_layouts`): smaller comparators, the same
        conflicts (only validated commands, whose rows lie inside the memories, get a
        footprint). ``False`` (default): 16-bit rows.
    npu_perf_bits : int
        Width of each NPU performance counter, 64 or 32 (less logic on small boards: the
        counters then wrap modulo 2**32 and every ``PERF_*_HI`` register reads 0).
    core : str
        Control-core variant (:data:`dure.rtl.soc.cpu.CORE_VARIANTS`): ``"full"`` (every
        fast path), ``"small"`` (no forwarding, shifts on the multiplier, 2-entry prefetch) or
        ``"tiny"`` (the multi-cycle core, :mod:`dure.rtl.core_tiny`): the same ISA behaviour in
        less logic, more cycles.
    pmp_entries : int
        PMP entries of the control core, 0..16 (16 in the simulation variants; fewer on the
        boards to save logic; 0: no PMP, U-mode may access everything).
    triggers : int
        Sdtrig address-match triggers of the control core, 0..8.
    ram_kind : str
        How the on-chip RAM is built: ``"block"`` (dual-ported block RAM, the instruction and
        data ports never contend) or ``"spram"`` (single-ported iCE40UP5K SPRAM; the two ports
        take turns, :class:`dure.rtl.soc.single_port_ram.SinglePortRam`). Simulations use a
        behavioural model of the SPRAM, bitstreams the primitive. ``"single"``: the same
        one-port RAM in block RAM (half the ECP5 DP16KD blocks of ``"block"``, whose two write
        ports Yosys maps at 1 KiB per block: the iCESugar-Pro's 64 KiB RAM).
    bus_outstanding : int
        Most granted requests without a response that each bus arbiter and decoder of the SoC
        tracks (0: their defaults, 16 per arbiter and 32 per decoder). Smaller is less logic;
        the core has at most four fetches and two data accesses in flight, so 4 costs the core
        almost nothing (a fifth fetch after a redirect waits).
    npu_tiles : int
        NPU tiles, 1..8 (needs an NPU): identical, independent NPU instances (command queue,
        SPAD, ACC, DMA initiator, registers at ``NPU_BASE + t * NPU_TILE_STRIDE`` in region
        ``npu`` (t = 0) or ``npu<t>``, interrupt line :func:`dure.rtl.soc.registers.npu_irq`).
        Every tile's DMA reaches main memory and on-chip RAM through round-robin arbiters
        (:mod:`dure.rtl.soc.soc`); with more than one tile a counter block (region ``tiles``,
        :mod:`dure.rtl.soc.tile_counters`) counts each tile's DMA grant-wait cycles. 1 builds
        exactly the single-NPU SoC.
    main_bandwidth : str
        ``"shared"``: one main-memory port of ``main_bytes_per_cycle`` shared by the core and
        every tile (the bandwidth stays that of one port whatever ``npu_tiles``); ``"scaled"``:
        main memory has one port per tile, each of ``main_bytes_per_cycle`` and
        ``main_latency``; tile t's DMA owns port t, the core shares port 0 with tile 0 (the
        aggregate bandwidth grows with ``npu_tiles``). Simulation model only (``main_kind``
        ``"block"``); the same thing for one tile.
    npu_dma_slice : bool
        Put a register slice (:class:`dure.rtl.bus.register_slice.RegisterSlice`) between
        each NPU tile's DMA port and the SoC's fabric: it cuts the combinational request /
        grant path from the NPU's DMA through the arbiters and the decoder to main memory and
        back (the ULX3S's critical path before it, ``fpga/README.md``), at one cycle more per
        DMA access (streams keep their rate). Ignored without an NPU.
    npu_dma_side_slices : bool
        Inside each NPU's DMA, a register slice between the reader and the DMA's arbiter and
        another between the writer and it (:class:`~dure.rtl.npu.dma.Dma` ``side_slices``):
        the reader / writer arbitration sees only registered requests, so neither side's
        request logic (address, skip test, hold) reaches the other side combinationally (the
        routed ULX3S board's critical path before it, ``fpga/README.md``). One cycle more per
        DMA access; streams keep their rate. Timing only: every command's effect is unchanged.
        ``False`` (``sim``): the sides drive the arbiter directly.
    npu_hazard_regs : bool
        The dispatcher's hazard scoreboard registered (:class:`~dure.rtl.npu.dispatch.
        Dispatcher` ``hazard_regs``): a pending command's footprint is computed from its
        slot (not on the validator's output path), and every conflict between a pending
        command and an in-flight or older pending one is compared a cycle ahead into a
        register, so issuing a command waits on no product or row-range comparator. A
        command waits two cycles more in its pending slot (8 cycles from the queue to its
        unit instead of 6). Timing only. ``False`` (``sim``): the comparisons are
        combinational.
    soc_grant_buffers : bool
        A grant buffer (:class:`dure.rtl.bus.grant_buffer.GrantBuffer`) on each of the core's
        two bus ports, between the hold gate and the fabric: the core's grant comes from the
        buffer's register, so the decoders' address match and the arbiters' picks (the RAM's
        shared with the NPU's DMA, main memory's with the DMA and the SDRAM controller's
        queue) no longer reach the core's stall and fetch logic combinationally. No cycle
        added while the fabric grants at once; a request it refuses waits in the buffer
        (the core's next request waits for it). Timing only. ``False`` (``sim``): the core's
        ports drive the fabric directly.
    soc_main_slices : bool
        A register slice (:class:`dure.rtl.bus.register_slice.RegisterSlice`) between each of
        the core's two main-memory paths (the instruction and data decoders' ``main`` targets)
        and the main-memory arbiter: the core's request logic no longer reaches the arbiter's
        pick and the SDRAM controller's request queue (at the pins' edge of the die), at one
        cycle more per core access to main memory (code and data normally run from on-chip
        RAM). Timing only.
    soc_parked_arbiters : bool
        The data-bus arbiter (the core's data port and ``ext``) and the RAM arbiter (the
        core's data port and the NPUs' DMA) present the request of an owner held in a register
        (:class:`dure.rtl.bus.arbiter.Arbiter` ``parked``) instead of picking among this
        cycle's requests: the core's request no longer steers the address multiplexers on its
        way to the RAM, and the arbiters' state no longer waits for the pick. The core is the
        home initiator (its requests on an idle fabric take no cycle more); an initiator
        taking the bus from an idle owner waits one cycle (the core after the NPU's DMA used
        the RAM, the DMA when the core used it last; ``ext`` each time). Timing only.
    soc_periph_slices : bool
        A register slice (:class:`dure.rtl.bus.register_slice.RegisterSlice`) in front of
        each peripheral on the data bus (CLINT, UART, GPIO, test exit, irq controller, the
        dot-product unit; not the memories, not the NPUs' registers): the core's request
        (which follows the previous access's answer in the same cycle) no longer reaches a
        peripheral's registers and FIFOs. One cycle more per peripheral access. Timing only.
    soc_late_ram_writes : bool
        The on-chip RAM performs the data side's writes one cycle after their grant, from
        registers (:class:`dure.rtl.soc.late_write_ram.LateWriteRam`): the core's address
        adder and the data-bus decoder's region match end at those registers, not at the
        block RAM's write enables. A read on the data side of the word written in the
        cycle before gets the written bytes forwarded; the RAM is kept twice (one copy per
        read port: twice its block RAM). No cycle added. Only with ``ram_kind`` ``"block"``.
        Timing only.
    soc_irq_regs : bool
        The core's three interrupt inputs (the CLINT's software and timer interrupts, the
        irq controller's external interrupt) pass a flip-flop each: the peripherals' state
        (a UART FIFO's level, the 64-bit ``mtime >= mtimecmp``) no longer reaches the core's
        trap and request logic in the same cycle. Every interrupt is seen one cycle later
        (and a cleared one one cycle later too). Timing only.
    soc_hold_regs : bool
        The core's reset from the hold gate comes from a flip-flop
        (:class:`dure.rtl.soc.hold.HoldGate` ``registered``): ``hold`` (the boot link's or
        the exit mailbox's state) and the responses that end a hold no longer reach the
        core's reset and bus inputs in the same cycle. The core starts one cycle later after
        each hold. Timing only.
    main_kind : str
        How main memory is built: ``"block"`` or ``"spram"`` (it has one port either way).
        The SPRAM memories together take at most the four blocks (two per started 64 KiB).
        ``"sdram"``: the SDR SDRAM controller of :mod:`dure.rtl.soc.sdram` for the ULX3S's
        32 MiB part (``main_size`` must be 32 MiB; ``main_latency`` and
        ``main_bytes_per_cycle`` then only describe it: the controller has its own timing).
        The SoC gets an ``sdram`` pin port the board top connects.
    clint_bits : int
        Width of the timer's ``mtime`` and ``mtimecmp``: 64 (the CLINT layout) or 32 (a small
        board's trim: ``mtimeh`` / ``mtimecmph`` read 0, ``mtime`` wraps after 2**32 cycles;
        :class:`dure.rtl.soc.clint.Clint`). The boot loader's timeouts read ``mtime`` only.
    dot_unit : bool
        Build the INT8 dot-product unit (:class:`dure.rtl.soc.dot_unit.DotUnit`, region
        ``dot``): four int8 x int8 products per register write into an int32 accumulator, fed
        by the core; the small boards' INT8 accelerator where the NPU does not fit. ``False``:
        no unit and no region (the Verilog of every variant without it is unchanged).
    sdram_part : str
        With ``main_kind == "sdram"``: the board's SDRAM chip, a name of
        :data:`dure.rtl.soc.sdram.PARTS` (``"IS42S16160G-7"``, the ULX3S's, or
        ``"IS42S16160B-7"``, the iCESugar-Pro's): the datasheet timing the controller is
        built for. Every part there has the same 32 MiB geometry.
    """

    name: str = "sim"
    clk_freq: int = 50_000_000
    ram_size: int = 256 * 1024
    rom_size: int = 0
    main_size: int = 4 * 1024 * 1024
    main_latency: int = 10
    main_bytes_per_cycle: int = 4
    uart_baud: int = 115_200
    uart_fifo_depth: int = 16
    gpio_width: int = 8
    npu_rows: int = 8
    npu_cols: int = 8
    npu_fp16: bool = True
    npu_float_post: bool = True
    npu_perf_bits: int = 64
    npu_eltwise: bool = True
    npu_eltwise_fp16: bool = True
    npu_gather: bool = False
    npu_load_overlap: bool = False
    npu_load_pipeline: bool = False
    npu_eltwise_pipeline: bool = False
    npu_eltwise_operand_regs: bool = False
    npu_store_wait_reg: bool = False
    npu_eltwise_handover: bool = False
    npu_load_follow: bool = False
    npu_row_hazard: bool = False
    npu_spad_rows: int = 2048
    npu_acc_rows: int = 4096
    npu_queue_depth: int = 16
    npu_exec_depth: int = 8
    npu_list_entries: int = 4
    npu_list_port: bool = False
    npu_narrow_footprints: bool = False
    core: str = "full"
    pmp_entries: int = 16
    triggers: int = 1
    ram_kind: str = "block"
    main_kind: str = "block"
    bus_outstanding: int = 0
    npu_tiles: int = 1
    main_bandwidth: str = "shared"
    npu_dma_slice: bool = False
    npu_dma_side_slices: bool = False
    npu_hazard_regs: bool = False
    soc_grant_buffers: bool = False
    soc_main_slices: bool = False
    soc_parked_arbiters: bool = False
    soc_periph_slices: bool = False
    soc_late_ram_writes: bool = False
    soc_irq_regs: bool = False
    soc_hold_regs: bool = False
    clint_bits: int = 64
    dot_unit: bool = False
    sdram_part: str = "IS42S16160G-7"

    def __post_init__(self):
        _check_pow2("ram_size", self.ram_size, 1024)
        _check_pow2("main_size", self.main_size, 1024)
        if self.rom_size:
            _check_pow2("rom_size", self.rom_size, 256)
        if self.ram_size > 0x4000_0000 or self.main_size > 0x4000_0000:
            raise ValueError("ram_size and main_size must be at most 1 GiB")
        if not isinstance(self.main_latency, int) or self.main_latency < 1:
            raise ValueError(f"main_latency must be an integer >= 1, not {self.main_latency!r}")
        if self.main_bytes_per_cycle not in (1, 2, 4):
            raise ValueError(
                f"main_bytes_per_cycle must be 1, 2 or 4, not {self.main_bytes_per_cycle!r}")
        _check_pow2("uart_fifo_depth", self.uart_fifo_depth, 2)
        if self.clk_freq < 16 * self.uart_baud:
            raise ValueError("clk_freq must be at least 16 x uart_baud")
        if not 1 <= self.gpio_width <= 32:
            raise ValueError(f"gpio_width must be 1..32, not {self.gpio_width!r}")
        if not isinstance(self.bus_outstanding, int) or self.bus_outstanding < 0:
            raise ValueError(f"bus_outstanding must be an integer >= 0, not "
                             f"{self.bus_outstanding!r}")
        for name in ("npu_dma_slice", "npu_dma_side_slices", "npu_hazard_regs",
                     "npu_narrow_footprints", "soc_grant_buffers", "soc_main_slices",
                     "soc_parked_arbiters", "soc_periph_slices", "soc_late_ram_writes",
                     "soc_irq_regs", "soc_hold_regs"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")
        if self.clint_bits not in (32, 64):
            raise ValueError(f"clint_bits must be 32 or 64, not {self.clint_bits!r}")
        if not isinstance(self.dot_unit, bool):
            raise TypeError(f"dot_unit must be a bool, not {self.dot_unit!r}")
        from dure.rtl.core.csr import check_protection
        from dure.rtl.soc.cpu import check_core
        check_core(self.core)
        check_protection(self.pmp_entries, self.triggers)
        kinds = {"ram_kind": ("block", "spram", "single"), "main_kind": ("block", "spram", "sdram")}
        for name, allowed in kinds.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be {' or '.join(map(repr, allowed))}, not "
                                 f"{getattr(self, name)!r}")
        if self.soc_late_ram_writes and self.ram_kind != "block":
            raise ValueError("soc_late_ram_writes needs ram_kind 'block' (a dual-ported RAM)")
        from dure.rtl.soc.sdram import part
        chip = part(self.sdram_part)
        if self.main_kind == "sdram" and self.main_size != chip.size:
            raise ValueError(f"main_size must be {chip.size} (the SDRAM) with "
                             f"main_kind 'sdram', not {self.main_size}")
        from dure.rtl.soc.spram import SPRAM_BLOCKS, spram_blocks
        blocks = sum(spram_blocks(size) for size, kind in ((self.ram_size, self.ram_kind),
                                                           (self.main_size, self.main_kind))
                     if kind == "spram")
        if blocks > SPRAM_BLOCKS:
            raise ValueError(f"the SPRAM memories need {blocks} blocks; there are "
                             f"{SPRAM_BLOCKS} (two per started 64 KiB)")
        if self.npu_rows:
            for name in ("npu_rows", "npu_cols"):
                value = getattr(self, name)
                if not isinstance(value, int) or not 1 <= value <= 32:
                    raise ValueError(f"{name} must be an integer in 1..32, not {value!r}")
            _check_pow2("npu_spad_rows", self.npu_spad_rows, 16)
            _check_pow2("npu_acc_rows", self.npu_acc_rows, 16)
            _check_pow2("npu_queue_depth", self.npu_queue_depth, 1)
            for name in ("npu_exec_depth", "npu_list_entries"):
                value = getattr(self, name)
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
                    raise ValueError(f"{name} must be an integer >= 1 and <= 64, not {value!r}")
            if not isinstance(self.npu_float_post, bool) or \
                    (self.npu_fp16 and not self.npu_float_post):
                raise ValueError("npu_float_post must be a bool, and True when npu_fp16 is "
                                 "(FP16 accumulators need the fp32 post-processing)")
            if not isinstance(self.npu_eltwise, bool):
                raise ValueError(f"npu_eltwise must be a bool, not {self.npu_eltwise!r}")
            if not isinstance(self.npu_eltwise_fp16, bool):
                raise ValueError("npu_eltwise_fp16 must be a bool, not "
                                 f"{self.npu_eltwise_fp16!r}")
            if not isinstance(self.npu_gather, bool) or (self.npu_gather and self.npu_cols < 4):
                raise ValueError("npu_gather must be a bool, and False when npu_cols < 4 (the "
                                 "gather uses array columns 0..3)")
            if not isinstance(self.npu_list_port, bool):
                raise ValueError(f"npu_list_port must be a bool, not {self.npu_list_port!r}")
            if not isinstance(self.npu_load_overlap, bool):
                raise ValueError("npu_load_overlap must be a bool, not "
                                 f"{self.npu_load_overlap!r}")
            for name in ("npu_load_pipeline", "npu_eltwise_pipeline",
                         "npu_eltwise_operand_regs", "npu_store_wait_reg"):
                if not isinstance(getattr(self, name), bool):
                    raise ValueError(f"{name} must be a bool, not {getattr(self, name)!r}")
            if self.npu_eltwise_operand_regs and not self.npu_eltwise:
                raise ValueError("npu_eltwise_operand_regs needs npu_eltwise (the element-wise "
                                 "unit)")
            if not isinstance(self.npu_eltwise_handover, bool):
                raise ValueError("npu_eltwise_handover must be a bool, not "
                                 f"{self.npu_eltwise_handover!r}")
            if self.npu_eltwise_handover and not self.npu_eltwise:
                raise ValueError("npu_eltwise_handover needs npu_eltwise (the element-wise unit)")
            if not isinstance(self.npu_load_follow, bool):
                raise ValueError("npu_load_follow must be a bool, not "
                                 f"{self.npu_load_follow!r}")
            if self.npu_load_follow and self.npu_load_pipeline:
                raise ValueError("npu_load_follow and npu_load_pipeline cannot both be on: the "
                                 "load unit answers a SPAD row's wait from its row counter, "
                                 "which the pipeline's two stages run ahead of the SPAD write")
            if not isinstance(self.npu_row_hazard, bool):
                raise ValueError(f"npu_row_hazard must be a bool, not {self.npu_row_hazard!r}")
            if self.npu_row_hazard and not self.npu_load_follow:
                raise ValueError("npu_row_hazard needs npu_load_follow (the load unit's "
                                 "row-exact spad_wait answers the execute unit's follow)")
            if self.npu_perf_bits not in (32, 64):
                raise ValueError(f"npu_perf_bits must be 32 or 64, not {self.npu_perf_bits!r}")
            if self.npu_spad_rows > 65536 or self.npu_acc_rows > 65536:
                raise ValueError("npu_spad_rows and npu_acc_rows must be at most 65536")
        if not isinstance(self.npu_tiles, int) or not 1 <= self.npu_tiles <= MAX_NPU_TILES:
            raise ValueError(f"npu_tiles must be an integer in 1..{MAX_NPU_TILES}, not "
                             f"{self.npu_tiles!r}")
        if self.npu_tiles > 1 and not self.npu_rows:
            raise ValueError("npu_tiles > 1 needs an NPU (npu_rows > 0)")
        if self.main_bandwidth not in MAIN_BANDWIDTHS:
            raise ValueError(f"main_bandwidth must be 'shared' or 'scaled', not "
                             f"{self.main_bandwidth!r}")
        if self.main_bandwidth == "scaled" and self.main_kind != "block":
            raise ValueError("main_bandwidth 'scaled' is a simulation model: it needs "
                             "main_kind 'block'")

    @property
    def npu_lanes(self):
        """16-bit lanes per scratchpad row: ``max(npu_rows, npu_cols)``."""
        return max(self.npu_rows, self.npu_cols)

    @property
    def npu_eltwise_fp16_mac(self):
        """Whether the element-wise unit has its FP16 MAC (``npu_eltwise_fp16`` with
        ``npu_fp16`` and ``npu_eltwise``; False without an NPU)."""
        return bool(self.npu_rows and self.npu_fp16 and self.npu_eltwise
                    and self.npu_eltwise_fp16)

    @property
    def npu_peak_macs_per_cycle(self):
        """MACs per cycle of the array in steady state."""
        return self.npu_rows * self.npu_cols

    @property
    def main_ports(self):
        """Ports of the main-memory model: ``npu_tiles`` when the bandwidth is scaled, else 1."""
        return self.npu_tiles if self.main_bandwidth == "scaled" else 1

    def npu_region_name(self, tile):
        """Name of tile ``tile``'s register region: ``npu`` for tile 0, ``npu<t>`` after it."""
        if not 0 <= tile < self.npu_tiles:
            raise ValueError(f"tile must be in 0..{self.npu_tiles - 1}, not {tile!r}")
        return "npu" if tile == 0 else f"npu{tile}"

    @property
    def reset_vector(self):
        """Address of the first instruction: the boot ROM if present, else on-chip RAM."""
        return ROM_BASE if self.rom_size else RAM_BASE

    @property
    def uart_divisor(self):
        """Clock cycles per UART bit at ``uart_baud``."""
        return round(self.clk_freq / self.uart_baud)

    @property
    def regions(self):
        """The memory map as a tuple of :class:`Region`, in address order."""
        regions = []
        if self.rom_size:
            regions.append(Region("rom", ROM_BASE, self.rom_size, True, "boot ROM"))
        regions += [
            Region("clint", CLINT_BASE, 0x1_0000, False,
                   "timer: msip, mtimecmp, mtime (CLINT layout)"),
            Region("uart", UART_BASE, 0x1000, False, "UART with TX/RX FIFOs"),
            Region("gpio", GPIO_BASE, 0x1000, False, "GPIO / LEDs"),
            Region("test_exit", TEST_EXIT_BASE, 0x1000, False,
                   "test exit: write 1 = pass, (n << 1) | 1 = fail n"),
            Region("irq", IRQ_BASE, 0x1000, False, "external-interrupt pending / enable"),
        ]
        if self.npu_tiles > 1:
            regions.append(Region("tiles", TILES_BASE, 0x1000, False,
                                  "NPU tile fabric: DMA grant-wait counters"))
        if self.dot_unit:
            regions.append(Region("dot", DOT_BASE, 0x1000, False,
                                  "INT8 dot-product unit: a, b (4 x int8), int32 acc"))
        regions.append(Region("npu", NPU_BASE, 0x1_0000, False,
                              "NPU registers and command queue" if self.npu_tiles == 1 else
                              "NPU tile 0 registers and command queue"))
        regions += [Region(f"npu{t}", NPU_BASE + t * NPU_TILE_STRIDE, NPU_TILE_STRIDE, False,
                           f"NPU tile {t} registers and command queue")
                    for t in range(1, self.npu_tiles)]
        regions += [
            Region("main", MAIN_BASE, self.main_size, True, "main memory"),
            Region("ram", RAM_BASE, self.ram_size, True, "on-chip RAM (code and data)"),
        ]
        return tuple(regions)

    def region(self, name):
        """The region called ``name``; ``KeyError`` if this variant has none."""
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(f"variant {self.name!r} has no region {name!r}")

    def loadable(self, addr, length):
        """The memory region (``ram``, ``main`` or ``rom``) holding ``[addr, addr+length)``,
        or None when the range is not entirely inside one of them."""
        for region in self.regions:
            if region.name in ("ram", "main", "rom") and region.contains(addr, length):
                return region
        return None


PRESETS = {
    # The simulated SoC of `make sim`, `make bench` and `dure run`: 8x8 dual-precision NPU,
    # with the 2:4 MAC-skipping path (docs/sparse_skip.md), overlapped LOADs and COMPUTEs that
    # follow their LOADs row by row; the LIST fetcher reads on its own path (npu_list_port).
    "sim": SoCConfig(npu_gather=True, npu_load_overlap=True, npu_load_follow=True,
                     npu_list_port=True, npu_eltwise_handover=True, npu_row_hazard=True),
    # Faster-to-build simulation variants for the test suite (same memory map): no NPU, for
    # CPU and SoC tests; and a 4x4 NPU with small memories, for NPU system tests.
    "cpu": SoCConfig(name="cpu", npu_rows=0),
    # The small control core with its RAM on the single-port (SPRAM) path, as on the
    # iCEBreaker, but with simulation-sized memories: the firmware suite runs on it.
    "cpu-small": SoCConfig(name="cpu-small", npu_rows=0, ram_size=128 * 1024, core="small",
                           ram_kind="spram", bus_outstanding=4, uart_fifo_depth=4),
    # The tiny multi-cycle core (the iCEBreaker's) on the same single-port RAM path.
    "cpu-tiny": SoCConfig(name="cpu-tiny", npu_rows=0, ram_size=128 * 1024, core="tiny",
                          ram_kind="spram", bus_outstanding=4, uart_fifo_depth=4),
    # (COMPUTEs follow their LOADs row by row and the LIST fetcher has its own path here
    # too: the 4x4 system tests check them.)
    "npu-small": SoCConfig(name="npu-small", npu_rows=4, npu_cols=4, npu_spad_rows=512,
                           npu_acc_rows=256, npu_load_follow=True, npu_list_port=True,
                           npu_eltwise_handover=True, npu_row_hazard=True),
    # FPGA boards (fpga/README.md): on-chip memories in block RAM, boot loader in the ROM.
    # The ULX3S's main memory is its 32 MiB SDRAM; latency and bandwidth are the controller's
    # measured open-row numbers (tests/rtl/soc/sdram). The NPU is sized for routing margin
    # (fpga/README.md, "Where the ULX3S's LUTs go"): a 4x2 INT8 + FP16 array (4-deep
    # reduction, 2 output columns: half the PEs and half the per-column post-processing of a
    # 4x4, whose board sat at 83 % of the LUTs and did not route), queue 4, 32-bit counters,
    # no FP16 MAC in the element-wise unit (FP16 depthwise stays on the array). The load
    # unit's row path and the element-wise unit's ADD are pipelined for the clock
    # (npu_load_pipeline, npu_eltwise_pipeline: a few cycles per LOAD / ADD command), and the
    # element-wise unit's operands pass a register before its lanes (npu_eltwise_operand_regs:
    # one cycle per ELTWISE; session 21); the STORE unit's per-row wait comes from a register
    # (npu_store_wait_reg: a STORE's rows one cycle later when they had waited; session 21,
    # branch clock50b). Clock: 50 MHz (25 MHz x 2): routed at 52.02 MHz with it (session 21,
    # branch clock50b; what limits it now: fpga/README.md, "Session 21"). The core's
    # grants come from grant buffers and its main-memory paths pass register slices
    # (soc_grant_buffers, soc_main_slices: the fabric off the core's stall; fpga/README.md,
    # "Session 14"); the dbus and RAM arbiters are parked on the core and the peripherals sit
    # behind register slices (soc_parked_arbiters, soc_periph_slices: fpga/README.md, "The
    # control core inside the SoC"); the RAM's data-side writes come from registers and the
    # core's interrupt inputs and its reset pass a flip-flop (soc_late_ram_writes,
    # soc_irq_regs, soc_hold_regs: the same section, session 16).
    "ulx3s": SoCConfig(name="ulx3s", clk_freq=50_000_000, ram_size=64 * 1024, rom_size=4096,
                       main_size=32 * 1024 * 1024, main_kind="sdram", main_latency=6,
                       main_bytes_per_cycle=2, npu_rows=4, npu_cols=2,
                       npu_spad_rows=1024, npu_acc_rows=512, npu_queue_depth=4,
                       npu_perf_bits=32, pmp_entries=8, npu_eltwise_fp16=False,
                       npu_dma_slice=True, npu_load_pipeline=True, npu_eltwise_pipeline=True,
                       npu_eltwise_operand_regs=True, npu_store_wait_reg=True,
                       npu_dma_side_slices=True,
                       npu_hazard_regs=True,
                       soc_grant_buffers=True, soc_main_slices=True,
                       soc_parked_arbiters=True, soc_periph_slices=True,
                       soc_late_ram_writes=True, soc_irq_regs=True, soc_hold_regs=True),
    # iCEBreaker (iCE40UP5K): RAM and main memory in the four SPRAM blocks (64 KiB each), the
    # tiny multi-cycle control core, 2-entry UART FIFOs, short bus queues; no NPU; no PMP
    # and no triggers (the UP5K has no room for them). Its INT8 accelerator is the
    # dot-product unit (four SB_MAC16 beside the core's four; fpga/README.md); to make room
    # for it, a 32-bit timer and bus queues of 2 (the tiny core has one access in flight).
    "icebreaker": SoCConfig(name="icebreaker", clk_freq=12_000_000, ram_size=64 * 1024,
                            rom_size=2048, main_size=64 * 1024, main_latency=1, npu_rows=0,
                            uart_fifo_depth=2, core="tiny", ram_kind="spram",
                            main_kind="spram", bus_outstanding=2, pmp_entries=0,
                            triggers=0, dot_unit=True, clint_bits=32),
}
# MuseLab iCESugar-Pro (ECP5 LFE5U-25F: 24,288 LUT4, 56 DP16KD, 28 MULT18X18D): main memory
# in its 32 MiB SDR SDRAM (an IS42S16160B-7: the controller built for its slower timing), the
# tiny multi-cycle core (the iCEBreaker's) and a 4x1 INT8-only NPU (no FP16, TFLite
# fixed-point requantization only, no element-wise unit: ADD and max pooling run on the core),
# no PMP or triggers, queue 2, 32-bit counters and timer. The model firmware needs 64 KiB of
# RAM; a dual-ported RAM takes one DP16KD per KiB, so the RAM is the one-port kind in block
# RAM (`single`). Why this and not more (fpga/README.md, "The iCESugar-Pro"): the `small`
# core with a 4x2 array synthesised to 25,875 LUTs (106.5 %) and 33 of 28 multipliers; with
# a 4x1 array the multipliers are the validator's 11 + the STORE's 4 + 4 PEs + the core's 4
# + 2 = 25.
PRESETS["icesugar-pro"] = SoCConfig(
    name="icesugar-pro", clk_freq=25_000_000, ram_size=64 * 1024, rom_size=4096,
    main_size=32 * 1024 * 1024, main_kind="sdram", main_latency=6, main_bytes_per_cycle=2,
    npu_rows=4, npu_cols=1, npu_fp16=False, npu_float_post=False, npu_eltwise=False,
    npu_spad_rows=1024, npu_acc_rows=512, npu_queue_depth=1, npu_perf_bits=32,
    npu_exec_depth=2, npu_list_entries=1, npu_narrow_footprints=True,
    core="tiny", ram_kind="single", pmp_entries=0, triggers=0, bus_outstanding=2,
    uart_fifo_depth=4, clint_bits=32, npu_dma_slice=True, npu_load_pipeline=True,
    sdram_part="IS42S16160B-7")
# The iCEBreaker SoC without its boot ROM, so the simulator starts an ELF directly
# (`dure run`, run_elf): the firmware tests of the dot-product unit run on it.
PRESETS["icebreaker-elf"] = replace(PRESETS["icebreaker"], name="icebreaker-elf", rom_size=0)
# The iCEBreaker with the INT8 NPU it is meant to get: a 2x2 array without FP16 and without the
# fp32 post-processing (TFLite requantization only), 32-bit counters, queue of 2. Simulated and
# tested (tests/rtl/npu/test_npu_icebreaker.py); it does NOT fit the UP5K yet: the NPU's
# command path alone is larger than the device (fpga/README.md, "Measured").
# Several NPU tiles (issue 14): K = 1, 2, 4 tiles of the sim NPU (8x8) sharing main memory,
# and small tiles for the tests and for "four 4x4 against one 8x8" (same MACs).
# `dure.sim.tile_scaling` varies `main_bandwidth` ("shared" / "scaled") on top of these.
PRESETS["sim-2t"] = replace(PRESETS["sim"], name="sim-2t", npu_tiles=2)
PRESETS["sim-4t"] = replace(PRESETS["sim"], name="sim-4t", npu_tiles=4)
# 4x4 tiles with the memories of npu-small: the test suite's two-tile SoC and the small curve.
PRESETS["npu-small-2t"] = replace(PRESETS["npu-small"], name="npu-small-2t", npu_tiles=2)
PRESETS["npu-small-4t"] = replace(PRESETS["npu-small"], name="npu-small-4t", npu_tiles=4)
PRESETS["icebreaker-npu"] = replace(
    PRESETS["icebreaker"], name="icebreaker-npu", npu_rows=2, npu_cols=2, npu_fp16=False,
    npu_float_post=False, npu_perf_bits=32, npu_spad_rows=256, npu_acc_rows=256,
    npu_queue_depth=2, npu_eltwise=False, dot_unit=False, clint_bits=64, bus_outstanding=4)


def preset(name):
    """The preset variant called ``name``, with a message listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown SoC variant {name!r}; choose one of: {', '.join(sorted(PRESETS))}"
        ) from None


#: Environment variable naming the variant that simulations use when none is given.
VARIANT_ENV = "DURE_VARIANT"


def default_variant():
    """Name of the variant used when a command or :func:`dure.sim.runner.run_elf` is given
    none: ``$DURE_VARIANT`` if set, else ``"sim"``. The test suite sets it to ``cpu`` so that
    CPU-only tests build the small model (tests/conftest.py)."""
    return os.environ.get(VARIANT_ENV) or "sim"
