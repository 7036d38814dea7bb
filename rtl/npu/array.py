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
   shadow registers and may be sent while the previous tile still computes. A beat with
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

from amaranth.hdl import EnableInserter, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .isa import Precision
from .mesh import Mesh
from .pe import TOKEN
from .skew import Skew

__all__ = ["op_layout", "weight_layout", "result_layout", "SystolicArray"]


def op_layout(rows, cols):
    """Payload of the ``ops`` stream."""
    return data.StructLayout({
        "a": data.ArrayLayout(16, rows),
        "init": data.ArrayLayout(32, cols),
        "precision": Precision,
        "swap": 1,
        "last": 1,
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
    """

    def __init__(self, rows, cols, *, fp16=True):
        for name, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        if not isinstance(fp16, bool):
            raise TypeError(f"fp16 must be a bool, not {fp16!r}")
        self._rows, self._cols, self._fp16 = rows, cols, fp16
        self._mesh = Mesh(rows, cols, fp16=fp16)
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
        """Cycles after a ``swap`` row is accepted before the next weight beat is accepted."""
        return (self._rows - 1) * self.add_latency + self._cols - 1

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

        # Weight double buffering: `loaded` counts shadow rows since the last swap; after a swap
        # the shadow chain must not shift until the swap token has passed every PE.
        loaded = Signal(range(rows + 1))
        settle = Signal(range(self.swap_settle + 1))
        op_take = Signal()
        w_take = Signal()
        m.d.comb += [
            self.ops.ready.eq(advance & (~self.ops.payload.swap | (loaded == rows))),
            self.weights.ready.eq(advance & (loaded != rows) & (settle == 0)),
            op_take.eq(self.ops.valid & self.ops.ready),
            w_take.eq(self.weights.valid & self.weights.ready),
        ]
        with core.If(settle != 0):
            core.d.sync += settle.eq(settle - 1)
        with core.If(op_take & self.ops.payload.swap):
            core.d.sync += [loaded.eq(0), settle.eq(self.swap_settle)]
        with core.If(w_take):
            core.d.sync += loaded.eq(loaded + 1)

        op = self.ops.payload
        for i in range(rows):
            core.d.comb += [
                a_skew.i[i].eq(op.a[i]),
                tok_skew.i[i].valid.eq(op_take),
                tok_skew.i[i].precision.eq(op.precision),
                tok_skew.i[i].swap.eq(op.swap),
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
            out_tok.i[0].valid.eq(op_take),
            out_tok.i[0].precision.eq(op.precision),
            out_tok.i[0].last.eq(op.last),
            self.results.valid.eq(out_tok.o[0].valid),
            self.results.payload.precision.eq(out_tok.o[0].precision),
            self.results.payload.last.eq(out_tok.o[0].last),
        ]
        m.submodules.core = EnableInserter(advance)(core)
        return m
