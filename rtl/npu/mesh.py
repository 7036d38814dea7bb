"""The R x C grid of processing elements, wired systolically (no control, no skew)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .pe import MAX_BANKS, TOKEN, WEIGHT, ProcessingElement, pe_latencies

__all__ = ["Mesh"]


class Mesh(wiring.Component):
    """R x C processing elements: activations flow right, partial sums down, weights up.

    Row ``i`` of the mesh is PE row ``i`` (weight ``B[k0 + i, :]``), column ``j`` output column
    ``j``. Timing follows :class:`~dure.rtl.npu.pe.ProcessingElement`: an activation entering row
    ``i`` in cycle t reaches column ``j`` in cycle ``t + j``; the partial sum of column ``j`` must
    enter the top ``1 + mul_latency`` cycles after the activation of row 0 reached that column,
    and leaves the bottom ``rows * add_latency`` cycles after entering.

    Parameters
    ----------
    rows, cols : int
        Array shape, each >= 1.
    fp16 : bool
        Build the FP16 datapath in every PE.

    Members
    -------
    a : In(ArrayLayout(16, rows))
        Activation entering each row at the left edge.
    tok : In(ArrayLayout(TOKEN, rows))
        The token travelling with each row's activation.
    psum_top : In(ArrayLayout(32, cols))
        Partial sum (starting value) entering each column at the top.
    psum_bottom : Out(ArrayLayout(32, cols))
        Result leaving each column at the bottom.
    w_bottom : In(ArrayLayout(WEIGHT, cols))
        Weight entering each column's shift chain at the bottom row; after ``rows`` shifts the
        first weight shifted in sits in row 0.
    w_bank : In(range(banks))
        The shadow bank whose chains ``w_shift`` shifts (``w_bottom`` enters that bank).
    w_shift : In(1)
        Shift every column's weight chain of bank ``w_bank`` up by one row.
    banks : int
        Shadow weight banks per PE (:class:`~dure.rtl.npu.pe.ProcessingElement`).
    gather : bool
        Build each PE's gather gate (its column index as the tag it takes).
    """

    def __init__(self, rows, cols, *, fp16=True, banks=1, gather=False):
        self._gather = bool(gather)
        for name, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        if not isinstance(banks, int) or not 1 <= banks <= MAX_BANKS:
            raise ValueError(f"banks must be an integer from 1 to {MAX_BANKS}, not {banks!r}")
        self._rows, self._cols, self._fp16, self._banks = rows, cols, fp16, banks
        self._mul_latency, self._add_latency = pe_latencies(fp16)
        super().__init__({
            "a": In(data.ArrayLayout(16, rows)),
            "tok": In(data.ArrayLayout(TOKEN, rows)),
            "psum_top": In(data.ArrayLayout(32, cols)),
            "psum_bottom": Out(data.ArrayLayout(32, cols)),
            "w_bottom": In(data.ArrayLayout(WEIGHT, cols)),
            "w_bank": In(range(banks)),
            "w_shift": In(1),
        })

    @property
    def mul_latency(self):
        return self._mul_latency

    @property
    def add_latency(self):
        return self._add_latency

    def elaborate(self, platform):
        m = Module()
        rows, cols = self._rows, self._cols
        nb = self._banks
        pe = [[ProcessingElement(fp16=self._fp16, banks=nb,
                                 column=j if self._gather else None) for j in range(cols)]
              for _ in range(rows)]
        shift = Signal(nb)
        if nb == 1:
            m.d.comb += shift.eq(self.w_shift)
        else:
            m.d.comb += shift.eq(self.w_shift << self.w_bank)
        for i in range(rows):
            for j in range(cols):
                m.submodules[f"pe_{i}_{j}"] = p = pe[i][j]
                m.d.comb += p.w_shift.eq(shift)
                if j == 0:
                    m.d.comb += [p.a_in.eq(self.a[i]), p.tok_in.eq(self.tok[i])]
                else:
                    m.d.comb += [p.a_in.eq(pe[i][j - 1].a_out),
                                 p.tok_in.eq(pe[i][j - 1].tok_out)]
                if i == 0:
                    m.d.comb += p.psum_in.eq(self.psum_top[j])
                else:
                    m.d.comb += p.psum_in.eq(pe[i - 1][j].psum_out)
                if i == rows - 1:
                    m.d.comb += self.psum_bottom[j].eq(p.psum_out)
                    if nb == 1:
                        m.d.comb += p.w_in.eq(self.w_bottom[j])
                    else:
                        m.d.comb += [p.w_in[b].eq(self.w_bottom[j]) for b in range(nb)]
                else:
                    m.d.comb += p.w_in.eq(pe[i + 1][j].w_out)
        return m
