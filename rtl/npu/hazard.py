"""Hazards between NPU commands: the SPAD / ACC row ranges each command reads and writes.

Each unit's command is summarised by a *footprint* of half-open row ranges ``[start, end)``:

==========  =====================================  ==========================================
unit        reads                                  writes
==========  =====================================  ==========================================
LOAD        --                                     SPAD or ACC ``[local_addr, last + 1)``
COMPUTE     SPAD ``[a_addr, a_last + 1)``,           ACC ``[acc_addr, +m)``
            ``[w_addr, +k)``,
            ACC ``[acc_addr, +m)`` if ``accumulate``,
            ACC ``[init_addr, +1)`` if ``init_row``
STORE       ACC ``[acc_addr, +rows)``, ACC rows     --
            ``[scale_addr, +1)`` if scale
            (``+2`` in a TFLite ``requant`` mode;
            with ``lane_scales`` that many per
            group of C rows)
ELTWISE     SPAD ``[a_addr, a_last + 1)`` (``+      ACC ``[acc_addr, +m)``
            tap_step`` for a ``pair`` MAC), for ADD
            ``[b_addr, b_addr + a_last - a_addr
            + 1)``, for MAC ``[b_addr, +1)`` (``+2``
            with ``pair``); ACC ``[acc_addr, +m)``,
            ACC ``[init_addr, +1)`` if ``init_row``
==========  =====================================  ==========================================

``last`` is the largest destination row of the LOAD (``local_addr + rows - 1``, or with a 2-D
placement ``local_addr + (local_groups - 1) * local_row_step + local_cols - 1``) and ``a_last``
the largest SPAD row of A the COMPUTE reads (``a_addr + m - 1``, or with a walk ``a_addr +
(a_rows - 1) * a_row_step + (a_cols - 1) * a_col_step``). A range is a superset of the rows
touched (a walk or placement with gaps), which is safe. Only validated commands get a
footprint, so these rows lie inside the memory and fit the 17-bit range ends.

With ``config.npu_row_hazard`` (``footprint_layouts(grid=True)``) a LOAD's 2-D placement and a
COMPUTE's walk (and an ELTWISE's walk of one tap, not a ``pair`` MAC's) also carry a *grid*:
every row they touch lies in a column window modulo a row pitch,

==========  ===========================  ===================  ==============================
command     on when                      pitch                window ``[off, off + width)``
==========  ===========================  ===================  ==============================
LOAD        ``local_cols != 0`` and      ``local_row_step``   ``off = local_addr mod pitch``,
            ``local_row_step >=                               ``width = local_cols``
            local_cols``
COMPUTE     ``a_cols != 0`` and          ``a_row_step``       ``off = a_addr mod pitch``,
            ``span <= a_row_step``                            ``width = span = (a_cols - 1) *
                                                              a_col_step + 1``
ELTWISE     as COMPUTE, and not          ``a_row_step``       as COMPUTE
            ``mac & pair``
==========  ===========================  ===================  ==============================

and :func:`conflict_lc` (:func:`conflict_le` likewise on A) finds no A conflict between two
whose grids are on with one pitch and whose windows are disjoint on the circle of ``pitch``
columns, whatever their ranges (a FILL of a tile's side padding column and a walk of its
image columns: session 19, branch ``rowhaz``). Safe: a row both touch lies in both windows.
Exact for a walk of ``a_col_step <= 1`` and a placement in its own range; the ranges still
bound everything else.

Two commands of different units *conflict* when one writes a row the other reads or writes
(RAW, WAR, WAW). The relation is symmetric, so one function per pair of units serves both
orders. LOADs and STOREs never need a check against their own unit: it runs them one at a time.
The execute unit pipelines COMPUTEs (a younger one's activation rows follow an older one's into
the array before the older one's results are written) but writes results strictly in command
order, after every activation and init row of the command has been read; so between two
COMPUTEs only RAW matters: the younger one *accumulates* onto ACC rows the older one writes
(:func:`conflict_cc`). The NPU's execute unit orders that RAW itself, per ACC row
(:class:`~.exec_unit.ExecUnit`), so its dispatcher does not use :func:`conflict_cc`
(``exec_orders_acc``); it stays for a datapath without that ordering. Likewise a STORE
younger than an issued COMPUTE it reads rows of: with ``store_orders_acc`` the store unit
waits per row (:func:`conflict_cs_params` is all the dispatcher checks between them), so the
last STORE of a layer follows its final COMPUTE's results into post-processing row by row.
The mirror for LOADs: a COMPUTE younger than an issued LOAD into SPAD whose rows it reads;
with ``load_follows`` the execute unit reads each SPAD row only once the load unit has
written it (:class:`~.load_unit.LoadUnit` ``spad_wait``), so the dispatcher checks only the
ACC rows between them (:func:`conflict_lc_acc`) and the first COMPUTE of a layer follows its
weight and image rows into the array as they arrive; likewise an ELTWISE
(:func:`conflict_le_acc`; the element-wise unit waits per row on the same ports).

Two ELTWISEs need no check either: the element-wise unit writes their rows in order and
makes a row of the younger one wait for an ACC row the older one has still to write
(:class:`~.eltwise_unit.EltwiseUnit`, the dispatcher's ``eltwise_handover``).
An ELTWISE borrows the execute unit's memory ports, so a COMPUTE and an ELTWISE always
conflict (:func:`conflict_ce`, structural); with LOAD and STORE it conflicts like a COMPUTE
(with ``store_orders_acc`` a younger STORE checks only :func:`conflict_es_params` against an
issued ELTWISE: the element-wise unit answers the store unit's per-row query too).
"""

