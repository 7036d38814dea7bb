"""Functional coverage: named coverpoints that checkers hit while tests run, and their report.

A checker calls :func:`cover` (``cover("core.trap", 2)``) when it has *checked* a situation:
the counts say which corners the suite reached, not which it merely generated. Each coverpoint
group has a fixed list of bins (:data:`GROUPS`); a hit outside the list is counted under its
own name and reported as unexpected, never dropped.

Counts live in the process. The pytest plugin :mod:`dure.sim.verif.pytest_coverage` writes
each process's counts to ``$DURE_COVERAGE_DIR/<pid>.json`` at the end of a session when that
variable is set (``make coverage`` sets it); :func:`merge` adds the files and :func:`report`
renders a Markdown table with the hit / missed bins (``python -m dure.sim.verif.coverage DIR``
prints it and writes ``DIR/coverage.md``).

Groups (what hits them):

``core.trap``
    exception codes (mcause) of traps the lock-step comparison of random programs checked
    (:func:`dure.sim.verif.core_random.compare`).
``core.trap_situation``
    exception code x what the instruction retired just before the trapping one was: a taken
    branch or jump (``branch_shadow``), a load whose destination the trapping instruction reads
    (``load_use``), a multiply / divide (``muldiv``), a store (``after_store``) or anything
    else (``plain``); from the retirement trace.
``core.interrupt``
    interrupt code x what was retired last before it (``after_load``, ``after_store``,
    ``after_muldiv``, ``branch_shadow``, ``after_trap_return``, ``after_wfi`` (woken from
    WFI), ``plain``), taken in lock-step
    (:func:`dure.sim.verif.core_random.take_interrupt`).
``core.irq_enable``
    interrupt code x enable state: taken from M-mode (``taken_m``) or U-mode (``taken_u``),
    or the line high at a retirement while masked in ``mie`` (``masked_mie``) or by
    mstatus.MIE = 0 in M-mode (``masked_mstatus``), where the comparison checks that it is not
    taken (:func:`dure.sim.verif.core_random.take_interrupt` refuses a masked one).
``core.nested``
    an exception taken inside an interrupt handler (MIE clear, with interrupts in use), its
    mepc / mstatus saved and restored around it.
``npu.error``
    NPU error code x opcode of the refused command, or ``BUS_ERROR`` x unit, whose ERROR
    register value the random command streams checked (``tests/rtl/npu/test_dispatch.py``).
``npu.hazard``
    dispatcher ordering the schedule checker verified: ``RAW`` / ``WAR`` / ``WAW`` between two
    units (LOAD, COMPUTE, STORE, ELTWISE), ``EXEC_RAW`` (a COMPUTE accumulating onto an older
    one in flight) and ``FENCE`` (:func:`dure.sim.verif.npu_control.check_schedule`).
``npu.store_mode``
    every STORE output mode of the table in ``rtl/npu/store_cmd.py``, counted for a STORE whose
    output bytes a checker compared bit-exactly with the golden command model
    (:func:`dure.sim.verif.npu_datapath.check_stores`, ``tests/rtl/npu/test_store_unit.py``):
    ``acc_type->out`` and then, for INT8 -> INT8, the requantization mode (``FLOAT_SCALE``,
    ``TFLITE_DOUBLE_ROUNDING``, ``TFLITE_SINGLE_ROUNDING``) x the scales (``per_column`` or
    per-row ``lane_scales``); INT8 -> INT32 ``raw``; INT8 -> FP16 the scales x the clamp
    (``clamp`` / ``no_clamp``: the activation range); FP16 -> FP16 and FP16 -> FP32 the scales
    (``none``, ``per_column``, ``lane_scales``) x the clamp. The bin of a command is
    :func:`dure.sim.verif.npu_datapath.store_mode`.

A group with a bin not hit fails the report: :func:`main` (``make coverage``) exits non-zero
after writing it, naming the groups (:func:`incomplete`).
"""

import collections
import contextlib
import json
import os
import pathlib
import sys

__all__ = ["GROUPS", "cover", "counts", "reset", "suspended", "dump", "merge", "report",
           "incomplete", "main", "COVERAGE_ENV"]

#: Environment variable naming the folder the per-process counts go to.
COVERAGE_ENV = "DURE_COVERAGE_DIR"

