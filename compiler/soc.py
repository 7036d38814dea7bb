"""Run a compiled :class:`~.program.Program` on the simulated SoC.

The NPU layers run on the RTL: each run of consecutive NPU layers is one execution of the
``npu_program`` firmware (firmware/npu_jobs/npu_program/), which hands the layers' descriptors
in main memory to the NPU as LIST doorbells (the NPU fetches them) and waits for it; the memory
image (weights, activations) goes in as data segments and comes back as a dump. The core layers
between those runs are executed by the host with the reference operators
(:func:`.execute.run_core_layer`) on the dumped image, because the firmware that computes them
on the core is not written yet: so this checks every NPU command list, address and the memory
plan on the hardware, and times the NPU layers in SoC cycles (first doorbell to idle).
"""

import dataclasses
import struct

from .execute import load_inputs, read_outputs, run_core_layer
from .memory_plan import align_up

__all__ = ["run_program_soc", "SocSegment"]

LIST_MAGIC = 0x5453_494C        # "LIST"
HEADER_BYTES = 64


@dataclasses.dataclass
class SocSegment:
    """One firmware run: the program's layer indices, descriptors, and the counters the
    firmware reports (``cycles`` from the first push to idle, ``macs``, ``busy``, ``dma_rd``,
    ``dma_wr`` from the NPU's performance counters)."""

    layers: list
    commands: int
    cycles: int
    macs: int
    busy: int
    dma_rd: int
    dma_wr: int


class _Image:
    """The low part of main memory as a bytearray with ``read`` / ``write``."""

    def __init__(self, base, size):
        self.base, self.data = base, bytearray(size)

    def read(self, addr, n):
        return bytes(self.data[addr - self.base:addr - self.base + n])

    def write(self, addr, data):
        self.data[addr - self.base:addr - self.base + len(data)] = data


def run_program_soc(program, inputs, *, max_cycles=200_000_000):
    """Execute ``program`` with its NPU layers on the simulated SoC; returns ``(outputs,
    [SocSegment])``. Raises RuntimeError when the firmware does not pass (with the NPU's error
    code and sequence number when it reported one)."""
    from dure.sim.npu_job_build import job_elf
    from dure.sim.runner import run_elf

    config = program.config
    main = config.region("main")
    used = align_up(program.arena_base + program.arena_size, 64) - main.base
    list_base = main.base + used
    header_addr = main.base + main.size - HEADER_BYTES
    image = _Image(main.base, used)
    load_inputs(image, program, inputs)
    elf = job_elf(config, "npu_program")
    segments, run = [], []
    layers = program.layers + [None]
    for i, layer in enumerate(layers):
        if layer is not None and layer.where == "npu":
            run.append(i)
            continue
        if run:
            segments.append(_segment(program, run, image, elf, list_base, header_addr,
                                     max_cycles, run_elf))
            run = []
        if layer is not None:
            run_core_layer(image, program, layer)
    return read_outputs(image, program), segments


def _segment(program, indices, image, elf, list_base, header_addr, max_cycles, run_elf):
    words = [w for i in indices for d in program.layers[i].commands for w in d]
    count = len(words) // 8
    if list_base + 4 * len(words) > header_addr:
        raise RuntimeError("the descriptor list does not fit in main memory")
    header = struct.pack("<3I", LIST_MAGIC, count, list_base) + bytes(HEADER_BYTES - 12)
    result = run_elf(elf, program.config, max_cycles=max_cycles,
                     data=[(image.base, bytes(image.data)),
                           (list_base, struct.pack(f"<{len(words)}I", *words)),
                           (header_addr, header)],
                     dumps=[(image.base, len(image.data)), (header_addr, HEADER_BYTES)])
    back = struct.unpack("<16I", result.dumps[(header_addr, HEADER_BYTES)])
    if result.status != "pass":
        detail = (f"NPU error {back[3]} at command {back[4]}" if back[3] else
                  f"status {result.status}, exit {result.exit_code}")
        raise RuntimeError(f"layers {indices}: the npu_program firmware failed ({detail})")
    image.data[:] = result.dumps[(image.base, len(image.data))]

    def u64(k):
        return back[k] | back[k + 1] << 32

    return SocSegment(list(indices), count, u64(5), u64(7), u64(9), u64(11), u64(13))