from amaranth.hdl import Const, Mux
from amaranth.lib import data

from .commands import EltwiseOp, LoadTarget, RequantMode

__all__ = ["GridLayout", "LoadFootprint", "ComputeFootprint", "StoreFootprint", "EltwiseFootprint",
           "footprint_layouts", "footprint_products", "footprint_of", "conflict_lc",
           "conflict_lc_acc",
           "conflict_ls", "conflict_cs", "conflict_cs_params", "conflict_cc",
           "conflict_le", "conflict_le_acc", "conflict_es", "conflict_ce"]


def _range(row_bits):
    return data.StructLayout({"start": row_bits, "end": row_bits + 1})


#: A row set's *grid* (``footprint_layouts(grid=True)``): with ``on``, every row of the range
#: lies in a column window ``[off, off + width)`` modulo ``pitch`` (``width <= pitch``).
GridLayout = data.StructLayout({"on": 1, "pitch": 16, "off": 16, "width": 16})


def footprint_layouts(row_bits=16, grid=False):
    """The footprint layouts ``{"load": ..., "compute": ..., "store": ..., "eltwise": ...}``
    with ranges of ``row_bits``-bit starts and ``row_bits + 1``-bit ends: 16 (the default)
    holds every row a descriptor can name; a smaller value holds every row of memories of at
    most ``2 ** row_bits`` rows, which is exact because only validated commands get a
    footprint (:func:`footprint_of` truncates to the layout). ``grid``: a LOAD's written rows
    and a COMPUTE's or ELTWISE's A rows also get a :data:`GridLayout` (``"grid"``), which
    :func:`conflict_lc` and :func:`conflict_le` use (``config.npu_row_hazard``)."""
    if not isinstance(row_bits, int) or not 1 <= row_bits <= 16:
        raise ValueError(f"row_bits must be an integer in 1..16, not {row_bits!r}")
    r = _range(row_bits)
    extra = {"grid": GridLayout} if grid else {}
    return {"load": data.StructLayout({"spad": 1, "rows": r, **extra}),
            "compute": data.StructLayout({"a": r, "w": r, "acc": r, "accumulate": 1,
                                          "init": r, **extra}),
            "store": data.StructLayout({"acc": r, "scale": 1, "params": r}),
            "eltwise": data.StructLayout({"a": r, "b": r, "acc": r, "init": r, **extra})}


_FULL = footprint_layouts()
LoadFootprint = _FULL["load"]
ComputeFootprint = _FULL["compute"]
StoreFootprint = _FULL["store"]
EltwiseFootprint = _FULL["eltwise"]


def _set(view, start, length):
    return [view.start.eq(start), view.end.eq(start + length)]


def footprint_products(kind, fields):
    """The products a footprint of ``kind`` needs, by name, from decoded command ``fields``: a
    LOAD's 2-D placement ``(local_groups - 1) * local_row_step`` (``"placed"``), a COMPUTE's or
    ELTWISE's walk ``(a_rows - 1) * a_row_step`` (``"rows"``) and ``(a_cols - 1) *
    a_col_step`` (``"cols"``); none for a STORE. A caller may register them and hand them to
    :func:`footprint_of` (then no multiplier is on the footprint's path)."""
    if kind == "load":
        return {"placed": (fields.local_groups - 1) * fields.local_row_step}
    if kind in ("compute", "eltwise"):
        return {"rows": (fields.a_rows - 1) * fields.a_row_step,
                "cols": (fields.a_cols - 1) * fields.a_col_step}
    if kind == "store":
        return {}
    raise ValueError(f"kind must be 'load', 'compute', 'store' or 'eltwise', not {kind!r}")


