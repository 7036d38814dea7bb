"""Run a compiled :class:`~.program.Program` on the simulated SoC: the whole model in one
firmware run.

The ``npu_model_run`` firmware (firmware/npu_jobs/npu_model_run/; on the NPU-less dot-unit
variants ``dot_model_run``, firmware/dot_apps/, :func:`runner_program`) walks the program's binary
layer table (format: :mod:`.program`): NPU layers as LIST doorbells (the NPU fetches their
descriptors from main memory), core layers (RESHAPE, INT8 ADD / pooling / SOFTMAX, FP16 ADD /
pooling, im2col) with the C kernels of firmware/npu/cpu_ops_*.c, in order, timing every layer
with the core's cycle counter. The memory image (weights, inputs, the command lists, the table)
goes in as data segments; the image, the results area and the boot block come back as dumps.
The command lists go to on-chip RAM (the part the firmware leaves free, after its image and
below its stack reserve) when the SoC's LIST fetcher has a path of its own there
(``config.npu_list_port``) and they fit, to main memory (after the arena) otherwise
(:func:`list_placement`).

A core layer with no C kernel yet (:func:`.program.core_record` gives None: explicit-padding
TFLite / FP16 pools, a depthwise convolution the planner refuses) makes :func:`run_program_soc`
refuse the program, naming the layers, unless ``host_fallback=True``: then the table is cut at
those layers, each part is one firmware run, and the host computes the missing layers between
them with the reference operators (:func:`.execute.run_core_layer`) on the dumped image;
:attr:`SocRun.host_layers` lists them.
"""

import dataclasses
import struct

import numpy as np

from .errors import UnsupportedModel
from .execute import load_inputs, read_outputs, run_core_layer
from .layer_table import TableError, pack_layer_table, results_bytes, unpack_results

__all__ = ["run_program_soc", "runner_program", "list_placement", "SocSegment", "SocRun",
           "missing_kernels", "intact_tensors", "check_intermediates", "tile_stats",
           "BOOT_BYTES"]

#: The boot block at the top of main memory (firmware/npu_jobs/npu_model_run/main.c, its
#: BOOT_BYTES): words 0-15 the table address, status, failing layer and the tiles' DMA
#: grant-wait cycles; 16 on the tile statistics (:func:`tile_stats`).
BOOT_BYTES = 256
#: Tiles whose statistics the boot block holds.
STAT_TILES = 8


def tile_stats(boot):
    """The tile statistics of a ``npu_model_run`` boot block (``boot``: its BOOT_BYTES bytes),
    all in core cycles over the walk, summed over its ``NPU_TILES`` layers (``layers`` of
    them): ``launch`` from each such layer's start until the last tile's FENCE was pushed,
    ``cycles`` until every tile was seen idle, ``done[t]`` until tile t was first seen idle,
    ``imbalance`` each layer's cycles minus the mean of its tiles' ``done`` (waiting for the
    slowest tile);
    ``busy[t]`` tile t's NPU busy cycles over the whole walk (its performance counter, low 32
    bits, every layer), ``wait[t]`` its DMA grant-wait cycles (0 on a one-tile SoC)."""
    w = struct.unpack(f"<{BOOT_BYTES // 4}I", boot)
    n = STAT_TILES
    return {"layers": w[16], "launch": w[17], "cycles": w[18], "done": list(w[24:24 + n]),
            "busy": list(w[32:32 + n]), "wait": list(w[4:4 + n]), "imbalance": w[19]}


PROGRAM = "npu_model_run"
#: The runner of the NPU-less dot-unit variants (compiler/dot_target.py): the same walker and
#: memory contract, firmware/dot_apps/dot_model_run/.
DOT_PROGRAM = "dot_model_run"


def runner_program(config):
    """``(program, firmware folder)`` of the firmware that walks a layer table on ``config``:
    ``dot_model_run`` on a variant with the dot-product unit and no NPU, else
    ``npu_model_run``."""
    if not config.npu_rows and config.dot_unit:
        return DOT_PROGRAM, "dot_apps"
    return PROGRAM, "npu_jobs"


