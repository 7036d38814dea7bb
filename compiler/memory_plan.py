"""Memory plan: place the activation buffers of a program in one arena, reusing memory by
tensor lifetime.

A buffer lives from the step that writes it (graph inputs: step -1) to the last step that reads
it (graph outputs: to the end). Two buffers may share bytes only if their lifetimes do not
overlap. The plan is greedy best-fit in order of decreasing size (ties: earlier first): each
buffer goes to the lowest aligned offset where it overlaps no placed buffer that is alive at the
same time. The result is deterministic; its peak (the arena size) is reported next to the sum
of all buffer sizes (what no reuse would need).
"""

import dataclasses

__all__ = ["Interval", "MemoryPlan", "plan_memory", "align_up"]

#: Default alignment of every buffer (bytes): covers int8, fp16, int32 / fp32 elements and the
#: DMA's element alignment.
ALIGN = 16


def align_up(value, align=ALIGN):
    return (value + align - 1) // align * align


@dataclasses.dataclass(frozen=True)
class Interval:
    """A buffer to place: ``name``, ``size`` bytes, alive from step ``first`` to ``last``
    (inclusive)."""

    name: str
    size: int
    first: int
    last: int


@dataclasses.dataclass
class MemoryPlan:
    """``offsets``: {name: byte offset in the arena}; ``size``: arena bytes (the peak);
    ``total``: sum of the aligned buffer sizes (the arena without reuse)."""

    offsets: dict
    size: int
    total: int


def plan_memory(intervals, align=ALIGN):
    """Place ``intervals`` (a list of :class:`Interval`); returns a :class:`MemoryPlan`.

    Raises ValueError for a negative size or ``first > last``."""
    for iv in intervals:
        if iv.size < 0 or iv.first > iv.last:
            raise ValueError(f"bad buffer {iv}")
    order = sorted(intervals, key=lambda iv: (-align_up(iv.size, align), iv.first, iv.name))
    placed = []          # (offset, end, interval)
    offsets = {}
    for iv in order:
        size = align_up(max(iv.size, 1), align)
        busy = sorted((o, e) for o, e, other in placed
                      if not (other.last < iv.first or iv.last < other.first))
        offset = 0
        best = None
        for o, e in busy:           # gaps between live buffers: best fit
            if o - offset >= size and (best is None or o - offset < best[1]):
                best = (offset, o - offset)
            offset = max(offset, e)
        chosen = best[0] if best is not None else offset
        placed.append((chosen, chosen + size, iv))
        offsets[iv.name] = chosen
    peak = max((e for _, e, _ in placed), default=0)
    total = sum(align_up(max(iv.size, 1), align) for iv in intervals)
    return MemoryPlan(offsets, peak, total)
