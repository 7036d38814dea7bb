"""The systolic array with stream interfaces: skew, weight double buffering, backpressure.

Dataflow: weight-stationary (see :mod:`dure.rtl.npu.pe` for why, and how the FP16 accumulation
order is kept). One operation computes, for a K x C weight tile ``W`` (K <= rows, rows beyond K
inactive) and M activation rows, ``out[m, :] = init[m, :] + sum_k a[m, k] * W[k, :]`` with the
sum taken sequentially over k in the operation's precision. Longer K is tiled: the result of one
tile is given as ``init`` of the next, which keeps the sequential order exactly.

Usage
-----
1. Send ``rows`` beats on ``weights``: beat ``k`` is weight row ``k`` (``B[k0 + k, n0:n0+cols]``)
   with ``active = 1`` for k < K and ``active = 0`` for the padding rows beyond K. They go into
   the next of the PEs' shadow weight banks (filled and swapped in turn) and may be sent while
   earlier tiles still compute; a bank takes a new tile :attr:`swap_settle` cycles after its
   previous one was swapped in, when that swap has passed every PE. A beat with
   ``diagonal`` makes only PE (k, k) of its row take part: PE (k, n) is active iff ``active``
   and (not ``diagonal`` or k == n); an inactive PE passes the partial sum through unchanged,
   so the products off the diagonal do not take part at all.
2. Send the M rows on ``ops``; the first row of a tile has ``swap = 1`` and switches every PE to
   the weights loaded in step 1 (it waits until all ``rows`` weight beats have arrived). Rows
   without ``swap`` use the current weights. Each row carries its own ``precision``.
3. Receive one ``results`` beat per ``ops`` row, in order, with the row's ``precision`` and
   ``last``.

Backpressure stalls the whole array (one clock enable): while ``results`` holds a beat that is
not taken, nothing moves, so no result is lost or duplicated. ``valid`` never depends on
``ready`` on any stream.

Members
-------
ops : In(stream.Signature(op_layout(rows, cols)))
    One activation row per beat: ``a`` (rows lanes of 16 bits: int8 in bits 7:0, or fp16),
    ``init`` (cols lanes: int32 or fp32 starting values), ``precision``
    (:class:`~dure.rtl.npu.isa.Precision`), ``swap``, ``last`` (passed to the result).
weights : In(stream.Signature(weight_layout(cols)))
    One weight row per beat: ``data`` (cols lanes of 16 bits), ``active``, ``diagonal``.
results : Out(stream.Signature(result_layout(cols)))
    One output row per beat: ``data`` (cols lanes of int32 or fp32 bits), ``precision``, ``last``.

Latency
-------
:attr:`latency` cycles (with ``results.ready`` high) from an accepted ``ops`` beat to its
``results`` beat: ``cols + 2 + mul_latency + rows * add_latency``. One ``ops`` beat is accepted
per cycle in steady state (rows x cols MACs per cycle).
"""

from amaranth.hdl import EnableInserter, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .isa import Precision
from .mesh import Mesh
from .pe import MAX_BANKS, TOKEN
from .skew import Skew

__all__ = ["op_layout", "weight_layout", "result_layout", "default_banks", "SystolicArray"]


def op_layout(rows, cols):
    """Payload of the ``ops`` stream."""
    return data.StructLayout({
        "a": data.ArrayLayout(16, rows),
        "init": data.ArrayLayout(32, cols),
        "precision": Precision,
        "swap": 1,
        "last": 1,
        "gather": 1,
    })


def weight_layout(cols):
    """Payload of the ``weights`` stream."""
    return data.StructLayout({"data": data.ArrayLayout(16, cols), "active": 1, "diagonal": 1})


def result_layout(cols):
    """Payload of the ``results`` stream."""
    return data.StructLayout({
        "data": data.ArrayLayout(32, cols),
        "precision": Precision,
        "last": 1,
    })


def _swap_settle(rows, cols, add_latency):
    return (rows - 1) * add_latency + cols - 1


