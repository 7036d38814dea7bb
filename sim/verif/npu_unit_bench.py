"""Benches for single NPU units on the Amaranth simulator: the execute unit with its memories
and array, the load unit with its DMA, and the testbench steps their tests repeat.

- :class:`ExecBench`: ``ExecUnit`` wired to a ``Scratchpad``, an ``Accumulator`` and a
  ``SystolicArray`` sized by the config (as ``NpuDatapath`` sizes them); the SPAD's write port
  and the ACC's LOAD write and STORE read ports stay free for the testbench.
  :func:`preload`, :func:`issue`, :func:`write_acc_row` and :func:`read_acc_row` drive
  them.
- :class:`EltwiseBench`: ``EltwiseUnit`` on its own ``Scratchpad`` and ``Accumulator`` (the
  ports the datapath lends it), the same free ports for the testbench.
- :class:`LoadBench`: ``LoadUnit`` fed by a ``Dma`` (reads only); :func:`load_cycle` samples
  one cycle of its row writes.
- :class:`PulseLog`: a background testbench that counts cycles and records the cycles of a
  one-cycle pulse (a unit's ``done``).

Run a bench with :func:`dure.sim.verif.bus.simulate`.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from dure.rtl.npu.acc import Accumulator
from dure.rtl.npu.array import SystolicArray
from dure.rtl.npu.dma import Dma
from dure.rtl.npu.eltwise_unit import EltwiseUnit
from dure.rtl.npu.exec_unit import ExecUnit
from dure.rtl.npu.load_unit import LoadUnit, load_row_bytes
from dure.rtl.npu.spad import Scratchpad

__all__ = ["ExecBench", "EltwiseBench", "preload", "issue", "write_acc_row", "read_acc_row",
           "LoadBench", "load_cycle", "PulseLog"]


class ExecBench(wiring.Component):
    """``ExecUnit(config)`` with a ``Scratchpad(npu_spad_rows, npu_lanes)``, an
    ``Accumulator(npu_acc_rows, npu_cols)`` and a ``SystolicArray(npu_rows, npu_cols,
    fp16=npu_fp16)``; the members ``ex``, ``spad``, ``acc``, ``array`` are the blocks."""

    def __init__(self, config):
        self.config = config
        self.spad = Scratchpad(config.npu_spad_rows, config.npu_lanes)
        self.acc = Accumulator(config.npu_acc_rows, config.npu_cols)
        self.array = SystolicArray(config.npu_rows, config.npu_cols, fp16=config.npu_fp16)
        self.ex = ExecUnit(config)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.spad, m.submodules.acc = self.spad, self.acc
        m.submodules.array, m.submodules.ex = self.array, self.ex
        ex = self.ex
        wiring.connect(m, ex.spad_a, self.spad.ra)
        wiring.connect(m, ex.spad_w, self.spad.rw)
        wiring.connect(m, ex.acc_r, self.acc.r_exec)
        wiring.connect(m, ex.acc_w, self.acc.w_exec)
        wiring.connect(m, ex.ops, self.array.ops)
        wiring.connect(m, ex.weights, self.array.weights)
        wiring.connect(m, self.array.results, ex.results)
        return m


class EltwiseBench(wiring.Component):
    """``EltwiseUnit(config)`` (member ``unit``) on a ``Scratchpad(npu_spad_rows, npu_lanes)``
    (its two read ports) and an ``Accumulator(npu_acc_rows, npu_cols)`` (the execute unit's
    read port and write side), as ``NpuDatapath`` lends them; ``spad``, ``acc`` as in
    :class:`ExecBench`. With ``npu_load_follow`` the unit's ``spad_wait_*`` stay low."""

    def __init__(self, config):
        self.config = config
        self.spad = Scratchpad(config.npu_spad_rows, config.npu_lanes)
        self.acc = Accumulator(config.npu_acc_rows, config.npu_cols)
        self.unit = EltwiseUnit(config)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.spad, m.submodules.acc, m.submodules.unit = self.spad, self.acc, self.unit
        unit = self.unit
        wiring.connect(m, unit.spad_a, self.spad.ra)
        wiring.connect(m, unit.spad_b, self.spad.rw)
        wiring.connect(m, unit.acc_r, self.acc.r_exec)
        wiring.connect(m, unit.acc_w, self.acc.w_exec)
        return m


