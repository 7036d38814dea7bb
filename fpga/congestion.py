"""Where a board's routing congests: nextpnr's congestion heat map joined with the placement.

nextpnr-ecp5's ``router2`` writes, with ``--router2-heatmap PREFIX``, CSVs per routing
iteration; ``PREFIX_congestion_by_coordinate_N.csv`` (nextpnr 0.11) holds a line per tile
column ``x`` and a field per tile row ``y`` (each line ends with a comma; on the LFE5U-85F 128
lines of 97 fields), each value the over-use of the wires whose driving pip sits in that tile
(0 where nothing is over-used); older nextpnr wrote a line per row (``rows="y"``).
``PREFIX_congestion_by_net_N.csv`` lists ``net,over-used wires`` (:func:`read_net_congestion`).
A placed design written with ``--write placed.json``
(``--no-route``) gives every cell a ``NEXTPNR_BEL`` attribute such as ``X12/Y34/SLICEA``.
:func:`report` joins the two: the hottest tiles, and for the tiles around them the cells placed
there grouped by the SoC block (:func:`dure.fpga.lut_breakdown.block_of`, the same attribution
by the Amaranth hierarchy in Yosys's cell names) and by module path.

A heat map tile counts the wires a route drives *from* there, so a hot tile is where over-used
wires start; the cells in and next to it (``radius``) are the ones whose nets fight for them.
This is an attribution by location, not by net: a net crossing the region from elsewhere loads
it without having a cell there. :func:`high_fanout_nets` lists the other suspect, the nets with
the most sinks (resets and clock enables that stayed on general routing) and their extent.

Run after a placement and a few router2 iterations (seconds; reads two files):
``python -m dure.fpga.congestion PREFIX_congestion_by_coordinate_N.csv placed.json [--top 15]
[--radius 1]`` (the ``by_net`` file beside it is listed too).
"""

import argparse
import collections
import json
import pathlib
import re
import sys

from dure.fpga.lut_breakdown import block_of

__all__ = ["read_heatmap", "read_net_congestion", "placed_cells", "hot_tiles", "cells_near",
           "report", "format_report", "high_fanout_nets", "format_fanout", "main"]

_BEL = re.compile(r"^X(\d+)/Y(\d+)/")


def read_heatmap(text, rows="x"):
    """``{(x, y): value}`` of the non-zero tiles of a router2 spatial heat map (CSV text: with
    ``rows="x"``, nextpnr 0.11's layout, line ``x`` holds the values of ``y = 0, 1, ...``; with
    ``rows="y"`` line ``y`` holds those of ``x``; empty fields are skipped). Raises
    ``ValueError`` on a field that is not an integer (a wire-type histogram, for instance, whose
    first line is ``type,bound=0,...``) and on another ``rows``."""
    if rows not in ("x", "y"):
        raise ValueError(f"rows must be 'x' or 'y', not {rows!r}")
    heat = {}
    for line_no, line in enumerate(text.splitlines()):
        for field_no, field in enumerate(line.split(",")):
            field = field.strip()
            if not field:
                continue
            try:
                value = int(field)
            except ValueError:
                raise ValueError(f"not a spatial heat map: line {line_no + 1} field "
                                 f"{field_no + 1} is {field!r}") from None
            if value:
                heat[(line_no, field_no) if rows == "x" else (field_no, line_no)] = value
    return heat


def read_net_congestion(text, top=None):
    """``[(net, over-used wires), ...]``, most first, from a router2 ``congestion_by_net`` CSV
    (``net,count`` lines; a net name may itself hold commas, so the count is the last field);
    the first ``top`` of them (all with ``None``)."""
    rows = []
    for line in text.splitlines():
        if line.strip():
            net, _, count = line.rstrip().rstrip(",").rpartition(",")
            rows.append((net, int(count)))
    rows.sort(key=lambda row: (-row[1], row[0]))
    return rows if top is None else rows[:top]


def placed_cells(placed):
    """``{(x, y): [(cell name, cell type), ...]}`` from a nextpnr JSON design (text or parsed)
    written after placement: every cell of module ``top`` with a ``NEXTPNR_BEL`` attribute
    ``X<x>/Y<y>/...``. Raises ``ValueError`` when there is no module ``top`` or no placed cell."""
    if isinstance(placed, str):
        placed = json.loads(placed)
    try:
        cells = placed["modules"]["top"]["cells"]
    except (KeyError, TypeError):
        raise ValueError("not a nextpnr JSON design with a module `top`") from None
    tiles = collections.defaultdict(list)
    for name, cell in cells.items():
        match = _BEL.match(cell.get("attributes", {}).get("NEXTPNR_BEL", ""))
        if match:
            tiles[(int(match[1]), int(match[2]))].append((name, cell.get("type", "?")))
    if not tiles:
        raise ValueError("no placed cell (no NEXTPNR_BEL attribute): write the design after "
                         "placement (`--no-route --write placed.json`)")
    return dict(tiles)


