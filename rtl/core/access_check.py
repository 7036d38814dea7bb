"""The X stage's privilege checks of a data access (PMP on both words, load / store triggers)."""

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import PMPCfg
from .layouts import protection_layout
from .pmp import PMPCheck
from .trigger import TriggerMatch

__all__ = ["AccessCheck"]


class AccessCheck(wiring.Component):
    """Decides whether the load / store in X may go to the bus, or traps, without putting the
    checks between the address adder and the data request.

    When the privilege state lets no check fire (``unchecked``: loads / stores in M-mode with
    no locked PMP entry, no trigger armed for loads or stores in this mode) ``go`` is high at
    once. Otherwise the access spends two more cycles in X: in the first cycle ``start`` is
    high its addresses are registered (the access's address and the next word's, for a split
    access), in the next the PMP / trigger checks of those registered addresses, and ``go`` /
    ``trap`` follow from those registers. ``clear`` forgets both (the instruction leaves X or
    is flushed).

    ``unchecked`` is a register (the PMP configuration's L bits and the trigger's mode bits
    were a path into X's hold): the CSR state it comes from changes only by instructions that
    redirect from M (trap, MRET, a write to a PMP / trigger CSR or to mstatus.MPRV / MPP), so
    no load / store reaches X in the cycle after a change and the one-cycle lag is never seen.
    ``hold_off`` (``late_branch``: a branch M resolves leaves X) clears it for the next cycle,
    so the access behind such a branch sends no request while M holds the branch.

    Parameters
    ----------
    pmp_entries, triggers : int
        PMP entries and address triggers of the CSR file.

    Members
    -------
    prot : In(protection_layout(pmp_entries, triggers))
        Privilege state from the CSR file.
    load : In(1)
        The access is a load (else a store).
    addr : In(32)
        Its byte address (the load/store unit's ``x_addr``).
    base, offset : In(32)
        ``rs1`` and ``imm``: the next word's address is ``base + (offset + 4)`` (an adder
        beside the address adder), word-aligned.
    split : In(1)
        The access crosses a word boundary (both words are checked).
    start : In(1)
        A load / store is in X, its operands known, and it executes.
    clear : In(1)
        Forget the registered addresses and checks.
    hold_off : In(1)
        No request in the next cycle (registered into ``unchecked``).
    go : Out(1)
        The access may be requested: nothing to check, or checked and allowed.
    trap : Out(1)
        The registered checks refuse it (``watch`` or ``denied``).
    watch : Out(1)
        A load / store trigger fired on it (registered check).
    denied : Out(1)
        PMP denies either word (registered check).
    tval : Out(32)
        mtval of the trap: the access's address, or the next word's when only the second
        word is denied.
    """

    def __init__(self, *, pmp_entries=16, triggers=1):
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__({
            "prot": In(protection_layout(pmp_entries, triggers)),
            "load": In(1),
            "addr": In(32),
            "base": In(32),
            "offset": In(32),
            "split": In(1),
            "start": In(1),
            "clear": In(1),
            "hold_off": In(1),
            "go": Out(1),
            "trap": Out(1),
            "watch": Out(1),
            "denied": Out(1),
            "tval": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        prot = self.prot
        lo_fault = Signal()     # PMP denies the (first) word of the registered access
        hi_fault = Signal()     # ... its second word (a split access)
        watch = Signal()        # a load / store address trigger fires on it
        chk_addr = Signal(32)   # the access's address, registered
        chk_second = Signal(32)     # the next word's address, registered
        chk_split = Signal()
        second = Signal(32)
        imm4 = Signal(32)
        m.d.comb += [imm4.eq(self.offset + 4),
                     second.eq(Cat(C(0, 2), (self.base + imm4)[2:32]))]
        locked = Signal()       # a PMP entry binds M-mode (L bit)
        armed = Signal()        # a trigger may fire on a load or store in this mode
        if self._pmp_entries:
            # A split misaligned access is checked on both words before its first request, so
            # a denied second word leaves no partial access (no register write, no store).
            for name, addr in (("pmp", chk_addr), ("pmp_hi", chk_second)):
                pmp = PMPCheck(self._pmp_entries)
                m.submodules[name] = pmp
                m.d.comb += [pmp.cfg.eq(prot.pmp_cfg), pmp.pmpaddr.eq(prot.pmp_addr),
                             pmp.care.eq(prot.pmp_care), pmp.priv_m.eq(prot.dpriv_m),
                             pmp.access.eq(Mux(self.load, 0b001, 0b010)), pmp.addr.eq(addr)]
                if name == "pmp":
                    m.d.comb += lo_fault.eq(pmp.fault)
                else:
                    m.d.comb += hi_fault.eq(pmp.fault & chk_split)
            m.d.comb += locked.eq(Cat(*(prot.pmp_cfg[i][PMPCfg["L"]]
                                      for i in range(self._pmp_entries))).any())
        if self._triggers:
            m.submodules.trigger = trigger = TriggerMatch(self._triggers)
            m.d.comb += [trigger.ctrl.eq(prot.trig_ctrl), trigger.tdata2.eq(prot.trig_addr),
                         trigger.priv_m.eq(prot.priv_m), trigger.mte.eq(prot.mte),
                         trigger.kind.eq(Mux(self.load, 0b001, 0b010)),
                         trigger.addr.eq(chk_addr), watch.eq(trigger.hit)]
            arms = []
            for i in range(self._triggers):
                ctrl = prot.trig_ctrl[i]
                mode_ok = (prot.priv_m & ctrl[4] & prot.mte) | (~prot.priv_m & ctrl[3])
                arms.append(mode_ok & (ctrl[0] | ctrl[1]))
            m.d.comb += armed.eq(Cat(*arms).any())
        unchecked = Signal()
        pmp_free = (prot.dpriv_m & ~locked) if self._pmp_entries else C(1)
        m.d.sync += unchecked.eq(pmp_free & ~armed & ~self.hold_off)

        chk_addr_valid = Signal()   # the access's addresses were registered
        chk_valid = Signal()    # the checks of those addresses were registered
        chk_watch = Signal()
        chk_lo = Signal()
        chk_hi = Signal()
        m.d.comb += [
            self.watch.eq(chk_valid & chk_watch),
            self.denied.eq(chk_valid & (chk_lo | chk_hi)),
            self.trap.eq(self.watch | self.denied),
            self.tval.eq(Mux(chk_watch | chk_lo, chk_addr, chk_second)),
            self.go.eq(unchecked | (chk_valid & ~chk_watch & ~chk_lo & ~chk_hi)),
        ]
        with m.If(self.clear):
            m.d.sync += [chk_addr_valid.eq(0), chk_valid.eq(0)]
        with m.Elif(self.start & ~unchecked):
            with m.If(~chk_addr_valid):
                m.d.sync += [chk_addr_valid.eq(1), chk_addr.eq(self.addr),
                             chk_second.eq(second), chk_split.eq(self.split)]
            with m.Elif(~chk_valid):
                m.d.sync += [chk_valid.eq(1), chk_watch.eq(watch), chk_lo.eq(lo_fault),
                             chk_hi.eq(hi_fault)]
        return m
