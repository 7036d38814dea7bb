"""M stage: the commit point (data-bus answer, CSRs, traps, MRET, WFI, FENCE.I, replay)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .branch import branch_condition
from .csr import CSRFile
from .decoder import AluOp
from .layouts import MWLayout, ResultSrc, XMLayout, protection_layout
from .shifter import Shifter
from .stage import Stage, edge_signature
from .trap import TrapUnit

__all__ = ["MStage"]


class MStage(wiring.Component):
    """The memory / commit stage of :class:`~.core.Core`, with its stage register, the CSR
    file and the trap unit.

    Everything older has left the pipeline when an instruction is in M; it waits here for its
    data-bus answer (or, for WFI, for an interrupt), then commits, traps or is replayed
    (:class:`~.trap.TrapUnit`). A misaligned access that crosses a word boundary (``split``)
    gets its second bus access from here (``m_req``), presented in the cycle the first answer
    arrives without ``err`` (held until granted); the first answer's word is kept for the
    merge. A fault on either access traps with ``mtval`` = the address of the first byte of
    the faulting part (the access's address, or the next word's for the second); the
    destination register is not written. A split store whose second access faults has
    written the bytes of its first word (the spec allows a partial store); one whose first
    access faults has written nothing, since the second is never sent.

    A trap, a replay, MRET and FENCE.I redirect fetch and flush every younger stage. The
    destination value is chosen here: computed in X, the loaded value, the product, or the
    CSR read.

    A conditional branch that left X before its source was known (``late_branch`` in the
    payload; it cannot trap) is resolved here, comparing the value W writes in this cycle
    (``w_result``, a register) for that source: ``lb_*`` tell X, which redirects fetch when
    the prediction was wrong; the instruction X hands on in that cycle is dropped (it never
    enters M). An ADD that left X so (``src`` = ``ResultSrc.ADD``, ``late_add``) is added
    here from the same values, a shift (``src`` = ``ResultSrc.SHIFT``, ``late_shift``)
    shifted here (the amount: the immediate of the instruction, or the second value).

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.
    pmp_entries, triggers : int
        PMP entries and address triggers (:class:`~.csr.CSRFile`).
    late_add : bool
        Build the late ADD's adder and result-mux input (``CoreOptions.late_add``).
    late_shift : bool
        Build the late shift's barrel shifter and result-mux input
        (``CoreOptions.late_shift``).

    Members
    -------
    xm : In(edge_signature(XMLayout))
        The instruction from X.
    dbus_rvalid, dbus_err : In(1)
    dbus_rdata : In(32)
        The data-bus answer.
    irq_software, irq_timer, irq_external : In(1)
        Interrupt requests (to ``mip``).
    mtime : In(64)
    dbus_gnt : In(1)
        Grant of the data bus (for the second access of a split access).
    m_req : Out(1)
    m_addr : Out(30)
    m_we : Out(1)
    m_be : Out(4)
    m_wdata : Out(32)
        The second access of a split access; the core gives it the data bus (X never
        requests while M waits).
    m_owns : Out(1)
        From registers only: M holds a split access whose second request is due or held
        (``m_req`` can only be 1 while it is; X never requests while it is). The core
        selects the data bus's address and data with it, so that the first answer's
        ``rvalid`` (which raises ``m_req``) does not steer them.
    lsu_funct3 : Out(3)
    lsu_offset : Out(2)
    lsu_merge : Out(1)
    lsu_lo : Out(32)
        To the load/store unit's M half (``m_funct3``, ``m_offset``, ``m_merge``, ``m_lo``).
    load_result : In(32)
    load_word : In(32)
        From it (``m_result``, ``m_word``).
    mul_result : In(32)
        The multiplier's M half (``m_result``).
    irq_pending : Out(1)
        An enabled interrupt is pending (X marks its instruction).
    prot : Out(protection_layout(pmp_entries, triggers))
        Privilege level, PMP and trigger state for the checks in D and X.
    m_busy : Out(1)
        M waits (bus answer, WFI): every older stage holds.
    m_redirect : Out(1)
        Flush X, D and F and fetch from ``m_target``.
    m_target : Out(32)
    m_rd : Out(5)
        Destination of the instruction in M (0: none, or M empty).
    m_late : Out(1)
        Its value is not known before the M/W edge (load, product, CSR read).
    m_result : Out(32)
        Its value when computed in X.
    m_load : Out(1)
        The instruction in M is a load (its value is ``load_result`` in the cycle M
        finishes it).
    w_result : In(32)
        The value W writes this cycle (for a branch resolved here).
    lb_pending : Out(1)
        M holds a branch resolved here (from the stage register): X sends no data request.
    lb_done : Out(1)
        The same (the branch leaves M this cycle; it never waits).
    lb_taken, lb_agree, lb_mispredict : Out(1)
        Its direction, whether it went the static way (taken exactly when backward), and
        whether fetch went the other way.
    lb_target : Out(32)
        Where fetch must go when it mispredicted (the target or ``pc + 4``).
    mw : Out(edge_signature(MWLayout))
        The instruction handed to W (committed, trapped, or an interrupt taken).
    """

    def __init__(self, *, hartid=0, pmp_entries=16, triggers=1, late_add=False,
                 late_shift=False):
        self._late_add = bool(late_add)
        self._late_shift = bool(late_shift)
        self._hartid = hartid
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__({
            "prot": Out(protection_layout(pmp_entries, triggers)),
            "xm": In(edge_signature(XMLayout)),
            "dbus_rvalid": In(1),
            "dbus_err": In(1),
            "dbus_rdata": In(32),
            "dbus_gnt": In(1),
            "m_req": Out(1),
            "m_addr": Out(30),
            "m_we": Out(1),
            "m_be": Out(4),
            "m_wdata": Out(32),
            "m_owns": Out(1),
            "irq_software": In(1),
            "irq_timer": In(1),
            "irq_external": In(1),
            "mtime": In(64),
            "lsu_funct3": Out(3),
            "lsu_offset": Out(2),
            "lsu_merge": Out(1),
            "lsu_lo": Out(32),
            "load_result": In(32),
            "load_word": In(32),
            "mul_result": In(32),
            "irq_pending": Out(1),
            "m_busy": Out(1),
            "m_redirect": Out(1),
            "m_target": Out(32),
            "m_rd": Out(5),
            "m_late": Out(1),
            "m_result": Out(32),
            "m_load": Out(1),
            "w_result": In(32),
            "lb_pending": Out(1),
            "lb_done": Out(1),
            "lb_taken": Out(1),
            "lb_agree": Out(1),
            "lb_mispredict": Out(1),
            "lb_target": Out(32),
            "mw": Out(edge_signature(MWLayout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.stage = mst = Stage(XMLayout)
        m.submodules.csr = csr = CSRFile(hartid=self._hartid, pmp_entries=self._pmp_entries,
                                         triggers=self._triggers)
        m.submodules.trap = trap = TrapUnit()

        xm = mst.payload

        # ---- second access of a split access ---------------------------------------------
        second = Signal()      # the first answer arrived (without err); the second is due
        held2 = Signal()       # the second request was presented and not granted
        lo_word = Signal(32)
        next_word = Signal(30)
        first_ok = mst.valid & xm.mem & xm.split & ~second & self.dbus_rvalid & ~self.dbus_err
        m.d.comb += [
            next_word.eq(xm.mem_addr[2:] + 1),
            self.m_req.eq(first_ok | held2),
            self.m_owns.eq(mst.valid & xm.mem & xm.split & (~second | held2)),
            self.m_addr.eq(next_word),
            self.m_we.eq(xm.store),
            self.m_be.eq(xm.mem_mask_hi),
            self.m_wdata.eq(xm.mem_wdata),
        ]
        m.d.sync += held2.eq(self.m_req & ~self.dbus_gnt)
        with m.If(~self.m_busy):
            m.d.sync += second.eq(0)
        with m.Elif(first_ok):
            m.d.sync += [second.eq(1), lo_word.eq(self.dbus_rdata)]
        # The access is over with the last answer, or with the first that reports err.
        done = self.dbus_rvalid & (~xm.split | second | self.dbus_err)
        fault_addr = Mux(second, Cat(Const(0, 2), next_word), xm.mem_addr)
        # ---- a branch resolved here ------------------------------------------------------
        lb_a = Mux(xm.late[0], self.w_result, xm.rs_rdata[0])
        lb_b = Mux(xm.late[1], self.w_result, xm.rs_rdata[1])
        lb_taken = branch_condition(m, xm.funct3, lb_a, lb_b)
        taken = Signal()
        m.d.comb += [
            self.lb_pending.eq(mst.valid & xm.late_branch),
            self.lb_done.eq(self.lb_pending),
            self.lb_taken.eq(lb_taken),
            self.lb_agree.eq(lb_taken == xm.insn[31]),
            self.lb_mispredict.eq(self.lb_pending & (lb_taken != xm.predicted_taken)),
            self.lb_target.eq(Mux(lb_taken, xm.target, xm.pc + 4)),
            taken.eq(Mux(xm.late_branch, lb_taken, xm.taken)),
        ]

        m.d.comb += [
            # (the instruction behind a mispredicted branch resolved here is dropped)
            mst.i_valid.eq(self.xm.valid & ~self.lb_mispredict),
            mst.i_payload.eq(self.xm.payload),
            mst.stall.eq(self.m_busy),
            mst.flush.eq(0),
            self.m_rd.eq(Mux(mst.valid, xm.rd, 0)),
            self.m_late.eq(xm.src != ResultSrc.X),
            self.m_result.eq(xm.result),
            self.m_load.eq(xm.src == ResultSrc.LOAD),
            self.irq_pending.eq(csr.irq_pending),
            self.prot.eq(csr.prot),
        ]
        m.d.comb += [
            trap.valid.eq(mst.valid),
            trap.exc.eq(xm.exc),
            trap.irq.eq(xm.irq),
            trap.mem.eq(xm.mem),
            trap.store.eq(xm.store),
            trap.mem_addr.eq(fault_addr),
            trap.mret.eq(xm.mret),
            trap.wfi.eq(xm.wfi),
            # A write to mstatus that changes the privilege of loads / stores (MPRV, MPP)
            # refetches the next instruction, like a PMP CSR write (FLUSH_RANGES).
            trap.fence_i.eq(xm.fence_i | (xm.csr & csr.dpriv_write)),
            trap.pc.eq(xm.pc),
            trap.bus_rvalid.eq(done),
            trap.bus_err.eq(self.dbus_err),
            trap.irq_waiting.eq(csr.irq_waiting),
            trap.irq_pending.eq(csr.irq_pending),
            trap.irq_cause.eq(csr.irq_cause),
            trap.mtvec.eq(csr.mtvec),
            trap.mepc.eq(csr.mepc),
            self.m_busy.eq(trap.busy),
            self.m_redirect.eq(trap.redirect),
            self.m_target.eq(trap.redirect_pc),

            csr.op_valid.eq(trap.commit & xm.csr),
            csr.addr.eq(xm.csr_addr),
            csr.op.eq(xm.csr_op),
            csr.write.eq(xm.csr_write),
            csr.wval.eq(xm.result),
            csr.trap.eq(trap.trap),
            csr.trap_interrupt.eq(trap.trap_interrupt),
            csr.trap_cause.eq(trap.trap_cause),
            csr.trap_tval.eq(trap.trap_tval),
            csr.trap_pc.eq(xm.pc),
            csr.mret.eq(trap.commit & xm.mret),
            csr.retire.eq(trap.commit),
            csr.irq_software.eq(self.irq_software),
            csr.irq_timer.eq(self.irq_timer),
            csr.irq_external.eq(self.irq_external),
            csr.mtime.eq(self.mtime),

            self.lsu_funct3.eq(xm.funct3),
            self.lsu_offset.eq(xm.mem_addr[0:2]),
            self.lsu_merge.eq(second),
            self.lsu_lo.eq(lo_word),
        ]
        result = Signal(32)
        if self._late_add or self._late_shift:
            # The product and the load's answer arrive last: they pass one 3-way mux, the
            # late ADD's sum (``late_add``) or shift (``late_shift``: a source was due from
            # the producer now in W), the CSR value and X's result are chosen before it
            # (selects from M's register).
            rest = Mux(xm.src == ResultSrc.CSR, csr.rdata, xm.result)
            if self._late_shift:
                m.submodules.shifter = shifter = Shifter()
                # SLL(I): funct3 1; SRL(I) / SRA(I): funct3 5, insn[30] picks SRA. The amount
                # is rs2's value for OP (insn[5] set), the immediate's shamt for OP-IMM.
                m.d.comb += [
                    shifter.op.eq(Mux(xm.funct3 == 1, AluOp.SLL,
                                      Mux(xm.insn[30], AluOp.SRA, AluOp.SRL))),
                    shifter.a.eq(lb_a),
                    shifter.shamt.eq(Mux(xm.insn[5], lb_b[0:5], xm.insn[20:25])),
                ]
                rest = Mux(xm.src == ResultSrc.SHIFT, shifter.result, rest)
            if self._late_add:
                rest = Mux(xm.src == ResultSrc.ADD, lb_a + lb_b, rest)
            m.d.comb += result.eq(Mux(xm.src == ResultSrc.MUL, self.mul_result,
                                      Mux(xm.src == ResultSrc.LOAD, self.load_result, rest)))
        else:
            with m.Switch(xm.src):
                with m.Case(ResultSrc.LOAD):
                    m.d.comb += result.eq(self.load_result)
                with m.Case(ResultSrc.MUL):
                    m.d.comb += result.eq(self.mul_result)
                with m.Case(ResultSrc.CSR):
                    m.d.comb += result.eq(csr.rdata)
                with m.Default():
                    m.d.comb += result.eq(xm.result)

        # ---- M -> W ----------------------------------------------------------------------
        mw = self.mw.payload
        rdata = self.load_word
        retired_mem = trap.commit & xm.mem
        mem_mask = xm.mem_mask | xm.mem_mask_hi
        m.d.comb += [
            mw.report.eq(trap.commit | (trap.trap & ~trap.trap_interrupt)),
            mw.trap.eq(trap.trap & ~trap.trap_interrupt),
            mw.irq.eq(trap.trap_interrupt),
            mw.pc.eq(xm.pc),
            mw.insn.eq(xm.insn),
            mw.next_pc.eq(Mux(trap.trap, trap.redirect_pc,
                              Mux(xm.mret, csr.mepc,
                                  Mux(taken, xm.target, xm.pc + 4)))),
            mw.rd.eq(Mux(trap.commit, xm.rd, 0)),
            # (not gated: ``rd`` is 0 unless the instruction commits, and every user of
            # the result checks ``rd``; the retirement port zeroes it in W. The gate was
            # one more LUT after the product's carry chains)
            mw.result.eq(result),
            mw.mem_addr.eq(Mux(retired_mem, xm.mem_addr, 0)),
            mw.mem_rmask.eq(Mux(retired_mem & ~xm.store, mem_mask, 0)),
            mw.mem_wmask.eq(Mux(retired_mem & xm.store, mem_mask, 0)),
            mw.mem_rdata.eq(Mux(retired_mem & ~xm.store, rdata, 0)),
            mw.mem_wdata.eq(Mux(retired_mem & xm.store, xm.mem_wdata, 0)),
            mw.rs.eq(xm.rs),
            mw.rs_rdata[0].eq(lb_a),
            mw.rs_rdata[1].eq(lb_b),
            self.mw.valid.eq(mst.valid & ~self.m_busy),
        ]
        return m
