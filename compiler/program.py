"""The compiled program: what the SoC runs for one model.

A :class:`Program` is

- a **layer table** (:class:`Layer`, in execution order): per layer where it runs (``npu``: a
  command list of NPU descriptors; ``core``: an operator the control core computes, identified
  by its IR operator and the addresses of its operands), the GEMM shape and MACs, the bytes it
  reads and writes;
- **weights**: one blob placed at ``weights_base`` in main memory (every constant the layers
  use: NPU operands already in the layout the commands read, and the model's constants for the
  core operators), with the address of each;
- **activations**: every other tensor at its address in the arena (``arena_base``, placed by
  :mod:`.memory_plan`; graph inputs and outputs included);
- the **command lists**, whose DMA addresses are absolute (the window is the ``main`` region).

:meth:`Program.save` writes a folder: ``program.json`` (the layer table, tensor and weight
addresses, variant, precision), ``weights.bin`` (the blob) and ``commands.bin`` (every
descriptor, 8 little-endian 32-bit words each, layer after layer; a layer's ``first_command``
and ``commands`` index it), ``layers.bin`` (the binary layer table below, with the commands
placed right after the arena and the results area after the table, as
:func:`dure.compiler.soc.run_program_soc` loads them).

The binary layer table that :meth:`Program.save` writes as ``layers.bin`` (what the
``npu_model_run`` firmware walks) is :mod:`.layer_table`'s (format, enumerations, packing);
the record of each core layer is :func:`.core_record.core_record`'s. Their names stay
importable from here.
"""

import dataclasses
import json
import pathlib

import numpy as np

from .core_record import core_record
from .layer_table import (
    HEADER_WORDS,
    MAX_LAYERS,
    RECORD_WORDS,
    TABLE_MAGIC,
    TABLE_VERSION,
    CoreOp,
    LayerKind,
    TableError,
    pack_layer_table,
    results_bytes,
    unpack_layer_table,
    unpack_results,
)

__all__ = ["Layer", "Program", "LayerKind", "CoreOp", "TableError", "core_record",
           "pack_layer_table", "unpack_layer_table", "unpack_results", "results_bytes",
           "TABLE_MAGIC", "TABLE_VERSION", "RECORD_WORDS", "HEADER_WORDS", "MAX_LAYERS"]


@dataclasses.dataclass
class Layer:
    """One entry of the layer table.

    ``kind``: ``gemm`` (NPU GEMM), ``npu_op`` (a whole operator lowered by an operator planner
    of :mod:`dure.sim`, :mod:`.npu_ops`; ``params["planner"]`` names the operator),
    ``alias`` (``where`` ``alias`` too: a layout-only RESHAPE / TRANSPOSE whose output is its
    input's bytes at the same address, :func:`.ir.is_layout_view`; it runs nothing, has no
    record in the binary table and takes 0 cycles),
    ``im2col`` (the core gathers a convolution's patches for the
    following NPU GEMM) or the IR operator name (a core operator). ``op``: the IR operator the
    layer belongs to. ``gemm``: ``(M, K, N)`` or None. ``reads`` / ``writes``: tensor or
    buffer names in the arena. ``est_cycles``: the planner's cost estimate for NPU layers
    (None for core layers). ``array_macs``: the products the layer's COMPUTEs take part in
    (what the NPU's PERF_MACS counter and the command model count: ``m * k * n``, diagonal
    ``m * min(k, n)``); equal to ``macs`` for GEMMs and convolutions, nonzero for average
    pooling and ADD, whose ``macs`` are 0.
    ``plan``: for ``npu_op`` layers, the planner and its parameter bytes (not saved; the
    commands and the weights are).
    """

    kind: str
    where: str
    op: object
    reads: list
    writes: list
    gemm: tuple | None = None
    macs: int = 0
    commands: list = dataclasses.field(default_factory=list)
    weight_bytes: int = 0
    est_cycles: int | None = None
    params: dict = dataclasses.field(default_factory=dict)
    plan: object = dataclasses.field(default=None, repr=False)
    array_macs: int = 0


