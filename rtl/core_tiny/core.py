"""The tiny control core: RV32IM + Zicsr, M- and U-mode, PMP, triggers, one instruction at a
time."""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from ..core.alu import ALU
from ..core.csr import CSRFile, check_protection
from ..core.decoder import Decoder, Unit
from ..core.divider_serial import SerialDivider
from ..core.isa import ExceptionCause
from ..core.loadstore import LoadStoreUnit
from ..core.multiplier import Multiplier
from ..core.operands import OperandSelect
from ..core.pmp import PMPCheck
from ..core.regfile import RegisterFile
from ..core.rvfi import RVFISignature
from ..core.shift_product import ShiftProduct
from ..core.trigger import TriggerMatch

__all__ = ["TinyCore"]


class _State(enum.Enum, shape=3):
    FETCH = 0    # instruction request on ibus (interrupts are taken here)
    WAIT_I = 1   # instruction answer; register read addressed from the bus data
    EXEC = 2     # execute; data request formed, division, WFI wait
    REQ = 3      # data request on dbus (from registers)
    MEM = 4      # data answer
    MUL = 5      # multiplier result (MUL*, shifts)


class TinyCore(wiring.Component):
    """Multi-cycle RV32IM + Zicsr core (M- and U-mode, PMP, triggers) with precise traps and
    interrupts.

    A drop-in for :class:`dure.rtl.core.core.Core` (same ports, same architectural
    behaviour: results, traps, CSRs and their WARL choices, retirement order; see
    ``rtl/core/README.md``) in far less logic: one instruction at a time, no prefetch, no
    forwarding. The fetch address is the ``pc`` register and the data address depends only on
    registers (instruction, register file), so no execution result reaches a bus address
    combinationally: the data request is registered one cycle before it is presented.

    Loads and stores at any address: one that crosses a word boundary is two bus accesses
    (REQ / MEM twice), the second sent only after the first answered without ``err``; a fault
    on either traps with ``mtval`` = the first byte of the faulting part and writes no
    register (a store whose second part faults has written its first word's bytes).

    Cycles with one-cycle memories (grant at once, answer one cycle later): ALU, branch,
    jump, CSR, system: 3; load / store: 5 (7 when split); MUL and shifts: 4; DIV / REM: 39;
    a trap: 3 (the faulting instruction) and an interrupt 1 before the handler's first
    fetch.

    Parameters
    ----------
    reset_vector : int
        Address of the first instruction (4-byte aligned).
    hartid : int
        Value of ``mhartid``.
    pmp_entries : int
        PMP entries implemented (0..16).
    triggers : int
        Sdtrig address-match triggers (0..8).

    Members
    -------
    ibus : Out(BusSignature())
        Instruction fetch; reads only (``we`` = 0, ``be`` = 0b1111); one request in flight.
    dbus : Out(BusSignature())
        Loads and stores; one request in flight.
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive interrupt requests, mirrored in ``mip``.
    mtime : In(64)
        CLINT ``mtime`` for the ``time`` / ``timeh`` CSRs.
    rvfi : Out(RVFISignature())
        Retirement trace, registered: an instruction appears the cycle after it retires or
        traps.

    Latency
    -------
    Both ports accept any grant delay and any answer latency (at least one cycle). No path
    leads combinationally from either port's ``gnt`` to either port's request signals.
    """

    ibus: Out(BusSignature())
    dbus: Out(BusSignature())
    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    mtime: In(64)
    rvfi: Out(RVFISignature())

    def __init__(self, *, reset_vector=0x8000_0000, hartid=0, pmp_entries=16, triggers=1):
        if not isinstance(reset_vector, int) or reset_vector % 4 or \
                not 0 <= reset_vector < 2**32:
            raise ValueError(f"reset_vector must be a 4-byte aligned 32-bit address, "
                             f"not {reset_vector!r}")
        self._reset_vector = reset_vector
        self._hartid = hartid
        check_protection(pmp_entries, triggers)
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder = decoder = Decoder()
        # Written at the end of an instruction, read at the start of the next: no bypass.
        m.submodules.regfile = regfile = RegisterFile(transparent=False)
        m.submodules.operands = operands = OperandSelect()
        m.submodules.alu = alu = ALU(single_adder=True)
        m.submodules.shift_product = shift_product = ShiftProduct()
        m.submodules.lsu = lsu = LoadStoreUnit()
        m.submodules.multiplier = multiplier = Multiplier()
        m.submodules.divider = divider = SerialDivider()
        m.submodules.csr = csr = CSRFile(hartid=self._hartid, pmp_entries=self._pmp_entries,
                                         triggers=self._triggers)

        state = Signal(_State)
        pc = Signal(32, init=self._reset_vector)
        ir = Signal(32)
        ierr = Signal()       # the fetch of `ir` answered err
        held = Signal()       # the ibus request was presented and not granted
        intr = Signal()       # the next reported instruction is the first of a handler
        mem_addr = Signal(32)  # the data access (registered in EXEC)
        mem_mask = Signal(4)
        mem_mask_hi = Signal(4)   # second word's lanes of a split (misaligned) access
        mem_wdata = Signal(32)
        second = Signal()         # the first word of a split access answered: the second is due
        lo_word = Signal(32)

        ibus, dbus = self.ibus, self.dbus
        dec = decoder.decoded
        prot = csr.prot
        m.d.comb += [decoder.insn.eq(ir), decoder.priv_m.eq(prot.priv_m),
                     decoder.tw.eq(prot.tw), decoder.counteren.eq(prot.counteren)]
        rs1, rs2 = regfile.rdata1, regfile.rdata2

        # ---- fetch -----------------------------------------------------------------------
        in_fetch = state == _State.FETCH
        m.d.comb += [
            ibus.req.eq(in_fetch & (held | ~csr.irq_pending)),
            ibus.addr.eq(pc[2:]),
            ibus.we.eq(0),
            ibus.be.eq(0b1111),
            ibus.wdata.eq(0),
        ]
        m.d.sync += held.eq(ibus.req & ~ibus.gnt)
        take_irq = Signal()
        m.d.comb += take_irq.eq(in_fetch & ~held & csr.irq_pending)
        # Register read: from the bus answer as it arrives, then from `ir`.
        fresh = (state == _State.WAIT_I) & ibus.rvalid
        m.d.comb += [
            regfile.raddr1.eq(Mux(fresh, ibus.rdata[15:20], ir[15:20])),
            regfile.raddr2.eq(Mux(fresh, ibus.rdata[20:25], ir[20:25])),
        ]

        # ---- operands, ALU, targets ------------------------------------------------------
        m.d.comb += [
            operands.a_sel.eq(dec.a_sel),
            operands.b_sel.eq(dec.b_sel),
            operands.rs1.eq(rs1),
            operands.rs2.eq(rs2),
            operands.pc.eq(pc),
            operands.imm.eq(dec.imm),
            alu.op.eq(dec.alu_op),
            alu.compare.eq(dec.branch),
            alu.a.eq(operands.a),
            alu.b.eq(Mux(dec.branch, rs2, operands.b)),
        ]
        is_load = dec.unit == Unit.LOAD
        is_mem = is_load | (dec.unit == Unit.STORE)
        f3 = dec.funct3
        cond = Mux(f3[2], Mux(f3[1], alu.ltu, alu.lt), alu.eq) ^ f3[0]
        taken = dec.jal | dec.jalr | (dec.branch & cond)
        # One adder for branch / jump targets and data addresses.
        total = Signal(32)
        target = Signal(32)
        m.d.comb += [
            total.eq(Mux(dec.jalr | is_mem, rs1, pc) + dec.imm),
            target.eq(Cat(total[0] & ~dec.jalr, total[1:])),
        ]
        pc4 = Signal(32)
        m.d.comb += pc4.eq(Cat(pc[:2], pc[2:] + 1))
        next_pc = Mux(taken, target, pc4)
        m.d.comb += [
            lsu.x_funct3.eq(f3),
            lsu.x_base.eq(total),
            lsu.x_offset.eq(0),
            lsu.x_store_data.eq(rs2),
            lsu.m_funct3.eq(f3),
            lsu.m_offset.eq(mem_addr[0:2]),
            lsu.m_merge.eq(second),
            lsu.m_lo.eq(lo_word),
            lsu.m_rdata.eq(dbus.rdata),
        ]

        # ---- privilege checks: the fetch (pc) and the data access (total) ---------------
        fetch_denied = Signal()
        data_denied_lo = Signal()
        data_denied_hi = Signal()   # the second word of a split (misaligned) access
        exec_hit = Signal()
        data_hit = Signal()
        kind = Mux(is_load, 0b001, 0b010)
        second_word = Signal(32)
        m.d.comb += second_word.eq(Cat(C(0, 2), total[2:] + 1))
        # Loads and stores use the data privilege (MPP's while mstatus.MPRV is set in M).
        for name, addr, access, out, priv in (
                ("pmp_i", pc, 0b100, fetch_denied, prot.priv_m),
                ("pmp_d", total, kind, data_denied_lo, prot.dpriv_m),
                ("pmp_d2", second_word, kind, data_denied_hi, prot.dpriv_m)):
            if self._pmp_entries:
                pmp = PMPCheck(self._pmp_entries)
                m.submodules[name] = pmp
                m.d.comb += [pmp.cfg.eq(prot.pmp_cfg), pmp.pmpaddr.eq(prot.pmp_addr),
                             pmp.care.eq(prot.pmp_care),
                             pmp.priv_m.eq(priv), pmp.access.eq(access),
                             pmp.addr.eq(addr), out.eq(pmp.fault)]
        # Both words of a split access are checked before its first request.
        data_denied = Signal()
        m.d.comb += data_denied.eq(data_denied_lo | (data_denied_hi & lsu.x_split))
        for name, addr, access, out in (("trigger_i", pc, 0b100, exec_hit),
                                        ("trigger_d", total, kind, data_hit)):
            if self._triggers:
                trigger = TriggerMatch(self._triggers)
                m.submodules[name] = trigger
                m.d.comb += [trigger.ctrl.eq(prot.trig_ctrl), trigger.tdata2.eq(prot.trig_addr),
                             trigger.priv_m.eq(prot.priv_m), trigger.mte.eq(prot.mte),
                             trigger.kind.eq(access), trigger.addr.eq(addr), out.eq(trigger.hit)]

        # ---- exceptions found in EXEC ----------------------------------------------------
        exc = Signal()
        exc_cause = Signal(4)
        exc_tval = Signal(32)
        with m.If(exec_hit):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.BREAKPOINT), exc_tval.eq(pc)]
        with m.Elif(ierr | fetch_denied):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.INSN_ACCESS_FAULT),
                         exc_tval.eq(pc)]
        with m.Elif(dec.illegal):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.ILLEGAL_INSN),
                         exc_tval.eq(ir)]
        with m.Elif(dec.ecall):
            m.d.comb += [exc.eq(1), exc_cause.eq(Mux(prot.priv_m, ExceptionCause.ECALL_M,
                                                     ExceptionCause.ECALL_U))]
        with m.Elif(dec.ebreak):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.BREAKPOINT), exc_tval.eq(pc)]
        with m.Elif(taken & target[1]):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.INSN_MISALIGNED),
                         exc_tval.eq(target)]
        with m.Elif(is_mem & data_hit):
            m.d.comb += [exc.eq(1), exc_cause.eq(ExceptionCause.BREAKPOINT), exc_tval.eq(total)]
        with m.Elif(is_mem & data_denied):
            m.d.comb += [exc.eq(1),
                         exc_cause.eq(Mux(is_load, ExceptionCause.LOAD_ACCESS_FAULT,
                                          ExceptionCause.STORE_ACCESS_FAULT)),
                         exc_tval.eq(Mux(data_denied_lo, total, second_word))]

        # ---- multiplier (MUL*, and shifts as products) and divider -----------------------
        in_exec = state == _State.EXEC
        m.d.comb += [
            shift_product.shift.eq(dec.unit == Unit.SHIFT),
            shift_product.alu_op.eq(dec.alu_op),
            shift_product.shamt.eq(operands.b[0:5]),
            shift_product.funct3.eq(f3),
            shift_product.rs2.eq(rs2),
            multiplier.x_en.eq(in_exec),
            multiplier.x_op.eq(shift_product.op),
            multiplier.x_a.eq(rs1),
            multiplier.x_b.eq(shift_product.b),
        ]
        is_div = dec.unit == Unit.DIV
        m.d.comb += [
            divider.op.eq(f3),
            divider.a.eq(rs1),
            divider.b.eq(rs2),
            divider.start.eq(in_exec & is_div & ~exc),
            divider.abort.eq(~(in_exec & is_div)),
        ]

        # ---- data bus: the request is registered in EXEC and presented from REQ ----------
        with m.If(in_exec):
            m.d.sync += [mem_addr.eq(total), mem_mask.eq(lsu.x_mask),
                         mem_mask_hi.eq(lsu.x_mask_hi), mem_wdata.eq(lsu.x_wdata)]
        # A split access: the word after the first one, once the first answered without err.
        next_word = Signal(30)
        m.d.comb += next_word.eq(mem_addr[2:] + 1)
        m.d.comb += [
            dbus.req.eq(state == _State.REQ),
            dbus.addr.eq(Mux(second, next_word, mem_addr[2:])),
            dbus.we.eq(~is_load),
            dbus.be.eq(Mux(second, mem_mask_hi, mem_mask)),
            dbus.wdata.eq(mem_wdata),
        ]

        # ---- commit / trap ---------------------------------------------------------------
        commit = Signal()
        trap = Signal()          # exception (reported) or interrupt (not reported)
        cause = Signal(4)
        tval = Signal(32)
        result = Signal(32)
        in_mem = state == _State.MEM
        bus_fault = in_mem & dbus.rvalid & dbus.err
        with m.Switch(state):
            with m.Case(_State.EXEC):
                with m.If(exc):
                    m.d.comb += [trap.eq(1), cause.eq(exc_cause), tval.eq(exc_tval)]
                with m.Elif(is_mem | (dec.unit == Unit.MUL) | (dec.unit == Unit.SHIFT)):
                    pass
                with m.Elif(is_div):
                    m.d.comb += commit.eq(divider.done)
                with m.Elif(dec.wfi):
                    m.d.comb += commit.eq(csr.irq_waiting)
                with m.Else():
                    m.d.comb += commit.eq(1)
            with m.Case(_State.MEM):
                with m.If(bus_fault):
                    m.d.comb += [trap.eq(1),
                                 tval.eq(Mux(second, Cat(Const(0, 2), next_word), mem_addr)),
                                 cause.eq(Mux(is_load, ExceptionCause.LOAD_ACCESS_FAULT,
                                              ExceptionCause.STORE_ACCESS_FAULT))]
                with m.Else():
                    m.d.comb += commit.eq(dbus.rvalid & ((mem_mask_hi == 0) | second))
            with m.Case(_State.MUL):
                m.d.comb += commit.eq(1)
            with m.Case(_State.FETCH):
                m.d.comb += [trap.eq(take_irq), cause.eq(csr.irq_cause)]
        with m.Switch(state):
            with m.Case(_State.MEM):
                m.d.comb += result.eq(lsu.m_result)
            with m.Case(_State.MUL):
                m.d.comb += result.eq(multiplier.m_result)
            with m.Default():
                with m.Switch(dec.unit):
                    with m.Case(Unit.CSR):
                        m.d.comb += result.eq(csr.rdata)
                    with m.Case(Unit.DIV):
                        m.d.comb += result.eq(divider.result)
                    with m.Default():
                        m.d.comb += result.eq(alu.result)

        base = Cat(Const(0, 2), csr.mtvec[2:])
        vector = Mux(csr.mtvec[0] & take_irq, base + (cause << 2), base)
        new_pc = Mux(trap, vector, Mux(dec.mret, csr.mepc, next_pc))
        rd_we = commit & dec.rd_we
        m.d.comb += [
            regfile.waddr.eq(dec.rd),
            regfile.wdata.eq(result),
            regfile.we.eq(rd_we),

            csr.op_valid.eq(commit & (dec.unit == Unit.CSR)),
            csr.addr.eq(dec.csr_addr),
            csr.op.eq(f3[0:2]),
            csr.write.eq(dec.csr_write),
            csr.wval.eq(Mux(dec.csr_imm, dec.rs1, rs1)),
            csr.trap.eq(trap),
            csr.trap_interrupt.eq(take_irq),
            csr.trap_cause.eq(cause),
            csr.trap_tval.eq(tval),
            csr.trap_pc.eq(pc),
            csr.mret.eq(commit & dec.mret),
            csr.retire.eq(commit),
            csr.irq_software.eq(self.irq_software),
            csr.irq_timer.eq(self.irq_timer),
            csr.irq_external.eq(self.irq_external),
            csr.mtime.eq(self.mtime),
        ]

        # ---- state machine ---------------------------------------------------------------
        with m.If(trap | commit):
            m.d.sync += [pc.eq(new_pc), state.eq(_State.FETCH), second.eq(0)]
        with m.Else():
            with m.Switch(state):
                with m.Case(_State.FETCH):
                    with m.If(ibus.req & ibus.gnt):
                        m.d.sync += state.eq(_State.WAIT_I)
                with m.Case(_State.WAIT_I):
                    with m.If(ibus.rvalid):
                        m.d.sync += [ir.eq(ibus.rdata), ierr.eq(ibus.err),
                                     state.eq(_State.EXEC)]
                with m.Case(_State.EXEC):
                    with m.If(is_mem):
                        m.d.sync += state.eq(_State.REQ)
                    with m.Elif((dec.unit == Unit.MUL) | (dec.unit == Unit.SHIFT)):
                        m.d.sync += state.eq(_State.MUL)
                with m.Case(_State.REQ):
                    with m.If(dbus.gnt):
                        m.d.sync += state.eq(_State.MEM)
                with m.Case(_State.MEM):
                    # The first word of a split access (no err, or it would have trapped).
                    with m.If(dbus.rvalid):
                        m.d.sync += [second.eq(1), lo_word.eq(dbus.rdata),
                                     state.eq(_State.REQ)]

        # ---- retirement trace ------------------------------------------------------------
        report = commit | (trap & ~take_irq)
        with m.If(trap):
            m.d.sync += intr.eq(1)
        with m.Elif(report):
            m.d.sync += intr.eq(0)
        # Registered like the pipeline's W stage (it costs nothing on a board: unused there).
        mem_done = commit & in_mem
        rvfi = self.rvfi
        m.d.sync += [
            rvfi.valid.eq(report),
            rvfi.insn.eq(ir),
            rvfi.trap.eq(trap & ~take_irq),
            rvfi.intr.eq(intr),
            rvfi.pc_rdata.eq(pc),
            rvfi.pc_wdata.eq(new_pc),
            rvfi.rd_addr.eq(Mux(rd_we, dec.rd, 0)),
            rvfi.rd_wdata.eq(Mux(rd_we & (dec.rd != 0), result, 0)),
            rvfi.mem_addr.eq(Mux(mem_done, mem_addr, 0)),
            rvfi.mem_rmask.eq(Mux(mem_done & is_load, mem_mask | mem_mask_hi, 0)),
            rvfi.mem_wmask.eq(Mux(mem_done & ~is_load, mem_mask | mem_mask_hi, 0)),
            rvfi.mem_rdata.eq(Mux(mem_done & is_load, lsu.m_word, 0)),
            rvfi.mem_wdata.eq(Mux(mem_done & ~is_load, mem_wdata, 0)),
        ]
        return m
