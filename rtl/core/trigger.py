"""Sdtrig address-match triggers (``mcontrol``, type 2): the match of one access port."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["TRIGGER_CTRL_BITS", "TriggerMatch"]

#: The implemented ``mcontrol`` bits of each trigger as the CSR file hands them on:
#: bit 0 LOAD, 1 STORE, 2 EXECUTE (the ``tdata1`` bit order), 3 U, 4 M.
TRIGGER_CTRL_BITS = 5


class TriggerMatch(wiring.Component):
    """Whether any of ``triggers`` address triggers fires on one access.

    A trigger fires when its kind bit (LOAD / STORE / EXECUTE) matches the access, its mode bit
    (U or M) matches the privilege level, and ``tdata2`` equals the access address (match = 0,
    equal; for loads and stores the lowest byte address of the access). In M-mode a trigger
    fires only while ``tcontrol.MTE`` is set (action 0, breakpoint exception, is the only
    action). Timing is "before": the instruction does not execute.

    Parameters
    ----------
    triggers : int
        Number of triggers, 1..8.

    Members
    -------
    ctrl : In(data.ArrayLayout(TRIGGER_CTRL_BITS, triggers))
    tdata2 : In(data.ArrayLayout(32, triggers))
    priv_m : In(1)
    mte : In(1)
    kind : In(3)
        One-hot access kind in the ``mcontrol`` bit order: 0b001 load, 0b010 store, 0b100
        execute.
    addr : In(32)
    hit : Out(1)
    """

    def __init__(self, triggers):
        if not isinstance(triggers, int) or not 1 <= triggers <= 8:
            raise ValueError(f"triggers must be an integer in 1..8, not {triggers!r}")
        self._triggers = triggers
        super().__init__({
            "ctrl": In(data.ArrayLayout(TRIGGER_CTRL_BITS, triggers)),
            "tdata2": In(data.ArrayLayout(32, triggers)),
            "priv_m": In(1),
            "mte": In(1),
            "kind": In(3),
            "addr": In(32),
            "hit": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hits = []
        for i in range(self._triggers):
            ctrl = self.ctrl[i]
            mode_ok = (self.priv_m & ctrl[4] & self.mte) | (~self.priv_m & ctrl[3])
            hit = Signal(name=f"hit{i}")
            m.d.comb += hit.eq(mode_ok & ((ctrl[0:3] & self.kind) != 0) &
                               (self.addr == self.tdata2[i]))
            hits.append(hit)
        m.d.comb += self.hit.eq(Cat(*hits).any())
        return m
