"""Plain-text tables and firmware discovery for the simulator's commands (demo, bench-cpu)."""

import pathlib
import re

from dure.errors import UserError

from .rtlgen import build_root

__all__ = ["format_table", "firmware_dir", "find_programs", "parse_bench_lines"]

# `BENCH name cycles=N instret=M`, possibly followed by more `key=value` fields (cpi=...).
_BENCH = re.compile(rb"^BENCH (\S+) cycles=(\d+) instret=(\d+)(?:[ \t]+\S+=\S*)*[ \t\r]*$",
                    re.MULTILINE)


def format_table(headers, rows):
    """Columns padded to their widest cell; all-numeric columns right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def numeric(text):
        return text in ("", "-") or re.fullmatch(r"[-+]?[\d.,]+[a-z%x]*", text) is not None

    right = [len(cells) > 1 and all(numeric(row[i]) for row in cells[1:])
             for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right,
                                                                    strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def firmware_dir(path=None):
    """The folder holding the built firmware (default ``build/firmware``)."""
    return pathlib.Path(path) if path is not None else build_root() / "firmware"


def find_programs(folder, patterns):
    """ELF files in ``folder`` matching ``patterns`` in order (each pattern's hits sorted).

    Raises UserError, telling the user to run ``make firmware``, when there are none."""
    folder = pathlib.Path(folder)
    found = []
    for pattern in patterns:
        found += sorted(p for p in folder.glob(pattern) if p not in found)
    if not found:
        wanted = ", ".join(patterns)
        raise UserError(f"no firmware ({wanted}) in {folder}: run `make firmware` first")
    return found


def parse_bench_lines(uart):
    """``[(name, cycles, instret)]`` from the ``BENCH name cycles=N instret=M ...`` lines."""
    return [(m[1].decode(errors="replace"), int(m[2]), int(m[3])) for m in _BENCH.finditer(uart)]
