"""Memory plan: place the activation buffers of a program in one arena, reusing memory by
tensor lifetime.

A buffer lives from the step that writes it (graph inputs: step -1) to the last step that reads
it (graph outputs: to the end). Two buffers may share bytes only if their lifetimes do not
overlap. The plan is greedy best-fit in order of decreasing size (ties: earlier first): each
buffer goes to the lowest aligned offset where it overlaps no placed buffer that is alive at the
same time. The result is deterministic; its peak (the arena size) is reported next to the sum
of all buffer sizes (what no reuse would need).

Aliases (``plan_memory(..., aliases={name: source})``): a buffer that is only a new view of
another's bytes (a layout-only RESHAPE / TRANSPOSE, :func:`.ir.is_layout_view`) is not placed
on its own: it takes the address of the buffer it views (following chains of views to the root
buffer), and the root's lifetime is extended to cover every view's, so nothing is written over
the bytes while any view of them is still read.
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


def alias_root(name, aliases):
    """The buffer ``name`` finally views through ``aliases`` ({view: source}); ValueError for
    a cycle."""
    seen = {name}
    while name in aliases:
        name = aliases[name]
        if name in seen:
            raise ValueError(f"alias cycle through {name!r}")
        seen.add(name)
    return name


def plan_memory(intervals, align=ALIGN, aliases=None):
    """Place ``intervals`` (a list of :class:`Interval`); returns a :class:`MemoryPlan`.

    ``aliases``: {view name: source name} (module docstring): every view gets its root
    buffer's offset, the root the union of their lifetimes; a view and its root must have
    the same size. ``total`` counts the root buffers only.

    Raises ValueError for a negative size, ``first > last``, an alias of an unknown buffer,
    an alias whose size differs from its source's, or an alias cycle."""
    for iv in intervals:
        if iv.size < 0 or iv.first > iv.last:
            raise ValueError(f"bad buffer {iv}")
    aliases = dict(aliases or {})
    if aliases:
        by_name = {iv.name: iv for iv in intervals}
        merged = {}
        for iv in intervals:
            root = alias_root(iv.name, aliases)
            if root not in by_name:
                raise ValueError(f"buffer {iv.name!r} aliases unknown buffer {root!r}")
            if by_name[root].size != iv.size:
                raise ValueError(f"buffer {iv.name!r} ({iv.size} bytes) cannot alias "
                                 f"{root!r} ({by_name[root].size} bytes)")
            m = merged.get(root, by_name[root])
            merged[root] = Interval(root, m.size, min(m.first, iv.first), max(m.last, iv.last))
        plan = plan_memory(list(merged.values()), align)
        for iv in intervals:
            plan.offsets[iv.name] = plan.offsets[alias_root(iv.name, aliases)]
        return plan
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
