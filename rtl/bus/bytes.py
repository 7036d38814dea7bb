"""Byte lanes of the Dure bus (:mod:`.signature`): how a write with byte enables ``be`` changes
a register. Every bus target with writable registers (peripherals, the NPU registers, the
register-bank builder) takes it from here."""

from amaranth.hdl import Cat, Mux

__all__ = ["merge_bytes"]


def merge_bytes(old, wdata, be):
    """The value of a register of ``len(old)`` bits (<= 32) after a write of ``wdata`` with
    byte enables ``be``: the enabled bytes come from ``wdata``, the others from ``old``."""
    width = len(old)
    parts = []
    for i in range(0, width, 8):
        top = min(i + 8, width)
        parts.append(Mux(be[i // 8], wdata[i:top], old[i:top]))
    return Cat(*parts)
