"""Operand forwarding and hazard detection for the X stage."""

from types import SimpleNamespace

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp, ASel, BSel, Unit

__all__ = ["Bypass", "late_add_able", "late_branch_able", "late_shift_able", "hazard_sources",
           "load_use_hazard", "next_cycle_hazard"]


def load_use_hazard(srcs, m_rd, m_late, m_load, load_values):
    """Whether an instruction must wait for the late producer in M: ``srcs`` holds, per
    source, ``(reg, use, late_ok)`` (``late_ok``: the user takes a load's answer, with
    ``load_values``); ``m_rd`` / ``m_late`` / ``m_load`` describe the instruction in M as
    :class:`Bypass`'s members of those names. The expression :class:`Bypass` raises
    ``hazard`` with, so that X can also compute it for the next cycle's contents."""
    terms = []
    for reg, use, late_ok in srcs:
        hit = use & (m_rd != 0) & (m_rd == reg) & m_late
        terms.append(hit & ~(late_ok & m_load) if load_values else hit)
    return terms[0] | terms[1]


def late_branch_able(dec, refetch, late_branch):
    """With ``late_branch``: whether the decoded instruction ``dec`` is a conditional branch
    that cannot trap in X whatever its operands (its target is 4-byte aligned: pc[1] is 0, so
    imm[1] decides; no ``refetch``), so it does not wait for a late producer in M (M resolves
    it). Without: 0."""
    return dec.branch & ~dec.imm[1] & ~refetch if late_branch else C(0)


def late_add_able(dec, late_add):
    """With ``late_add``: whether the decoded instruction ``dec`` is a register-register ADD
    (ALU, ``rs1 + rs2``), which does not wait for a late producer in M (M adds W's value).
    It cannot trap in X. Without: 0."""
    if not late_add:
        return C(0)
    return ((dec.unit == Unit.ALU) & (dec.alu_op == AluOp.ADD) & (dec.a_sel == ASel.RS1) &
            (dec.b_sel == BSel.RS2) & dec.use_rs1 & dec.use_rs2 & ~dec.branch)


def late_shift_able(dec, late_shift):
    """With ``late_shift``: whether the decoded instruction ``dec`` is a shift (SLL / SRL /
    SRA, by a register or an immediate), which does not wait for a late producer in M (M
    shifts W's value). It cannot trap in X. Without: 0."""
    return (dec.unit == Unit.SHIFT) if late_shift else C(0)


def hazard_sources(dec, refetch, *, late_branch, load_branch, load_store, late_add=False,
                   late_shift=False):
    """``(reg, use, late_ok)`` of each source of ``dec`` for :func:`load_use_hazard`: a
    source a late branch (:func:`late_branch_able`) compares in M, a late ADD
    (:func:`late_add_able`) adds or a late shift (:func:`late_shift_able`) shifts in M is
    not used in X; a conditional branch's sources (``load_branch``) and a store's data
    (``load_store``) may take a load's answer."""
    able = (late_branch_able(dec, refetch, late_branch) | late_add_able(dec, late_add) |
            late_shift_able(dec, late_shift))
    ok1 = dec.branch if load_branch else C(0)
    ok2 = ok1 | ((dec.unit == Unit.STORE) if load_store else C(0))
    return [(dec.rs1, dec.use_rs1 & ~able, ok1), (dec.rs2, dec.use_rs2 & ~able, ok2)]


def next_cycle_hazard(*, x_hold, x_dec, x_refetch, d_dec, d_refetch, m_busy, m_now, m_new,
                      late_branch, load_branch, load_store, late_add=False,
                      late_shift=False):
    """The next cycle's X sources, M destination and load-use hazard, for the registered
    hazard and forwarding selects (:class:`Bypass` ``registered``): X keeps its instruction
    (``x_dec``, ``x_refetch``) while ``x_hold``, else takes D's (``d_dec``, ``d_refetch``);
    M keeps ``m_now`` = ``(rd, late, load)`` while ``m_busy``, else takes X's hand-over
    ``m_new`` (rd 0 when X hands over nothing). Returns ``(n_x_rs1, n_x_rs2, n_m_rd,
    hazard)``, ``hazard`` being the expression :class:`Bypass` raises ``hazard`` with, on
    the next cycle's contents."""
    nxt = SimpleNamespace(**{name: Mux(x_hold, getattr(x_dec, name), getattr(d_dec, name))
                             for name in ("rs1", "rs2", "use_rs1", "use_rs2", "branch",
                                          "unit", "imm", "alu_op", "a_sel", "b_sel")})
    n_refetch = Mux(x_hold, x_refetch, d_refetch)
    n_m_rd, n_m_late, n_m_load = (Mux(m_busy, now, new)
                                  for now, new in zip(m_now, m_new, strict=True))
    srcs = hazard_sources(nxt, n_refetch, late_branch=late_branch, load_branch=load_branch,
                          load_store=load_store, late_add=late_add, late_shift=late_shift)
    hazard = load_use_hazard(srcs, n_m_rd, n_m_late, n_m_load, load_branch or load_store)
    return nxt.rs1, nxt.rs2, n_m_rd, hazard