# The exception codes this hart raises (rtl/core/README.md, "Traps and CSRs"): no 4 / 6, since
# misaligned loads and stores are performed (split into two word accesses), never trapped;
# 8 is ECALL from U-mode.
_EXCEPTIONS = [0, 1, 2, 3, 5, 7, 8, 11]
_SITUATIONS = ["plain", "branch_shadow", "load_use", "muldiv", "after_store"]
# ECALL reads no register, so a load whose result it uses cannot exist.
_NO_SOURCES = (8, 11)
_IRQ_SITUATIONS = ["plain", "branch_shadow", "after_load", "after_store", "after_muldiv",
                   "after_trap_return", "after_wfi"]
_REFUSALS = ["BAD_OPCODE", "RESERVED", "ZERO_DIM", "DIM_TOO_LARGE", "BAD_COMBINATION",
             "MISALIGNED", "STRIDE", "LOCAL_RANGE", "DMA_WINDOW"]
# Which refusal codes each opcode can produce (LOAD has no array-size limit of its own for cols
# beyond the lanes; a FENCE has no dimensions, strides or addresses; a pushed LIST: reserved
# words, count 0, list_addr not a multiple of 4, entries outside the DMA window. A LIST entry
# inside a list, refused with BAD_COMBINATION, has no bin yet).
_REFUSAL_BY_OP = {
    "LOAD": ["RESERVED", "ZERO_DIM", "DIM_TOO_LARGE", "BAD_COMBINATION", "MISALIGNED", "STRIDE",
             "LOCAL_RANGE", "DMA_WINDOW"],
    "COMPUTE": ["RESERVED", "ZERO_DIM", "DIM_TOO_LARGE", "BAD_COMBINATION", "LOCAL_RANGE"],
    "STORE": ["RESERVED", "ZERO_DIM", "DIM_TOO_LARGE", "BAD_COMBINATION", "MISALIGNED", "STRIDE",
              "LOCAL_RANGE", "DMA_WINDOW"],
    "FENCE": ["RESERVED"],
    "LIST": ["RESERVED", "ZERO_DIM", "MISALIGNED", "DMA_WINDOW"],
    "ELTWISE": ["RESERVED", "ZERO_DIM", "DIM_TOO_LARGE", "BAD_COMBINATION", "LOCAL_RANGE"],
}

_REQUANT = ["FLOAT_SCALE", "TFLITE_DOUBLE_ROUNDING", "TFLITE_SINGLE_ROUNDING"]
_CLAMP = ["no_clamp", "clamp"]
# The STORE table of rtl/npu/store_cmd.py, written out: scale required (INT8 -> INT8 / FP16),
# forbidden (INT8 -> INT32) or optional (the fp accumulators); lane_scales needs the scale.
_STORE_MODES = ([f"INT8->INT8/{m}/{s}" for m in _REQUANT for s in ("per_column", "lane_scales")]
                + ["INT8->INT32/raw"]
                + [f"INT8->FP16/{s}/{c}" for s in ("per_column", "lane_scales") for c in _CLAMP]
                + [f"FP16->{out}/{s}/{c}" for out in ("FP16", "FP32")
                   for s in ("none", "per_column", "lane_scales") for c in _CLAMP])

#: Every coverpoint group and its bins (as strings).
GROUPS = {
    "core.trap": [str(c) for c in _EXCEPTIONS],
    "core.trap_situation": [f"{c}/{s}" for c in _EXCEPTIONS if c != 1 for s in _SITUATIONS
                            if not (c in _NO_SOURCES and s == "load_use")],
    "core.interrupt": [f"{c}/{s}" for c in (3, 7, 11) for s in _IRQ_SITUATIONS],
    "core.irq_enable": [f"{c}/{s}" for c in (3, 7, 11)
                        for s in ("taken_m", "taken_u", "masked_mie", "masked_mstatus")],
    "core.nested": ["11/in_interrupt_handler"],
    "npu.error": (["BAD_OPCODE/-"] +
                  [f"{code}/{op}" for op, codes in _REFUSAL_BY_OP.items() for code in codes] +
                  ["BUS_ERROR/load", "BUS_ERROR/store"]),
    "npu.hazard": ["RAW/load->exec", "RAW/load->store", "RAW/exec->store",
                   "WAR/exec->load", "WAR/store->load", "WAR/store->exec",
                   "WAW/load->exec", "WAW/exec->load", "EXEC_RAW/exec->exec", "FENCE/-",
                   # the ELTWISE unit (reads SPAD and, accumulating, ACC; writes ACC)
                   "RAW/load->eltwise", "RAW/exec->eltwise", "RAW/eltwise->exec",
                   "RAW/eltwise->store", "WAR/eltwise->load", "WAR/eltwise->exec",
                   "WAR/exec->eltwise", "WAR/store->eltwise", "WAW/load->eltwise",
                   "WAW/eltwise->load", "WAW/exec->eltwise", "WAW/eltwise->exec"],
    "npu.store_mode": _STORE_MODES,
}

