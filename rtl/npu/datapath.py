"""The NPU datapath: memories, DMA, systolic array and the load / execute / store units."""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .acc import Accumulator
from .array import SystolicArray
from .dma import Dma
from .eltwise_unit import EltwiseUnit
from .exec_unit import ExecUnit
from .link import DatapathLink
from .load_unit import LoadUnit, load_row_bytes
from .spad import Scratchpad
from .store_unit import StoreUnit, store_row_bytes

__all__ = ["dma_depth", "NpuDatapath"]


def dma_depth(config):
    """Words in flight per DMA direction: enough to cover the main memory's latency (plus a
    few cycles of arbitration and buffering) at its full bandwidth."""
    need = config.main_latency * config.main_bytes_per_cycle // 4 + 6
    depth = 8
    while depth < need:
        depth *= 2
    return depth


class NpuDatapath(wiring.Component):
    """Everything of the NPU below the command processor.

    ::

        load_cmd  -> LoadUnit  <- DmaReader <-+
                        |  \\                  +- Arbiter -- bus
                      SPAD  ACC (2 writers)   |
                        |   /  \\              |
        exec_cmd  -> ExecUnit  StoreUnit -> DmaWriter
                        |          |
                  SystolicArray  PostProcess

    Memory ports: the SPAD has one write port (LOAD) and two read ports (activation and weight
    rows of COMPUTE); the ACC has one write port shared by LOAD and COMPUTE results through a
    fair arbiter, and two read ports (COMPUTE init rows, STORE rows and scales). The
    element-wise unit (``config.npu_eltwise``) borrows the execute unit's two SPAD read ports,
    its ACC read port and its side of the ACC write arbiter while it runs an ELTWISE. The three
    units run concurrently on disjoint rows (the dispatcher guarantees disjointness and
    orders conflicting commands by their ``done`` pulses), except that a STORE may read the
    result rows of COMPUTEs still in the execute unit or of the ELTWISE in the element-wise
    unit: the store unit waits for each such row (``ExecUnit.acc_pending``,
    ``EltwiseUnit.acc_pending``), so it follows the results as they are written; and,
    with ``config.npu_load_follow``, a COMPUTE may read the SPAD rows of LOADs still in the
    load unit: the execute unit (and the element-wise unit, for an ELTWISE) waits for each such
    row (``LoadUnit.spad_wait_a`` / ``_w``).

    Parameters
    ----------
    config : SoCConfig
        ``npu_rows`` must be non-zero.
    postproc : PostProcess or None
        Post-processing pipeline for the store unit; ``None`` builds the real one.

    Members
    -------
    control : In(DatapathLink())
        Validated commands, done pulses and performance events (:class:`~.link.DatapathLink`).
        The load and store units accept a command while idle (the load unit, with
        ``config.npu_load_overlap``, also one more while busy); the exec unit accepts the next
        COMPUTE as soon as the previous one's weights are read (so consecutive COMPUTEs
        pipeline through the array).
    bus : Out(BusSignature())
        The DMA's bus initiator port.

    Latency
    -------
    A LOAD finishes ``main_latency`` + about 4 cycles after its last word is granted; a
    COMPUTE ``array.latency`` + 3 cycles after its last row is read; a STORE
    ``PostProcess.LATENCY`` + ``main_latency`` + about 4 cycles after its last ACC row is read.
    """

    #: The store unit reads an ACC row only once the execute unit has written it (the
    #: dispatcher then issues a STORE beside the COMPUTEs it reads; :class:`~.npu.Npu`).
    store_orders_acc = True

    def __init__(self, config, *, postproc=None, weight_banks=None):
        if not config.npu_rows:
            raise ValueError(f"config {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        #: The execute unit reads a SPAD row only once the load unit has written it
        #: (``config.npu_load_follow``; the dispatcher then issues a COMPUTE beside the LOADs
        #: of its weights and image rows; :class:`~.npu.Npu`).
        self.load_follows = config.npu_load_follow
        #: The element-wise unit takes the next ELTWISE while the current one drains and
        #: orders the ACC rows between them (:class:`~.eltwise_unit.EltwiseUnit`; the
        #: dispatcher then issues two at once; :class:`~.npu.Npu`). The config refuses the
        #: option without ``npu_eltwise``.
        self.eltwise_handover = config.npu_eltwise_handover
        self._postproc = postproc
        self._weight_banks = weight_banks
        super().__init__({
            "control": In(DatapathLink()),
            "bus": Out(BusSignature()),
        })

    @staticmethod
    def _share_exec_ports(m, cfg, link, ex, spad, acc):
        """The element-wise unit, on the execute unit's SPAD / ACC ports while it is busy (the
        dispatcher never has an ELTWISE and a COMPUTE in flight together); returns it."""
        m.submodules.eltwise = elt = EltwiseUnit(cfg)
        wiring.connect(m, wiring.flipped(link.eltwise_cmd), elt.cmd)
        sel = elt.busy
        for mem, ex_port, elt_port in ((spad.ra, ex.spad_a, elt.spad_a),
                                       (spad.rw, ex.spad_w, elt.spad_b),
                                       (acc.r_exec, ex.acc_r, elt.acc_r)):
            m.d.comb += [mem.addr.eq(Mux(sel, elt_port.addr, ex_port.addr)),
                         mem.en.eq(Mux(sel, elt_port.en, ex_port.en)),
                         ex_port.data.eq(mem.data), elt_port.data.eq(mem.data)]
        w = acc.w_exec
        m.d.comb += [
            w.valid.eq(Mux(sel, elt.acc_w.valid, ex.acc_w.valid)),
            w.payload.eq(Mux(sel, elt.acc_w.payload, ex.acc_w.payload)),
            ex.acc_w.ready.eq(~sel & w.ready),
            elt.acc_w.ready.eq(sel & w.ready),
            link.eltwise_done.eq(elt.done),
        ]
        return elt

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.spad = spad = Scratchpad(cfg.npu_spad_rows, cfg.npu_lanes)
        m.submodules.acc = acc = Accumulator(cfg.npu_acc_rows, cfg.npu_cols)
        m.submodules.dma = dma = Dma(load_row_bytes(cfg), store_row_bytes(cfg),
                                     depth=dma_depth(cfg), read_overlap=cfg.npu_load_overlap,
                                     side_slices=cfg.npu_dma_side_slices)
        m.submodules.array = array = SystolicArray(cfg.npu_rows, cfg.npu_cols, fp16=cfg.npu_fp16,
                                                      banks=self._weight_banks,
                                                      gather=cfg.npu_gather)
        m.submodules.load = load = LoadUnit(cfg)
        m.submodules.exec = ex = ExecUnit(cfg)
        m.submodules.store = st = StoreUnit(cfg, postproc=self._postproc)

        link = self.control
        wiring.connect(m, wiring.flipped(link.load_cmd), load.cmd)
        wiring.connect(m, wiring.flipped(link.exec_cmd), ex.cmd)
        wiring.connect(m, wiring.flipped(link.store_cmd), st.cmd)
        wiring.connect(m, dma.bus, wiring.flipped(self.bus))

        wiring.connect(m, load.rd_cmd, dma.rd_cmd)
        wiring.connect(m, dma.rd_rows, load.rd_rows)
        wiring.connect(m, load.spad_w, spad.w)
        wiring.connect(m, load.acc_w, acc.w_load)

        elt_macs = elt_row = elt_pending = 0
        # the row the store unit asks about: the one it reads, or with npu_store_wait_reg the
        # one it reads next, from its registers
        store_query = st.acc_query if cfg.npu_store_wait_reg else st.acc_r.addr
        if cfg.npu_eltwise:
            elt = self._share_exec_ports(m, cfg, link, ex, spad, acc)
            elt_macs, elt_row, elt_pending = elt.ev_macs, elt.ev_row, elt.acc_pending
            m.d.comb += elt.acc_query.eq(store_query)
        else:
            wiring.connect(m, ex.spad_a, spad.ra)
            wiring.connect(m, ex.spad_w, spad.rw)
            wiring.connect(m, ex.acc_r, acc.r_exec)
            wiring.connect(m, ex.acc_w, acc.w_exec)
        wiring.connect(m, ex.ops, array.ops)
        wiring.connect(m, ex.weights, array.weights)
        wiring.connect(m, array.results, ex.results)

        wiring.connect(m, st.acc_r, acc.r_store)
        # a STORE follows the COMPUTE / ELTWISE results it reads row by row (store_orders_acc)
        m.d.comb += [ex.acc_query.eq(store_query),
                     st.acc_wait.eq(ex.acc_pending | elt_pending)]
        if cfg.npu_load_follow:
            # a COMPUTE (an ELTWISE) follows the LOADs writing its SPAD rows row by row
            # (load_follows): the load unit answers for the rows on the SPAD's read ports
            m.d.comb += [load.spad_query_a.eq(spad.ra.addr), ex.spad_wait_a.eq(load.spad_wait_a),
                         load.spad_query_w.eq(spad.rw.addr), ex.spad_wait_w.eq(load.spad_wait_w)]
            if cfg.npu_eltwise:
                m.d.comb += [elt.spad_wait_a.eq(load.spad_wait_a),
                             elt.spad_wait_b.eq(load.spad_wait_w)]
        wiring.connect(m, st.wr_cmd, dma.wr_cmd)
        wiring.connect(m, st.wr_rows, dma.wr_rows)

        bus = self.bus
        m.d.comb += [
            load.rd_done.eq(dma.rd_done), load.rd_error.eq(dma.rd_error),
            st.wr_done.eq(dma.wr_done), st.wr_error.eq(dma.wr_error),
            link.load_done.eq(load.done), link.load_bus_error.eq(load.done & load.bus_error),
            link.exec_done.eq(ex.done),
            link.store_done.eq(st.done), link.store_bus_error.eq(st.done & st.bus_error),
            link.ev_compute_row.eq(ex.ev_row),
            link.ev_lane_row.eq(elt_row),
            link.ev_macs.eq(ex.ev_macs + elt_macs),     # never both (one unit at a time)
            link.ev_dma_rd_bytes.eq(dma.rd_word << 2),
            link.ev_dma_wr_bytes.eq(dma.wr_bytes),
            link.ev_stall_mem.eq(bus.req & ~bus.gnt),
            link.ev_stall_out.eq(array.results.valid & ~array.results.ready),
        ]
        return m
