"""Processing element of the weight-stationary systolic array.

Why weight-stationary, and how the FP16 accumulation order is kept
-------------------------------------------------------------------
The FP16 contract asks for one fixed association: ``c = init; c = c + a[k] * b[k]`` for
k = 0, 1, ... K-1. A pipelined fp32 adder of latency L cannot accumulate in place at one add per
cycle (the next add needs the result of the previous one, L cycles later): an output-stationary
PE would have to interleave L independent outputs to stay busy.

In this PE the partial sum does not stay: it flows *down* the column. PE row ``i`` holds weight
``B[k0 + i, n]`` and adds its product to the partial sum arriving from the PE above, so an output
element visits the rows in k order, exactly once each, starting from the value injected at the
top of the column (zero, the bias, or the previous K tile's partial sum). The adder's latency
only lengthens the path: every PE starts a new addition every cycle (one per activation row in
flight), so the array does R x C MACs per cycle in both precisions, and the order is the
sequential one by construction. K tiling keeps the order because the previous tile's result is
the next tile's injected starting value.

Both precisions have the same latency (the int8 path is padded to the fp16 one), so the
precision is a per-operation token travelling with the data and consecutive rows may differ.

Timing (cycles of the array's clock enable)
--------------------------------------------
* ``a_in``/``tok_in`` seen in cycle t are registered (``a_out``/``tok_out`` in cycle t + 1); a
  token with ``swap`` copies the shadow weight of its ``bank`` into the active weight at the
  same edge.
* The product of the registered activation and the active weight reaches the adder
  :attr:`mul_latency` cycles later, so ``psum_in`` must carry the matching partial sum in cycle
  ``t + 1 + mul_latency``.
* ``psum_out`` carries the sum :attr:`add_latency` cycles after that.

Members
-------
a_in : In(16)
    Activation (int8 in bits 7:0, or fp16), from the left neighbour or the input skew.
tok_in : In(:data:`TOKEN`)
    Control travelling with ``a_in``: ``valid``, ``precision``, ``swap`` (this row is the first
    one that uses the weights loaded last) and ``gather`` (a COMPUTE ``gather`` row: with the
    gate built, the PE takes part only if bits 9:8 of the activation equal its ``column``).
a_out, tok_out : Out
    ``a_in`` and ``tok_in`` delayed by one cycle, to the right neighbour.
w_in : In(:data:`WEIGHT`), or In(ArrayLayout(WEIGHT, banks)) with ``banks`` > 1
    Weight shift chain input of each bank (from the PE below); ``data`` (int8 in bits 7:0, or
    fp16) and ``active`` (0: this PE row lies beyond K and passes the partial sum through
    unchanged).
w_shift : In(1), or In(banks)
    Shift the weight chain of each bank: its shadow weight takes its ``w_in``.
w_out : Out(:data:`WEIGHT`), or Out(ArrayLayout(WEIGHT, banks))
    The shadow weight of each bank, to the PE above.
psum_in : In(32)
    Partial sum from above: int32 or fp32 bits, by the token's precision.
psum_out : Out(32)
    ``psum_in + a * w`` (int32 wrapping, or fp32 RNE with canonical NaN), or ``psum_in``
    unchanged when the weight is not active.

Parameters
----------
fp16 : bool
    Build the FP16 datapath (the default). Without it the PE is int8-only, with
    ``mul_latency = add_latency = 1``, and an FP16 token computes as INT8.
column : int or None
    Build the gather gate for this array column (``None``, the default: no gate, ``gather``
    is ignored). With the gate a ``gather`` row whose activation tag (bits 9:8) differs from
    ``column`` passes the partial sum through as an inactive weight does.
banks : int
    Shadow weight banks, 1 to :data:`MAX_BANKS` (default 1). Each bank is a separate shift
    chain through its column, so one bank can be loaded while the swap of another one is still
    travelling through the array.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .isa import Precision

__all__ = ["MAX_BANKS", "TOKEN", "WEIGHT", "pe_latencies", "ProcessingElement"]

#: Most shadow weight banks a PE can have (the ``bank`` field of :data:`TOKEN`).
MAX_BANKS = 4

#: Control that travels with every activation value; ``bank`` names the shadow weight bank a
#: ``swap`` takes (always 0 with one bank).
TOKEN = data.StructLayout({"valid": 1, "precision": Precision, "swap": 1, "bank": 2,
                           "gather": 1})

#: One weight with its row-active flag.
WEIGHT = data.StructLayout({"data": 16, "active": 1})

#: fp32 -0.0: the identity of IEEE addition (x + -0 == x for every x, including -0 and +0).
FP32_NEG_ZERO = 0x8000_0000


def pe_latencies(fp16):
    """``(mul_latency, add_latency)`` of a PE with or without the FP16 datapath."""
    if not fp16:
        return 1, 1
    from .fp import Fp16Mul, Fp32Add
    return Fp16Mul.LATENCY, Fp32Add.LATENCY


def _delay(m, value, cycles, name):
    """``value`` delayed by ``cycles`` registers (0: the value itself)."""
    for n in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{n}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class ProcessingElement(wiring.Component):
    def __init__(self, *, fp16=True, banks=1, column=None):
        if column is not None and (not isinstance(column, int) or column < 0):
            raise ValueError(f"column must be None or a column index, not {column!r}")
        self._column = column
        if not isinstance(fp16, bool):
            raise TypeError(f"fp16 must be a bool, not {fp16!r}")
        if not isinstance(banks, int) or not 1 <= banks <= MAX_BANKS:
            raise ValueError(f"banks must be an integer from 1 to {MAX_BANKS}, not {banks!r}")
        self._fp16, self._banks = fp16, banks
        self._mul_latency, self._add_latency = pe_latencies(fp16)
        wshape = WEIGHT if banks == 1 else data.ArrayLayout(WEIGHT, banks)
        super().__init__({
            "a_in": In(16), "tok_in": In(TOKEN),
            "a_out": Out(16), "tok_out": Out(TOKEN),
            "w_in": In(wshape), "w_shift": In(banks), "w_out": Out(wshape),
            "psum_in": In(32), "psum_out": Out(32),
        })

    @property
    def banks(self):
        return self._banks

    @property
    def fp16(self):
        return self._fp16

    @property
    def mul_latency(self):
        """Cycles from the registered activation to its product at the adder (>= 1)."""
        return self._mul_latency

    @property
    def add_latency(self):
        """Cycles from ``psum_in`` to ``psum_out`` (>= 1)."""
        return self._add_latency

    def elaborate(self, platform):
        m = Module()
        lm, la = self._mul_latency, self._add_latency

        # Stage 0: register the activation; swap in the shadow weight with the first row.
        a_r = Signal(16)
        tok_r = Signal(TOKEN)
        weight = Signal(WEIGHT)
        m.d.sync += [a_r.eq(self.a_in), tok_r.eq(self.tok_in)]
        m.d.comb += [self.a_out.eq(a_r), self.tok_out.eq(tok_r)]
        if self._banks == 1:
            shadow = Signal(WEIGHT)
            with m.If(self.tok_in.valid & self.tok_in.swap):
                m.d.sync += weight.eq(shadow)
            with m.If(self.w_shift):
                m.d.sync += shadow.eq(self.w_in)
            m.d.comb += self.w_out.eq(shadow)
        else:
            shadows = [Signal(WEIGHT, name=f"shadow{b}") for b in range(self._banks)]
            with m.If(self.tok_in.valid & self.tok_in.swap):
                with m.Switch(self.tok_in.bank):
                    for b, shadow in enumerate(shadows):
                        with m.Case(b):
                            m.d.sync += weight.eq(shadow)
            for b, shadow in enumerate(shadows):
                with m.If(self.w_shift[b]):
                    m.d.sync += shadow.eq(self.w_in[b])
                m.d.comb += self.w_out[b].eq(shadow)

        # Multiply stage: int8 product in one cycle, padded to the fp16 multiplier's latency.
        int_prod = Signal(signed(16))
        m.d.sync += int_prod.eq(a_r[:8].as_signed() * weight.data[:8].as_signed())
        int_prod_m = _delay(m, int_prod, lm - 1, "int_prod")
        active = weight.active
        if self._column is not None:      # gather: only the lanes tagged with this column
            active = weight.active & ~(tok_r.gather & (a_r[8:10] != self._column))
        active_m = _delay(m, active, lm, "active")
        fp_m = _delay(m, tok_r.precision == Precision.FP16, lm, "fp_m") if self._fp16 else Const(0)

        # Add stage: the partial sum from above plus this row's product (or the identity).
        int_sum = Signal(32)
        m.d.sync += int_sum.eq(self.psum_in + Mux(active_m, int_prod_m, 0))
        int_sum_a = _delay(m, int_sum, la - 1, "int_sum")

        if not self._fp16:
            m.d.comb += self.psum_out.eq(int_sum_a)
            return m

        from .fp import Fp16Mul, Fp32Add
        m.submodules.mul = mul = Fp16Mul()
        m.submodules.add = add = Fp32Add()
        m.d.comb += [
            mul.i_valid.eq(tok_r.valid), mul.i_a.eq(a_r), mul.i_b.eq(weight.data),
            add.i_valid.eq(mul.o_valid), add.i_a.eq(self.psum_in),
            add.i_b.eq(Mux(active_m, mul.o_z, FP32_NEG_ZERO)),
        ]
        fp_a = _delay(m, fp_m, la, "fp_a")
        m.d.comb += self.psum_out.eq(Mux(fp_a, add.o_z, int_sum_a))
        return m
