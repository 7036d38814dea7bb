"""One retired instruction, and the simulator's ``--trace`` text format.

The simulator writes one line per ``rvfi__valid`` (the retirement port
of :mod:`dure.rtl.core.rvfi`): twelve space-separated lowercase hex
fields without ``0x``::

    pc insn trap intr rd_addr rd_wdata mem_addr mem_rmask mem_wmask mem_wdata mem_rdata pc_wdata

The reference ISS produces the same records, so both sides are compared field by field.
"""

from dataclasses import dataclass, fields

__all__ = ["TraceRecord", "TraceFormatError", "parse_trace", "read_trace", "format_record"]

FIELDS = ("pc", "insn", "trap", "intr", "rd_addr", "rd_wdata", "mem_addr", "mem_rmask",
          "mem_wmask", "mem_wdata", "mem_rdata", "pc_wdata")


class TraceFormatError(ValueError):
    """A trace line that does not follow the format."""


@dataclass
class TraceRecord:
    """One instruction leaving the pipeline (RVFI subset). All fields are unsigned ints."""

    pc: int
    insn: int
    trap: int = 0
    intr: int = 0
    rd_addr: int = 0
    rd_wdata: int = 0
    mem_addr: int = 0
    mem_rmask: int = 0
    mem_wmask: int = 0
    mem_wdata: int = 0
    mem_rdata: int = 0
    pc_wdata: int = 0


assert tuple(f.name for f in fields(TraceRecord)) == FIELDS


def parse_trace(lines, source="trace"):
    """Records from an iterable of trace lines; blank lines are skipped.

    Raises
    ------
    TraceFormatError
        On a line without exactly twelve hex fields (the message names ``source`` and the
        line number).
    """
    records = []
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(FIELDS):
            raise TraceFormatError(
                f"{source}:{number}: expected {len(FIELDS)} hex fields, got {len(parts)}")
        try:
            values = [int(part, 16) for part in parts]
        except ValueError:
            raise TraceFormatError(f"{source}:{number}: not hexadecimal: {line.strip()!r}")\
                from None
        records.append(TraceRecord(*values))
    return records


def read_trace(path):
    """Records from a trace file written by ``dure run --trace``."""
    with open(path) as file:
        return parse_trace(file, source=str(path))


def format_record(record):
    """The trace line of one record (no newline)."""
    return " ".join(f"{getattr(record, name):x}" for name in FIELDS)
