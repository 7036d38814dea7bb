"""The core fmax flow (dure.fpga.core_fmax) without the tools: the measured design elaborates,
and the critical path is read from a nextpnr log."""

from amaranth.back import verilog
from dure.fpga.core_fmax import CoreRamTop, parse_critical_path, parse_fmax

LOG = """Info: Max frequency for clock 'clk': 20.00 MHz (FAIL at 100.00 MHz)
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source core.x.stage.payload_SB_DFF.Q
Info:    routing  1.00  1.52 Net core.x.rs1
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source core.w.stage.valid.Q
Info:    routing  2.10  2.62 Net core.fetch.redirect
Info:      logic  0.40  3.02 Sink ram.mem.DP16KD.ADA5
Info: Max frequency for clock 'clk': 25.00 MHz (FAIL at 100.00 MHz)
Info: Slack histogram:
"""


def test_parse_critical_path_takes_the_last_report():
    lines = parse_critical_path(LOG)
    assert len(lines) == 4
    assert "core.w.stage.valid.Q" in lines[1] and "DP16KD.ADA5" in lines[3]
    assert parse_critical_path("Info: nothing here\n") == []


def test_parse_fmax_takes_the_last_estimate():
    assert parse_fmax(LOG) == 25.0
    placed = "Info: SA placement time 287.66s\n\nInfo: Max frequency for clock 'clk': " \
        "30.37 MHz (FAIL at 100.00 MHz)\n\nInfo: Slack histogram:\n"
    assert parse_fmax(placed) == 30.37
    assert parse_fmax("Info: Program finished normally.\n") is None


def test_core_ram_top_elaborates():
    text = verilog.convert(CoreRamTop(core="small", ram_size=4096, pmp_entries=0, triggers=0),
                           name="core_top", emit_src=False)
    assert "module core_top" in text and "out" in text
