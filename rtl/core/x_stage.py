"""X stage: operands, ALU, shifts, branches, division, the data request, interrupt sampling."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .access_check import AccessCheck
from .alu import ALU
from .branch import BranchUnit
from .bypass import Bypass, late_add_able, late_branch_able, late_shift_able, next_cycle_hazard
from .decoder import Unit
from .divider import Divider
from .divider_serial import SerialDivider
from .isa import ExceptionCause
from .layouts import DXLayout, ResultSrc, XMLayout, protection_layout
from .operands import OperandSelect
from .options import CoreOptions
from .predictor import PredictorState
from .shift_product import ShiftProduct
from .shifter import Shifter
from .stage import Stage, edge_signature

__all__ = ["XStage"]


class XStage(wiring.Component):
    """The execute stage of :class:`~.core.Core`, with its stage register.

    X forwards its operands (:class:`~.bypass.Bypass`), computes ALU and shift results,
    resolves branches and jumps (redirecting fetch on a misprediction), runs divisions, and
    issues the data request as the instruction leaves X: only when M will not redirect and
    never depending on a grant (the first access of a split misaligned access; M sends the
    second). Misaligned branch / jump targets, load / store address triggers and accesses PMP
    denies (either word of a split access; mtval is the first byte of the denied word) become
    the instruction's exception (in that priority; a denied access never reaches the bus).
    While the privilege state lets a PMP entry or a trigger refuse a load / store, the access
    stays two more cycles in X (its addresses, then the checks registered; the request
    follows from registers); otherwise it is requested at once and no check can fire. A
    pending interrupt marks the instruction instead of executing it (unless a data request of
    it waits for its grant).

    With ``late_branch`` a conditional branch whose source a late producer in M (load, MUL,
    CSR read) writes leaves X at once when it cannot trap (4-byte aligned target, no
    ``refetch``) and M resolves it (``m_lb_*``); X then redirects fetch (registered, like
    its own mispredictions) and trains the history table for it, in place of the
    instruction behind it, which M drops. While M holds such a branch X sends no data
    request (with ``late_branch_requests``: unless M finds the branch mispredicted in that
    cycle). With ``late_add`` / ``late_shift`` a register-register ADD / a shift whose source
    such a producer writes leaves X at once too (``xm.src`` = ``ResultSrc.ADD`` /
    ``ResultSrc.SHIFT``, ``xm.late``) and M computes it from W's value.

    The load/store unit and the multiplier span X and M; the core connects their X halves to
    the ``lsu_*`` and ``mul_*`` members.

    Parameters
    ----------
    options : CoreOptions
        ``forwarding``, ``load_branch_forwarding``, ``load_store_forwarding``,
        ``shift_in_multiplier``, ``predictor`` and ``serial_divider`` apply.
    pmp_entries, triggers : int
        PMP entries and address triggers of the CSR file.

    Members
    -------
    dx : In(edge_signature(DXLayout))
        The instruction from D.
    d_rs1, d_rs2 : In(32)
        Its operand values, captured when X takes it.
    m_busy : In(1)
        M waits: X cannot hand on its instruction.
    m_redirect : In(1)
        M redirects fetch: X is flushed and issues nothing.
    m_rd : In(5)
        Destination of the instruction in M (0: none).
    m_late : In(1)
        Its value is not known in M yet (load, product, CSR read).
    m_result : In(32)
        Its value, when computed in X.
    m_load : In(1)
        It is a load.
    m_lb_done, m_lb_agree, m_lb_mispredict : In(1)
    m_lb_target : In(32)
        A branch resolved in M (``late_branch``; :class:`~.m_stage.MStage` ``lb_*``).
    m_load_result : In(32)
        The load's value, formatted from the data bus answer in M (valid in the cycle M
        finishes the load; with ``load_branch_forwarding`` / ``load_store_forwarding`` a
        conditional branch's comparison / a store's data takes it instead of waiting).
    w_rd : In(5)
        Register written by W this cycle (0: none).
    w_result : In(32)
    n_w_rd : In(5)
        Register W writes next cycle (M's hand-over to W; 0: none): the bypass's
        registered forwarding selects.
    irq_pending : In(1)
        An enabled interrupt is pending (from the CSR file).
    prot : In(protection_layout(pmp_entries, triggers))
        Privilege state from the CSR file.
    dbus : Out(BusSignature())
        Data request; the answer members are not used here (M takes the answer).
    lsu_funct3, lsu_base, lsu_offset, lsu_store_data : Out
        To the load/store unit's X half (``x_funct3``, ``x_base``, ``x_offset``,
        ``x_store_data``).
    lsu_addr, lsu_split, lsu_mask, lsu_mask_hi, lsu_wdata : In
        From it (``x_addr``, ``x_split``, ``x_mask``, ``x_mask_hi``, ``x_wdata``).
    mul_en, mul_op, mul_a, mul_b : Out
        To the multiplier's X half (``x_en``, ``x_op``, ``x_a``, ``x_b``).
    x_hold : Out(1)
        X keeps its instruction this cycle.
    x_redirect : Out(1)
        Redirect fetch to ``x_target`` (misprediction, or ``refetch`` from D: fetch went to
        a wrong branch target buffer target). Registered: raised in the cycle after the
        branch left X (to M), when the instruction behind it in X is dropped and D is
        flushed; so a misprediction costs three bubbles. Never raised while M redirects.
    x_target : Out(32)
        Registered with ``x_redirect``.
    x_rd : Out(5)
        Destination of the instruction in X (0: none).
    x_btb_we : Out(1)
    x_btb_pc : Out(32)
        With ``x_redirect``, for a JALR with an even ``imm``: the fetch unit's branch target
        buffer learns ``x_target`` for the pc ``x_btb_pc`` (registered).
    x_bht_update, x_bht_pc, x_bht_ctr, x_bht_agree : Out
        A conditional branch left X (registered: raised in the next cycle): its pc, the
        table state read in D and whether it went the static way (taken exactly when
        backward), to train the predictor.
    xm : Out(edge_signature(XMLayout))
        The instruction handed to M.
    """

    def __init__(self, options=None, *, pmp_entries=16, triggers=1):
        options = CoreOptions() if options is None else options
        if not isinstance(options, CoreOptions):
            raise TypeError(f"options must be a CoreOptions, not {options!r}")
        self._options = options
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__({
            "prot": In(protection_layout(pmp_entries, triggers)),
            "dx": In(edge_signature(DXLayout)),
            "d_rs1": In(32),
            "d_rs2": In(32),
            "m_busy": In(1),
            "m_redirect": In(1),
            "m_rd": In(5),
            "m_late": In(1),
            "m_result": In(32),
            "m_load": In(1),
            "m_load_result": In(32),
            "m_lb_done": In(1),
            "m_lb_agree": In(1),
            "m_lb_mispredict": In(1),
            "m_lb_target": In(32),
            "w_rd": In(5),
            "w_result": In(32),
            "n_w_rd": In(5),
            "irq_pending": In(1),
            "dbus": Out(BusSignature()),
            "lsu_funct3": Out(3),
            "lsu_base": Out(32),
            "lsu_offset": Out(32),
            "lsu_store_data": Out(32),
            "lsu_addr": In(32),
            "lsu_split": In(1),
            "lsu_mask": In(4),
            "lsu_mask_hi": In(4),
            "lsu_wdata": In(32),
            "mul_en": Out(1),
            "mul_op": Out(3),
            "mul_a": Out(32),
            "mul_b": Out(32),
            "x_hold": Out(1),
            "x_redirect": Out(1),
            "x_target": Out(32),
            "x_rd": Out(5),
            "x_btb_we": Out(1),
            "x_btb_pc": Out(32),
            "x_bht_update": Out(1),
            "x_bht_pc": Out(32),
            "x_bht_ctr": Out(PredictorState),
            "x_bht_agree": Out(1),
            "xm": Out(edge_signature(XMLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        opts = self._options
        m.submodules.stage = x = Stage(DXLayout)
        late_branch, late_store = opts.load_branch_forwarding, opts.load_store_forwarding
        m.submodules.bypass = bypass = Bypass(forwarding=opts.forwarding,
                                              load_values=late_branch or late_store,
                                              registered=opts.forwarding)
        m.submodules.operands = operands = OperandSelect()
        m.submodules.alu = alu = ALU()
        if opts.shift_in_multiplier:
            m.submodules.shift_product = shift_product = ShiftProduct()
        else:
            m.submodules.shifter = shifter = Shifter()
        m.submodules.branch = branch = BranchUnit()
        m.submodules.divider = divider = SerialDivider() if opts.serial_divider else \
            Divider(registered_start=opts.registered_divider_start)

        m_busy, m_redirect = self.m_busy, self.m_redirect
        late_ok = opts.late_branch
        x_busy = Signal()        # X cannot finish this cycle
        xp = x.payload
        xd = xp.dec
        # The redirect is registered: X decides in the cycle the mispredicted branch leaves
        # it and redirects fetch (and flushes D) in the next one, when the instruction that
        # followed the branch into X is on the wrong path: ``live`` drops it.
        redirect_now = Signal()
        target_now = Signal(32)
        btb_now = Signal()
        live = Signal()
        # (a branch resolved in M is older than X's instruction: its redirect wins)
        m.d.sync += [
            self.x_redirect.eq(redirect_now | self.m_lb_mispredict),
            self.x_target.eq(Mux(self.m_lb_mispredict, self.m_lb_target, target_now)),
            self.x_btb_we.eq(btb_now & ~self.m_lb_mispredict),
            self.x_btb_pc.eq(xp.pc),
        ]
        m.d.comb += [
            live.eq(x.valid & ~self.x_redirect),
            x.i_valid.eq(self.dx.valid),
            x.i_payload.eq(self.dx.payload),
            x.stall.eq(self.x_hold),
            x.flush.eq(m_redirect | self.x_redirect),
            self.x_rd.eq(Mux(live & xd.rd_we, xd.rd, 0)),
        ]

        # ---- operands --------------------------------------------------------------------
        # ``late_branch``: a conditional branch that cannot trap here whatever its operands
        # (its target is 4-byte aligned: pc[1] is 0, so imm[1] decides; no ``refetch``)
        # does not wait for a late producer in M; ``lb_late`` tells which source M takes
        # from W.
        # ``late_add``: a register-register ADD does not wait either; M adds W's value
        # (``add_late``: it left X so, ``xm.src`` is ``ResultSrc.ADD``).
        # ``late_shift``: nor does a shift; M shifts W's value (``shift_late``,
        # ``ResultSrc.SHIFT``).
        lb_able = Signal()
        la_able = Signal()
        ls_able = Signal()
        lb_late = Signal(2)
        late = Signal()
        add_late = Signal()
        shift_late = Signal()

        if late_ok or opts.late_add or opts.late_shift:
            m.d.comb += [lb_able.eq(late_branch_able(xd, xp.refetch, late_ok)),
                         la_able.eq(late_add_able(xd, opts.late_add)),
                         ls_able.eq(late_shift_able(xd, opts.late_shift))]
            for i, (reg, use) in enumerate(((xd.rs1, xd.use_rs1), (xd.rs2, xd.use_rs2))):
                m.d.comb += lb_late[i].eq((lb_able | la_able | ls_able) & use &
                                          (self.m_rd != 0) & (self.m_rd == reg) & self.m_late)
            m.d.comb += [late.eq(lb_able & lb_late.any()),
                         add_late.eq(la_able & lb_late.any()),
                         shift_late.eq(ls_able & lb_late.any())]
        m.d.comb += [
            bypass.load.eq(~self.x_hold),
            bypass.d_rs1.eq(self.d_rs1),
            bypass.d_rs2.eq(self.d_rs2),
            bypass.x_rs1.eq(xd.rs1),
            bypass.x_rs2.eq(xd.rs2),
            bypass.x_use_rs1.eq(xd.use_rs1 & ~lb_able & ~la_able & ~ls_able),
            bypass.x_use_rs2.eq(xd.use_rs2 & ~lb_able & ~la_able & ~ls_able),
            bypass.m_rd.eq(self.m_rd),
            bypass.m_late.eq(self.m_late),
            bypass.m_result.eq(self.m_result),
            bypass.w_rd.eq(self.w_rd),
            bypass.w_result.eq(self.w_result),
            # A load's answer goes only into a branch's comparison and a store's data.
            bypass.x_late_ok1.eq(xd.branch if late_branch else 0),
            bypass.x_late_ok2.eq((xd.branch if late_branch else 0) |
                                 ((xd.unit == Unit.STORE) if late_store else 0)),
            bypass.m_load.eq(self.m_load),
            bypass.m_load_result.eq(self.m_load_result),
        ]
        rs1, rs2 = bypass.rs1, bypass.rs2
        # The hazard is registered (it ends ``x_hold``, which fans out into D's and fetch's
        # enables): computed the cycle before, the way the bypass computes it, from what X
        # and M will hold (X keeps its instruction or takes D's; M keeps its own or takes
        # X's); equal to ``bypass.hazard`` in every cycle X holds an instruction.
        hazard = Signal()
        if opts.forwarding:
            takes = self.xm.valid & ~self.m_lb_mispredict
            xmp = self.xm.payload
            n_rs1, n_rs2, n_m_rd, n_hazard = next_cycle_hazard(
                x_hold=self.x_hold, x_dec=xd, x_refetch=xp.refetch,
                d_dec=self.dx.payload.dec, d_refetch=self.dx.payload.refetch,
                m_busy=self.m_busy, m_now=(self.m_rd, self.m_late, self.m_load),
                m_new=(Mux(takes, xmp.rd, 0), xmp.src != ResultSrc.X,
                       xmp.src == ResultSrc.LOAD),
                late_branch=late_ok, load_branch=late_branch, load_store=late_store,
                late_add=opts.late_add, late_shift=opts.late_shift)
            m.d.comb += [bypass.n_x_rs1.eq(n_rs1), bypass.n_x_rs2.eq(n_rs2),
                         bypass.n_m_rd.eq(n_m_rd), bypass.n_w_rd.eq(self.n_w_rd)]
            m.d.sync += hazard.eq(n_hazard)
        m.d.comb += [
            operands.a_sel.eq(xd.a_sel),
            operands.b_sel.eq(xd.b_sel),
            operands.rs1.eq(rs1),
            operands.rs2.eq(rs2),
            operands.pc.eq(xp.pc),
            operands.imm.eq(xd.imm),
        ]

        # ---- units -----------------------------------------------------------------------
        m.d.comb += [
            alu.op.eq(xd.alu_op),
            alu.a.eq(operands.a),
            alu.b.eq(operands.b),
            branch.branch.eq(xd.branch),
            branch.jal.eq(xd.jal),
            branch.jalr.eq(xd.jalr),
            branch.funct3.eq(xd.funct3),
            branch.pc.eq(xp.pc),
            branch.imm.eq(xd.imm),
            branch.rs1.eq(rs1),
            # (without the option the load's answer must not even reach the comparison: a
            # path the timing analysis would see, though the hazard keeps it unused)
            branch.cmp_a.eq(bypass.late_rs1 if late_branch else rs1),
            branch.cmp_b.eq(bypass.late_rs2 if late_branch else rs2),
            branch.predicted_taken.eq(xp.predicted_taken),
            branch.predicted_rs1.eq(xp.predicted_rs1),
            self.lsu_funct3.eq(xd.funct3),
            self.lsu_base.eq(rs1),
            self.lsu_offset.eq(xd.imm),
            self.lsu_store_data.eq(bypass.late_rs2 if late_store else rs2),
            self.mul_en.eq(~m_busy),
            self.mul_a.eq(rs1),
            divider.op.eq(xd.funct3),
            divider.a.eq(rs1),
            divider.b.eq(rs2),
        ]
        if opts.shift_in_multiplier:
            m.d.comb += [
                shift_product.shift.eq(xd.unit == Unit.SHIFT),
                shift_product.alu_op.eq(xd.alu_op),
                shift_product.shamt.eq(operands.b[0:5]),
                shift_product.funct3.eq(xd.funct3),
                shift_product.rs2.eq(rs2),
                self.mul_op.eq(shift_product.op),
                self.mul_b.eq(shift_product.b),
            ]
        else:
            m.d.comb += [
                shifter.op.eq(xd.alu_op),
                shifter.a.eq(rs1),
                shifter.shamt.eq(operands.b[0:5]),
                self.mul_op.eq(xd.funct3),
                self.mul_b.eq(rs2),
            ]
        is_load = xd.unit == Unit.LOAD
        is_mem = is_load | (xd.unit == Unit.STORE)

        # ---- privilege checks of the data access (``access_check.py``) ------------------
        m.submodules.access = access = AccessCheck(pmp_entries=self._pmp_entries,
                                                   triggers=self._triggers)
        lb_leaves = Signal()    # a branch M resolves leaves X: no request behind it
        if late_ok and not opts.late_branch_requests:
            m.d.comb += lb_leaves.eq(self.xm.valid & self.xm.payload.late_branch)
        m.d.comb += [access.prot.eq(self.prot), access.load.eq(is_load),
                     access.addr.eq(self.lsu_addr), access.base.eq(rs1),
                     access.offset.eq(xd.imm), access.split.eq(self.lsu_split),
                     access.hold_off.eq(lb_leaves)]
        mem_go, mem_exc = access.go, access.trap

        # ---- exceptions found in X, and interrupt sampling -------------------------------
        # The exceptions X finds come from its operands: none while an operand is still due
        # from M (``hazard``: the values seen are stale; the instruction waits).
        x_exc = Signal(xp.exc.shape())
        with m.If(xp.exc.valid):
            m.d.comb += x_exc.eq(xp.exc)
        with m.Elif(hazard):
            pass
        with m.Elif(branch.misaligned):
            m.d.comb += [x_exc.valid.eq(1), x_exc.cause.eq(ExceptionCause.INSN_MISALIGNED),
                         x_exc.tval.eq(branch.target)]
        with m.Elif(is_mem & access.watch):
            m.d.comb += [x_exc.valid.eq(1), x_exc.cause.eq(ExceptionCause.BREAKPOINT),
                         x_exc.tval.eq(access.tval)]
        with m.Elif(is_mem & access.denied):
            m.d.comb += [x_exc.valid.eq(1),
                         x_exc.cause.eq(Mux(is_load, ExceptionCause.LOAD_ACCESS_FAULT,
                                            ExceptionCause.STORE_ACCESS_FAULT)),
                         x_exc.tval.eq(access.tval)]
        req_held = Signal()   # a data request was presented and not yet granted
        irq_mark = Signal()
        m.d.comb += irq_mark.eq(live & self.irq_pending & ~req_held & ~xp.exc.valid)
        ok = Signal()         # X executes its instruction
        runs = Signal()       # the same without the exceptions X finds (long paths: PMP)
        # ``ok`` for the outputs that only matter for instructions other than conditional
        # branches (register write, memory, CSR, MRET, WFI, FENCE.I, division): the same
        # value for those, without the taken branch's misaligned target (operands -> bypass
        # -> comparison -> taken) on its path. A jump's misaligned target is bit 1 of the
        # target adder (short).
        ok_nb = Signal()
        jump_misaligned = (xd.jal | xd.jalr) & branch.target[1]
        mem_trap = is_mem & mem_exc
        m.d.comb += [runs.eq(live & ~xp.exc.valid & ~irq_mark),
                     ok.eq(runs & ~x_exc.valid),
                     ok_nb.eq(runs & ~(~hazard & (jump_misaligned | mem_trap)))]
        # Register the addresses in the first cycle an access that needs checks is in X with
        # its operands known, the checks in the next; forget both when the instruction
        # leaves X (or is flushed).
        m.d.comb += [access.start.eq(runs & is_mem & ~hazard),
                     access.clear.eq(~self.x_hold | m_redirect | self.x_redirect)]

        # ---- data bus request (never depends on a grant) ---------------------------------
        dbus = self.dbus
        m.d.comb += [
            # (a load / store has no exception of its own here other than from the checks)
            # (while M holds a branch it resolves, ``access.go`` is 0: no request; with
            # ``late_branch_requests`` one unless it was mispredicted)
            dbus.req.eq(runs & is_mem & mem_go & ~hazard & ~m_busy & ~m_redirect &
                        ~(self.m_lb_mispredict if opts.late_branch_requests else 0)),
            dbus.addr.eq(self.lsu_addr[2:]),
            dbus.we.eq(~is_load),
            dbus.be.eq(self.lsu_mask),
            dbus.wdata.eq(self.lsu_wdata),
        ]
        m.d.sync += req_held.eq(dbus.req & ~dbus.gnt)

        # ---- stall, redirect -------------------------------------------------------------
        m.d.comb += [
            divider.start.eq(ok_nb & (xd.unit == Unit.DIV) & ~hazard),
            divider.abort.eq(~self.x_hold | m_redirect),
        ]
        # X holds its instruction (``x_busy``) as if it executes, whatever the exceptions X
        # finds (which keep ``x_hold`` off the PMP / trigger / target paths): while an
        # operand is due none is raised; with M busy X holds anyway; a missing grant, or
        # checks still to be registered, hold a load / store that does not trap here. M's
        # redirect is left out (the trap decision off ``x_hold`` and so off D and fetch): it
        # flushes X and D whatever they hold, and fetch is redirected in the next cycle.
        with m.If(runs):
            with m.Switch(xd.unit):
                with m.Case(Unit.LOAD, Unit.STORE):
                    m.d.comb += x_busy.eq(hazard | m_busy |
                                          (~mem_go & ~mem_exc) | (~dbus.gnt & ~mem_exc))
                with m.Case(Unit.DIV):
                    m.d.comb += x_busy.eq(~divider.done)
                with m.Default():
                    m.d.comb += x_busy.eq(hazard)
        m.d.comb += [
            self.x_hold.eq(live & (x_busy | m_busy)),
            redirect_now.eq(ok & (((xd.branch | xd.jal | xd.jalr) & branch.mispredict) |
                                  xp.refetch) & ~hazard & ~late & ~m_busy & ~m_redirect),
            # Without prediction X redirects only to taken targets (never to pc + 4).
            target_now.eq(branch.next_pc if opts.predictor else branch.target),
            btb_now.eq(redirect_now & xd.jalr & ~xd.imm[0]),
        ]
        # The history table's training is registered (the branch comparison -> table write
        # data was a long path): the table learns one cycle after the branch left X.
        # A branch resolved in M trains in place of X's (the one behind it, if any, does not
        # learn): its pc and table state are kept from when it left X.
        lb_pc = Signal(32)
        lb_ctr = Signal.like(xp.bht_ctr)
        if late_ok:
            with m.If(~self.x_hold):
                m.d.sync += [lb_pc.eq(xp.pc), lb_ctr.eq(xp.bht_ctr)]
        m.d.sync += [
            self.x_bht_update.eq(self.m_lb_done |
                                 (ok & xd.branch & ~hazard & ~late & ~m_busy & ~m_redirect)),
            self.x_bht_pc.eq(Mux(self.m_lb_done, lb_pc, xp.pc)),
            self.x_bht_ctr.eq(Mux(self.m_lb_done, lb_ctr, xp.bht_ctr)),
            self.x_bht_agree.eq(Mux(self.m_lb_done, self.m_lb_agree,
                                    branch.taken == xd.imm[31])),
        ]

        # ---- X -> M ----------------------------------------------------------------------
        xm = self.xm.payload
        m.d.comb += [
            xm.pc.eq(xp.pc),
            xm.insn.eq(xp.insn),
            xm.taken.eq(branch.taken),
            xm.target.eq(branch.target),
            xm.rd.eq(Mux(ok_nb & xd.rd_we, xd.rd, 0)),
            xm.mem.eq(ok_nb & is_mem),
            xm.store.eq(~is_load),
            xm.funct3.eq(xd.funct3),
            xm.mem_addr.eq(self.lsu_addr),
            xm.mem_mask.eq(self.lsu_mask),
            xm.mem_mask_hi.eq(self.lsu_mask_hi),
            xm.split.eq(self.lsu_split),
            xm.mem_wdata.eq(self.lsu_wdata),
            xm.rs[0].eq(Mux(xd.use_rs1, xd.rs1, 0)),
            xm.rs[1].eq(Mux(xd.use_rs2, xd.rs2, 0)),
            # (late_rs*: the values used; they differ from rs* only while a load in M
            # writes the register, when nothing but a branch or a store leaves X)
            xm.rs_rdata[0].eq(Mux(xd.use_rs1 & (xd.rs1 != 0), bypass.late_rs1, 0)),
            xm.rs_rdata[1].eq(Mux(xd.use_rs2 & (xd.rs2 != 0), bypass.late_rs2, 0)),
            xm.csr.eq(ok_nb & (xd.unit == Unit.CSR)),
            xm.csr_addr.eq(xd.csr_addr),
            xm.csr_op.eq(xd.funct3[0:2]),
            xm.csr_write.eq(xd.csr_write),
            xm.mret.eq(ok_nb & xd.mret),
            xm.wfi.eq(ok_nb & xd.wfi),
            xm.fence_i.eq(ok_nb & (xd.fence_i | xd.csr_flush)),
            xm.exc.eq(Mux(irq_mark, 0, x_exc)),
            xm.irq.eq(irq_mark),
            xm.late_branch.eq(runs & late),
            xm.late[0].eq(lb_late[0]),
            xm.late[1].eq(lb_late[1]),
            xm.predicted_taken.eq(xp.predicted_taken),
        ]
        with m.Switch(xd.unit):
            with m.Case(Unit.SHIFT):
                if opts.shift_in_multiplier:
                    m.d.comb += xm.src.eq(ResultSrc.MUL)
                else:
                    m.d.comb += [xm.src.eq(Mux(shift_late, ResultSrc.SHIFT, ResultSrc.X)),
                                 xm.result.eq(shifter.result)]
            with m.Case(Unit.DIV):
                m.d.comb += [xm.src.eq(ResultSrc.X), xm.result.eq(divider.result)]
            with m.Case(Unit.MUL):
                m.d.comb += xm.src.eq(ResultSrc.MUL)
            with m.Case(Unit.LOAD):
                m.d.comb += xm.src.eq(ResultSrc.LOAD)
            with m.Case(Unit.CSR):
                m.d.comb += [xm.src.eq(ResultSrc.CSR),
                             xm.result.eq(Mux(xd.csr_imm, xd.rs1, rs1))]
            with m.Default():
                m.d.comb += [xm.src.eq(Mux(add_late, ResultSrc.ADD, ResultSrc.X)),
                             xm.result.eq(alu.result)]
        m.d.comb += self.xm.valid.eq(live & ~x_busy & ~m_redirect)
        return m
