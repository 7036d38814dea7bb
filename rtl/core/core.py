"""The Dure control core: RV32IM + Zicsr, M- and U-mode, PMP, triggers, five-stage pipeline
(F D X M W)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .csr import check_protection
from .d_stage import DStage
from .fetch import Fetch
from .loadstore import LoadStoreUnit
from .m_stage import MStage
from .multiplier import Multiplier
from .options import CoreOptions
from .rvfi import RVFISignature
from .w_stage import WStage
from .x_stage import XStage

__all__ = ["Core"]


class Core(wiring.Component):
    """RV32IM + Zicsr core with M- and U-mode, PMP, Sdtrig triggers, precise traps and
    interrupts.

    Pipeline: F (prefetch buffer, :class:`~.fetch.Fetch`), D (decode, register read, static
    branch prediction: :class:`~.d_stage.DStage`), X (ALU, shifter, branch resolution,
    divider, data bus request: :class:`~.x_stage.XStage`), M (data bus answer, multiplier
    second stage, CSRs, traps: the commit point, :class:`~.m_stage.MStage`), W (register
    write, retirement port: :class:`~.w_stage.WStage`). The load/store unit and the
    multiplier span X and M. This class only connects them.

    About one instruction per cycle on straight-line code with one-cycle memories; a taken
    branch or jump costs no bubble when the branch target buffer in F predicted it, two when
    D predicted it (static / history table / return address stack; D's redirect is
    registered: it reaches fetch one cycle after D decided), three when X redirects
    (X's redirect is registered: it reaches fetch one cycle after the branch left X); a
    load (or MUL, CSR read) followed by a user of its result costs one. M's redirect (trap,
    MRET, FENCE.I) is registered as well. A load or store costs two more cycles in X when a
    PMP entry or a trigger could refuse it (U-mode, MPRV, a locked entry, an armed load /
    store trigger): its addresses, then its checks are registered before its request.
    Loads and stores work at any address (one crossing a word boundary takes two bus
    accesses, see :class:`~.m_stage.MStage`); misaligned branch and jump targets trap.

    Parameters
    ----------
    reset_vector : int
        Address of the first instruction (4-byte aligned).
    hartid : int
        Value of ``mhartid``.
    options : CoreOptions or None
        Size / speed trade-offs (:mod:`.options`); the default is the full core described
        here. Every option keeps the ISA behaviour; the costs above are those of the default.
    pmp_entries : int
        PMP entries implemented (0..16; the CSRs of the others read 0). 0: U-mode may access
        everything.
    triggers : int
        Sdtrig address-match triggers (0..8).

    Members
    -------
    ibus : Out(BusSignature())
        Instruction fetch; reads only (``we`` = 0, ``be`` = 0b1111).
    dbus : Out(BusSignature())
        Loads and stores. The request is issued as the instruction leaves X; the answer is
        awaited in M, so a one-cycle target costs no stall. The second access of a split
        misaligned access is requested by M when the first answer arrives.
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

    def __init__(self, *, reset_vector=0x8000_0000, hartid=0, options=None, pmp_entries=16,
                 triggers=1):
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
        check_protection(pmp_entries, triggers)
        self._pmp_entries = pmp_entries
        self._triggers = triggers
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        opts = self._options
        m.submodules.fetch = fetch = Fetch(reset_vector=self._reset_vector,
                                           depth=opts.fetch_depth,
                                           btb_entries=opts.btb_entries,
                                           btb_known=opts.weak_follows_fetch,
                                           dir_entries=opts.fetch_gshare_entries)
        prot = dict(pmp_entries=self._pmp_entries, triggers=self._triggers)
        m.submodules.d = d = DStage(forwarding=opts.forwarding, predictor=opts.predictor,
                                    bht_entries=opts.bht_entries, ras_depth=opts.ras_depth,
                                    gshare_entries=opts.gshare_entries,
                                    weak_follows_fetch=opts.weak_follows_fetch,
                                    fetch_direction=bool(opts.fetch_gshare_entries),
                                    early_branch=opts.early_branch,
                                    gshare_history=opts.gshare_history if opts.gshare_entries
                                    else 0,
                                    **prot)
        m.submodules.x = x = XStage(opts, **prot)
        m.submodules.m = mst = MStage(hartid=self._hartid, late_add=self._options.late_add,
                                      late_shift=self._options.late_shift,
                                      **prot)
        m.submodules.w = w = WStage()
        m.submodules.lsu = lsu = LoadStoreUnit()
        m.submodules.multiplier = multiplier = Multiplier()

        wiring.connect(m, wiring.flipped(self.ibus), fetch.ibus)
        wiring.connect(m, fetch.out, d.f)
        wiring.connect(m, d.dx, x.dx)
        wiring.connect(m, x.xm, mst.xm)
        wiring.connect(m, mst.mw, w.mw)
        wiring.connect(m, w.rvfi, wiring.flipped(self.rvfi))

        # The data bus: X's request, or the second access of a split access from M (X does
        # not request while M waits). The fields are selected by M's registered `m_owns`,
        # not by `m_req` (which follows the first answer's rvalid): the same fields whenever
        # a request is presented, without the answer on the path into the fabric.
        dbus = self.dbus
        m.d.comb += [
            dbus.req.eq(x.dbus.req | mst.m_req),
            dbus.addr.eq(Mux(mst.m_owns, mst.m_addr, x.dbus.addr)),
            dbus.we.eq(Mux(mst.m_owns, mst.m_we, x.dbus.we)),
            dbus.be.eq(Mux(mst.m_owns, mst.m_be, x.dbus.be)),
            dbus.wdata.eq(Mux(mst.m_owns, mst.m_wdata, x.dbus.wdata)),
            x.dbus.gnt.eq(dbus.gnt),
            x.dbus.rvalid.eq(dbus.rvalid),
            x.dbus.err.eq(dbus.err),
            x.dbus.rdata.eq(dbus.rdata),
        ]

        # Redirects: the oldest stage wins. M's redirect (trap, MRET, FENCE.I, refetch)
        # reaches fetch one cycle late, registered (the trap decision is a long path into
        # the fetch address); D and X are flushed at once, and D takes nothing from fetch in
        # the cycle fetch is redirected (``d.m_redirect`` covers both cycles).
        # D's redirect (a prediction) is registered too (decode -> prediction -> fetch was
        # the long path): fetch follows it one cycle after D decided, unless an older stage
        # redirects meanwhile; D takes nothing from fetch in both cycles.
        m_redirect = Signal()
        m_target = Signal(32)
        d_redirect = Signal()
        d_target = Signal(32)
        m.d.sync += [m_redirect.eq(mst.m_redirect), m_target.eq(mst.m_target),
                     d_redirect.eq(d.d_redirect & ~mst.m_redirect & ~m_redirect &
                                   ~x.x_redirect),
                     d_target.eq(d.d_target)]
        m.d.comb += [
            fetch.redirect.eq(m_redirect | x.x_redirect | d_redirect),
            fetch.target.eq(Mux(m_redirect, m_target,
                                Mux(x.x_redirect, x.x_target, d_target)
                                if opts.predictor else x.x_target)),
            # target + 4 beside it (from the registered targets)
            fetch.target_next.eq(Mux(m_redirect, m_target + 4,
                                     Mux(x.x_redirect, x.x_target + 4, d_target + 4)
                                     if opts.predictor else x.x_target + 4)),
            d.d_redirect_late.eq(d_redirect),
        ]
        # Stall, flush and forwarding between the stages.
        m.d.comb += [
            d.x_hold.eq(x.x_hold),
            d.x_redirect.eq(x.x_redirect),
            d.m_redirect.eq(mst.m_redirect | m_redirect),
            d.x_rd.eq(x.x_rd),
            d.m_rd.eq(mst.m_rd),
            d.w_rd.eq(w.w_rd),
            d.w_result.eq(w.w_result),
            fetch.btb_we.eq(d.d_btb_we),
            fetch.btb_pc.eq(d.d_btb_pc),
            fetch.btb_valid.eq(d.d_btb_valid),
            fetch.btb_cond.eq(d.d_btb_cond),
            # Fetch's direction tables learn what the history table learns.
            fetch.x_dir_update.eq(x.x_bht_update),
            fetch.x_dir_pc.eq(x.x_bht_pc),
            fetch.x_dir_state.look.eq(x.x_bht_ctr.flook),
            fetch.x_dir_state.index.eq(x.x_bht_ctr.index),
            fetch.x_dir_taken.eq(x.x_bht_agree == x.x_bht_ctr.back),
            fetch.btb_target.eq(d.d_btb_target),
            fetch.x_btb_we.eq(x.x_btb_we),
            fetch.x_btb_pc.eq(x.x_btb_pc),
            d.x_bht_update.eq(x.x_bht_update),
            d.x_bht_pc.eq(x.x_bht_pc),
            d.x_bht_ctr.eq(x.x_bht_ctr),
            d.x_bht_agree.eq(x.x_bht_agree),

            x.d_rs1.eq(d.d_rs1),
            x.d_rs2.eq(d.d_rs2),
            x.m_busy.eq(mst.m_busy),
            x.m_redirect.eq(mst.m_redirect),
            x.m_rd.eq(mst.m_rd),
            x.m_late.eq(mst.m_late),
            x.m_result.eq(mst.m_result),
            x.m_load.eq(mst.m_load),
            x.m_load_result.eq(lsu.m_result),
            x.w_rd.eq(w.w_rd),
            x.w_result.eq(w.w_result),
            x.n_w_rd.eq(Mux(mst.mw.valid, mst.mw.payload.rd, 0)),
            x.irq_pending.eq(mst.irq_pending),
            mst.w_result.eq(w.w_result),
            x.m_lb_done.eq(mst.lb_done),
            x.m_lb_agree.eq(mst.lb_agree),
            x.m_lb_mispredict.eq(mst.lb_mispredict),
            x.m_lb_target.eq(mst.lb_target),
            d.prot.eq(mst.prot),
            x.prot.eq(mst.prot),
        ]
        # The units that span X and M, and the M stage's outside inputs.
        m.d.comb += [
            lsu.x_funct3.eq(x.lsu_funct3),
            lsu.x_base.eq(x.lsu_base),
            lsu.x_offset.eq(x.lsu_offset),
            lsu.x_store_data.eq(x.lsu_store_data),
            x.lsu_addr.eq(lsu.x_addr),
            x.lsu_split.eq(lsu.x_split),
            x.lsu_mask.eq(lsu.x_mask),
            x.lsu_mask_hi.eq(lsu.x_mask_hi),
            x.lsu_wdata.eq(lsu.x_wdata),
            lsu.m_funct3.eq(mst.lsu_funct3),
            lsu.m_offset.eq(mst.lsu_offset),
            lsu.m_merge.eq(mst.lsu_merge),
            lsu.m_lo.eq(mst.lsu_lo),
            mst.load_word.eq(lsu.m_word),
            lsu.m_rdata.eq(self.dbus.rdata),
            mst.load_result.eq(lsu.m_result),

            multiplier.x_en.eq(x.mul_en),
            multiplier.x_op.eq(x.mul_op),
            multiplier.x_a.eq(x.mul_a),
            multiplier.x_b.eq(x.mul_b),
            mst.mul_result.eq(multiplier.m_result),

            mst.dbus_rvalid.eq(self.dbus.rvalid),
            mst.dbus_err.eq(self.dbus.err),
            mst.dbus_rdata.eq(self.dbus.rdata),
            mst.dbus_gnt.eq(self.dbus.gnt),
            mst.irq_software.eq(self.irq_software),
            mst.irq_timer.eq(self.irq_timer),
            mst.irq_external.eq(self.irq_external),
            mst.mtime.eq(self.mtime),
        ]
        return m
