"""Resource use and timing of a bitstream build, read from nextpnr's report and log.

nextpnr writes ``report.json`` (``--report``) after a successful place and route: cell counts
per type (used / available) and the achieved fmax per clock against its constraint. When the
design does not fit, nextpnr stops before writing it, but its log (``top.tim``) already holds
the ``Device utilisation`` table; :func:`parse_log_utilisation` reads that one.
"""

import json
import re
from dataclasses import dataclass, field

__all__ = ["CELL_NAMES", "BuildReport", "parse_report", "parse_log_utilisation",
           "parse_yosys_cells"]

#: Row name -> nextpnr cell type, per FPGA family.
CELL_NAMES = {
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D",
             "IO": "TRELLIS_IO", "PLL": "EHXPLLL"},
    "ice40": {"LC (LUT+FF)": "ICESTORM_LC", "BRAM": "ICESTORM_RAM",
              "SPRAM": "ICESTORM_SPRAM", "DSP": "ICESTORM_DSP", "IO": "SB_IO",
              "PLL": "ICESTORM_PLL"},
}


@dataclass
class BuildReport:
    """What one build used and reached.

    Attributes
    ----------
    family : str
    utilisation : dict
        Cell type -> (used, available).
    fmax : dict
        Clock net -> (achieved MHz, constrained MHz).
    extra : dict
        Row name -> (used, available) computed elsewhere (iCE40 LUTs and FFs from Yosys).
    """

    family: str
    utilisation: dict
    fmax: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def rows(self):
        """``(name, used, available)`` in table order."""
        out = list((name, *value) for name, value in self.extra.items())
        for name, cell in CELL_NAMES[self.family].items():
            if cell in self.utilisation:
                out.append((name, *self.utilisation[cell]))
        return out

    def overfull(self):
        """Names of the rows whose use exceeds what the device has."""
        return [name for name, used, avail in self.rows() if avail and used > avail]

    def timing_met(self):
        """True if every clock reaches its constraint (and at least one clock was analysed)."""
        return bool(self.fmax) and all(achieved >= target for achieved, target in
                                       self.fmax.values())

    def format(self):
        lines = [f"{'resource':<12} {'used':>7} / {'avail':<7} {'':>6}"]
        for name, used, avail in self.rows():
            share = f"{100 * used / avail:5.1f}%" if avail else ""
            lines.append(f"{name:<12} {used:>7} / {avail:<7} {share:>6}")
        for net, (achieved, target) in self.fmax.items():
            verdict = "met" if achieved >= target else "FAILED"
            lines.append(f"fmax {net}: {achieved:.1f} MHz (target {target:.1f} MHz, {verdict})")
        return "\n".join(lines)


def parse_report(text, family):
    """A :class:`BuildReport` from the contents of nextpnr's ``report.json`` (without the
    constant nets nextpnr-ice40's packer puts on a global buffer, ``$PACKER_GND_NET...``: they
    are not clocks of the design)."""
    data = json.loads(text)
    utilisation = {cell: (int(v["used"]), int(v["available"]))
                   for cell, v in data.get("utilization", {}).items()}
    fmax = {net: (float(v["achieved"]), float(v["constraint"]))
            for net, v in data.get("fmax", {}).items() if not net.startswith("$PACKER_")}
    return BuildReport(family, utilisation, fmax)


_LOG_ROW = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.MULTILINE)


def parse_log_utilisation(text, family):
    """A :class:`BuildReport` (no fmax) from the ``Device utilisation`` table in nextpnr's log;
    the last table in the log wins."""
    utilisation = {}
    for cell, used, avail in _LOG_ROW.findall(text):
        utilisation[cell] = (int(used), int(avail))
    return BuildReport(family, utilisation)


_YOSYS_CELL = re.compile(r"^\s+(\d+)\s+(SB_\w+)\s*$", re.MULTILINE)


def parse_yosys_cells(text):
    """Cell type -> count from the last ``stat`` table in a Yosys log (``top.rpt``)."""
    counts = {}
    for count, cell in _YOSYS_CELL.findall(text):
        counts[cell] = int(count)
    return counts
