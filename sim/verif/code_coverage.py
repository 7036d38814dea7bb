"""Code coverage of the Verilator models, mapped back to the Amaranth modules.

With ``$DURE_CODE_COVERAGE`` set (``make coverage``), every Verilator model is built with line
and toggle coverage and every run writes its counts to a ``verilator-*.dat`` file in that
folder (:mod:`dure.sim.verilator_build`); under pytest, the plugin
:mod:`dure.sim.verif.pytest_coverage` gives each process a subfolder and folds its runs into
one file per process after every test (:func:`fold`). This module reads those files (Verilator's
``SystemC::Coverage-3`` format: one ``C '<key>' <count>`` line per coverage point, the key a
list of ``\\x01name\\x02value`` fields), adds the counts of equal points, and aggregates them.

Points
    ``line`` and ``branch`` points (a statement block, an ``if`` / ``case`` arm of the
    generated Verilog) make up *line coverage*, without the ``if`` of the time-zero trigger
    that Yosys's Verilog backend puts at the top of every combinational process (it can
    never be taken); ``toggle`` points (one per bit and direction,
    ``0->1`` and ``1->0``) make up *toggle coverage*. A point is hit when its merged count is
    at least 1. Signals wider than Verilator's ``--coverage-max-width`` (the memories) have
    no toggle points.
Modules
    Amaranth names every Verilog module after its elaboratable's path in the design
    (``dure_sim_top.soc.core.m.csr``); :func:`module_name` drops the top and SoC levels and
    the ``$n`` suffixes Amaranth adds to keep names unique, giving ``core.m.csr``. Each
    Verilog file (one per model build: the SoC, the whole NPU) is reported on its own: two
    models' points of a like-named module are different lines of different files.
Blocks
    :data:`BLOCKS` groups modules into the blocks of the report (core stages, CSR, PMP,
    trap unit, NPU registers, queue, dispatcher, validator, units ...); the areas ``core``
    (everything under ``core.``) and ``npu.control`` (everything under ``npu.control.``) get
    a total each and a list of their least-covered lines.

``python -m dure.sim.verif.code_coverage FOLDER`` prints the Markdown report of a folder;
:func:`dure.sim.verif.coverage.main` appends it to ``coverage.md`` next to the functional
coverpoints.
"""

import collections
import pathlib
import re
import sys
from dataclasses import dataclass

__all__ = ["Point", "read", "merge", "write", "fold", "points", "module_name", "block_of", "BLOCKS",
           "summarise", "report"]

_HEADER = "# SystemC::Coverage-3"
_LINE = re.compile(r"^C '(.*)' (\d+)$")


@dataclass(frozen=True)
class Point:
    """One coverage point of one model. ``kind``: ``line``, ``branch`` or ``toggle``;
    ``file``, ``line``: where in the generated Verilog; ``module``: :func:`module_name` of the
    Verilog module; ``comment``: Verilator's (``block``, ``if``, ``else``, ``sig[3]:0->1``)."""
    kind: str
    file: str
    line: int
    module: str
    comment: str
    count: int


def read(path):
    """``{key: count}`` of one coverage file; ValueError naming the file and line when it is
    not a Verilator coverage file."""
    path = pathlib.Path(path)
    counts = {}
    with open(path, encoding="latin-1") as file:
        first = file.readline().rstrip("\n")
        if first != _HEADER:
            raise ValueError(f"{path}: not a Verilator coverage file (first line {first!r})")
        for number, text in enumerate(file, 2):
            match = _LINE.match(text.rstrip("\n"))
            if match is None:
                raise ValueError(f"{path}:{number}: not a coverage point: {text.strip()!r}")
            counts[match[1]] = counts.get(match[1], 0) + int(match[2])
    return counts


def merge(folder):
    """The sum of every ``verilator-*.dat`` file in ``folder`` (what ``verilator_coverage
    --write`` would give), and the number of runs they hold (a file written by :func:`fold`
    counts the runs folded into it)."""
    total = collections.Counter()
    files = sorted(pathlib.Path(folder).glob("verilator-*.dat"))
    runs = 0
    for path in files:
        total.update(read(path))
        match = re.search(r"-runs(\d+)\.dat$", path.name)
        runs += int(match[1]) if match else 1
    return total, runs


