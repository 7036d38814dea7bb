"""Test support for the systolic array: GEMM tiling into stream beats, and simulator drivers.

:class:`GemmJob` turns one GEMM (numpy operands, one precision) into the beats of
:class:`~dure.rtl.npu.array.SystolicArray`'s streams, tiled over N (``cols``) and K (``rows``),
with each K tile's result fed back as the next tile's ``init``, and collects the results. It
knows nothing about simulators, so Verilator harnesses use it too. :func:`run_job` drives an
Amaranth simulation with random idle cycles on every stream and checks the results stream's
handshake (payload stable while ``valid and not ready``).
"""

import random
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator
from dure.rtl.npu.isa import Precision
from dure.sim.gemm_plan import spans

from .npu_datapath import send_stream

__all__ = ["Tile", "GemmJob", "run_job"]


@dataclass
class Tile:
    """One (n0, k0) tile: ``rows`` weight rows of width ``cols`` and M activation rows."""
    index: int
    n0: int
    k0: int
    first_k: bool


class GemmJob:
    """``C = init + A @ B`` in one precision, as tiles for a rows x cols weight-stationary array.

    Parameters
    ----------
    a, b : numpy.ndarray
        int8 (INT8) or float16 (FP16), shapes (M, K) and (K, N), K >= 1.
    init : numpy.ndarray or None
        int32 or float32 of shape (M, N): starting value of every output (zero if None).
    rows, cols : int
        Array shape.
    """

    def __init__(self, a, b, init, rows, cols):
        if a.dtype == np.int8 and b.dtype == np.int8:
            self.precision = Precision.INT8
            acc = np.int32
        elif a.dtype == np.float16 and b.dtype == np.float16:
            self.precision = Precision.FP16
            acc = np.float32
        else:
            raise TypeError(f"a and b must both be int8 or both float16, not {a.dtype}, {b.dtype}")
        self.m, self.k = a.shape
        self.n = b.shape[1]
        if b.shape[0] != self.k or self.k < 1 or self.m < 1:
            raise ValueError(f"bad GEMM shapes {a.shape} x {b.shape}")
        if init is None:
            init = np.zeros((self.m, self.n), acc)
        if init.dtype != acc or init.shape != (self.m, self.n):
            raise TypeError(f"init must be {np.dtype(acc)} of shape {(self.m, self.n)}")
        self.rows, self.cols = rows, cols
        self.a_bits = a.view(np.uint8 if acc is np.int32 else np.uint16).astype(np.int64)
        self.b_bits = b.view(np.uint8 if acc is np.int32 else np.uint16).astype(np.int64)
        self.init_bits = init.view(np.uint32).astype(np.int64)
        self.result_bits = np.zeros((self.m, self.n), np.int64)
        self.tiles = [Tile(index, n0, k0, k0 == 0)
                      for index, (n0, k0) in enumerate(self.tiles_order())]
        self.done = [0] * len(self.tiles)

    def tiles_order(self):
        """``(n0, k0)`` of every tile: N tiles outer, K tiles inner (the planner's geometry,
        :func:`dure.sim.gemm_plan.spans`). A plan of its own on purpose: the array alone, no
        SPAD / ACC, each K tile's result the next one's ``init``, so K runs innermost."""
        return [(nt.start, kt.start) for nt in spans(self.n, self.cols)
                for kt in spans(self.k, self.rows)]

    def weight_beats(self, tile):
        """The ``rows`` payloads of ``weights`` for one tile."""
        beats = []
        for r in range(self.rows):
            k = tile.k0 + r
            lanes = [int(self.b_bits[k, tile.n0 + j]) if k < self.k and tile.n0 + j < self.n
                     else 0 for j in range(self.cols)]
            beats.append({"data": lanes, "active": int(k < self.k)})
        return beats

    def op_beats(self, tile):
        """The M payloads of ``ops`` for one tile; a later K tile needs the earlier one done."""
        if not tile.first_k and self.done[tile.index - 1] != self.m:
            raise RuntimeError("the previous K tile's results are not all in")
        source = self.init_bits if tile.first_k else self.result_bits
        return [{"a": self.a_lanes(tile, mi), "init": self.init_lanes(tile, mi, source),
                 "precision": self.precision, "swap": int(mi == 0), "last": int(mi == self.m - 1)}
                for mi in range(self.m)]

    def a_lanes(self, tile, mi):
        """Activation lanes of row ``mi`` of ``tile`` (zero beyond K)."""
        return [int(self.a_bits[mi, tile.k0 + r]) if tile.k0 + r < self.k else 0
                for r in range(self.rows)]

    def init_lanes(self, tile, mi, source=None):
        """Starting values of row ``mi`` (from ``init``, or ``source``) for ``tile``'s columns."""
        source = self.init_bits if source is None else source
        return [int(source[mi, tile.n0 + j]) if tile.n0 + j < self.n else 0
                for j in range(self.cols)]

    def take_result(self, tile, mi, lanes):
        """Store the result row ``mi`` of ``tile`` (cols lanes of 32-bit patterns)."""
        for j in range(self.cols):
            if tile.n0 + j < self.n:
                self.result_bits[mi, tile.n0 + j] = lanes[j]
        self.done[tile.index] += 1

    def result(self):
        """The finished result, int32 or float32 (bit patterns as the array produced them)."""
        bits = self.result_bits.astype(np.uint32)
        return bits.view(np.int32 if self.precision == Precision.INT8 else np.float32)


def run_job(dut, jobs, *, seed=0, idle=0.0, stall=0.0, timeout=200_000, vcd=None):
    """Run GEMM jobs back to back through ``dut`` in the Amaranth simulator.

    ``idle`` is the probability of an idle cycle before each beat on ``ops`` and ``weights``;
    ``stall`` the probability that ``results.ready`` is low in a cycle. Returns the number of
    cycles. Raises AssertionError on a handshake violation or a stray/missing result.
    """
    rng = random.Random(seed)
    order = [(job, tile) for job in jobs for tile in job.tiles]
    expect = [(job, tile, mi) for job, tile in order for mi in range(job.m)]
    state = {"received": 0, "cycles": 0}

    async def weights(ctx):
        for job, tile in order:
            await send_stream(ctx, dut.weights, job.weight_beats(tile), rng=rng, idle=idle)

    async def ops(ctx):
        for job, tile in order:
            if not tile.first_k:
                while job.done[tile.index - 1] != job.m:
                    await ctx.tick()
            await send_stream(ctx, dut.ops, job.op_beats(tile), rng=rng, idle=idle)

    async def results(ctx):
        held = None
        while state["received"] < len(expect):
            ready = int(rng.random() >= stall)
            ctx.set(dut.results.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.results.valid,
                                                           dut.results.payload)
            state["cycles"] += 1
            if state["cycles"] > timeout:
                raise AssertionError(f"timeout: {state['received']} of {len(expect)} results")
            value = payload.as_value().value
            if held is not None:
                assert valid and value == held, "results changed while valid and not ready"
            held = None
            if valid and not ready:
                held = value
            if valid and ready:
                job, tile, mi = expect[state["received"]]
                assert payload.precision == job.precision
                assert payload.last == int(mi == job.m - 1)
                job.take_result(tile, mi, [payload.data[j] for j in range(job.cols)])
                state["received"] += 1
        ctx.set(dut.results.ready, 0)
        for _ in range(8):   # nothing more may come out
            _, _, valid = await ctx.tick().sample(dut.results.valid)
            assert not valid, "a result beat with no matching operation"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(weights, background=True)
    sim.add_testbench(ops, background=True)
    sim.add_testbench(results)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return state["cycles"]
