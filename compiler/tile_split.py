"""A compiled program's NPU layers split across the NPU tiles of a multi-tile SoC.

:func:`split_program` plans each NPU layer of a :class:`~.program.Program` over ``tiles`` tiles
(``SoCConfig.npu_tiles``): every tile gets its own descriptor list (ending with a FENCE) that
computes a disjoint part of the layer's output, reading only the layer's inputs and
parameters, so the lists run in parallel on the tiles and the layer is done when every tile
is idle (the next layer waits for all of them). Splits:

- **GEMM layers** (fully connected, 1x1 and im2col convolutions): by output columns, in whole
  array-width column tiles (bias, scale / multiplier / shift and B offset, full strides), or
  by output rows (the GEMM's M: batch rows of a fully connected layer, image rows of a
  convolution), whichever keeps more tiles busy (then the smaller largest share, then
  columns). Each part is the GEMM planner's stream for the sub-GEMM
  (:func:`.lower_layers.emit_gemm`).
- **Convolution, depthwise convolution, pooling** (``npu_op`` layers of the operator
  planners): by output channels, in whole array-width chunks (``min(rows, cols)`` for the
  diagonal depthwise layers). Each tile's part is the planner's own program for channels
  ``c0:c1`` (:func:`.npu_ops.layer_planner` with ``channels``; its parameter bytes go to the
  tile-parameter area after the arena), whose dense ``c1 - c0``-channel NHWC rows are then
  moved into the whole tensors: every STORE (and, for depthwise and pooling, every LOAD of the
  input) is rewritten from the dense layout to the whole tensor's (pixel ``p``, channel ``c``
  at ``base + (p * C + c0 + c) * elem``, the stride scaled by ``C / (c1 - c0)``). A transfer
  whose rows do not stay inside one pixel's channels cannot be moved: the layer then runs on
  one tile.
- **Batch-1 fully connected on the GEMV plan** (``gemv`` layers): by output channels, in
  whole array-width chunks; each tile streams only its channels' weights (the GEMV's own
  program for those channels, :func:`.lower_layers.gemv_layer`'s ``channels``), so the
  weight traffic is divided between the tiles, which pays where each tile has its own memory port.
- **ADD** (element-wise unit): by image rows (of the ``N * H`` rows), each tile the
  planner's program for its rows at the rows' offsets in the three tensors.
- every layer that cannot be split (one output column tile, one channel chunk, one row): one
  tile (tile 0), the others idle for that layer.

Splitting never changes an output's arithmetic (each output element is computed by exactly one
tile, by the same COMPUTE sequence over K as on one tile), so the result is bit-exact with the
one-tile program; :func:`run_split` checks it on the NPU command model (one
:class:`~dure.sim.npu_model.NpuModel` per tile on one memory).
"""

import dataclasses

import numpy as np
from dure.rtl.npu.commands import ElemType, Opcode, OutType
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.npu_model import NpuModel, RegionMemory

from .core_record import core_record
from .layer_table import HEADER_WORDS, RECORD_WORDS, LayerKind
from .npu_ops import layer_planner, param_image

__all__ = ["TileLayer", "SplitProgram", "split_program", "run_split", "run_split_soc",
           "share", "MAX_TILES"]

#: Tile lists one layer-table record holds (:class:`.layer_table.LayerKind` ``NPU_TILES``).
MAX_TILES = 8

_ELEM_BYTES = {ElemType.INT8.value: 1, ElemType.FP16.value: 2, ElemType.WORD32.value: 4}
_OUT_BYTES = {OutType.INT8.value: 1, OutType.INT32.value: 4, OutType.FP16.value: 2,
              OutType.FP32.value: 4}


def share(units, parts, part):
    """``(first, count)``: part ``part`` of ``parts`` near-equal shares of ``units`` (the
    first ``units % parts`` shares one larger; as the firmware's ``npu_gemm_split``)."""
    base, extra = divmod(units, parts)
    return part * base + min(part, extra), base + (part < extra)