def hot_tiles(heat, top):
    """The ``top`` hottest tiles of ``heat`` as ``[((x, y), value), ...]``, hottest first (ties
    by y, then x)."""
    return sorted(heat.items(), key=lambda item: (-item[1], item[0][1], item[0][0]))[:top]


def cells_near(tiles, centres, radius):
    """The cells of ``tiles`` (from :func:`placed_cells`) within ``radius`` tiles (Chebyshev
    distance) of any of ``centres``, each cell once."""
    seen = set()
    for cx, cy in centres:
        for x in range(cx - radius, cx + radius + 1):
            for y in range(cy - radius, cy + radius + 1):
                seen.add((x, y))
    return [cell for xy in sorted(seen) for cell in tiles.get(xy, ())]


def _module(name, depth):
    """A cell's module path (the cell name without its last component, ``top.`` in front, as
    :mod:`dure.fpga.lut_breakdown` does), cut to ``depth`` components below ``top``."""
    if name.startswith("$"):
        return "$unnamed"
    path = name.rsplit(".", 1)[0] if "." in name else ""
    parts = [p for p in path.split(".") if p][:depth]
    return ".".join(["top"] + parts)


def report(heat, tiles, top=15, radius=1, depth=4):
    """The congestion report as a dict: ``total`` (sum of the heat map), ``hot`` (the
    :func:`hot_tiles`, each with its own cells' blocks), ``share`` (the hot tiles' share of the
    total), ``bbox`` (x0, y0, x1, y1 of the hot tiles), ``blocks`` and ``modules``
    (``{name: cell count}`` over the cells within ``radius`` of the hot tiles, modules cut to
    ``depth`` levels), largest first."""
    hot = hot_tiles(heat, top)
    total = sum(heat.values())
    rows = []
    for xy, value in hot:
        counts = collections.Counter(block_of(_module(n, 99)) for n, _ in tiles.get(xy, ()))
        rows.append({"tile": xy, "value": value, "blocks": dict(counts.most_common())})
    near = cells_near(tiles, [xy for xy, _ in hot], radius)
    blocks = collections.Counter(block_of(_module(n, 99)) for n, _ in near)
    modules = collections.Counter(_module(n, depth) for n, _ in near)
    xs = [x for (x, _), _ in hot] or [0]
    ys = [y for (_, y), _ in hot] or [0]
    return {"total": total, "hot": rows,
            "share": sum(v for _, v in hot) / total if total else 0.0,
            "bbox": (min(xs), min(ys), max(xs), max(ys)),
            "cells": len(near),
            "blocks": dict(blocks.most_common()), "modules": dict(modules.most_common())}


def format_report(rep, modules=20):
    """Markdown text of :func:`report`'s result (the first ``modules`` module paths)."""
    x0, y0, x1, y1 = rep["bbox"]
    lines = [f"heat map total {rep['total']:,}; the {len(rep['hot'])} hottest tiles hold "
             f"{100 * rep['share']:.1f} % of it, inside X{x0}-{x1} / Y{y0}-{y1}", "",
             "| tile | over-use | cells there by block |", "|---|---|---|"]
    for row in rep["hot"]:
        x, y = row["tile"]
        cells = ", ".join(f"{b} {n}" for b, n in row["blocks"].items()) or "-"
        lines.append(f"| X{x}/Y{y} | {row['value']:,} | {cells} |")
    lines += ["", f"{rep['cells']:,} cells within the radius of the hot tiles, by block:", "",
              "| block | cells |", "|---|---|"]
    lines += [f"| {b} | {n:,} |" for b, n in rep["blocks"].items()]
    lines += ["", "| module | cells |", "|---|---|"]
    lines += [f"| {m} | {n:,} |" for m, n in list(rep["modules"].items())[:modules]]
    return "\n".join(lines)