@dataclasses.dataclass
class Program:
    """A compiled model (module docstring)."""

    graph: object
    config: object
    precision: str
    layers: list
    weights: bytes
    weights_base: int
    weight_addr: dict
    tensor_addr: dict
    buffers: dict
    arena_base: int
    arena_size: int
    arena_total: int

    @property
    def macs(self):
        return sum(layer.macs for layer in self.layers)

    def table(self):
        """The layer table as JSON-ready dicts (``record``: the layer's index in the binary
        table ``layers.bin``, None for an ``alias`` layer, which has no record)."""
        rows, first = [], 0
        record = {i: k for k, i in enumerate(self.table_layers())}
        for i, layer in enumerate(self.layers):
            rows.append({
                "index": i, "kind": layer.kind, "where": layer.where,
                "record": record.get(i),
                "node": {"index": layer.op.index, "name": layer.op.name,
                         "type": layer.op.source},
                "reads": [[n, self.tensor_addr[n]] for n in layer.reads],
                "writes": [[n, self.tensor_addr[n]] for n in layer.writes],
                "gemm": list(layer.gemm) if layer.gemm else None, "macs": layer.macs,
                "array_macs": layer.array_macs,
                "first_command": first, "commands": len(layer.commands),
                "params": {k: (v if isinstance(v, (int, float, str, list, type(None)))
                               else str(v)) for k, v in layer.params.items()},
            })
            first += len(layer.commands)
        return rows

    def table_layout(self):
        """``(commands_base, table_addr, results_addr)``: the command lists right after the
        arena (64-byte aligned), the layer table after them, the results after the table."""
        def up(v):
            return (v + 63) // 64 * 64
        commands_base = up(self.arena_base + self.arena_size)
        table_addr = up(commands_base + 32 * sum(len(la.commands) for la in self.layers))
        size = 4 * (HEADER_WORDS + RECORD_WORDS * len(self.table_layers()))
        return commands_base, table_addr, up(table_addr + size)

    def commands_bytes(self):
        """Every descriptor, layer after layer (8 little-endian words each)."""
        words = [w for layer in self.layers for d in layer.commands for w in d]
        return np.array(words, "<u4").tobytes()

    def table_layers(self):
        """Indices of the layers that have a record in the binary layer table: every layer
        but the ``alias`` ones (a view of its input's bytes runs nothing)."""
        return [i for i, la in enumerate(self.layers) if la.kind != "alias"]

    def layer_records(self, commands_base):
        """One record (32 words, module docstring) per layer of :meth:`table_layers` (``alias``
        layers have none), the command lists placed from ``commands_base`` on as
        :meth:`commands_bytes` orders them; None for a core layer no C kernel computes."""
        records, first = [], 0
        for layer in self.layers:
            if layer.kind == "alias":
                continue
            if layer.where == "npu":
                rec = [0] * RECORD_WORDS
                rec[0] = LayerKind.NPU
                rec[2] = commands_base + 32 * first
                rec[3] = len(layer.commands)
                records.append(rec)
            else:
                records.append(core_record(self, layer))
            first += len(layer.commands)
        return records

    def save(self, folder):
        """Write ``program.json``, ``weights.bin`` and ``commands.bin`` into ``folder``
        (created if missing); returns the folder as a Path."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "commands.bin").write_bytes(self.commands_bytes())
        (folder / "weights.bin").write_bytes(self.weights)
        commands_base, table_addr, results_addr = self.table_layout()
        records = self.layer_records(commands_base)
        if all(r is not None for r in records):
            (folder / "layers.bin").write_bytes(pack_layer_table(records, results_addr))
        meta = {
            "format": "dure-program-1", "variant": self.config.name,
            "precision": self.precision, "arithmetic": self.graph.arithmetic,
            "weights_base": self.weights_base, "weights_bytes": len(self.weights),
            "arena_base": self.arena_base, "arena_bytes": self.arena_size,
            "inputs": [[n, self.tensor_addr[n], list(self.buffers[n][1]),
                        str(self.buffers[n][0])] for n in self.graph.inputs],
            "outputs": [[n, self.tensor_addr[n], list(self.buffers[n][1]),
                         str(self.buffers[n][0])] for n in self.graph.outputs],
            "weights": {n: a for n, a in self.weight_addr.items()},
            "commands_base": commands_base, "layer_table": table_addr,
            "results": results_addr,
            "layers": self.table(),
        }
        (folder / "program.json").write_text(json.dumps(meta, indent=1) + "\n")
        return folder
