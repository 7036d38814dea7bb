"""Base-6 position-code decoder: one code byte to the position pairs of three 2:4 groups."""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PAIRS", "Base6Decoder"]

#: The six position pairs ``(p0, p1)``, ``p0 < p1``, of a 2:4 group by index: the LOAD
#: contract's table (``rtl/npu/load_cmd.py``, tagged lanes with shared base-6 codes).
PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


class Base6Decoder(wiring.Component):
    """Decodes a code byte ``i0 + 6 i1 + 36 i2`` (``it`` in 0..5) into three position pairs.

    Combinational, a 256-entry table. For a legal byte (0..215) ``pairs[t]`` is
    ``PAIRS[it]`` as ``p0 | p1 << 2`` and ``legal`` is 1; a byte of 216..255 names no triple:
    ``legal`` is 0 and every pair reads 0 (the LOAD then writes the three groups' lanes as
    zero, value and position).

    Members
    -------
    code : In(8)
        The code byte.
    pairs : Out(data.ArrayLayout(4, 3))
        The pair of each of the three groups, ``p0`` in bits 1:0 and ``p1`` in bits 3:2.
    legal : Out(1)
        The byte is below 216.
    """

    code: In(8)
    pairs: Out(data.ArrayLayout(4, 3))
    legal: Out(1)

    def elaborate(self, platform):
        m = Module()
        with m.Switch(self.code):
            for byte in range(216):
                digits = (byte % 6, byte // 6 % 6, byte // 36)
                word = 0
                for t, i in enumerate(digits):
                    p0, p1 = PAIRS[i]
                    word |= (p0 | p1 << 2) << (4 * t)
                with m.Case(byte):
                    m.d.comb += [self.pairs.as_value().eq(word), self.legal.eq(1)]
            with m.Default():
                m.d.comb += [self.pairs.as_value().eq(0), self.legal.eq(0)]
        return m