def list_placement(config, elf, commands_bytes, main_base):
    """Where the command lists go: ``(address, in_ram)``. In on-chip RAM after ``elf``'s image
    (16-byte aligned, the firmware's ``__heap_start``) when ``config.npu_list_port`` and the
    ``commands_bytes`` fit below the stack reserve (``STACK_RESERVE``, the firmware's
    ``__stack_size``), else at ``main_base`` (the program's ``commands_base``)."""
    from dure.sim.elf import load_elf
    from dure.sim.npu_job_table import STACK_RESERVE

    if not config.npu_list_port or not commands_bytes:
        return main_base, False
    ram = config.region("ram")
    top = max(a + len(d) for a, d in load_elf(elf, config).segments if a >= ram.base)
    free = (top + 15) & ~15
    if free + commands_bytes <= ram.base + ram.size - STACK_RESERVE:
        return free, True
    return main_base, False


@dataclasses.dataclass
class SocSegment:
    """One firmware run: the program's layer indices it walked, their descriptors, and the
    counters the firmware reports (``cycles`` of the whole walk, ``layer_cycles`` per layer,
    ``macs``, ``busy``, ``dma_rd``, ``dma_wr`` from the NPU's performance counters;
    ``tiles``: the per-tile statistics of :func:`tile_stats`)."""

    layers: list
    commands: int
    cycles: int
    macs: int
    busy: int
    dma_rd: int
    dma_wr: int
    layer_cycles: list
    tiles: dict = None


@dataclasses.dataclass
class SocRun:
    """A whole program's run: ``segments`` (one unless ``host_fallback`` cut the table),
    ``layer_cycles`` per program layer (None for a host layer, 0 for an ``alias`` layer,
    which runs nothing), ``host_layers`` (computed by the host), ``image``: main memory from
    its base to the arena's end after the run (for :func:`check_intermediates`)."""

    segments: list
    layer_cycles: list
    host_layers: list
    image: bytes = dataclasses.field(default=b"", repr=False)

    @property
    def cycles(self):
        return sum(s.cycles for s in self.segments)

    @property
    def macs(self):
        return sum(s.macs for s in self.segments)


class _Image:
    """The low part of main memory as a bytearray with ``read`` / ``write``."""

    def __init__(self, base, size):
        self.base, self.data = base, bytearray(size)

    def read(self, addr, n):
        return bytes(self.data[addr - self.base:addr - self.base + n])

    def write(self, addr, data):
        self.data[addr - self.base:addr - self.base + len(data)] = data


def missing_kernels(program):
    """Indices of the core layers no C kernel computes."""
    records = program.layer_records(program.table_layout()[0])
    index = program.table_layers()
    return [index[k] for k, r in enumerate(records) if r is None]


def _describe(program, indices):
    return ", ".join(f"layer {i} ({program.layers[i].kind} of node {program.layers[i].op.index}"
                     f" {program.layers[i].op.name!r})" for i in indices)


def run_program_soc(program, inputs, *, host_fallback=False, max_cycles=400_000_000,
                    runner=None):
    """Execute ``program`` on the simulated SoC; returns ``(outputs, SocRun)``.

    ``runner``: what runs the firmware, called as ``runner(elf, config, max_cycles=,
    data=[(addr, bytes)], dumps=[(addr, length)])`` and returning an object with ``status``,
    ``exit_code`` and ``dumps`` (a dict keyed by ``(addr, length)``); default
    :func:`dure.sim.runner.run_elf` (the Verilator model of the SoC). A board runs the same
    firmware and memory image through its boot link (``dure board infer``).

    Raises :class:`UnsupportedModel` when a core layer has no C kernel and ``host_fallback``
    is off; RuntimeError when the firmware stops with an error (its :class:`TableError` name,
    the layer, and the NPU's error code and descriptor when the NPU refused one)."""
    from dure.sim.npu_job_build import job_elf
    from dure.sim.runner import run_elf

    run_elf = runner or run_elf
    config = program.config
    main = config.region("main")
    commands_base, table_addr, results_addr = program.table_layout()
    records = program.layer_records(commands_base)
    index = program.table_layers()          # records[k] is layer index[k]; aliases have none
    host = [index[k] for k, r in enumerate(records) if r is None]
    if host and not host_fallback:
        raise UnsupportedModel(
            f"no C kernel on the core for {_describe(program, host)}; the whole model cannot "
            "run on the SoC (the host can compute these layers: host_fallback / --host-fallback)")
    commands = program.commands_bytes()
    end = results_addr + results_bytes(len(records))
    boot_addr = main.base + main.size - BOOT_BYTES
    if end > boot_addr:
        raise UnsupportedModel("the program, its command lists and layer table do not fit in "
                               f"main memory ({end - main.base} of {main.size} bytes)")
    image = _Image(main.base, program.arena_base + program.arena_size - main.base)
    load_inputs(image, program, inputs)
    elf = job_elf(config, *runner_program(config))
    commands_base, ram_lists = list_placement(config, elf, len(commands), commands_base)
    records = program.layer_records(commands_base)
    segments, part = [], []
    layer_cycles = [0 if la.kind == "alias" else None for la in program.layers]
    for k, rec in enumerate(records + [None]):
        if rec is not None:
            part.append(k)
            continue
        if part:
            seg = _walk(program, [index[j] for j in part], [records[j] for j in part], image,
                        elf, commands, commands_base, table_addr, results_addr, boot_addr,
                        max_cycles, run_elf, ram_lists)
            segments.append(seg)
            for j, c in zip(part, seg.layer_cycles, strict=True):
                layer_cycles[index[j]] = c
            part = []
        if k < len(records):
            run_core_layer(image, program, program.layers[index[k]])
    run = SocRun(segments, layer_cycles, host, bytes(image.data))
    return read_outputs(image, program), run