def write(path, counts):
    """Write ``{key: count}`` to ``path`` in Verilator's format (through a temporary name)."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="latin-1") as file:
        file.write(_HEADER + "\n")
        for key, count in counts.items():
            file.write(f"C '{key}' {count}\n")
    tmp.replace(path)


def fold(folder, into):
    """Add every ``verilator-*.dat`` of ``folder`` into the file ``into`` (named
    ``...-runs<n>.dat``, ``n`` the runs it holds; created when missing) and delete them: one
    run of the SoC model writes ~140 MB, so the pytest plugin folds each test's runs into one
    file per process. Returns the new path of ``into``."""
    files = sorted(pathlib.Path(folder).glob("verilator-*.dat"))
    into = pathlib.Path(into)
    if not files:
        return into
    match = re.search(r"-runs(\d+)\.dat$", into.name)
    if match is None:
        raise ValueError(f"{into}: the name of a folded file ends in -runs<n>.dat")
    total = collections.Counter(read(into)) if into.exists() else collections.Counter()
    for path in files:
        total.update(read(path))
    target = into.with_name(f"{into.name[:match.start()]}-runs{int(match[1]) + len(files)}.dat")
    write(target, total)
    if target != into and into.exists():
        into.unlink()
    for path in files:
        path.unlink()
    return target


def _fields(key):
    out = {}
    for part in key.split("\x01")[1:]:
        name, _, value = part.partition("\x02")
        out[name] = value
    return out


def module_name(verilog_module):
    """The Amaranth path of a generated Verilog module, without the top (``dure_sim_top``,
    ``npu`` of the standalone NPU keeps its name), the ``soc`` level and ``$n`` suffixes:
    ``dure_sim_top.soc.core.m.trap$81`` -> ``core.m.trap``."""
    parts = [re.sub(r"\$\d+$", "", p) for p in verilog_module.split(".")]
    if parts[0] == "dure_sim_top":
        parts = parts[1:] or ["top"]
        if parts[0] == "soc":
            parts = parts[1:] or ["soc"]
    return ".".join(parts)


# Yosys's Verilog backend (Amaranth's output) starts every combinational process with
# `if (\$auto$verilog_backend.cc:N:dump_module$M ) begin end`, a statement on a signal that is
# never set, there only to wake the process at time zero: its branch can never be taken.
_NEVER = re.compile(r"^if \(\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ \) begin end$")


def points(merged, *, sources=None):
    """The :class:`Point` list of merged counts (keys without a type or page are skipped, and
    so are the line points of Yosys's never-taken process triggers, see ``_NEVER``, found in
    the Verilog file when it can be read). ``sources``: a ``{file: lines}`` cache."""
    sources = {} if sources is None else sources
    out = []
    for key, count in merged.items():
        f = _fields(key)
        page = f.get("page", "")
        if "t" not in f or "/" not in page:
            continue
        # a model is built in a temporary sibling folder and renamed (verilator_build.cached)
        file = re.sub(r"/\.build-(.+)-[^-/]+/", r"/\1/", f.get("f", ""))
        line = int(f.get("l", 0) or 0)
        if f["t"] != "toggle" and _NEVER.match(_verilog_line(file, line, sources)):
            continue
        out.append(Point(f["t"], file, line, module_name(page.split("/", 1)[1]),
                         f.get("o", ""), count))
    return out


def _last(module):
    return module.rsplit(".", 1)[-1]


#: ``(area, block, test)``: the first block whose test accepts a module name takes it.
BLOCKS = [
    ("core", "PMP", lambda m: m.startswith("core.") and _last(m).startswith("pmp")),
    ("core", "triggers", lambda m: m.startswith("core.") and _last(m).startswith("trigger")),
    ("core", "fetch", lambda m: m == "core.fetch" or m.startswith("core.fetch.")),
    ("core", "decode (D stage, decoder, register file, predictor)",
     lambda m: m == "core.d" or m.startswith("core.d.")),
    ("core", "divider", lambda m: m.startswith("core.x.divider")),
    ("core", "execute (X stage, ALU, shifter, branch, bypass)",
     lambda m: m == "core.x" or m.startswith("core.x.")),
    ("core", "multiplier", lambda m: m.startswith("core.multiplier")),
    ("core", "load / store unit", lambda m: m.startswith("core.lsu")),
    ("core", "CSR file", lambda m: m.startswith("core.m.csr")),
    ("core", "trap unit", lambda m: m.startswith("core.m.trap")),
    ("core", "memory stage", lambda m: m == "core.m" or m.startswith("core.m.")),
    ("core", "writeback", lambda m: m == "core.w" or m.startswith("core.w.")),
    ("core", "core top", lambda m: m == "core" or m.startswith("core.")),
    ("npu.control", "validator", lambda m: m.startswith("npu.control.dispatch.validator")),
    ("npu.control", "dispatcher", lambda m: m.startswith("npu.control.dispatch")),
    ("npu.control", "command queue", lambda m: m.startswith("npu.control.queue")),
    ("npu.control", "registers", lambda m: m.startswith("npu.control.regs")),
    ("npu.control", "command source (LIST fetch)", lambda m: m.startswith("npu.control.source")),
    ("npu.control", "performance counters", lambda m: m.startswith("npu.control.perf")),
    ("npu.control", "control top", lambda m: m == "npu.control" or m.startswith("npu.control.")),
]


def block_of(module):
    """``(area, block)`` of a module: from :data:`BLOCKS`, else ``npu.datapath`` and its unit
    (``npu.datapath.array.core.mesh.pe_0_0`` -> ``array``), else the module's first two
    levels (``npu`` / ``soc`` areas)."""
    for area, block, test in BLOCKS:
        if test(module):
            return area, block
    parts = module.split(".")
    if parts[0] == "npu":
        if len(parts) > 1 and parts[1] == "datapath":
            return "npu.datapath", parts[2] if len(parts) > 2 else "datapath top"
        return "npu", ".".join(parts[:2])
    return "soc", ".".join(parts[:2]) if parts[0] != "top" else "top"


def _kind(point):
    return "toggle" if point.kind == "toggle" else "line"


def summarise(pts):
    """``{(file, area, block): {"line": [hit, total], "toggle": [hit, total]}}`` and the same
    per area under block ``None``."""
    table = collections.defaultdict(lambda: {"line": [0, 0], "toggle": [0, 0]})
    for p in pts:
        area, block = block_of(p.module)
        for row in (table[(p.file, area, block)], table[(p.file, area, None)]):
            cell = row[_kind(p)]
            cell[0] += p.count > 0
            cell[1] += 1
    return dict(table)


def _pct(cell):
    hit, total = cell
    return f"{100 * hit / total:.1f}" if total else "-"


def _verilog_line(file, line, cache):
    if file not in cache:
        try:
            cache[file] = pathlib.Path(file).read_text(errors="replace").splitlines()
        except OSError:
            cache[file] = []
    lines = cache[file]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def report(merged, runs=0, *, least=40):
    """Markdown: per model (Verilog file) a table of line and toggle coverage per block, the
    area totals, and for ``core`` and ``npu.control`` the ``least`` least-covered line points
    (never hit first, then the fewest hits). Returns ``(text, {(file, area): (line %,
    toggle %)})``."""
    cache, totals = {}, {}
    pts = points(merged, sources=cache)
    table = summarise(pts)
    files = sorted({p.file for p in pts})
    out = ["# Code coverage (Verilator line and toggle coverage)", "",
           f"{runs} model runs merged; line = statement blocks and branch arms of the generated "
           "Verilog, toggle = each bit's 0->1 and 1->0.", ""]
    for file in files:
        rows = sorted(((k, v) for k, v in table.items() if k[0] == file),
                      key=lambda kv: (kv[0][1], kv[0][2] or ""))
        out += [f"## Model `{pathlib.Path(file).parent.name}/{pathlib.Path(file).name}`", "",
                "| area | block | lines hit | of | line % | toggles hit | of | toggle % |",
                "|---|---|---|---|---|---|---|---|"]
        for (_, area, block), cells in rows:
            if block is None:
                continue
            out.append(f"| {area} | {block} | {cells['line'][0]} | {cells['line'][1]} | "
                       f"{_pct(cells['line'])} | {cells['toggle'][0]} | {cells['toggle'][1]} | "
                       f"{_pct(cells['toggle'])} |")
        for (_, area, block), cells in rows:
            if block is None:
                out.append(f"| **{area}** | **total** | {cells['line'][0]} | "
                           f"{cells['line'][1]} | **{_pct(cells['line'])}** | "
                           f"{cells['toggle'][0]} | {cells['toggle'][1]} | "
                           f"**{_pct(cells['toggle'])}** |")
                totals[(file, area)] = (_pct(cells["line"]), _pct(cells["toggle"]))
        out.append("")
        for area in ("core", "npu.control"):
            lines = [p for p in pts if p.file == file and _kind(p) == "line"
                     and block_of(p.module)[0] == area]
            if not lines:
                continue
            lines.sort(key=lambda p: (p.count, p.module, p.line, p.comment))
            missed = sum(p.count == 0 for p in lines)
            out += [f"### Least-covered lines of `{area}` ({missed} of {len(lines)} never hit)",
                    "", "| hits | module | Verilog line | point | text |", "|---|---|---|---|---|"]
            for p in lines[:least]:
                text = _verilog_line(file, p.line, cache).replace("|", "\\|")[:90]
                out.append(f"| {p.count} | `{p.module}` | {p.line} | {p.comment} | `{text}` |")
            out.append("")
    if not files:
        out.append("No Verilator coverage files (was the run made with $DURE_CODE_COVERAGE?).")
    return "\n".join(out) + "\n", totals


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dure.sim.verif.code_coverage FOLDER  (verilator-*.dat)")
    total, runs = merge(sys.argv[1])
    print(report(total, runs)[0])