def footprint_of(kind, fields, view, *, lanes=1, products=None):
    """Statements filling footprint ``view`` (one of the layouts above) from decoded command
    ``fields`` (a :func:`~.descriptor.command_layout` view); ``kind`` is ``"load"``,
    ``"compute"``, ``"store"`` or ``"eltwise"``. ``lanes``: the ACC's lanes C (a ``lane_scales``
    STORE reads ``p ceil(rows / C)`` parameter rows, p = 1 or 2; exact when C is a power of
    two, else bounded by ``p rows``). ``products``: :func:`footprint_products` of the same
    ``fields`` (e.g. registered), or ``None`` to multiply here."""
    if products is None:
        products = footprint_products(kind, fields)
    if kind == "load":
        placed = products["placed"] + fields.local_cols
        step, cols = fields.local_row_step, fields.local_cols
        return [view.spad.eq(fields.target == LoadTarget.SPAD.value),
                *_set(view.rows, fields.local_addr,
                      Mux(fields.local_cols == 0, fields.rows, placed)),
                *_grid(view, (cols != 0) & (step >= cols), step, fields.local_addr, cols)]
    if kind == "compute":
        walked = products["rows"] + products["cols"] + 1
        span = products["cols"] + 1
        step = fields.a_row_step
        return [*_set(view.a, fields.a_addr, Mux(fields.a_cols == 0, fields.m, walked)),
                *_grid(view, (fields.a_cols != 0) & (span <= step), step, fields.a_addr, span),
                *_set(view.w, fields.w_addr, fields.k),
                *_set(view.acc, fields.acc_addr, fields.m),
                view.accumulate.eq(fields.accumulate),
                *_set(view.init, fields.init_addr, fields.init_row)]
    if kind == "store":
        per = Mux(fields.requant != RequantMode.FLOAT_SCALE.value, 2, 1)
        if lanes & (lanes - 1) == 0:
            groups = ((fields.rows - 1) >> (lanes.bit_length() - 1)) + 1
        else:
            groups = fields.rows
        params = Mux(fields.lane_scales, per * groups, per)
        return [*_set(view.acc, fields.acc_addr, fields.rows), view.scale.eq(fields.scale),
                *_set(view.params, fields.scale_addr, params)]
    if kind == "eltwise":
        walked = products["rows"] + products["cols"] + 1
        span = Mux(fields.a_cols == 0, fields.m, walked)
        add = fields.op == EltwiseOp.ADD.value
        pair = fields.mac & fields.pair
        step, cols = fields.a_row_step, products["cols"] + 1
        return [*_set(view.a, fields.a_addr, span + Mux(pair, fields.tap_step, 0)),
                # one walk (a pair reads two, tap_step apart: no grid)
                *_grid(view, (fields.a_cols != 0) & (cols <= step) & ~pair, step,
                       fields.a_addr, cols),
                view.b.start.eq(Mux(add | fields.mac, fields.b_addr, 0)),
                view.b.end.eq(Mux(add, fields.b_addr + span,
                                  Mux(fields.mac, fields.b_addr + 1 + pair, 0))),
                *_set(view.acc, fields.acc_addr, fields.m),
                *_set(view.init, fields.init_addr, fields.mac & fields.init_row)]
    raise ValueError(f"kind must be 'load', 'compute', 'store' or 'eltwise', not {kind!r}")


def _grid(view, on, pitch, addr, width):
    """Statements filling ``view.grid`` (if the layout has one): rows ``addr + i * pitch +
    [0, width)``; ``on`` only where ``width <= pitch`` (checked by the caller)."""
    if "grid" not in dict(view.shape().members):
        return []
    return [view.grid.on.eq(on), view.grid.pitch.eq(pitch),
            view.grid.off.eq(addr % pitch), view.grid.width.eq(width)]


def _overlap(a, b):
    return (a.start < b.end) & (b.start < a.end)


def _windows_meet(a, b):
    """Two grids may share a row: unless both are ``on`` with one ``pitch`` and their column
    windows ``[off, off + width)`` are disjoint modulo it (then no row of the one lies in the
    other, whatever their ranges: a row ``r`` of each satisfies ``(r - off) mod pitch <
    width``, and ``(b.off - a.off) mod pitch < a.width`` or ``(a.off - b.off) mod pitch <
    b.width`` is the windows' meeting on the circle of ``pitch`` columns)."""
    p = a.pitch
    ba = Mux(b.off >= a.off, b.off - a.off, b.off + p - a.off)
    ab = Mux(a.off >= b.off, a.off - b.off, a.off + p - b.off)
    same = a.on & b.on & (a.pitch == b.pitch)
    return ~same | (ba < a.width) | (ab < b.width)