class Bypass(wiring.Component):
    """Holds the X-stage source operands and keeps them current.

    The D stage reads the register file (its value already includes the W-stage write of the
    current cycle, which the D stage forwards itself). In X the operands are forwarded from the
    M stage (results computed in X) and the W stage; while X waits, the forwarded values are
    captured every cycle, so a producer that leaves the pipeline meanwhile is not lost.

    A source produced by a load, a multiplication or a CSR read that is still in M is not
    available yet: ``hazard`` is raised and the X stage must wait one cycle or more.

    With ``load_values`` an operand whose user can take it late (``x_late_ok1`` /
    ``x_late_ok2``: X sets them for a conditional branch's comparison and a store's data) does
    not wait for a load in M (``m_load``): ``late_rs1`` / ``late_rs2`` take the load's value
    ``m_load_result`` (valid in the cycle M finishes the load; while M is busy X holds
    anyway, and the values seen then are not used). ``rs1`` / ``rs2`` never carry it.

    Parameters
    ----------
    forwarding : bool
        With ``False`` nothing is forwarded: ``rs1`` / ``rs2`` are the values captured from D
        and ``hazard`` is 0. The pipeline must then keep an instruction in D until no older
        instruction in X or M writes its sources (:class:`~.core.Core` does).
    load_values : bool
        Forward a load's answer from M into ``late_rs1`` / ``late_rs2`` (needs
        ``forwarding``). Without it they equal ``rs1`` / ``rs2``.
    registered : bool
        The forwarding selects (which source register M's or W's destination is) are
        registers, compared the cycle before from ``n_x_rs1`` / ``n_x_rs2`` / ``n_m_rd`` /
        ``n_w_rd``: the operands' muxes then hang off flip-flops, not off a 5-bit compare.
        The values are the same when those members give the next cycle's ``x_rs*`` /
        ``m_rd`` / ``w_rd``.

    Members
    -------
    load : In(1)
        The X stage takes a new instruction: capture ``d_rs1`` / ``d_rs2``.
    d_rs1, d_rs2 : In(32)
        Operand values from the D stage.
    x_rs1, x_rs2 : In(5)
        Source registers of the instruction in X.
    x_use_rs1, x_use_rs2 : In(1)
    m_rd : In(5)
        Destination of the instruction in M (0: none, or M empty).
    m_late : In(1)
        Its value is not computed yet.
    m_result : In(32)
    w_rd : In(5)
        Destination written by the W stage this cycle (0: none).
    w_result : In(32)
    x_late_ok1, x_late_ok2 : In(1)
        The instruction in X uses ``late_rs1`` / ``late_rs2`` (not ``rs1`` / ``rs2``) for
        that operand, and only there.
    m_load : In(1)
        The late producer in M is a load.
    m_load_result : In(32)
        Its value (formatted from the data bus answer in M).
    n_x_rs1, n_x_rs2, n_m_rd, n_w_rd : In(5)
        With ``registered``: ``x_rs1``, ``x_rs2``, ``m_rd``, ``w_rd`` of the next cycle.
    rs1, rs2 : Out(32)
        Current operand values.
    late_rs1, late_rs2 : Out(32)
        The same with a load's answer forwarded from M.
    hazard : Out(1)
    """

    load: In(1)
    d_rs1: In(32)
    d_rs2: In(32)
    x_rs1: In(5)
    x_rs2: In(5)
    x_use_rs1: In(1)
    x_use_rs2: In(1)
    m_rd: In(5)
    m_late: In(1)
    m_result: In(32)
    w_rd: In(5)
    w_result: In(32)
    x_late_ok1: In(1)
    x_late_ok2: In(1)
    m_load: In(1)
    m_load_result: In(32)
    n_x_rs1: In(5)
    n_x_rs2: In(5)
    n_m_rd: In(5)
    n_w_rd: In(5)
    rs1: Out(32)
    rs2: Out(32)
    late_rs1: Out(32)
    late_rs2: Out(32)
    hazard: Out(1)

    def __init__(self, *, forwarding=True, load_values=False, registered=False):
        if load_values and not forwarding:
            raise ValueError("load_values needs forwarding")
        self._forwarding = bool(forwarding)
        self._load_values = bool(load_values)
        self._registered = bool(registered)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        hazards = []
        ports = ((self.d_rs1, self.x_rs1, self.n_x_rs1, self.x_use_rs1, self.x_late_ok1,
                  self.rs1, self.late_rs1),
                 (self.d_rs2, self.x_rs2, self.n_x_rs2, self.x_use_rs2, self.x_late_ok2,
                  self.rs2, self.late_rs2))
        for d_val, x_reg, n_reg, use, late_ok, out, late_out in ports:
            held = Signal(32)
            if self._registered:
                m_hit, w_hit = Signal(), Signal()
                m.d.sync += [m_hit.eq((self.n_m_rd != 0) & (self.n_m_rd == n_reg)),
                             w_hit.eq((self.n_w_rd != 0) & (self.n_w_rd == n_reg))]
            else:
                m_hit = (self.m_rd != 0) & (self.m_rd == x_reg)
                w_hit = (self.w_rd != 0) & (self.w_rd == x_reg)
            if not self._forwarding:
                m.d.comb += [out.eq(held), late_out.eq(held)]
                with m.If(self.load):
                    m.d.sync += held.eq(d_val)
                continue
            m.d.comb += out.eq(Mux(m_hit, self.m_result, Mux(w_hit, self.w_result, held)))
            m.d.sync += held.eq(Mux(self.load, d_val, out))
            if self._load_values:
                # The load's value is the last input of the mux (the data bus answer arrives
                # late in the cycle); the selects come from registers.
                m.d.comb += late_out.eq(Mux(m_hit & self.m_load, self.m_load_result, out))
            else:
                m.d.comb += late_out.eq(out)
            hazards.append((x_reg, use, late_ok))
        if hazards:
            m.d.comb += self.hazard.eq(load_use_hazard(hazards, self.m_rd, self.m_late,
                                                       self.m_load, self._load_values))
        return m
