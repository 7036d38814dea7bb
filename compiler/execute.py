"""Run a compiled :class:`~.program.Program` on the golden NPU command model
(:class:`dure.sim.npu_model.NpuModel`).

The program's weights and the inputs go to their main-memory addresses; then layer by layer:
an NPU layer's command list is executed by the command model (every descriptor must be
accepted), a core layer reads its operands from memory, computes the operator with the
reference (:func:`.reference.run_op`; ``im2col`` gathers patches) and writes its result back.
The outputs are read from memory. So the NPU layers are checked through the actual descriptors,
addresses and memory plan, and the core layers are what the firmware's C fallback must compute.
"""

import dataclasses

import numpy as np
from dure.rtl.npu.commands import ErrorCode
from dure.sim.npu_model import NpuModel

from .ir import explicit_padding
from .onnx_fast import finish
from .reference import run_op
from .reference_values import finish_outputs, patches, prepare_inputs

__all__ = ["run_program", "ProgramRun", "load_inputs", "run_core_layer", "read_outputs"]


@dataclasses.dataclass
class ProgramRun:
    """Counters of one run: ``commands`` and ``macs`` executed by the NPU model, per layer
    (``layer_macs``) and in total; ``fast``: per ``conv_fast`` layer (its index) the
    decision counts of :func:`.onnx_fast.finish`."""

    commands: int
    macs: int
    layer_macs: list
    fast: dict = dataclasses.field(default_factory=dict)


def _read(memory, program, name):
    dtype, shape = program.buffers[name]
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(memory.read(program.tensor_addr[name], n), dtype).reshape(shape).copy()


def _write(memory, program, name, value):
    memory.write(program.tensor_addr[name], np.ascontiguousarray(value).tobytes())


def load_inputs(memory, program, inputs):
    """Write the program's weights and the (checked, converted) inputs into ``memory`` (any
    object with ``read(addr, n)`` / ``write(addr, bytes)``)."""
    memory.write(program.weights_base, program.weights)
    for name, x in prepare_inputs(program.graph, inputs).items():
        _write(memory, program, name, x)


def run_core_layer(memory, program, layer):
    """Execute one core layer (``im2col`` or an IR operator) on the buffers in ``memory``
    (an ``alias`` layer: nothing, its output already holds the bytes). Returns the decision
    counts of a ``conv_fast`` layer (:func:`.onnx_fast.finish`), else None."""
    graph = program.graph
    if layer.kind == "alias":           # a view of its input's bytes: nothing to compute
        return
    if layer.kind == "im2col":
        x = _read(memory, program, layer.reads[0])
        w = graph.tensors[layer.op.inputs[1]].shape
        a = layer.op.attrs
        pads = explicit_padding(a["padding"], x.shape[1], x.shape[2], w[1], w[2], a["stride"],
                                a["dilation"])[2]
        taps = patches(x, w[1], w[2], a["stride"], a["dilation"], pads,
                       x.dtype.type(layer.params["pad_value"]))
        _write(memory, program, layer.writes[0],
               taps.reshape(program.buffers[layer.writes[0]][1]))
    elif layer.kind == "dot_dense":     # a dense / convolution on the dot unit (dot_target)
        from .dot_target import dot_dense_reference
        a = _read(memory, program, layer.reads[0])
        a = a.reshape(layer.params["batch"], layer.params["in"])
        y = dot_dense_reference(graph, layer, a)
        _write(memory, program, layer.writes[0], y.reshape(program.buffers[layer.writes[0]][1]))
    elif layer.kind == "dot_depthwise":     # depthwise on the dot unit (dot_depthwise)
        from .dot_depthwise import dot_depthwise_reference
        x = _read(memory, program, layer.reads[0])
        _write(memory, program, layer.writes[0], dot_depthwise_reference(graph, layer, x))
    elif layer.kind == "fc_rescale":    # the FULLY_CONNECTED fallback's core half (fc_store)
        from .fc_store import fc_rescale_output
        acc = _read(memory, program, layer.reads[0])
        _write(memory, program, layer.writes[0], fc_rescale_output(graph, layer.op, acc))
    elif layer.kind == "conv_fast":     # the fast path's core half (onnx_fast.py)
        x, sums = (_read(memory, program, n) for n in layer.reads)
        y, stats = finish(graph, layer.op, x, sums)
        _write(memory, program, layer.writes[0], y)
        return stats
    else:
        values = {n: _read(memory, program, n) for n in layer.reads}
        _write(memory, program, layer.writes[0], run_op(graph, layer.op, values))


def read_outputs(memory, program):
    """The graph outputs from ``memory``, as the model's runtime returns them."""
    graph = program.graph
    return finish_outputs(graph, {n: _read(memory, program, n) for n in graph.outputs})


def run_program(program, inputs):
    """Execute ``program`` on ``inputs`` (as :func:`.reference.run` takes them); returns
    ``(outputs, ProgramRun)``. Raises RuntimeError if the NPU model refuses a command."""
    config = program.config
    if not config.npu_rows:             # the dot-unit target: core layers only (dot_target)
        from .dot_target import run_program_dot
        return run_program_dot(program, inputs)
    model = NpuModel(config)
    main = config.region("main")
    model.set_window(main.base, main.size)
    load_inputs(model, program, inputs)
    commands, layer_macs, fast = 0, [], {}
    for i, layer in enumerate(program.layers):
        before = model.macs
        if layer.where == "npu":
            codes = model.run(layer.commands)
            bad = [(j, c) for j, c in enumerate(codes) if c != ErrorCode.NONE]
            if bad:
                raise RuntimeError(f"layer {i}: the NPU refused command {bad[0][0]} "
                                   f"({bad[0][1].name})")
            commands += len(codes)
        else:
            stats = run_core_layer(model, program, layer)
            if stats is not None:
                fast[i] = stats
        layer_macs.append(model.macs - before)
    return read_outputs(model, program), ProgramRun(commands, model.macs, layer_macs, fast)
