"""The data request's address (X stage) from the forwarding sources, added before the choice."""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AddressSums"]


class AddressSums(wiring.Component):
    """``rs1 + offset`` for the data bus, with the adder in front of the operand forwarding.

    :class:`~.bypass.Bypass` picks ``rs1`` among M's result, W's result and its held value
    with two registered selects, and that operand fans out to every unit of X; the address
    adder sat behind the mux and that fanout. Here each source has its own adder and the
    registered selects choose among the three sums, so the address is one mux behind three
    adders fed by registers (issue 15, session 17: the core's load / store address into the
    SoC's fabric was the board's critical path). The result is the same as the load / store
    unit's ``x_addr`` in every cycle (``rs1 = Mux(sel_m, m_result, Mux(sel_w, w_result,
    held))``, as in :class:`~.bypass.Bypass`).

    Members
    -------
    held, m_result, w_result : In(32)
        The three values ``rs1`` is chosen from (``Bypass.rs1_held``, the M and W results).
    sel_m, sel_w : In(1)
        The bypass's registered selects for ``rs1`` (``Bypass.rs1_sel_m``, ``rs1_sel_w``;
        ``sel_m`` wins).
    offset : In(32)
        The immediate.
    addr : Out(32)
        ``rs1 + offset``.
    """

    held: In(32)
    m_result: In(32)
    w_result: In(32)
    sel_m: In(1)
    sel_w: In(1)
    offset: In(32)
    addr: Out(32)

    def elaborate(self, platform):
        m = Module()
        m_sum = (self.m_result + self.offset)[:32]
        w_sum = (self.w_result + self.offset)[:32]
        held_sum = (self.held + self.offset)[:32]
        m.d.comb += self.addr.eq(Mux(self.sel_m, m_sum, Mux(self.sel_w, w_sum, held_sum)))
        return m
