"""Lowered layers (:class:`~dure.sim.layer_program.LayerProgram`) on the Verilator model of the
whole NPU (:mod:`dure.sim.verif.npu_verilator`): the descriptors pushed by the testbench's C++
loop (no core), the operands and parameters in its main-memory image; returns the output and
the performance counters over the layer (BUSY: first command queued to the last one done).
"""

import numpy as np
from dure.rtl.npu.commands import PERF_COUNTERS, Control

from . import npu_verilator as nv

__all__ = ["run_layer"]


def run_layer(model, program, inputs, *, base, size):
    """Run ``program`` with ``inputs`` (``[(addr, array)]``) on ``model`` (an
    :class:`~dure.sim.verif.npu_verilator.NpuModel`) whose main memory is ``size`` bytes at
    ``base``; returns ``(output array, {counter name: value}, ERROR register)``."""
    image = bytearray(size)
    for addr, data in [(a, np.ascontiguousarray(x).tobytes()) for a, x in inputs] + \
            list(program.blobs):
        image[addr - base:addr - base + len(data)] = data
    script = [nv.write("DMA_BASE", base), nv.write("DMA_SIZE", size),
              nv.write("CONTROL", Control.PERF_CLEAR.value)]
    script += [op for words in program.descriptors for op in nv.submit(words)]
    script += [nv.wait_idle(), nv.read("ERROR")]
    script += [nv.read(f"PERF_{name}_LO") for name in PERF_COUNTERS]
    run = model.run(script, image, base=base)
    dtype = np.dtype(program.out_dtype)
    n = int(np.prod(program.out_shape)) * dtype.itemsize
    off = program.out_addr - base
    out = np.frombuffer(bytes(run.memory[off:off + n]), dtype).reshape(program.out_shape)
    perf = dict(zip(PERF_COUNTERS, run.values[1:], strict=True))
    return out, perf, run.values[0]