async def preload(ctx, bench, spad, acc, rows):
    """Write rows 0 .. ``rows`` - 1 of the SPAD and the ACC of :class:`ExecBench` (or
    :class:`EltwiseBench`) ``bench``
    (``spad[r]`` / ``acc[r]``: 16-bit / 32-bit lanes, as bits or signed) through the SPAD's
    write port and the ACC's LOAD port (every lane), one row of each per cycle."""
    mask = (1 << bench.config.npu_cols) - 1
    for r in range(rows):
        ctx.set(bench.spad.w.payload, {"addr": r, "data": [int(v) & 0xFFFF for v in spad[r]]})
        ctx.set(bench.spad.w.valid, 1)
        ctx.set(bench.acc.w_load.payload, {"addr": r, "data": [int(v) & 0xFFFF_FFFF
                                                               for v in acc[r]], "mask": mask})
        ctx.set(bench.acc.w_load.valid, 1)
        await ctx.tick()
    ctx.set(bench.spad.w.valid, 0)
    ctx.set(bench.acc.w_load.valid, 0)


async def issue(ctx, ex, fields):
    """Offer one COMPUTE (``fields``: the ``cmd`` payload) to execute unit ``ex`` and return
    once it is accepted (``valid`` low again)."""
    ctx.set(ex.cmd.payload, fields)
    ctx.set(ex.cmd.valid, 1)
    await ctx.tick().until(ex.cmd.ready)
    ctx.set(ex.cmd.valid, 0)


async def write_acc_row(ctx, bench, row, data):
    """Write ``data`` (every lane, as bits) to ACC row ``row`` of :class:`ExecBench` ``bench``
    through the LOAD write port, waiting for the port to be ready (the execute unit's writes
    come first)."""
    mask = (1 << bench.config.npu_cols) - 1
    ctx.set(bench.acc.w_load.payload, {"addr": row, "data": data, "mask": mask})
    ctx.set(bench.acc.w_load.valid, 1)
    await ctx.tick().until(bench.acc.w_load.ready)
    ctx.set(bench.acc.w_load.valid, 0)


async def read_acc_row(ctx, acc, row, lanes):
    """ACC row ``row`` (``lanes`` 32-bit values, as bits) read through the STORE read port; the
    port stays enabled."""
    ctx.set(acc.r_store.addr, row)
    ctx.set(acc.r_store.en, 1)
    await ctx.tick()
    return [ctx.get(acc.r_store.data[j]) for j in range(lanes)]


class LoadBench(wiring.Component):
    """``LoadUnit(config)`` with its DMA: ``Dma(load_row_bytes(config), 8, depth=4,
    read_overlap=npu_load_overlap)``; the members ``load`` and ``dma`` are the blocks, the
    DMA's ``bus`` is the bench's memory port."""

    def __init__(self, config):
        self.load = LoadUnit(config)
        self.dma = Dma(load_row_bytes(config), 8, depth=4,
                       read_overlap=config.npu_load_overlap)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.load = self.load
        m.submodules.dma = self.dma
        wiring.connect(m, self.load.rd_cmd, self.dma.rd_cmd)
        wiring.connect(m, self.dma.rd_rows, self.load.rd_rows)
        m.d.comb += [self.load.rd_done.eq(self.dma.rd_done),
                     self.load.rd_error.eq(self.dma.rd_error)]
        return m


async def load_cycle(ctx, load, writes, *, acc_ready, spad_lanes, acc_lanes, acc_mask=None):
    """One cycle of load unit ``load`` with the SPAD write port ready and the ACC's ready
    ``acc_ready``: append each row write made, ``("spad" | "acc", row, lanes)`` (``spad_lanes``
    / ``acc_lanes`` lanes), to ``writes`` (with ``acc_mask``, assert an ACC write's lane mask
    equals it); returns ``(done, bus_error)`` of the cycle."""
    ctx.set(load.acc_w.ready, acc_ready)
    ctx.set(load.spad_w.ready, 1)
    _, _, sv, sp, av, ap, done, err = await ctx.tick().sample(
        load.spad_w.valid, load.spad_w.payload, load.acc_w.valid,
        load.acc_w.payload, load.done, load.bus_error)
    if sv:
        writes.append(("spad", sp.addr, [sp.data[i] for i in range(spad_lanes)]))
    if av and acc_ready:
        if acc_mask is not None:
            assert ap.mask == acc_mask
        writes.append(("acc", ap.addr, [ap.data[i] for i in range(acc_lanes)]))
    return done, err


class PulseLog:
    """Background testbench (:meth:`run`) over the one-cycle pulse ``signal``: ``cycle`` counts
    the clock edges seen, ``pulses`` gets the cycle (from 0) of every edge ``signal`` was high
    before, and ``samples`` the values of ``extra`` signals sampled at every edge."""

    def __init__(self, signal, *extra):
        self.signal, self.extra = signal, extra
        self.cycle = 0
        self.pulses = []
        self.samples = []

    async def run(self, ctx):
        while True:
            _, _, pulse, *values = await ctx.tick().sample(self.signal, *self.extra)
            self.cycle += 1
            if self.extra:
                self.samples.append(values)
            if pulse:
                self.pulses.append(self.cycle - 1)