def high_fanout_nets(placed, top=10):
    """The ``top`` nets with the most sink pins in a nextpnr JSON design (text or parsed), as
    ``[{"net", "sinks", "ports", "bbox"}, ...]``, most sinks first: ``ports`` counts the sinks
    by ``TYPE.PORT`` (``TRELLIS_FF.LSR``: a reset, ``.CE``: a clock enable), ``bbox`` is (x0,
    y0, x1, y1) of the placed sinks (``None`` before placement). A net is named by its shortest
    public name (``$`` names last). General routing builds one tree per net, so a net of
    thousands of sinks spread over the die is what a global network is for."""
    if isinstance(placed, str):
        placed = json.loads(placed)
    try:
        module = placed["modules"]["top"]
    except (KeyError, TypeError):
        raise ValueError("not a nextpnr JSON design with a module `top`") from None
    names = {}
    for name, net in module.get("netnames", {}).items():
        key = (name.startswith("$"), len(name), name)
        for bit in net.get("bits", ()):
            if isinstance(bit, int) and (bit not in names or key < names[bit]):
                names[bit] = key
    sinks = collections.defaultdict(collections.Counter)
    where = collections.defaultdict(list)
    for cell in module["cells"].values():
        match = _BEL.match(cell.get("attributes", {}).get("NEXTPNR_BEL", ""))
        for port, bits in cell.get("connections", {}).items():
            if cell.get("port_directions", {}).get(port) != "input":
                continue
            for bit in bits:
                if isinstance(bit, int):
                    sinks[bit][f"{cell.get('type', '?')}.{port}"] += 1
                    if match:
                        where[bit].append((int(match[1]), int(match[2])))
    rows = []
    for bit, ports in sinks.items():
        xy = where.get(bit)
        bbox = (min(x for x, _ in xy), min(y for _, y in xy), max(x for x, _ in xy),
                max(y for _, y in xy)) if xy else None
        rows.append({"net": names[bit][2] if bit in names else f"<bit {bit}>",
                     "sinks": sum(ports.values()), "ports": dict(ports.most_common()),
                     "bbox": bbox})
    rows.sort(key=lambda row: (-row["sinks"], row["net"]))
    return rows[:top]


def format_fanout(rows):
    """Markdown text of :func:`high_fanout_nets`'s result."""
    lines = ["| net | sinks | by pin | sinks' extent |", "|---|---|---|---|"]
    for row in rows:
        ports = ", ".join(f"{p} {n:,}" for p, n in list(row["ports"].items())[:3])
        extent = "-" if row["bbox"] is None else "X{}-{} / Y{}-{}".format(
            row["bbox"][0], row["bbox"][2], row["bbox"][1], row["bbox"][3])
        lines.append(f"| `{row['net']}` | {row['sinks']:,} | {ports} | {extent} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dure.fpga.congestion",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("heatmap", help="a router2 spatial heat map CSV (--router2-heatmap: "
                        "PREFIX_congestion_by_coordinate_N.csv)")
    parser.add_argument("placed", help="the design written after placement (--write)")
    parser.add_argument("--top", type=int, default=15, help="hot tiles listed (15)")
    parser.add_argument("--radius", type=int, default=1,
                        help="tiles around each hot tile whose cells are counted (1)")
    parser.add_argument("--depth", type=int, default=4, help="module path depth (4)")
    parser.add_argument("--rows", choices=("x", "y"), default="x",
                        help="what a heat map line is: a tile column x (nextpnr 0.11) or row y")
    parser.add_argument("--nets", type=int, default=10,
                        help="also list the nets with the most sinks (10; 0: none)")
    args = parser.parse_args(argv)
    for path in (args.heatmap, args.placed):
        if not pathlib.Path(path).is_file():
            parser.error(f"{path} not found")
    try:
        heat = read_heatmap(pathlib.Path(args.heatmap).read_text(), args.rows)
        placed = json.loads(pathlib.Path(args.placed).read_text())
        tiles = placed_cells(placed)
    except ValueError as error:
        parser.error(str(error))
    print(format_report(report(heat, tiles, args.top, args.radius, args.depth)))
    if args.nets:
        print("\nThe nets with the most sinks:\n")
        print(format_fanout(high_fanout_nets(placed, args.nets)))
        by_net = pathlib.Path(args.heatmap.replace("_by_coordinate_", "_by_net_"))
        if by_net != pathlib.Path(args.heatmap) and by_net.is_file():
            print(f"\nThe nets with the most over-used wires ({by_net.name}):\n")
            print("| net | over-used wires |\n|---|---|")
            for net, count in read_net_congestion(by_net.read_text(), args.nets):
                print(f"| `{net}` | {count:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
