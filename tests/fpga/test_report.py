"""Reading nextpnr's report and log: resource rows, fmax, fit and timing verdicts."""

import json

from dure.fpga.report import parse_log_utilisation, parse_report, parse_yosys_cells


def test_report_json():
    text = json.dumps({
        "utilization": {"TRELLIS_COMB": {"used": 9000, "available": 83640},
                        "TRELLIS_FF": {"used": 3000, "available": 83640},
                        "DP16KD": {"used": 100, "available": 208},
                        "MULT18X18D": {"used": 4, "available": 156}},
        "fmax": {"$glbnet$clk": {"achieved": 61.5, "constraint": 50.0}},
    })
    report = parse_report(text, "ecp5")
    assert report.rows()[:4] == [("LUT", 9000, 83640), ("FF", 3000, 83640),
                                 ("BRAM", 100, 208), ("DSP", 4, 156)]
    assert report.timing_met() and not report.overfull()
    assert "61.5 MHz (target 50.0 MHz, met)" in report.format()


def test_packer_constant_nets_are_not_clocks():
    text = json.dumps({"utilization": {}, "fmax": {
        "$PACKER_GND_NET_$glb_clk": {"achieved": 189.8, "constraint": 12.0},
        "clk": {"achieved": 13.5, "constraint": 12.0}}})
    assert list(parse_report(text, "ice40").fmax) == ["clk"]


def test_timing_failure_detected():
    text = json.dumps({"utilization": {}, "fmax": {"clk": {"achieved": 40.0,
                                                            "constraint": 50.0}}})
    assert not parse_report(text, "ecp5").timing_met()


def test_log_table_when_it_does_not_fit():
    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    9864/   5280   186%\n"
           "Info: \t        ICESTORM_RAM:      46/     30   153%\n"
           "Info: \t       ICESTORM_DSP:       4/      8    50%\n")
    report = parse_log_utilisation(log, "ice40")
    assert report.overfull() == ["LC (LUT+FF)", "BRAM"]


def test_yosys_cells():
    text = ("   Number of cells: 10\n     8612   SB_LUT4\n      177   SB_DFF\n"
            "     1412   SB_DFFESR\n")
    assert parse_yosys_cells(text) == {"SB_LUT4": 8612, "SB_DFF": 177, "SB_DFFESR": 1412}