def default_banks(rows, cols, *, fp16=True):
    """Shadow weight banks an array gets by default: enough that ``rows``-row operations
    stream without waiting for a bank, ``ceil((swap_settle + rows + 1) / rows)``, at most
    :data:`~dure.rtl.npu.pe.MAX_BANKS` (4: the 8x8 FP16 array then switches tiles every ~15
    cycles instead of ~58)."""
    from .pe import pe_latencies
    settle = _swap_settle(rows, cols, pe_latencies(fp16)[1])
    return max(1, min(MAX_BANKS, -(-(settle + rows + 1) // rows)))


_OUT_TOKEN = data.StructLayout({"valid": 1, "precision": Precision, "last": 1})


class SystolicArray(wiring.Component):
    """Weight-stationary rows x cols systolic array, INT8 or FP16 per row.

    Parameters
    ----------
    rows : int
        PE rows (the K extent of one weight tile), >= 1.
    cols : int
        PE columns (the N extent of one tile), >= 1.
    fp16 : bool
        Build the FP16 datapath (default). ``False`` gives an int8-only array (FP16 rows then
        compute as INT8), smaller and with a shorter latency.
    banks : int or None
        Shadow weight banks per PE, 1 to :data:`~dure.rtl.npu.pe.MAX_BANKS`. ``None`` (the
        default) picks :func:`default_banks`. With one bank a tile switch costs
        :attr:`swap_settle` + ``rows`` cycles; with ``b`` banks, ``b`` tiles can be loaded in that
        time, so short operations (M rows) follow each other every
        ``max(M, rows, (swap_settle + rows + 1) / b)`` cycles.
    gather : bool
        Build the gather gates (default ``False``: an ``ops`` row's ``gather`` is ignored).
        With them a ``gather`` row's lane i takes part only in the column its bits 9:8 name
        (COMPUTE ``gather``, :mod:`.commands`).
    """

    def __init__(self, rows, cols, *, fp16=True, banks=None, gather=False):
        for name, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        if not isinstance(fp16, bool):
            raise TypeError(f"fp16 must be a bool, not {fp16!r}")
        if banks is None:
            banks = default_banks(rows, cols, fp16=fp16)
        if not isinstance(banks, int) or not 1 <= banks <= MAX_BANKS:
            raise ValueError(f"banks must be None or an integer from 1 to {MAX_BANKS}, "
                             f"not {banks!r}")
        self._rows, self._cols, self._fp16, self._banks = rows, cols, fp16, banks
        self._mesh = Mesh(rows, cols, fp16=fp16, banks=banks, gather=gather)
        super().__init__({
            "ops": In(stream.Signature(op_layout(rows, cols))),
            "weights": In(stream.Signature(weight_layout(cols))),
            "results": Out(stream.Signature(result_layout(cols))),
        })

    @property
    def rows(self):
        return self._rows

    @property
    def cols(self):
        return self._cols

    @property
    def fp16(self):
        return self._fp16

    @property
    def banks(self):
        return self._banks

    @property
    def mul_latency(self):
        return self._mesh.mul_latency

    @property
    def add_latency(self):
        return self._mesh.add_latency

    @property
    def latency(self):
        """Cycles from an accepted ``ops`` beat to its ``results`` beat, without stalls."""
        return self._cols + 2 + self.mul_latency + self._rows * self.add_latency

    @property
    def swap_settle(self):
        """Cycles after a ``swap`` row is accepted before a weight beat into the same bank is
        accepted."""
        return _swap_settle(self._rows, self._cols, self.add_latency)

    def elaborate(self, platform):
        m = Module()
        rows, cols = self._rows, self._cols
        lm, la = self.mul_latency, self.add_latency

        core = Module()   # everything that moves only when the array advances
        core.submodules.mesh = mesh = self._mesh
        core.submodules.a_skew = a_skew = Skew(16, [1 + i * la for i in range(rows)])
        core.submodules.tok_skew = tok_skew = Skew(TOKEN, [1 + i * la for i in range(rows)])
        core.submodules.init_skew = init_skew = Skew(32, [2 + lm + j for j in range(cols)])
        core.submodules.deskew = deskew = Skew(32, [cols - j for j in range(cols)])
        core.submodules.out_tok = out_tok = Skew(_OUT_TOKEN, [self.latency])

        advance = Signal()
        m.d.comb += advance.eq(~out_tok.o[0].valid | self.results.ready)

        # Weight banks: tiles are loaded into the banks in turn (`wr_bank`, `loaded` beats so
        # far) and swapped in the same turn (`rd_bank`); `full[b]`: bank b holds a whole tile
        # not yet swapped in. After a swap from bank b its chain must not shift until the swap
        # token has passed every PE (`settle[b]`); the other banks load meanwhile.
        nb = self._banks
        loaded = Signal(range(rows + 1))
        wr_bank = Signal(range(nb))
        rd_bank = Signal(range(nb))
        full = Signal(nb)
        settle = [Signal(range(self.swap_settle + 1), name=f"settle{b}") for b in range(nb)]
        wr_full = Signal()
        wr_settling = Signal()
        rd_full = Signal()
        op_take = Signal()
        w_take = Signal()
        m.d.comb += [
            wr_full.eq(full.bit_select(wr_bank, 1)),
            rd_full.eq(full.bit_select(rd_bank, 1)),
            self.ops.ready.eq(advance & (~self.ops.payload.swap | rd_full)),
            self.weights.ready.eq(advance & ~wr_full & ~wr_settling),
            op_take.eq(self.ops.valid & self.ops.ready),
            w_take.eq(self.weights.valid & self.weights.ready),
        ]
        for b in range(nb):
            with m.If(wr_bank == b):
                m.d.comb += wr_settling.eq(settle[b] != 0)
        swap_taken = Signal()
        m.d.comb += swap_taken.eq(op_take & self.ops.payload.swap)
        tile_loaded = Signal()
        m.d.comb += tile_loaded.eq(w_take & (loaded == rows - 1))
        set_full = Signal(nb)
        clear_full = Signal(nb)
        for b in range(nb):
            m.d.comb += [set_full[b].eq(tile_loaded & (wr_bank == b)),
                         clear_full[b].eq(swap_taken & (rd_bank == b))]
            with core.If(swap_taken & (rd_bank == b)):
                core.d.sync += settle[b].eq(self.swap_settle)
            with core.Elif(settle[b] != 0):
                core.d.sync += settle[b].eq(settle[b] - 1)
        core.d.sync += full.eq((full & ~clear_full) | set_full)
        with core.If(swap_taken):
            core.d.sync += rd_bank.eq(Mux(rd_bank == nb - 1, 0, rd_bank + 1))
        with core.If(w_take):
            core.d.sync += loaded.eq(Mux(tile_loaded, 0, loaded + 1))
        with core.If(tile_loaded):
            core.d.sync += wr_bank.eq(Mux(wr_bank == nb - 1, 0, wr_bank + 1))

        op = self.ops.payload
        for i in range(rows):
            core.d.comb += [
                a_skew.i[i].eq(op.a[i]),
                tok_skew.i[i].valid.eq(op_take),
                tok_skew.i[i].precision.eq(op.precision),
                tok_skew.i[i].swap.eq(op.swap),
                tok_skew.i[i].gather.eq(op.gather),
                tok_skew.i[i].bank.eq(rd_bank),
                mesh.a[i].eq(a_skew.o[i]),
                mesh.tok[i].eq(tok_skew.o[i]),
            ]
        for j in range(cols):
            core.d.comb += [
                init_skew.i[j].eq(op.init[j]),
                mesh.psum_top[j].eq(init_skew.o[j]),
                deskew.i[j].eq(mesh.psum_bottom[j]),
                mesh.w_bottom[j].data.eq(self.weights.payload.data[j]),
                # `loaded` is the index k of the beat entering now (beat k ends in PE row k).
                mesh.w_bottom[j].active.eq(self.weights.payload.active
                                           & (~self.weights.payload.diagonal | (loaded == j))),
                self.results.payload.data[j].eq(deskew.o[j]),
            ]
        core.d.comb += [
            mesh.w_shift.eq(w_take),
            mesh.w_bank.eq(wr_bank),
            out_tok.i[0].valid.eq(op_take),
            out_tok.i[0].precision.eq(op.precision),
            out_tok.i[0].last.eq(op.last),
            self.results.valid.eq(out_tok.o[0].valid),
            self.results.payload.precision.eq(out_tok.o[0].precision),
            self.results.payload.last.eq(out_tok.o[0].last),
        ]
        m.submodules.core = EnableInserter(advance)(core)
        return m
