"""The products the NPU's PERF_MACS counter counts (``PERF_MACS`` in
:mod:`dure.rtl.npu.commands`): per COMPUTE row (:func:`macs_per_row`, which
:class:`~dure.sim.npu_model.NpuModel` adds up as it executes) and for a whole descriptor list
(:func:`perf_macs`, which the planners report as the array MACs of a layer)."""

from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode

__all__ = ["perf_macs", "macs_per_row"]


def perf_macs(descriptors):
    """What PERF_MACS counts for ``descriptors`` (lists of 8 words) when every one executes:
    ``m * k * n`` per COMPUTE (``m * min(k, n)`` with ``diagonal``, ``m * k`` with
    ``gather``), ``m * n`` per ELTWISE
    MAC (``2 * m * n`` with ``pair``), nothing for the other commands (a LIST's entries are
    not followed). See ``PERF_MACS`` in :mod:`dure.rtl.npu.commands`."""
    total = 0
    for words in descriptors:
        opcode, f = decode(words)
        if opcode is Opcode.COMPUTE:
            total += f["m"] * macs_per_row(f)
        elif opcode is Opcode.ELTWISE and f["mac"]:
            total += f["m"] * f["n"] * (2 if f["pair"] else 1)
    return total


def macs_per_row(f):
    """Products per A row a COMPUTE counts in PERF_MACS."""
    if f["gather"]:
        return f["k"]
    return min(f["k"], f["n"]) if f["diagonal"] else f["k"] * f["n"]
