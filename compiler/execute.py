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

from .reference import finish_outputs, patches, prepare_inputs, run_op

__all__ = ["run_program", "ProgramRun"]


@dataclasses.dataclass
class ProgramRun:
    """Counters of one run: ``commands`` and ``macs`` executed by the NPU model, per layer
    (``layer_macs``) and in total."""

    commands: int
    macs: int
    layer_macs: list


def _read(model, program, name):
    dtype, shape = program.buffers[name]
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(model.read(program.tensor_addr[name], n), dtype).reshape(shape).copy()


def run_program(program, inputs):
    """Execute ``program`` on ``inputs`` (as :func:`.reference.run` takes them); returns
    ``(outputs, ProgramRun)``. Raises RuntimeError if the NPU model refuses a command."""
    config, graph = program.config, program.graph
    model = NpuModel(config)
    main = config.region("main")
    model.set_window(main.base, main.size)
    model.write(program.weights_base, program.weights)
    for name, x in prepare_inputs(graph, inputs).items():
        model.write(program.tensor_addr[name], np.ascontiguousarray(x))
    commands, layer_macs = 0, []
    for i, layer in enumerate(program.layers):
        before = model.macs
        if layer.where == "npu":
            codes = model.run(layer.commands)
            bad = [(j, c) for j, c in enumerate(codes) if c != ErrorCode.NONE]
            if bad:
                raise RuntimeError(f"layer {i}: the NPU refused command {bad[0][0]} "
                                   f"({bad[0][1].name})")
            commands += len(codes)
        elif layer.kind == "im2col":
            x = _read(model, program, layer.reads[0])
            w = graph.tensors[layer.op.inputs[1]].shape
            from .ir import explicit_padding

            a = layer.op.attrs
            pads = explicit_padding(a["padding"], x.shape[1], x.shape[2], w[1], w[2],
                                    a["stride"], a["dilation"])[2]
            taps = patches(x, w[1], w[2], a["stride"], a["dilation"], pads,
                           x.dtype.type(layer.params["pad_value"]))
            model.write(program.tensor_addr[layer.writes[0]],
                        np.ascontiguousarray(taps.reshape(program.buffers[layer.writes[0]][1])))
        else:
            values = {n: _read(model, program, n) for n in layer.reads}
            y = run_op(graph, layer.op, values)
            model.write(program.tensor_addr[layer.writes[0]], np.ascontiguousarray(y))
        layer_macs.append(model.macs - before)
    values = {n: _read(model, program, n) for n in graph.outputs}
    return finish_outputs(graph, values), ProgramRun(commands, model.macs, layer_macs)
