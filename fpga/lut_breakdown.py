"""Where a board build's logic goes: cell counts per SoC block of the synthesized netlist.

The board build (:mod:`dure.fpga.build`) flattens the design and reports one total. Yosys names
each mapped cell after a net it drives or reads (``soc.npu.datapath.array.core.mesh.pe_0_1.add.
s1_x_LUT4_Z``), and that net's name carries the Amaranth hierarchy; :func:`cells_from_netlist`
groups the cells of the build's ``top.json`` by that prefix, and :func:`breakdown` sums the
groups into the blocks of :data:`BLOCKS` (the longest matching hierarchical prefix wins).

This is an attribution by name, not a per-module synthesis: a cell on a net between two blocks
counts for the block the net is named in (close, not exact; the totals are the synthesis's
own). ``COMB`` estimates nextpnr's TRELLIS_COMB use as ``LUT4 + 2 * CCU2C + 2 *
TRELLIS_DPR16X4`` (nextpnr counts a few percent more: LUTs it adds to route through). A
hierarchical synthesis (``synth_ecp5 -noflatten``) of the ULX3S design was tried and failed:
the boot ROM, kept in its own module, was mapped to 32,832 flip-flops and YoWASP Yosys stopped
with a WebAssembly exception in ABC9.

Run after ``make fpga BOARD=...`` (reads no more than the netlist, seconds):
``python -m dure.fpga.lut_breakdown build/fpga/ulx3s``.
"""

import argparse
import json
import pathlib
import re
import sys

__all__ = ["BLOCKS", "cells_from_netlist", "block_of", "breakdown", "format_table", "main"]

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

_INDEX = re.compile(r"(_\d+)+$|\$\d+")      # pe_0_1 -> pe, irq$531 -> irq; col3 -> col below


def cells_from_netlist(netlist):
    """``{module path: {cell type: count}}`` from a Yosys JSON netlist (text or parsed) of a
    flattened design: each cell of module ``top`` under the path its name starts with
    (``soc.core.x.alu_LUT4_Z`` -> ``top.soc.core.x``); cells with a private ``$`` name under
    ``"$unnamed"``. Raises ``ValueError`` when the netlist has no module ``top``."""
    if isinstance(netlist, str):
        netlist = json.loads(netlist)
    try:
        cells = netlist["modules"]["top"]["cells"]
    except (KeyError, TypeError):
        raise ValueError("not a Yosys JSON netlist with a module `top`") from None
    modules = {}
    for name, cell in cells.items():
        if name.startswith("$"):
            path = "$unnamed"
        else:
            path = "top." + name.rsplit(".", 1)[0] if "." in name else "top"
        counts = modules.setdefault(path, {})
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return modules


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
    (``{module path: {cell type: count}}``, from :func:`cells_from_netlist`), plus a
    ``"total"`` row."""
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dure.fpga.lut_breakdown",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="board build folder holding top.json")
    args = parser.parse_args(argv)
    path = pathlib.Path(args.directory) / "top.json"
    if not path.is_file():
        parser.error(f"{path} not found: run `make fpga BOARD=...` (its synthesis) first")
    print(format_table(breakdown(cells_from_netlist(path.read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
