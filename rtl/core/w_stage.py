"""W stage: register write and the retirement trace."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import MWLayout
from .rvfi import RVFISignature
from .stage import Stage, edge_signature

__all__ = ["WStage"]


class WStage(wiring.Component):
    """The write-back stage of :class:`~.core.Core`, with its stage register.

    Members
    -------
    mw : In(edge_signature(MWLayout))
        The instruction from M.
    w_rd : Out(5)
        Register written this cycle (0: none). The register file (in D) takes the write;
        D and X forward it.
    w_result : Out(32)
        Its value (only meaningful with ``w_rd`` != 0; not zeroed otherwise).
    rvfi : Out(RVFISignature())
        Retirement trace: retired and trapped instructions, in order; ``intr`` marks the first
        instruction of a trap handler.
    """

    mw: In(edge_signature(MWLayout))
    w_rd: Out(5)
    w_result: Out(32)
    rvfi: Out(RVFISignature())

    def elaborate(self, platform):
        m = Module()
        m.submodules.stage = w = Stage(MWLayout)
        m.d.comb += [
            w.i_valid.eq(self.mw.valid),
            w.i_payload.eq(self.mw.payload),
            w.stall.eq(0),
            w.flush.eq(0),
        ]
        wp = w.payload
        m.d.comb += [
            self.w_rd.eq(Mux(w.valid, wp.rd, 0)),
            self.w_result.eq(wp.result),
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
            rvfi.rd_wdata.eq(Mux(wp.rd != 0, wp.result, 0)),
            rvfi.mem_addr.eq(wp.mem_addr),
            rvfi.mem_rmask.eq(wp.mem_rmask),
            rvfi.mem_wmask.eq(wp.mem_wmask),
            rvfi.mem_rdata.eq(wp.mem_rdata),
            rvfi.mem_wdata.eq(wp.mem_wdata),
            rvfi.rs1_addr.eq(wp.rs[0]),
            rvfi.rs2_addr.eq(wp.rs[1]),
            rvfi.rs1_rdata.eq(wp.rs_rdata[0]),
            rvfi.rs2_rdata.eq(wp.rs_rdata[1]),
        ]
        return m
