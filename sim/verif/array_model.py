"""The systolic array on Verilator, driven by a C++ loop from beat files (no Python per cycle).

:func:`build` converts a :class:`~dure.rtl.npu.array.SystolicArray` to Verilog and compiles it
with the testbench ``array_model.cpp`` beside this file through the build service
(:mod:`dure.sim.verilator_build`, folder ``build/npu_array/``). :meth:`ArrayModel.run` plays
:class:`~dure.sim.verif.array_jobs.GemmJob` s through it with pseudo-random idle cycles on
``ops`` and ``weights`` and random ``results.ready``, checks the results handshake (payload and
valid held while not ready) in C++, and returns per-beat cycle stamps for throughput figures.

A later K tile's ``init`` is the earlier tile's result: an ``ops`` beat may name the result beat
whose data is its ``init`` (``init_src``), and the testbench offers it only once that result has
arrived, exactly as a controller with an accumulator memory would.
"""

import inspect
import pathlib
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog

from ..verilator_build import STDERR, Verilation, build_model

__all__ = ["ArrayModel", "RunStats", "build"]

_TESTBENCH = pathlib.Path(__file__).resolve().with_suffix(".cpp")


@dataclass
class RunStats:
    """Cycle stamps of one run (cycles counted from the end of reset)."""
    op_cycles: np.ndarray       # cycle each ops beat was accepted
    weight_cycles: np.ndarray   # cycle each weights beat was accepted
    result_cycles: np.ndarray   # cycle each results beat was taken
    cycles: int                 # cycle after the last result


class ArrayModel:
    """A compiled Verilator model of one array configuration (see :func:`build`)."""

    def __init__(self, executable, rows, cols):
        self.executable, self.rows, self.cols = executable, rows, cols

    def run(self, jobs, *, seed=1, ops_idle=0.0, weights_idle=0.0, stall=0.0,
            max_cycles=10_000_000):
        """Play ``jobs`` (GemmJob list, run in order) through the model; fill their results.

        Idle and stall arguments are probabilities per cycle. Returns :class:`RunStats`.
        """
        weights, ops = [], []
        for job in jobs:
            if (job.rows, job.cols) != (self.rows, self.cols):
                raise ValueError(f"job is tiled for {job.rows}x{job.cols}, the model is "
                                 f"{self.rows}x{self.cols}")
            prev_base = None
            for tile in job.tiles:
                weights += [beat["data"] + [beat["active"]] for beat in job.weight_beats(tile)]
                base = len(ops)
                for mi in range(job.m):
                    src = -1 if tile.first_k else prev_base + mi
                    init = job.init_lanes(tile, mi) if tile.first_k else [0] * self.cols
                    ops.append(job.a_lanes(tile, mi) + init +
                               [job.precision.value, int(mi == 0), int(mi == job.m - 1), src])
                prev_base = base
        words = np.concatenate([
            np.array([len(weights), len(ops)], np.int64),
            np.array(weights, np.int64).ravel(), np.array(ops, np.int64).ravel(),
        ]).astype(np.uint32)
        per_mille = [int(round(p * 1000)) for p in (ops_idle, weights_idle, stall)]
        if any(not 0 <= p < 1000 for p in per_mille):
            raise ValueError("idle and stall probabilities must be in [0, 1)")
        with tempfile.TemporaryDirectory(dir=self.executable.parent, prefix="run-") as tmp:
            tmp = pathlib.Path(tmp)
            words.astype("<u4").tofile(tmp / "in.bin")
            result = subprocess.run(
                [str(self.executable), str(tmp / "in.bin"), str(tmp / "out.bin"), str(seed),
                 *map(str, per_mille), str(max_cycles)], capture_output=True, text=True)
            if result.returncode != 0:
                raise AssertionError(f"array model failed: {result.stderr.strip()}")
            out = np.fromfile(tmp / "out.bin", dtype="<u4").astype(np.int64)
        n_res = len(ops) * (self.cols + 3)
        res = out[:n_res].reshape(len(ops), self.cols + 3)
        op_cycles = out[n_res:n_res + len(ops)]
        w_cycles = out[n_res + len(ops):]
        index = 0
        for job in jobs:
            for tile in job.tiles:
                for mi in range(job.m):
                    row = res[index]
                    if row[self.cols] != job.precision.value or row[self.cols + 1] != (
                            mi == job.m - 1):
                        raise AssertionError(f"result {index}: wrong precision/last tag")
                    job.take_result(tile, mi, [int(v) for v in row[:self.cols]])
                    index += 1
        return RunStats(op_cycles, w_cycles, res[:, self.cols + 2],
                        int(res[-1, self.cols + 2]) + 1 if len(res) else 0)


def build(rows, cols, *, fp16=True, log=STDERR):
    """Compile ``SystolicArray(rows, cols, fp16=fp16)`` into an :class:`ArrayModel`.

    The model is built once through :func:`dure.sim.verilator_build.build_model` into
    ``build/npu_array/<shape>-<key>/``; the key covers every source the Verilog comes from, so
    the array is only elaborated when it has to be compiled.
    """
    from dure.rtl.npu.array import SystolicArray

    rtl = pathlib.Path(inspect.getfile(SystolicArray)).parent
    sources = [rtl / f"{name}.py" for name in ("isa", "pe", "mesh", "skew", "array")]
    sources += sorted((rtl / "fp").glob("*.py"))
    spec = Verilation(top="npu_array", sources=("npu_array.v", _TESTBENCH),
                      args=("-CFLAGS", f"-DDURE_ROWS={rows}", "-CFLAGS", f"-DDURE_COLS={cols}"))
    executable = build_model(
        "npu_array", f"{rows}x{cols}{'' if fp16 else '-int8'}", spec,
        files=lambda: {"npu_array.v": verilog.convert(SystolicArray(rows, cols, fp16=fp16),
                                                      name="npu_array", emit_src=False)},
        key=[f"{rows} {cols} {fp16}",
             *(f"{path.name}\0{path.read_text()}" for path in sources)], log=log)
    return ArrayModel(executable, rows, cols)