@dataclasses.dataclass
class TileLayer:
    """One NPU layer's per-tile work: ``lists[t]`` the descriptors of tile ``t`` (each ends
    with a FENCE; ``len(lists)`` tiles take part), ``how`` the split (``cols``, ``rows``,
    ``channels`` or ``one``) and ``ranges[t]`` the ``(first, count)`` each tile computes (in
    columns, rows or channels)."""

    lists: list
    how: str
    ranges: list


@dataclasses.dataclass
class SplitProgram:
    """``program`` with its NPU layers split over ``tiles`` tiles: ``layers[i]`` a
    :class:`TileLayer` for NPU layer ``i`` (None for core layers); ``params`` the tile
    parameter bytes (channel-split layers' own weights and constants) at ``params_base``,
    which lies after the arena (``params_base + len(params)`` within main memory)."""

    program: object
    tiles: int
    layers: list
    params: bytes
    params_base: int

    @property
    def used(self):
        """Most tiles any layer uses."""
        return max((len(la.lists) for la in self.layers if la), default=0)

    @property
    def end(self):
        """First byte after the tile parameter area."""
        return self.params_base + len(self.params)

    def layout(self):
        """``(commands_base, table_addr, results_addr)``: the tile lists after the tile
        parameters (64-byte aligned), layer after layer and tile after tile, the layer table
        after them, the results after the table (as :meth:`.program.Program.table_layout`)."""
        commands_base = _up(self.end)
        count = sum(len(w) for la in self.layers if la for w in la.lists)
        table_addr = _up(commands_base + 32 * count)
        size = 4 * (HEADER_WORDS + RECORD_WORDS * len(self.program.table_layers()))
        return commands_base, table_addr, _up(table_addr + size)

    def commands_bytes(self):
        """Every tile list, layer after layer and tile after tile (8 words a descriptor)."""
        words = [w for la in self.layers if la for lst in la.lists for d in lst for w in d]
        return np.array(words, "<u4").tobytes()

    def layer_records(self, commands_base):
        """The layer table's records (:mod:`.program`): an NPU layer on one tile is an ``NPU``
        record, a split one an ``NPU_TILES`` record; core layers as the program's."""
        records, first = [], commands_base
        for layer, tiled in zip(self.program.layers, self.layers, strict=True):
            if layer.kind == "alias":       # no record (Program.table_layers)
                continue
            if tiled is None:
                records.append(core_record(self.program, layer))
                continue
            rec = [0] * RECORD_WORDS
            if len(tiled.lists) == 1:
                rec[0] = LayerKind.NPU
            else:
                rec[0], rec[1] = LayerKind.NPU_TILES, len(tiled.lists)
            for t, lst in enumerate(tiled.lists):
                rec[2 + 2 * t], rec[3 + 2 * t] = first, len(lst)
                first += 32 * len(lst)
            records.append(rec)
        return records


def _up(v, align=64):
    return (v + align - 1) // align * align


def _fence():
    return encode(Opcode.FENCE)


