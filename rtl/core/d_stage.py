"""D stage: decode, register read, static branch prediction, exceptions found in decode."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .branch import branch_condition
from .decoder import Decoder
from .fetch import FetchLayout
from .isa import ExceptionCause
from .layouts import DXLayout, protection_layout
from .pmp import PMPCheck
from .predictor import Predictor, PredictorState
from .regfile import RegisterFile
from .stage import Stage, edge_signature
from .trigger import TriggerMatch

__all__ = ["DStage"]


class DStage(wiring.Component):
    """The decode stage of :class:`~.core.Core`, with its stage register and register file.

    The register file is addressed one cycle ahead (by the instruction that will be in D next
    cycle) and written by the W stage; D forwards the W-stage write of the current cycle into
    its operands itself. An execute-address trigger, a fetch access fault (bus error or PMP),
    an illegal instruction, ECALL and EBREAK become the instruction's exception (in that
    priority) and travel with it to M. The privilege state (``prot``) is stable while an
    instruction is in D: everything that changes it (trap, MRET, a PMP or trigger CSR write)
    flushes the pipeline.

    Parameters
    ----------
    forwarding : bool
        ``False``: D holds its instruction while an older one in X or M writes one of its
        sources (``x_rd`` / ``m_rd``); ``True``: X forwards, D never waits for data.
    predictor : bool
        Predict in D (:class:`~.predictor.Predictor`) and redirect fetch to ``d_target``.
    bht_entries, ras_depth, gshare_entries, gshare_history : int
        Branch history table, return address stack and global-history table of the predictor
        (with ``predictor``).
    weak_follows_fetch, fetch_direction : bool
        The predictor's options of those names.
    early_branch : bool
        With ``predictor``: a conditional branch whose sources neither X nor M writes
        (``x_rd`` / ``m_rd``) is compared here (the register file's values, W's write
        forwarded) and the predictor takes that direction (``resolved``): fetch is steered
        by D's real direction, X never finds it mispredicted.
    pmp_entries, triggers : int
        PMP entries and address triggers of the CSR file.
    x_bht_update, x_bht_pc, x_bht_ctr, x_bht_agree : In
        Training of the history table by X (the predictor's ``x_*`` members).

    Members
    -------
    f : In(stream.Signature(FetchLayout))
        Instructions from F; ``ready`` is low while D holds its instruction.
    x_hold : In(1)
        X keeps its instruction this cycle: D holds too.
    x_redirect, m_redirect : In(1)
        An older stage redirects fetch: D is flushed.
    d_redirect_late : In(1)
        Fetch is redirected this cycle by D's redirect of the previous cycle (registered by
        the core): D takes nothing from F (what F offers is on the wrong path).
    x_rd, m_rd : In(5)
        Destinations of the instructions in X and M (0: none); used without forwarding and
        with ``early_branch``.
    w_rd : In(5)
        Register written by W this cycle (0: none).
    w_result : In(32)
    prot : In(protection_layout(pmp_entries, triggers))
        Privilege state from the CSR file.
    d_redirect : Out(1)
        Redirect fetch to ``d_target`` (the first cycle in D of an instruction whose
        prediction differs from the path fetch took). The core registers it: fetch is
        redirected in the next cycle (``d_redirect_late``).
    d_target : Out(32)
    d_btb_we, d_btb_valid, d_btb_cond : Out(1)
    d_btb_pc, d_btb_target : Out(32)
        Training of the fetch unit's branch target buffer (``btb_*``).
    d_rs1, d_rs2 : Out(32)
        Source operand values of the instruction in D (with the W-stage write forwarded).
    dx : Out(edge_signature(DXLayout))
        The instruction handed to X.
    """

    def __init__(self, *, forwarding=True, predictor=True, bht_entries=0, ras_depth=0,
                 gshare_entries=0, gshare_history=0, weak_follows_fetch=False,
                 fetch_direction=False, early_branch=False, pmp_entries=16, triggers=1):
        if early_branch and not predictor:
            raise ValueError("early_branch needs predictor=True")
        self._early_branch = bool(early_branch)
        self._forwarding = bool(forwarding)
        self._predictor = bool(predictor)
        self._bht_entries = bht_entries
        self._ras_depth = ras_depth
        self._gshare = dict(gshare_entries=gshare_entries, gshare_history=gshare_history,
                            weak_follows_fetch=weak_follows_fetch,
                            fetch_direction=fetch_direction,
                            early_branch=early_branch)
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__({
            "prot": In(protection_layout(pmp_entries, triggers)),
            "f": In(stream.Signature(FetchLayout)),
            "x_hold": In(1),
            "x_redirect": In(1),
            "m_redirect": In(1),
            "d_redirect_late": In(1),
            "x_rd": In(5),
            "m_rd": In(5),
            "w_rd": In(5),
            "w_result": In(32),
            "x_bht_update": In(1),
            "x_bht_pc": In(32),
            "x_bht_ctr": In(PredictorState),
            "x_bht_agree": In(1),
            "d_redirect": Out(1),
            "d_target": Out(32),
            "d_btb_we": Out(1),
            "d_btb_valid": Out(1),
            "d_btb_cond": Out(1),
            "d_btb_pc": Out(32),
            "d_btb_target": Out(32),
            "d_rs1": Out(32),
            "d_rs2": Out(32),
            "dx": Out(edge_signature(DXLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.stage = d = Stage(FetchLayout)
        m.submodules.decoder = decoder = Decoder()
        m.submodules.regfile = regfile = RegisterFile()
        if self._predictor:
            m.submodules.predictor = predictor = Predictor(bht_entries=self._bht_entries,
                                                           ras_depth=self._ras_depth,
                                                           **self._gshare)

        d_hold = Signal()
        d_wait = Signal()        # waits for a producer in X or M (no forwarding)
        fd = d.payload
        dec = decoder.decoded
        dx = self.dx.payload
        m.d.comb += [
            self.f.ready.eq(~d_hold),
            d.i_valid.eq(self.f.valid &
                         ~(self.m_redirect | self.x_redirect | self.d_redirect |
                           self.d_redirect_late)),
            d.i_payload.eq(self.f.payload),
            d.stall.eq(d_hold),
            d.flush.eq(self.m_redirect | self.x_redirect),
            decoder.insn.eq(fd.insn),
            d_hold.eq(d.valid & (self.x_hold | d_wait)),
            # Register read addresses: the instruction that will be in D next cycle.
            regfile.raddr1.eq(Mux(d_hold, fd.insn[15:20], self.f.payload.insn[15:20])),
            regfile.raddr2.eq(Mux(d_hold, fd.insn[20:25], self.f.payload.insn[20:25])),
            regfile.waddr.eq(self.w_rd),
            regfile.wdata.eq(self.w_result),
            regfile.we.eq(1),
        ]
        m.d.comb += [
            dx.pc.eq(fd.pc),
            dx.insn.eq(fd.insn),
            dx.dec.eq(dec),
        ]
        prot = self.prot
        m.d.comb += [decoder.priv_m.eq(prot.priv_m), decoder.tw.eq(prot.tw),
                     decoder.counteren.eq(prot.counteren)]
        fetch_denied = Signal()
        exec_hit = Signal()
        if self._pmp_entries:
            m.submodules.pmp = pmp = PMPCheck(self._pmp_entries)
            m.d.comb += [pmp.cfg.eq(prot.pmp_cfg), pmp.pmpaddr.eq(prot.pmp_addr),
                         pmp.care.eq(prot.pmp_care),
                         pmp.priv_m.eq(prot.priv_m), pmp.access.eq(0b100), pmp.addr.eq(fd.pc),
                         fetch_denied.eq(pmp.fault)]
        if self._triggers:
            m.submodules.trigger = trigger = TriggerMatch(self._triggers)
            m.d.comb += [trigger.ctrl.eq(prot.trig_ctrl), trigger.tdata2.eq(prot.trig_addr),
                         trigger.priv_m.eq(prot.priv_m), trigger.mte.eq(prot.mte),
                         trigger.kind.eq(0b100), trigger.addr.eq(fd.pc),
                         exec_hit.eq(trigger.hit)]
        with m.If(exec_hit):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.BREAKPOINT),
                         dx.exc.tval.eq(fd.pc)]
        with m.Elif(fd.err | fetch_denied):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.INSN_ACCESS_FAULT),
                         dx.exc.tval.eq(fd.pc)]
        with m.Elif(dec.illegal):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.ILLEGAL_INSN),
                         dx.exc.tval.eq(fd.insn)]
        with m.Elif(dec.ecall):
            m.d.comb += [dx.exc.valid.eq(1),
                         dx.exc.cause.eq(Mux(prot.priv_m, ExceptionCause.ECALL_M,
                                             ExceptionCause.ECALL_U))]
        with m.Elif(dec.ebreak):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.BREAKPOINT),
                         dx.exc.tval.eq(fd.pc)]
        if self._predictor:
            m.d.comb += [
                # Not gated by the instruction's exception (PMP, trigger, legality: long
                # paths): an excepting instruction may still redirect fetch from D; it traps
                # in M, which redirects again. Neither are the prediction and ``refetch`` D
                # hands X: X acts on them only for an instruction without an exception
                # (``runs`` / ``ok`` in ``x_stage.py``), so the exception's decode, PMP and
                # trigger paths end at X's register.
                predictor.d_valid.eq(d.valid),
                predictor.d_reload.eq(~d_hold),
                predictor.flush.eq(self.m_redirect | self.x_redirect),
                predictor.branch.eq(dec.branch),
                predictor.jal.eq(dec.jal),
                predictor.jalr.eq(dec.jalr),
                predictor.rd.eq(dec.rd),
                predictor.rs1.eq(dec.rs1),
                predictor.pc.eq(fd.pc),
                predictor.imm.eq(dec.imm),
                predictor.x_update.eq(self.x_bht_update),
                predictor.x_pc.eq(self.x_bht_pc),
                predictor.x_ctr.eq(self.x_bht_ctr),
                predictor.x_agree.eq(self.x_bht_agree),
                dx.predicted_taken.eq(predictor.taken),
                dx.predicted_rs1.eq(predictor.check),
                dx.bht_ctr.eq(predictor.ctr),
                dx.refetch.eq(predictor.refetch),
                predictor.f_taken.eq(fd.btb_taken),
                predictor.f_known.eq(fd.btb_known),
                predictor.f_target.eq(fd.btb_target),
                predictor.f_dir.eq(fd.dir),
                self.d_redirect.eq(predictor.redirect),
                self.d_target.eq(predictor.redirect_target),
                self.d_btb_we.eq(predictor.btb_we),
                self.d_btb_valid.eq(predictor.btb_valid),
                self.d_btb_cond.eq(predictor.btb_cond),
                self.d_btb_pc.eq(fd.pc),
                self.d_btb_target.eq(predictor.target),
            ]
        # The register file shows the W-stage write only next cycle.
        w_rd = self.w_rd
        m.d.comb += [
            self.d_rs1.eq(Mux((w_rd != 0) & (w_rd == dec.rs1), self.w_result, regfile.rdata1)),
            self.d_rs2.eq(Mux((w_rd != 0) & (w_rd == dec.rs2), self.w_result, regfile.rdata2)),
        ]
        if self._early_branch:
            # The sources are final unless X or M still writes one (W's write is forwarded
            # above); then the comparison X makes is made here already.
            due = []
            for reg in (dec.rs1, dec.rs2):
                due.append((reg != 0) & ((reg == self.x_rd) | (reg == self.m_rd)))
            m.d.comb += [
                predictor.resolved.eq(dec.branch & ~due[0] & ~due[1]),
                predictor.resolved_taken.eq(branch_condition(m, fd.insn[12:15], self.d_rs1,
                                                             self.d_rs2, one_subtractor=True)),
            ]
        if not self._forwarding:
            # D waits while X or M will still write one of its sources.
            waits = []
            for use, reg in ((dec.use_rs1, dec.rs1), (dec.use_rs2, dec.rs2)):
                waits.append(use & (reg != 0) & ((reg == self.x_rd) | (reg == self.m_rd)))
            m.d.comb += d_wait.eq(d.valid & (waits[0] | waits[1]))
        m.d.comb += self.dx.valid.eq(d.valid & ~self.x_redirect & ~d_wait)
        return m
