"""The Dure control core: RV32IM + Zicsr, machine mode, five-stage pipeline (F D X M W)."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .alu import ALU
from .branch import BranchUnit
from .bypass import Bypass
from .csr import CSRFile
from .decoder import AluOp, ASel, BSel, Decoder, Unit
from .divider import Divider
from .divider_serial import SerialDivider
from .fetch import Fetch, FetchLayout
from .isa import ExceptionCause, Funct3MulDiv
from .layouts import DXLayout, MWLayout, ResultSrc, XMLayout
from .loadstore import LoadStoreUnit
from .multiplier import Multiplier
from .options import CoreOptions
from .predictor import StaticPredictor
from .regfile import RegisterFile
from .rvfi import RVFISignature
from .shifter import Shifter
from .stage import Stage
from .trap import TrapUnit

__all__ = ["Core"]


class Core(wiring.Component):
    """RV32IM + Zicsr machine-mode core with precise traps and interrupts.

    Pipeline: F (prefetch buffer, :class:`~.fetch.Fetch`), D (decode, register read, static
    branch prediction), X (ALU, shifter, branch resolution, divider, data bus request), M (data
    bus answer, multiplier second stage, CSRs, traps: the commit point), W (register write,
    retirement port). About one instruction per cycle on straight-line code with one-cycle
    memories; a taken prediction in D costs one bubble, a redirect from X two, a load (or MUL,
    CSR read) followed by a user of its result one.

    Parameters
    ----------
    reset_vector : int
        Address of the first instruction (4-byte aligned).
    hartid : int
        Value of ``mhartid``.
    options : CoreOptions or None
        Size / speed trade-offs (:mod:`.options`); the default is the full core described
        here. Every option keeps the ISA behaviour; the costs above are those of the default.

    Members
    -------
    ibus : Out(BusSignature())
        Instruction fetch; reads only (``we`` = 0, ``be`` = 0b1111).
    dbus : Out(BusSignature())
        Loads and stores. The request is issued as the instruction leaves X; the answer is
        awaited in M, so a one-cycle target costs no stall.
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive interrupt requests, mirrored in ``mip`` (MSIP, MTIP, MEIP).
    mtime : In(64)
        CLINT ``mtime`` for the ``time`` / ``timeh`` CSRs.
    rvfi : Out(RVFISignature())
        Retirement trace.

    Latency
    -------
    Both bus ports accept any grant delay and any answer latency (at least one cycle); the
    instruction port may have up to four requests in flight, the data port one (two while an
    answer arrives in the cycle the next request is made). No path leads combinationally from
    one port's ``gnt`` to either port's ``req`` or request fields.
    """

    ibus: Out(BusSignature())
    dbus: Out(BusSignature())
    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    mtime: In(64)
    rvfi: Out(RVFISignature())

    def __init__(self, *, reset_vector=0x8000_0000, hartid=0, options=None):
        if not isinstance(reset_vector, int) or reset_vector % 4 or \
                not 0 <= reset_vector < 2**32:
            raise ValueError(f"reset_vector must be a 4-byte aligned 32-bit address, "
                             f"not {reset_vector!r}")
        self._reset_vector = reset_vector
        self._hartid = hartid
        options = CoreOptions() if options is None else options
        if not isinstance(options, CoreOptions):
            raise TypeError(f"options must be a CoreOptions, not {options!r}")
        self._options = options
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        opts = self._options
        m.submodules.fetch = fetch = Fetch(reset_vector=self._reset_vector,
                                           depth=opts.fetch_depth)
        m.submodules.decoder = decoder = Decoder()
        if opts.predictor:
            m.submodules.predictor = predictor = StaticPredictor()
        m.submodules.regfile = regfile = RegisterFile()
        m.submodules.bypass = bypass = Bypass(forwarding=opts.forwarding)
        m.submodules.alu = alu = ALU()
        if not opts.shift_in_multiplier:
            m.submodules.shifter = shifter = Shifter()
        m.submodules.branch = branch = BranchUnit()
        m.submodules.lsu = lsu = LoadStoreUnit()
        m.submodules.multiplier = multiplier = Multiplier()
        m.submodules.divider = divider = SerialDivider() if opts.serial_divider else Divider()
        m.submodules.csr = csr = CSRFile(hartid=self._hartid)
        m.submodules.trap = trap = TrapUnit()
        m.submodules.d = d = Stage(FetchLayout)
        m.submodules.x = x = Stage(DXLayout)
        m.submodules.m = mst = Stage(XMLayout)
        m.submodules.w = w = Stage(MWLayout)

        wiring.connect(m, wiring.flipped(self.ibus), fetch.ibus)

        # ---- control signals between stages --------------------------------------------
        m_busy = Signal()        # M waits (bus answer, WFI)
        m_redirect = Signal()    # M flushes X, D, F
        x_busy = Signal()        # X cannot finish this cycle
        x_hold = Signal()
        x_redirect = Signal()    # X flushes D, F (misprediction)
        d_hold = Signal()
        d_wait = Signal()        # D waits for a producer in X or M (no forwarding)
        d_redirect = Signal()    # D redirects F (taken prediction)
        w_rd = Signal(5)
        w_result = Signal(32)

        # ---- F -> D ----------------------------------------------------------------------
        m.d.comb += [
            fetch.redirect.eq(m_redirect | x_redirect | d_redirect),
            # Without prediction X redirects only to taken targets (never to pc + 4).
            fetch.target.eq(Mux(m_redirect, trap.redirect_pc,
                                Mux(x_redirect, branch.next_pc, predictor.target)
                                if opts.predictor else branch.target)),
            fetch.out.ready.eq(~d_hold),
            d.i_valid.eq(fetch.out.valid & ~fetch.redirect),
            d.i_payload.eq(fetch.out.payload),
            d.stall.eq(d_hold),
            d.flush.eq(m_redirect | x_redirect),
        ]

        # ---- D ---------------------------------------------------------------------------
        fd = d.payload
        dec = decoder.decoded
        m.d.comb += [
            decoder.insn.eq(fd.insn),
            d_hold.eq(d.valid & (x_hold | d_wait)),
            # Register read addresses: the instruction that will be in D next cycle.
            regfile.raddr1.eq(Mux(d_hold, fd.insn[15:20], fetch.out.payload.insn[15:20])),
            regfile.raddr2.eq(Mux(d_hold, fd.insn[20:25], fetch.out.payload.insn[20:25])),
        ]
        dx = Signal(DXLayout)
        m.d.comb += [
            dx.pc.eq(fd.pc),
            dx.insn.eq(fd.insn),
            dx.dec.eq(dec),
        ]
        with m.If(fd.err):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.INSN_ACCESS_FAULT),
                         dx.exc.tval.eq(fd.pc)]
        with m.Elif(dec.illegal):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.ILLEGAL_INSN),
                         dx.exc.tval.eq(fd.insn)]
        with m.Elif(dec.ecall):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.ECALL_M)]
        with m.Elif(dec.ebreak):
            m.d.comb += [dx.exc.valid.eq(1), dx.exc.cause.eq(ExceptionCause.BREAKPOINT),
                         dx.exc.tval.eq(fd.pc)]
        if opts.predictor:
            m.d.comb += [
                predictor.d_valid.eq(d.valid & ~dx.exc.valid),
                predictor.d_reload.eq(~d_hold),
                predictor.branch.eq(dec.branch),
                predictor.jal.eq(dec.jal),
                predictor.pc.eq(fd.pc),
                predictor.imm.eq(dec.imm),
                dx.predicted_taken.eq(predictor.taken & ~dx.exc.valid),
                d_redirect.eq(predictor.redirect),
            ]
        # D forwards the W-stage write (the register file shows it only next cycle).
        d_rs1 = Mux((w_rd != 0) & (w_rd == dec.rs1), w_result, regfile.rdata1)
        d_rs2 = Mux((w_rd != 0) & (w_rd == dec.rs2), w_result, regfile.rdata2)

        # ---- D -> X ----------------------------------------------------------------------
        m.d.comb += [
            x.i_valid.eq(d.valid & ~x_redirect & ~d_wait),
            x.i_payload.eq(dx),
            x.stall.eq(x_hold),
            x.flush.eq(m_redirect),
            bypass.load.eq(~x_hold),
            bypass.d_rs1.eq(d_rs1),
            bypass.d_rs2.eq(d_rs2),
        ]

        # ---- X ---------------------------------------------------------------------------
        xp = x.payload
        xd = xp.dec
        xm = mst.payload
        if not opts.forwarding:
            # Without forwarding, D waits while X or M will still write one of its sources.
            x_rd = Mux(x.valid & xd.rd_we, xd.rd, 0)
            m_rd = Mux(mst.valid, xm.rd, 0)
            waits = []
            for use, reg in ((dec.use_rs1, dec.rs1), (dec.use_rs2, dec.rs2)):
                waits.append(use & (reg != 0) & ((reg == x_rd) | (reg == m_rd)))
            m.d.comb += d_wait.eq(d.valid & (waits[0] | waits[1]))
        m.d.comb += [
            bypass.x_rs1.eq(xd.rs1),
            bypass.x_rs2.eq(xd.rs2),
            bypass.x_use_rs1.eq(xd.use_rs1),
            bypass.x_use_rs2.eq(xd.use_rs2),
            bypass.m_rd.eq(Mux(mst.valid, xm.rd, 0)),
            bypass.m_late.eq(xm.src != ResultSrc.X),
            bypass.m_result.eq(xm.result),
            bypass.w_rd.eq(w_rd),
            bypass.w_result.eq(w_result),
        ]
        rs1, rs2 = bypass.rs1, bypass.rs2
        hazard = bypass.hazard
        operand_b = Signal(32)
        with m.Switch(xd.b_sel):
            with m.Case(BSel.RS2):
                m.d.comb += operand_b.eq(rs2)
            with m.Case(BSel.IMM):
                m.d.comb += operand_b.eq(xd.imm)
            with m.Default():
                m.d.comb += operand_b.eq(4)
        with m.Switch(xd.a_sel):
            with m.Case(ASel.RS1):
                m.d.comb += alu.a.eq(rs1)
            with m.Case(ASel.PC):
                m.d.comb += alu.a.eq(xp.pc)
            with m.Default():
                m.d.comb += alu.a.eq(0)
        m.d.comb += [
            alu.op.eq(xd.alu_op),
            alu.b.eq(operand_b),
            branch.branch.eq(xd.branch),
            branch.jal.eq(xd.jal),
            branch.jalr.eq(xd.jalr),
            branch.funct3.eq(xd.funct3),
            branch.pc.eq(xp.pc),
            branch.imm.eq(xd.imm),
            branch.rs1.eq(rs1),
            branch.rs2.eq(rs2),
            branch.predicted_taken.eq(xp.predicted_taken),
            lsu.x_funct3.eq(xd.funct3),
            lsu.x_base.eq(rs1),
            lsu.x_offset.eq(xd.imm),
            lsu.x_store_data.eq(rs2),
            multiplier.x_en.eq(~m_busy),
            multiplier.x_a.eq(rs1),
            divider.op.eq(xd.funct3),
            divider.a.eq(rs1),
            divider.b.eq(rs2),
        ]
        if opts.shift_in_multiplier:
            # SLL: low word of a * 2**n. SRL / SRA: high word of a * 2**(32 - n), unsigned or
            # signed a by unsigned power; n = 0: low word of a * 1.
            shamt = operand_b[0:5]
            right = xd.alu_op != AluOp.SLL
            power = Signal(5)
            m.d.comb += power.eq(Mux(right, -shamt, shamt))
            with m.If(xd.unit == Unit.SHIFT):
                m.d.comb += multiplier.x_b.eq(Const(1, 32) << power)
                with m.If(~right | (shamt == 0)):
                    m.d.comb += multiplier.x_op.eq(Funct3MulDiv.MUL)
                with m.Elif(xd.alu_op == AluOp.SRA):
                    m.d.comb += multiplier.x_op.eq(Funct3MulDiv.MULHSU)
                with m.Else():
                    m.d.comb += multiplier.x_op.eq(Funct3MulDiv.MULHU)
            with m.Else():
                m.d.comb += [multiplier.x_op.eq(xd.funct3), multiplier.x_b.eq(rs2)]
        else:
            m.d.comb += [
                shifter.op.eq(xd.alu_op),
                shifter.a.eq(rs1),
                shifter.shamt.eq(operand_b[0:5]),
                multiplier.x_op.eq(xd.funct3),
                multiplier.x_b.eq(rs2),
            ]
        is_load = xd.unit == Unit.LOAD
        is_mem = is_load | (xd.unit == Unit.STORE)

        # Exceptions found in X, and interrupt sampling.
        x_exc = Signal(xp.exc.shape())
        with m.If(xp.exc.valid):
            m.d.comb += x_exc.eq(xp.exc)
        with m.Elif(branch.misaligned):
            m.d.comb += [x_exc.valid.eq(1), x_exc.cause.eq(ExceptionCause.INSN_MISALIGNED),
                         x_exc.tval.eq(branch.target)]
        with m.Elif(is_mem & lsu.x_misaligned):
            m.d.comb += [x_exc.valid.eq(1),
                         x_exc.cause.eq(Mux(is_load, ExceptionCause.LOAD_MISALIGNED,
                                            ExceptionCause.STORE_MISALIGNED)),
                         x_exc.tval.eq(lsu.x_addr)]
        req_held = Signal()   # a data request was presented and not yet granted
        irq_mark = Signal()
        m.d.comb += irq_mark.eq(x.valid & csr.irq_pending & ~req_held & ~xp.exc.valid)
        ok = Signal()         # X executes its instruction
        m.d.comb += ok.eq(x.valid & ~x_exc.valid & ~irq_mark)

        # Data bus request (never depends on a grant).
        dbus = self.dbus
        m.d.comb += [
            dbus.req.eq(ok & is_mem & ~hazard & ~m_busy & ~m_redirect),
            dbus.addr.eq(lsu.x_addr[2:]),
            dbus.we.eq(~is_load),
            dbus.be.eq(lsu.x_mask),
            dbus.wdata.eq(lsu.x_wdata),
        ]
        m.d.sync += req_held.eq(dbus.req & ~dbus.gnt)

        m.d.comb += [
            divider.start.eq(ok & (xd.unit == Unit.DIV) & ~hazard),
            divider.abort.eq(~x_hold | m_redirect),
        ]
        with m.If(ok):
            with m.Switch(xd.unit):
                with m.Case(Unit.LOAD, Unit.STORE):
                    m.d.comb += x_busy.eq(~(dbus.req & dbus.gnt))
                with m.Case(Unit.DIV):
                    m.d.comb += x_busy.eq(~divider.done)
                with m.Default():
                    m.d.comb += x_busy.eq(hazard)
        m.d.comb += [
            x_hold.eq(x.valid & (x_busy | m_busy)),
            x_redirect.eq(ok & (xd.branch | xd.jal | xd.jalr) & branch.mispredict &
                          ~hazard & ~m_busy & ~m_redirect),
        ]

        # ---- X -> M ----------------------------------------------------------------------
        xmp = Signal(XMLayout)
        m.d.comb += [
            xmp.pc.eq(xp.pc),
            xmp.insn.eq(xp.insn),
            xmp.next_pc.eq(branch.next_pc),
            xmp.rd.eq(Mux(ok & xd.rd_we, xd.rd, 0)),
            xmp.mem.eq(ok & is_mem),
            xmp.store.eq(~is_load),
            xmp.funct3.eq(xd.funct3),
            xmp.mem_addr.eq(lsu.x_addr),
            xmp.mem_mask.eq(lsu.x_mask),
            xmp.mem_wdata.eq(lsu.x_wdata),
            xmp.csr.eq(ok & (xd.unit == Unit.CSR)),
            xmp.csr_addr.eq(xd.csr_addr),
            xmp.csr_op.eq(xd.funct3[0:2]),
            xmp.csr_write.eq(xd.csr_write),
            xmp.mret.eq(ok & xd.mret),
            xmp.wfi.eq(ok & xd.wfi),
            xmp.fence_i.eq(ok & xd.fence_i),
            xmp.exc.eq(Mux(irq_mark, 0, x_exc)),
            xmp.irq.eq(irq_mark),
        ]
        with m.Switch(xd.unit):
            with m.Case(Unit.SHIFT):
                if opts.shift_in_multiplier:
                    m.d.comb += xmp.src.eq(ResultSrc.MUL)
                else:
                    m.d.comb += [xmp.src.eq(ResultSrc.X), xmp.result.eq(shifter.result)]
            with m.Case(Unit.DIV):
                m.d.comb += [xmp.src.eq(ResultSrc.X), xmp.result.eq(divider.result)]
            with m.Case(Unit.MUL):
                m.d.comb += xmp.src.eq(ResultSrc.MUL)
            with m.Case(Unit.LOAD):
                m.d.comb += xmp.src.eq(ResultSrc.LOAD)
            with m.Case(Unit.CSR):
                m.d.comb += [xmp.src.eq(ResultSrc.CSR),
                             xmp.result.eq(Mux(xd.csr_imm, xd.rs1, rs1))]
            with m.Default():
                m.d.comb += [xmp.src.eq(ResultSrc.X), xmp.result.eq(alu.result)]
        m.d.comb += [
            mst.i_valid.eq(x.valid & ~x_busy & ~m_redirect),
            mst.i_payload.eq(xmp),
            mst.stall.eq(m_busy),
            mst.flush.eq(0),
        ]

        # ---- M ---------------------------------------------------------------------------
        m.d.comb += [
            trap.valid.eq(mst.valid),
            trap.exc.eq(xm.exc),
            trap.irq.eq(xm.irq),
            trap.mem.eq(xm.mem),
            trap.store.eq(xm.store),
            trap.mem_addr.eq(xm.mem_addr),
            trap.mret.eq(xm.mret),
            trap.wfi.eq(xm.wfi),
            trap.fence_i.eq(xm.fence_i),
            trap.pc.eq(xm.pc),
            trap.bus_rvalid.eq(dbus.rvalid),
            trap.bus_err.eq(dbus.err),
            trap.irq_waiting.eq(csr.irq_waiting),
            trap.irq_pending.eq(csr.irq_pending),
            trap.irq_cause.eq(csr.irq_cause),
            trap.mtvec.eq(csr.mtvec),
            trap.mepc.eq(csr.mepc),
            m_busy.eq(trap.busy),
            m_redirect.eq(trap.redirect),

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

            lsu.m_funct3.eq(xm.funct3),
            lsu.m_offset.eq(xm.mem_addr[0:2]),
            lsu.m_rdata.eq(dbus.rdata),
        ]
        m_result = Signal(32)
        with m.Switch(xm.src):
            with m.Case(ResultSrc.LOAD):
                m.d.comb += m_result.eq(lsu.m_result)
            with m.Case(ResultSrc.MUL):
                m.d.comb += m_result.eq(multiplier.m_result)
            with m.Case(ResultSrc.CSR):
                m.d.comb += m_result.eq(csr.rdata)
            with m.Default():
                m.d.comb += m_result.eq(xm.result)

        mw = Signal(MWLayout)
        retired_mem = trap.commit & xm.mem
        m.d.comb += [
            mw.report.eq(trap.commit | (trap.trap & ~trap.trap_interrupt)),
            mw.trap.eq(trap.trap & ~trap.trap_interrupt),
            mw.irq.eq(trap.trap_interrupt),
            mw.pc.eq(xm.pc),
            mw.insn.eq(xm.insn),
            mw.next_pc.eq(Mux(trap.trap, trap.redirect_pc,
                              Mux(xm.mret, csr.mepc, xm.next_pc))),
            mw.rd.eq(Mux(trap.commit, xm.rd, 0)),
            mw.result.eq(Mux(trap.commit & (xm.rd != 0), m_result, 0)),
            mw.mem_addr.eq(Mux(retired_mem, xm.mem_addr, 0)),
            mw.mem_rmask.eq(Mux(retired_mem & ~xm.store, xm.mem_mask, 0)),
            mw.mem_wmask.eq(Mux(retired_mem & xm.store, xm.mem_mask, 0)),
            mw.mem_rdata.eq(Mux(retired_mem & ~xm.store, dbus.rdata, 0)),
            mw.mem_wdata.eq(Mux(retired_mem & xm.store, xm.mem_wdata, 0)),
            w.i_valid.eq(mst.valid & ~m_busy),
            w.i_payload.eq(mw),
            w.stall.eq(0),
            w.flush.eq(0),
        ]

        # ---- W ---------------------------------------------------------------------------
        wp = w.payload
        m.d.comb += [
            w_rd.eq(Mux(w.valid, wp.rd, 0)),
            w_result.eq(wp.result),
            regfile.waddr.eq(wp.rd),
            regfile.wdata.eq(wp.result),
            regfile.we.eq(w.valid),
        ]
        intr = Signal()   # the next reported instruction is the first of a trap handler
        report = w.valid & wp.report
        with m.If(w.valid & (wp.trap | wp.irq)):
            m.d.sync += intr.eq(1)
        with m.Elif(report):
            m.d.sync += intr.eq(0)
        rvfi = self.rvfi
        m.d.comb += [
            rvfi.valid.eq(report),
            rvfi.insn.eq(wp.insn),
            rvfi.trap.eq(wp.trap),
            rvfi.intr.eq(intr),
            rvfi.pc_rdata.eq(wp.pc),
            rvfi.pc_wdata.eq(wp.next_pc),
            rvfi.rd_addr.eq(wp.rd),
            rvfi.rd_wdata.eq(wp.result),
            rvfi.mem_addr.eq(wp.mem_addr),
            rvfi.mem_rmask.eq(wp.mem_rmask),
            rvfi.mem_wmask.eq(wp.mem_wmask),
            rvfi.mem_rdata.eq(wp.mem_rdata),
            rvfi.mem_wdata.eq(wp.mem_wdata),
        ]
        return m