_counts = collections.Counter()


def cover(group, point, n=1):
    """Count ``n`` hits of ``point`` (any value; compared as ``str``) in ``group``."""
    _counts[(group, str(point))] += n


def counts():
    """This process's counts as ``{group: {point: hits}}``."""
    out = {}
    for (group, point), n in _counts.items():
        out.setdefault(group, {})[point] = n
    return out


def reset():
    _counts.clear()


@contextlib.contextmanager
def suspended():
    """Hits inside the block are dropped (a run on a deliberately broken design, such as a
    planted bug, checks nothing that coverage should count)."""
    saved = collections.Counter(_counts)
    try:
        yield
    finally:
        _counts.clear()
        _counts.update(saved)


def dump(folder):
    """Write this process's counts to ``folder/<pid>.json`` (merged with an earlier dump of the
    same process); returns the path, or None when nothing was hit."""
    if not _counts:
        return None
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    data = counts()
    if path.exists():
        data = _add(json.loads(path.read_text()), data)
    path.write_text(json.dumps(data, sort_keys=True))
    return path


def _add(a, b):
    out = {g: dict(p) for g, p in a.items()}
    for group, points in b.items():
        for point, n in points.items():
            out.setdefault(group, {})[point] = out.get(group, {}).get(point, 0) + n
    return out


def merge(folder):
    """The sum of every ``*.json`` count file in ``folder``."""
    total = {}
    for path in sorted(pathlib.Path(folder).glob("*.json")):
        total = _add(total, json.loads(path.read_text()))
    return total


def report(total):
    """Markdown: per group the hit bins of :data:`GROUPS`, the missed ones and unexpected
    hits; first a summary table. Returns ``(text, {group: (hit, bins)})``."""
    summary, sections = {}, []
    for group, bins in GROUPS.items():
        got = total.get(group, {})
        hit = [b for b in bins if got.get(b)]
        missed = [b for b in bins if not got.get(b)]
        extra = sorted(p for p in got if p not in bins)
        summary[group] = (len(hit), len(bins))
        lines = [f"### {group}: {len(hit)} of {len(bins)} bins hit", ""]
        lines.append("hit: " + (", ".join(f"`{b}` ({got[b]})" for b in hit) or "none"))
        lines.append("")
        lines.append("missed: " + (", ".join(f"`{b}`" for b in missed) or "none"))
        if extra:
            lines += ["", "unexpected: " + ", ".join(f"`{p}` ({got[p]})" for p in extra)]
        sections.append("\n".join(lines))
    head = ["# Functional coverage", "", "| group | bins hit | of | % |", "|---|---|---|---|"]
    for group, (hit, n) in summary.items():
        head.append(f"| {group} | {hit} | {n} | {100 * hit / n:.0f} |")
    text = "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    return text, summary


def incomplete(summary):
    """The groups of a :func:`report` summary with a bin not hit, as ``"group (hit of n)"``."""
    return [f"{group} ({hit} of {n})" for group, (hit, n) in summary.items() if hit < n]


def main(folder):
    """Write ``folder/coverage.md``: the functional coverpoints of the count files and, when
    the folder holds Verilator coverage files (``make coverage``), the code coverage report of
    :mod:`dure.sim.verif.code_coverage` after them. Returns ``(text, missing)``: the report
    and :func:`incomplete`'s list of groups not fully hit."""
    from . import code_coverage

    text, summary = report(merge(folder))
    merged, runs = code_coverage.merge(folder)
    if runs:
        text += "\n" + code_coverage.report(merged, runs)[0]
    (pathlib.Path(folder) / "coverage.md").write_text(text)
    return text, incomplete(summary)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dure.sim.verif.coverage FOLDER  (the count files)")
    text, missing = main(sys.argv[1])
    print(text)
    if missing:
        sys.exit("functional coverage incomplete: " + ", ".join(missing))