def _a_overlap(load, compute):
    """The LOAD's rows may meet the COMPUTE's A rows: their ranges overlap and (with grids)
    their column windows meet."""
    hit = _overlap(load.rows, compute.a)
    if "grid" in dict(load.shape().members):
        hit = hit & _windows_meet(load.grid, compute.grid)
    return hit


def conflict_lc(load, compute):
    """A LOAD and a COMPUTE conflict: the LOAD writes SPAD rows the COMPUTE reads, or ACC rows
    it writes or reads (its ``init_row``). With grids (``footprint_layouts(grid=True)``) a
    LOAD whose 2-D placement and a COMPUTE whose walk share a pitch but not a column window
    (a FILL of side padding columns and a walk of the image columns) do not conflict on A."""
    return Mux(load.spad, _a_overlap(load, compute) | _overlap(load.rows, compute.w),
               _overlap(load.rows, compute.acc) | _overlap(load.rows, compute.init))


def conflict_lc_acc(load, compute):
    """What is left of :func:`conflict_lc` for an issued LOAD and a younger COMPUTE when the
    execute unit reads each SPAD row only once no accepted LOAD still has to write it
    (:class:`~.load_unit.LoadUnit` ``spad_wait``): a LOAD into ACC writing rows the COMPUTE
    writes or reads (its ``init_row``). A LOAD into SPAD never conflicts."""
    return ~load.spad & (_overlap(load.rows, compute.acc) | _overlap(load.rows, compute.init))


def conflict_ls(load, store):
    """A LOAD into ACC writes rows the STORE reads (its range or its parameter rows)."""
    return ~load.spad & (_overlap(load.rows, store.acc)
                         | (store.scale & _overlap(load.rows, store.params)))


def conflict_cs(compute, store):
    """The COMPUTE writes ACC rows the STORE reads."""
    return _overlap(compute.acc, store.acc) | (store.scale & _overlap(compute.acc, store.params))


def conflict_cs_params(compute, store):
    """The COMPUTE writes the STORE's parameter rows: what is left of :func:`conflict_cs` for
    an issued COMPUTE and a younger STORE when the store unit reads each ACC row only once the
    execute unit has written it (:class:`~.exec_unit.ExecUnit` ``acc_pending``). The
    parameter rows are read before any output row, so those still wait for the COMPUTE."""
    return store.scale & _overlap(compute.acc, store.params)


def conflict_es_params(eltwise, store):
    """The ELTWISE writes the STORE's parameter rows: what is left of :func:`conflict_es` for
    an issued ELTWISE and a younger STORE when the store unit reads each ACC row only once the
    element-wise unit has written it (:class:`~.eltwise_unit.EltwiseUnit` ``acc_pending``)."""
    return store.scale & _overlap(eltwise.acc, store.params)


def conflict_cc(older, younger):
    """Two COMPUTEs, ``older`` first in queue order: the younger one accumulates onto ACC rows
    the older one writes, or starts from (``init_row``) one of them (RAW). Not symmetric."""
    return ((younger.accumulate & _overlap(older.acc, younger.acc))
            | _overlap(older.acc, younger.init))


def conflict_le(load, eltwise):
    """A LOAD writes SPAD rows the ELTWISE reads (A, or B for ADD), or ACC rows it writes or
    reads (its ``init_row``). With grids, as :func:`conflict_lc` on A: a FILL of side padding
    columns and a one-tap walk of the image columns (not a ``pair`` MAC's two walks) do not
    conflict (session 21, branch ``kwsfixed``: the FILL a depthwise layer's second MAC reads
    goes to the load unit while the first, of the centre tap, still reads the tile)."""
    return Mux(load.spad, _a_overlap(load, eltwise) | _overlap(load.rows, eltwise.b),
               _overlap(load.rows, eltwise.acc) | _overlap(load.rows, eltwise.init))


def conflict_le_acc(load, eltwise):
    """What is left of :func:`conflict_le` for an issued LOAD and a younger ELTWISE when the
    element-wise unit reads each SPAD row only once the load unit has written it: a LOAD into
    ACC writing rows the ELTWISE writes or reads (its ``init_row``)."""
    return ~load.spad & (_overlap(load.rows, eltwise.acc) | _overlap(load.rows, eltwise.init))


def conflict_es(eltwise, store):
    """The ELTWISE writes ACC rows the STORE reads."""
    return _overlap(eltwise.acc, store.acc) | (store.scale & _overlap(eltwise.acc, store.params))


def conflict_ce(compute, eltwise):
    """Always: the two share the execute unit's memory ports (structural)."""
    return Const(1)