def _walk(program, indices, records, image, elf, commands, commands_base, table_addr,
          results_addr, boot_addr, max_cycles, run_elf, ram_lists):
    table = pack_layer_table(records, results_addr)
    nres = results_bytes(len(records))
    # boot word 3: the lists lie in on-chip RAM (the firmware widens the DMA window)
    boot = struct.pack("<4I", table_addr, 0, 0, int(ram_lists)) + bytes(BOOT_BYTES - 16)
    data = [(image.base, bytes(image.data)), (table_addr, table), (boot_addr, boot)]
    if commands:
        data.append((commands_base, commands))
    result = run_elf(elf, program.config, max_cycles=max_cycles, data=data,
                     dumps=[(image.base, len(image.data)), (results_addr, nres),
                            (boot_addr, BOOT_BYTES)])
    boot = struct.unpack("<16I", result.dumps[(boot_addr, BOOT_BYTES)][:64])
    res = unpack_results(result.dumps[(results_addr, nres)], len(records))
    if result.status != "pass" or boot[1] != TableError.OK:
        if result.status in ("pass", "fail") and boot[1]:
            name = TableError(boot[1]).name if boot[1] in TableError._value2member_map_ else \
                str(boot[1])
            where = indices[boot[2]] if boot[2] < len(indices) else boot[2]
            detail = f"{name} at layer {where}"
            if boot[1] == TableError.NPU:
                detail += f" (NPU error {res['npu_error']} at descriptor {res['npu_index']})"
        else:
            detail = f"status {result.status}, exit {result.exit_code}"
        raise RuntimeError(f"the {runner_program(program.config)[0]} firmware failed: "
                           f"{detail}")
    image.data[:] = result.dumps[(image.base, len(image.data))]
    count = sum(r[3] for r in records if r[0] == 1)
    return SocSegment(list(indices), count, res["cycles"], res["macs"], res["busy"],
                      res["dma_rd"], res["dma_wr"], res["layer_cycles"],
                      tile_stats(result.dumps[(boot_addr, BOOT_BYTES)]))


def intact_tensors(program):
    """The tensors the reference computes whose bytes are still in memory after the run (no
    later layer writes over them), by name: what a dump of the image can check."""
    spans = {n: (program.tensor_addr[n], program.tensor_addr[n] + int(np.prod(shape)) *
                 np.dtype(dt).itemsize) for n, (dt, shape) in program.buffers.items()}
    out = []
    for i, layer in enumerate(program.layers):
        for name in layer.writes:
            if name not in {t for op in program.graph.ops for t in op.outputs}:
                continue
            a, b = spans[name]
            later = [spans[w] for la in program.layers[i + 1:] for w in la.writes]
            if all(e <= a or s >= b for s, e in later):
                out.append(name)
    return out


def check_intermediates(program, image_bytes, inputs):
    """Compare every intact tensor (:func:`intact_tensors`) in the dumped image with the
    reference; returns ``(checked names, differing names)``."""
    from .reference import run_all

    values = run_all(program.graph, inputs)
    base = program.config.region("main").base
    checked, bad = [], []
    for name in intact_tensors(program):
        want = np.ascontiguousarray(values[name])
        a = program.tensor_addr[name] - base
        got = bytes(image_bytes[a:a + want.nbytes])
        checked.append(name)
        if got != want.tobytes():
            bad.append(name)
    return checked, bad
