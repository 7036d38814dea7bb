"""A lowered layer: the descriptors an operator planner emits and the bytes they read.

:class:`LayerProgram` is what :mod:`dure.sim.conv_plan`, :mod:`dure.sim.pool_plan` and
:mod:`dure.sim.eltwise_plan` return: the descriptor list that turns the NHWC input(s) at their
addresses into the NHWC output at ``out_addr``, and the parameter bytes (re-laid weights, folded
bias, requantization / scale rows) to place in main memory first. :func:`run_on_model` runs one
on the golden command model.
"""

from dataclasses import dataclass, field

import numpy as np
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode

__all__ = ["LayerProgram", "ParamArea", "run_on_model", "work_rows"]


@dataclass
class LayerProgram:
    """One layer lowered onto NPU commands.

    Attributes
    ----------
    descriptors : list of list of int
        8-word descriptors, in queue order (no FENCE: append one to wait for the output).
    blobs : list of (int, bytes)
        Parameter bytes and their main-memory addresses (inside ``[param_addr, param_addr +
        param_bytes)``).
    out_addr : int
    out_shape : tuple
    out_dtype : numpy.dtype
    macs : int
        Useful multiply-accumulates of the layer (the operator's own count).
    array_macs : int
        The products PERF_MACS counts (:func:`dure.sim.npu_model.perf_macs`: the COMPUTEs'
        and the element-wise MACs').
    lane_use : float
        Fraction of the array's R x C products that do useful work in the COMPUTEs (idle lanes
        for Cin < R, diagonal COMPUTEs at most 1/R).
    plan : object
        The blocking chosen (e.g. :class:`dure.sim.walk_layer.WalkPlan`).
    """
    descriptors: list
    blobs: list
    out_addr: int
    out_shape: tuple
    out_dtype: np.dtype
    macs: int = 0
    array_macs: int = 0
    lane_use: float = 0.0
    plan: object = None
    notes: list = field(default_factory=list)

    @property
    def param_bytes(self):
        """Bytes from the first blob to the end of the last (their 16-byte alignment gaps
        included, so ``[param_addr, param_addr + param_bytes)`` holds them all)."""
        if not self.blobs:
            return 0
        return max(a + len(b) for a, b in self.blobs) - min(a for a, _ in self.blobs)


def work_rows(descriptors):
    """The layer's *work* in cycles: the rows its COMPUTEs and ELTWISEs take, one per cycle
    (the sum of their ``m``; what PERF_COMPUTE counts for the COMPUTEs). A layer's *fixed
    cost* is its cycles minus this (issue 10: first descriptor fetched to last byte stored,
    minus the work), every stall included."""
    total = 0
    for words in descriptors:
        opcode, f = decode(words)
        if opcode in (Opcode.COMPUTE, Opcode.ELTWISE):
            total += f["m"]
    return total


class ParamArea:
    """Bump allocator of the parameter bytes of a layer (16-byte aligned pieces)."""

    def __init__(self, base):
        if base % 16:
            raise ValueError(f"param_addr must be 16-byte aligned, not 0x{base:x}")
        self.base = base
        self.blobs = []
        self.end = base

    def add(self, array):
        """Place ``array``'s bytes; return their address."""
        data = np.ascontiguousarray(array).tobytes()
        addr = self.end
        self.blobs.append((addr, data))
        self.end = addr + (len(data) + 15) // 16 * 16
        return addr


def run_on_model(model, program, inputs):
    """Place ``inputs`` (``[(addr, array), ...]``) and the program's parameter bytes in
    ``model`` (an :class:`dure.sim.npu_model.NpuModel` whose DMA window covers them), execute
    the descriptors, and return the output array. Raises RuntimeError if a command is
    refused."""
    for addr, array in inputs:
        model.write(addr, np.ascontiguousarray(array))
    for addr, data in program.blobs:
        model.write(addr, data)
    for i, words in enumerate(program.descriptors):
        code = model.execute(words)
        if code.value:
            raise RuntimeError(f"descriptor {i} refused: {code.name} ({words})")
    dtype = np.dtype(program.out_dtype)
    size = int(np.prod(program.out_shape)) * dtype.itemsize
    return np.frombuffer(model.read(program.out_addr, size), dtype).reshape(program.out_shape)
