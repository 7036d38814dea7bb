"""The block fmax flow (dure.fpga.block_fmax) without the tools: the scan wrapper reaches every
port bit of its block, the blocks elaborate, and the path summary reads a nextpnr report."""

from dataclasses import replace

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from dure.fpga.block_fmax import BLOCKS, ScanTop, block, path_summary
from dure.fpga.core_fmax import parse_critical_path

from dure.config import preset


class _Xor(wiring.Component):
    """out = a ^ b, registered (a small block for the wrapper's test)."""

    a: In(3)
    b: In(2)
    out: Out(3)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.out.eq(self.a ^ self.b)
        return m


def test_scan_top_drives_inputs_and_shifts_outputs():
    top = ScanTop(_Xor())
    assert (top.input_bits, top.output_bits) == (5, 3)
    seen = []

    async def bench(ctx):
        # Shift in a = 0b101, b = 0b11: the input chain's bit 0 is the last bit shifted in.
        bits = [0b101 >> 0 & 1, 0b101 >> 1 & 1, 0b101 >> 2 & 1, 1, 1]   # chain bits 0..4
        for bit in reversed(bits):
            ctx.set(top.scan_in, bit)
            await ctx.tick()
        ctx.set(top.scan_in, 0)
        await ctx.tick()                 # block registers a ^ b
        ctx.set(top.capture, 1)
        await ctx.tick()                 # the output chain loads it
        ctx.set(top.capture, 0)
        for _ in range(3):
            seen.append(ctx.get(top.scan_out))
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    expected = 0b101 ^ 0b11     # the block's register, taken the cycle after the 5 shifts
    assert seen == [expected >> i & 1 for i in range(3)]


def test_scan_top_refuses_a_non_component():
    with pytest.raises(TypeError, match="wiring.Component"):
        ScanTop(Signal(4))


@pytest.mark.parametrize("name", ["sdram", "pe", "dma", "npu-memory"])
def test_blocks_elaborate(name):
    from amaranth.back import rtlil
    top = ScanTop(block(name, preset("ulx3s")))
    assert top.input_bits > 0 and top.output_bits > 0
    assert "scan_top" in rtlil.convert(top, name="scan_top")


def test_blocks_take_the_presets_timing_options():
    """The ULX3S's DMA has its side slices and its dispatcher the registered hazard bits
    (``npu_dma_side_slices``, ``npu_hazard_regs``); with the options off, neither."""
    from dataclasses import replace

    from amaranth.back import rtlil
    for config, on in ((preset("ulx3s"), True), (replace(preset("ulx3s"), name="off",
                                                         npu_dma_side_slices=False,
                                                         npu_hazard_regs=False), False)):
        dma = rtlil.convert(ScanTop(block("dma", config)), name="scan_top")
        assert ("rd_slice" in dma and "wr_slice" in dma) == on
        dispatcher = rtlil.convert(ScanTop(block("dispatcher", config)), name="scan_top")
        assert ("compute_vs_load_flight0" in dispatcher) == on


@pytest.mark.parametrize("name", ["dispatcher", "npu-control"])
def test_blocks_build_the_dispatcher_as_the_soc(name):
    """With ``npu_eltwise`` the SoC's dispatcher holds two ELTWISEs in flight (the element-wise
    hand-over, ``NpuDatapath.eltwise_handover``): the dispatcher and npu-control blocks build
    the same, so they measure that logic; a dispatcher built without the hand-over has one."""
    from amaranth.back import rtlil
    from dure.rtl.npu.dispatch import Dispatcher
    config = replace(preset("ulx3s"), npu_eltwise_handover=True)
    built = rtlil.convert(ScanTop(block(name, config)), name="scan_top")
    assert "eltwise_flight0" in built and "eltwise_flight1" in built
    one = rtlil.convert(ScanTop(Dispatcher(config, exec_depth=config.npu_exec_depth,
                                           exec_orders_acc=True)), name="scan_top")
    assert "eltwise_flight0" in one and "eltwise_flight1" not in one


def test_unknown_block_and_variant_without_npu():
    with pytest.raises(ValueError, match="unknown block 'nope'"):
        block("nope", preset("ulx3s"))
    with pytest.raises(ValueError, match="has no NPU"):
        block("npu", preset("icebreaker"))
    assert "npu" in BLOCKS and "sdram" in BLOCKS


LOG = """Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source block.control.rq_addr_TRELLIS_FF_Q_7.Q
Info:    routing  1.19  1.71 Net block.control.pre_wait0_TRELLIS_FF_Q_DI_PFUMX_Z[4] (33,7) -> (33,7)
Info:                          Sink block.control.pre_wait1_LUT4_Z.D
Info:       logic  0.24  1.95 Source block.control.pre_wait1_LUT4_Z.F
Info:     routing  2.27  4.21 Net block.control.pre_wait1_LUT4_Z[3] (33,7) -> (43,3)
Info:       setup  0.00  4.21 Source block.control.open_row0_TRELLIS_FF_Q_6.CE
Info: 0.76 ns logic, 3.46 ns routing
Info: Max frequency for clock 'clk': 85.00 MHz (FAIL at 100.00 MHz)
"""


def test_path_summary_names_the_signals_in_order():
    summary = path_summary(parse_critical_path(LOG))
    assert summary == ("block.control.rq_addr -> block.control.pre_wait0 -> "
                       "block.control.pre_wait1 -> block.control.open_row0 "
                       "(0.76 ns logic, 3.46 ns routing)")
    assert path_summary([]) == ""