def _gemm_split(config, layer, tiles):
    """``(how, ranges)`` of a GEMM layer (module docstring)."""
    m, _, n = layer.gemm
    cols, rows = config.npu_cols, config.npu_rows
    nt, mt = -(-n // cols), -(-m // rows)
    options = []
    for how, units, unit, total in (("cols", nt, cols, n), ("rows", mt, rows, m)):
        used = min(tiles, units)
        ranges = []
        for t in range(used):
            first, count = share(units, used, t)
            lo, hi = first * unit, min((first + count) * unit, total)
            ranges.append((lo, hi - lo))
        options.append((-used, max(c for _, c in ranges) * (m if how == "cols" else n),
                        how == "rows", how, ranges))
    _, _, _, how, ranges = min(options)
    return how, ranges


def _gemm_lists(config, program, layer, tiles):
    from .lower_layers import emit_gemm
    m, _, n = layer.gemm
    how, ranges = _gemm_split(config, layer, tiles)
    if len(ranges) == 1:
        return TileLayer([list(layer.commands)], "one", [(0, n)])
    lists = []
    for first, count in ranges:
        part = dict(cols=(first, first + count)) if how == "cols" else \
            dict(rows=(first, first + count))
        lists.append(emit_gemm(config, layer, program.tensor_addr, program.weight_addr, **part)
                     + [_fence()])
    return TileLayer(lists, how, ranges)


def _move(words, regions):
    """``words`` with the DRAM rows of every LOAD / STORE that falls in one of ``regions``
    (``(base, pixels, dense_row, full_row, offset, opcode)``: a dense tensor of ``pixels``
    rows of ``dense_row`` bytes at ``base`` that really has rows of ``full_row`` bytes and
    starts ``offset`` bytes into each) moved there; ValueError when a transfer's rows leave
    one pixel's channels."""
    out = []
    for w in words:
        opcode, f = decode(w)
        if opcode not in (Opcode.LOAD, Opcode.STORE) or (opcode is Opcode.LOAD and f["fill"]):
            out.append(list(w))
            continue
        eb = _ELEM_BYTES[f["elem"]] if opcode is Opcode.LOAD else _OUT_BYTES[f["out"]]
        for base, pixels, dense, full, offset, which in regions:
            off = f["dram_addr"] - base
            if which is not opcode or not 0 <= off < dense * pixels:
                continue
            pixel, within = divmod(off, dense)
            span = f["cols"] * eb
            if within + span > dense or (f["rows"] > 1 and f["dram_stride"] % dense):
                raise ValueError("a transfer's rows leave one pixel's channels")
            f["dram_addr"] = base + pixel * full + offset + within
            if f["rows"] > 1:
                f["dram_stride"] = f["dram_stride"] // dense * full
            break
        out.append(encode(opcode, **f))
    return out


def _channel_lists(config, program, layer, tiles, params):
    """The per-tile lists of a convolution / depthwise / pooling layer split by output
    channels, appending each tile's parameter bytes to ``params`` (a bytearray starting at
    the tile-parameter base ``params[0]``); None when it is not split."""
    graph, op = program.graph, layer.op
    if op.kind.name == "ADD":
        return _row_lists(config, program, layer, tiles, params)
    if op.kind.name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return None
    cout = graph.tensors[op.outputs[0]].shape[-1]
    diagonal = op.kind.name != "CONV_2D"
    chunk = min(config.npu_rows, config.npu_cols) if diagonal else config.npu_cols
    units = -(-cout // chunk)
    used = min(tiles, units)
    if used < 2:
        return None
    dtype = np.dtype(program.buffers[layer.writes[0]][0])
    eb = dtype.itemsize
    x_addr, out_addr = program.tensor_addr[layer.reads[0]], program.tensor_addr[layer.writes[0]]
    out_pixels = int(np.prod(graph.tensors[op.outputs[0]].shape[:-1]))
    x_pixels = int(np.prod(graph.tensors[op.inputs[0]].shape[:-1]))
    base, blob = params
    lists, ranges, images = [], [], []
    for t in range(used):
        first, count = share(units, used, t)
        c0, c1 = first * chunk, min((first + count) * chunk, cout)
        planned = layer_planner(graph, op, config, program.precision, channels=(c0, c1))
        if planned is None:
            return None
        plan, _ = planned
        param_addr = _up(base + len(blob) + sum(len(i) for i in images), 64)
        prog = plan([x_addr], out_addr, param_addr)
        regions = [(out_addr, out_pixels, (c1 - c0) * eb, cout * eb, c0 * eb, Opcode.STORE)]
        if diagonal:
            regions.append((x_addr, x_pixels, (c1 - c0) * eb, cout * eb, c0 * eb, Opcode.LOAD))
        try:
            words = _move([list(d) for d in prog.descriptors], regions)
        except ValueError:
            return None
        image = param_image(prog, param_addr)
        pad = param_addr - (base + len(blob) + sum(len(i) for i in images))
        images.append(bytes(pad) + image)
        lists.append(words + [_fence()])
        ranges.append((c0, c1 - c0))
    for image in images:
        blob.extend(image)
    return TileLayer(lists, "channels", ranges)


def _gemv_lists(config, program, layer, tiles, params):
    """The per-tile lists of a batch-1 FULLY_CONNECTED on the GEMV plan (layer kind ``gemv``)
    split by output channels in whole array-width chunks (as :func:`_channel_lists`): each tile
    streams the weights of its channels only, so the layer's weight traffic is shared, not
    repeated; None when it is not split."""
    n = layer.gemm[2]
    chunk = config.npu_cols
    units = -(-n // chunk)
    used = min(tiles, units)
    if used < 2:
        return None
    plan = layer.plan[0]
    x_addr, out_addr = program.tensor_addr[layer.reads[0]], program.tensor_addr[layer.writes[0]]
    base, blob = params
    lists, ranges, images = [], [], []
    for t in range(used):
        first, count = share(units, used, t)
        c0, c1 = first * chunk, min((first + count) * chunk, n)
        at = base + len(blob) + sum(len(i) for i in images)
        param_addr = _up(at, 64)
        try:
            prog = plan([x_addr], out_addr, param_addr, channels=(c0, c1))
        except ValueError:
            return None
        images.append(bytes(param_addr - at) + param_image(prog, param_addr))
        lists.append([list(d) for d in prog.descriptors] + [_fence()])
        ranges.append((c0, c1 - c0))
    for image in images:
        blob.extend(image)
    return TileLayer(lists, "channels", ranges)


def _row_lists(config, program, layer, tiles, params):
    """The per-tile lists of an ADD split by image rows (as :func:`_channel_lists`)."""
    graph, op = program.graph, layer.op
    shape = graph.tensors[op.outputs[0]].shape
    units = int(np.prod(shape[:-2]))
    row = int(np.prod(shape[-2:])) * np.dtype(program.buffers[layer.writes[0]][0]).itemsize
    used = min(tiles, units)
    if used < 2:
        return None
    base, blob = params
    lists, ranges, images = [], [], []
    for t in range(used):
        r0, count = share(units, used, t)
        planned = layer_planner(graph, op, config, program.precision, rows=(r0, r0 + count))
        if planned is None:
            return None
        at = base + len(blob) + sum(len(i) for i in images)
        param_addr = _up(at, 64)
        prog = planned[0]([program.tensor_addr[n] + r0 * row for n in layer.reads],
                                program.tensor_addr[layer.writes[0]] + r0 * row, param_addr)
        images.append(bytes(param_addr - at) + param_image(prog, param_addr))
        lists.append([list(d) for d in prog.descriptors] + [_fence()])
        ranges.append((r0, count))
    for image in images:
        blob.extend(image)
    return TileLayer(lists, "rows", ranges)


def split_program(program, tiles):
    """Split ``program``'s NPU layers over ``tiles`` tiles (module docstring); returns a
    :class:`SplitProgram`. ``tiles`` may exceed the program's variant's ``npu_tiles`` (the
    plan does not depend on it); ValueError for ``tiles < 1`` or a tile-parameter area that
    does not fit in main memory."""
    if not isinstance(tiles, int) or not 1 <= tiles <= MAX_TILES:
        raise ValueError(f"tiles must be an integer in 1..{MAX_TILES}, not {tiles!r}")
    config = program.config
    base = _up(program.arena_base + program.arena_size)
    blob = bytearray()
    layers = []
    for layer in program.layers:
        if layer.where != "npu":
            layers.append(None)
            continue
        split = None
        if tiles > 1 and layer.kind == "gemm":
            split = _gemm_lists(config, program, layer, tiles)
        elif tiles > 1 and layer.kind == "npu_op":
            split = _channel_lists(config, program, layer, tiles, (base, blob))
        elif tiles > 1 and layer.kind == "gemv":
            split = _gemv_lists(config, program, layer, tiles, (base, blob))
        layers.append(split or TileLayer([list(layer.commands)], "one", [(0, 0)]))
    main = config.region("main")
    if base + len(blob) > main.end:
        raise ValueError(f"the tile parameters ({len(blob)} bytes from 0x{base:08X}) do not "
                         f"fit in main memory (ends at 0x{main.end:08X})")
    return SplitProgram(program, tiles, layers, bytes(blob), base)


def run_split(split, inputs):
    """Run ``split`` on the NPU command model: one :class:`NpuModel` per tile on one shared
    memory, each NPU layer's tile lists one after the other (they write disjoint outputs and
    read only the layer's inputs, so any order is the parallel run's result), core layers with
    the reference (:func:`.execute.run_core_layer`). Returns ``(outputs, memory)``; raises
    RuntimeError if a tile's model refuses a command."""
    from dure.rtl.npu.commands import ErrorCode

    from .execute import load_inputs, read_outputs, run_core_layer

    program = split.program
    config = program.config
    main = config.region("main")
    memory = RegionMemory({main.base: bytes(main.size)})
    models = []
    for _ in range(max(split.used, 1)):
        model = NpuModel(config, memory)
        model.set_window(main.base, main.size)
        models.append(model)
    load_inputs(memory, program, inputs)
    memory.write(split.params_base, split.params)
    for i, (layer, tiled) in enumerate(zip(program.layers, split.layers, strict=True)):
        if tiled is None:
            run_core_layer(memory, program, layer)
            continue
        for t, words in enumerate(tiled.lists):
            codes = models[t].run(words)
            bad = [(j, c) for j, c in enumerate(codes) if c != ErrorCode.NONE]
            if bad:
                raise RuntimeError(f"layer {i} tile {t}: the NPU refused command {bad[0][0]} "
                                   f"({bad[0][1].name})")
    return read_outputs(memory, program), memory


def run_split_soc(split, inputs, *, max_cycles=400_000_000):
    """Run ``split`` on the simulated SoC of its program's variant (which needs at least
    ``split.used`` tiles): one ``npu_model_run`` firmware run over the layer table of
    :meth:`SplitProgram.layer_records` (split layers as ``NPU_TILES`` records). Returns
    ``(outputs, SocRun)`` as :func:`.soc.run_program_soc` (``image``: main memory to the
    arena's end, for :func:`.soc.check_intermediates`); every core layer needs a C kernel.
    Raises ValueError when the SoC has fewer tiles than the split uses."""
    from dure.sim.npu_job_build import job_elf
    from dure.sim.runner import run_elf

    from .errors import UnsupportedModel
    from .execute import load_inputs, read_outputs
    from .soc import BOOT_BYTES, PROGRAM, SocRun, _Image, _walk

    program = split.program
    config = program.config
    if split.used > config.npu_tiles:
        raise ValueError(f"the split uses {split.used} tiles; {config.name} has "
                         f"{config.npu_tiles}")
    main = config.region("main")
    commands_base, table_addr, results_addr = split.layout()
    records = split.layer_records(commands_base)
    index = program.table_layers()          # records[k] is layer index[k]
    missing = [index[k] for k, r in enumerate(records) if r is None]
    if missing:
        raise UnsupportedModel(f"no C kernel on the core for layers {missing}")
    boot_addr = main.base + main.size - BOOT_BYTES
    if results_addr + 4 * (16 + 2 * len(records)) > boot_addr:
        raise UnsupportedModel("the split program, its tile lists and layer table do not fit "
                               "in main memory")
    image = _Image(main.base, program.arena_base + program.arena_size - main.base)
    load_inputs(image, program, inputs)
    # the tile parameters and the lists in one segment from the parameter area on
    blob = split.params + bytes(commands_base - split.end) + split.commands_bytes()
    seg = _walk(program, index, records, image, job_elf(config, PROGRAM),
                blob, split.params_base, table_addr, results_addr, boot_addr, max_cycles,
                run_elf)
    cycles = [0] * len(program.layers)              # alias layers: 0
    for i, c in zip(index, seg.layer_cycles, strict=True):
        cycles[i] = c
    run = SocRun([seg], cycles, [], bytes(image.data))
    return read_outputs(image, program), run
