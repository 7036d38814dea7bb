"""The NPU datapath: memories, DMA, systolic array and the load / execute / store units."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus.signature import BusSignature
from .acc import Accumulator
from .array import SystolicArray
from .commands import Opcode
from .descriptor import command_layout
from .dma import Dma
from .exec_unit import ExecUnit
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
    fair arbiter, and two read ports (COMPUTE init rows, STORE rows and scales). The three
    units run concurrently on disjoint rows (the dispatcher guarantees disjointness and
    orders conflicting commands by their ``done`` pulses).

    Parameters
    ----------
    config : SoCConfig
        ``npu_rows`` must be non-zero.
    postproc : PostProcess or None
        Post-processing pipeline for the store unit; ``None`` builds the real one.

    Members
    -------
    load_cmd, exec_cmd, store_cmd : In(stream.Signature(command_layout(...)))
        Validated commands. The load and store units accept a command while idle; the exec
        unit accepts the next COMPUTE as soon as the previous one's weights are read (so
        consecutive COMPUTEs pipeline through the array).
    load_done, exec_done, store_done : Out(1)
        One-cycle pulse per finished command, in order per unit (STORE: after every write
        response).
    load_bus_error, store_bus_error : Out(1)
        With the done pulse: the command stopped at a DMA access answered with err.
    bus : Out(BusSignature())
        The DMA's bus initiator port.
    ev_compute_row, ev_macs, ev_dma_rd_bytes, ev_dma_wr_bytes, ev_stall_mem, ev_stall_out
        Per-cycle performance events (see the NPU contract).

    Latency
    -------
    A LOAD finishes ``main_latency`` + about 4 cycles after its last word is granted; a
    COMPUTE ``array.latency`` + 3 cycles after its last row is read; a STORE
    ``PostProcess.LATENCY`` + ``main_latency`` + about 4 cycles after its last ACC row is read.
    """

    def __init__(self, config, *, postproc=None):
        if not config.npu_rows:
            raise ValueError(f"config {config.name!r} has no NPU (npu_rows = 0)")
        self._config = config
        self._postproc = postproc
        super().__init__({
            "load_cmd": In(stream.Signature(command_layout(Opcode.LOAD))),
            "exec_cmd": In(stream.Signature(command_layout(Opcode.COMPUTE))),
            "store_cmd": In(stream.Signature(command_layout(Opcode.STORE))),
            "load_done": Out(1),
            "exec_done": Out(1),
            "store_done": Out(1),
            "load_bus_error": Out(1),
            "store_bus_error": Out(1),
            "bus": Out(BusSignature()),
            "ev_compute_row": Out(1),
            "ev_macs": Out(16),
            "ev_dma_rd_bytes": Out(4),
            "ev_dma_wr_bytes": Out(4),
            "ev_stall_mem": Out(1),
            "ev_stall_out": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.spad = spad = Scratchpad(cfg.npu_spad_rows, cfg.npu_lanes)
        m.submodules.acc = acc = Accumulator(cfg.npu_acc_rows, cfg.npu_cols)
        m.submodules.dma = dma = Dma(load_row_bytes(cfg), store_row_bytes(cfg),
                                     depth=dma_depth(cfg))
        m.submodules.array = array = SystolicArray(cfg.npu_rows, cfg.npu_cols, fp16=cfg.npu_fp16)
        m.submodules.load = load = LoadUnit(cfg)
        m.submodules.exec = ex = ExecUnit(cfg)
        m.submodules.store = st = StoreUnit(cfg, postproc=self._postproc)

        wiring.connect(m, wiring.flipped(self.load_cmd), load.cmd)
        wiring.connect(m, wiring.flipped(self.exec_cmd), ex.cmd)
        wiring.connect(m, wiring.flipped(self.store_cmd), st.cmd)
        wiring.connect(m, dma.bus, wiring.flipped(self.bus))

        wiring.connect(m, load.rd_cmd, dma.rd_cmd)
        wiring.connect(m, dma.rd_rows, load.rd_rows)
        wiring.connect(m, load.spad_w, spad.w)
        wiring.connect(m, load.acc_w, acc.w_load)

        wiring.connect(m, ex.spad_a, spad.ra)
        wiring.connect(m, ex.spad_w, spad.rw)
        wiring.connect(m, ex.acc_r, acc.r_exec)
        wiring.connect(m, ex.acc_w, acc.w_exec)
        wiring.connect(m, ex.ops, array.ops)
        wiring.connect(m, ex.weights, array.weights)
        wiring.connect(m, array.results, ex.results)

        wiring.connect(m, st.acc_r, acc.r_store)
        wiring.connect(m, st.wr_cmd, dma.wr_cmd)
        wiring.connect(m, st.wr_rows, dma.wr_rows)

        bus = self.bus
        m.d.comb += [
            load.rd_done.eq(dma.rd_done), load.rd_error.eq(dma.rd_error),
            st.wr_done.eq(dma.wr_done), st.wr_error.eq(dma.wr_error),
            self.load_done.eq(load.done), self.load_bus_error.eq(load.done & load.bus_error),
            self.exec_done.eq(ex.done),
            self.store_done.eq(st.done), self.store_bus_error.eq(st.done & st.bus_error),
            self.ev_compute_row.eq(ex.ev_row),
            self.ev_macs.eq(ex.ev_macs),
            self.ev_dma_rd_bytes.eq(dma.rd_word << 2),
            self.ev_dma_wr_bytes.eq(dma.wr_bytes),
            self.ev_stall_mem.eq(bus.req & ~bus.gnt),
            self.ev_stall_out.eq(array.results.valid & ~array.results.ready),
        ]
        return m
