"""The compiler target of SoCs without an NPU but with the INT8 dot-product unit
(``SoCConfig.dot_unit``: the ``icebreaker`` preset, rtl/soc/dot_unit.py).

Every layer runs on the control core, walked by the ``dot_model_run`` firmware
(firmware/dot_apps/dot_model_run/: the ``npu_model_run`` walker with the records below added):

- FULLY_CONNECTED: a ``dot_dense`` layer (:data:`~.layer_table.CoreOp.DENSE_DOT_INT8`): one
  stream of the unit per output, ``acc = bias' + sum_k x[b, k] * w[o, k]`` (int32, wrapping)
  with the input zero point folded into the bias by the compiler, ``bias'_o = bias_o - x_zp *
  sum_k w[o, k]`` (equal modulo 2**32 to the reference's ``sum (x - x_zp) w``), then the
  TFLite fixed-point requantization on the core with the rounding and multipliers that
  :mod:`.fc_store` proves equal to LiteRT's double rescale on every reachable accumulator
  (:func:`dure.sim.golden_tflite.fully_connected_int8`), and the activation clamp; where no
  Q0.31 rounding is exact (or ``compile_dot(fc_fallback=True)``) LiteRT's double rescale
  itself, with integer instructions (``ROUNDING_DOUBLE_RESCALE``, firmware
  ``cpu_scale_round_double``; the units' float64 scales in the multiplier / shift words). The
  unit
  reads whole words: with K a multiple of 4 (every row word aligned) the layer streams, else
  the core computes the same sums itself (same bits, no unit);
- CONV_2D: the core gathers the patches (the ``IM2COL`` record the NPU targets use:
  (kh, kw, cin) order, padding with the input zero point, so a padded tap adds exactly zero;
  none for a 1x1 convolution with stride 1 and no padding), then the same ``dot_dense`` layer
  over the (N*OH*OW) x (KH*KW*Cin) patch matrix with the OHWI filter as (Cout, KH*KW*Cin) and
  the convolution's double rounding (``MultiplyByQuantizedMultiplier``,
  :func:`dure.sim.golden_tflite.conv2d_int8`);
- DEPTHWISE_CONV_2D (depth multiplier 1): a ``dot_depthwise`` layer (:mod:`.dot_depthwise`):
  per output pixel the core gathers each channel's taps into a word-aligned row, one stream
  per channel;
- every other operator: the core layer of the NPU targets (RESHAPE copies or aliases, ADD,
  MAX / AVERAGE_POOL_2D, SOFTMAX, QUANTIZE, TRANSPOSE, PAD: the C kernels of
  firmware/npu/cpu_ops_*.c, the TFLite reference arithmetic).

Only full-integer TFLite models (INT8, weights with zero point 0) are taken. An operator the
target cannot run (a depthwise convolution with a depth multiplier, a pooling with explicit
padding, an ONNX or float model, ...) is refused at compile time with
:class:`~.errors.UnsupportedModel` naming the operator and the target; never a silent wrong
answer.
"""

import numpy as np
from dure.rtl.npu.commands import RequantMode
from dure.sim.golden_fixedpoint import wrap_int32

from .dot_depthwise import depthwise_layer
from .errors import UnsupportedModel
from .fc_store import fc_rescale_scales, fc_store_exact
from .ir import OpKind, is_layout_view
from .lower_layers import folded_bias, gemm_form, layer_macs
from .program import Layer, Program
from .reference import constant, tflite_multipliers

__all__ = ["compile_dot", "dense_params", "dot_dense_reference", "run_program_dot",
           "DOT_PEAK_MACS_PER_CYCLE", "ROUNDING_SINGLE", "ROUNDING_DOUBLE",
           "ROUNDING_DOUBLE_RESCALE"]

#: The dot-product unit's peak (rtl/soc/dot_unit.py): 4 MACs per word pair, one pair per two
#: cycles of main memory's single port.
DOT_PEAK_MACS_PER_CYCLE = 2

#: Word 12 of a ``DENSE_DOT_INT8`` record: the requantization's rounding.
ROUNDING_SINGLE = 0     # MultiplyByQuantizedMultiplierSingleRounding (FULLY_CONNECTED)
ROUNDING_DOUBLE = 1     # MultiplyByQuantizedMultiplier, gemmlowp (CONV_2D; FULLY_CONNECTED
#                         where fc_store picks it)
ROUNDING_DOUBLE_RESCALE = 2     # LiteRT's float64 rescale (FULLY_CONNECTED where no Q0.31
#                                 rounding is exact: fc_store's fallback); words 10 / 11 the
#                                 low / high halves of each unit's float64 scale


def _target(config):
    return f"the {config.name} target (control core + INT8 dot-product unit, no NPU)"


def dense_params(graph, op, fc_fallback=False):
    """The constants of a ``dot_dense`` layer of ``op`` (FULLY_CONNECTED or CONV_2D):
    ``{"w": (N, K) int8, "bias": (N,) int32 with the input zero point folded in, "mult",
    "shift": (N,) int32, "rounding"}``; a FULLY_CONNECTED without exact Q0.31 parameters
    (:func:`.fc_store.fc_store_exact`; ``fc_fallback``: any) gets
    ``ROUNDING_DOUBLE_RESCALE`` with its float64 scales split into ``mult`` (low words) and
    ``shift`` (high words)."""
    w = constant(graph, op.inputs[1])
    n = w.shape[0]
    w2 = np.ascontiguousarray(w.reshape(n, -1))
    store = fc_store_exact(graph, op, force_fallback=fc_fallback) \
        if op.kind is OpKind.FULLY_CONNECTED else None
    if op.kind is OpKind.FULLY_CONNECTED and store is None:
        halves = np.ascontiguousarray(fc_rescale_scales(graph, op)).view(np.int32).reshape(n, 2)
        mult, shift = halves[:, 0], halves[:, 1]
        rounding = ROUNDING_DOUBLE_RESCALE
    elif op.kind is OpKind.FULLY_CONNECTED:
        mode, mult, shift = store
        rounding = ROUNDING_SINGLE if mode is RequantMode.TFLITE_SINGLE_ROUNDING \
            else ROUNDING_DOUBLE
    else:
        mult, shift = tflite_multipliers(graph, op)
        rounding = ROUNDING_DOUBLE
    return {"w": w2, "bias": folded_bias(graph, op, w2), "mult": np.asarray(mult, np.int32),
            "shift": np.asarray(shift, np.int32), "rounding": rounding}


def _dense_layer(graph, op, blob, a_name, m, k, n, unit, fc_fallback=False):
    p = dense_params(graph, op, fc_fallback)
    base = op.outputs[0]
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    params = {"a": a_name, "batch": m, "in": k, "out": n, "rounding": p["rounding"],
              "zero_point": graph.tensors[op.outputs[0]].quant.zp, "lo": min(lo, hi), "hi": hi,
              "w": blob.add(f"{base}/dot_w", p["w"]), "bias": blob.add(f"{base}/dot_bias",
                                                                     p["bias"]),
              "mult": blob.add(f"{base}/dot_mult", p["mult"]),
              "shift": blob.add(f"{base}/dot_shift", p["shift"]),
              "dot": unit and k % 4 == 0}
    return Layer("dot_dense", "core", op, [a_name], [op.outputs[0]], gemm=(m, k, n),
                 macs=m * k * n, weight_bytes=p["w"].nbytes, params=params)


def compile_dot(graph, config, precision=None, *, unit=True, fc_fallback=False):
    """Lower ``graph`` for ``config`` (no NPU, ``dot_unit`` set); returns a
    :class:`~.program.Program` whose layers all run on the core (module docstring).
    ``unit=False`` keeps every ``dot_dense`` layer on the core's own loop (the same bits; the
    measure of what the unit gains, fpga/README.md). ``fc_fallback``: every FULLY_CONNECTED
    takes LiteRT's double rescale on the core (``ROUNDING_DOUBLE_RESCALE``), not only those
    without exact Q0.31 parameters (tests, measurements). Raises
    :class:`UnsupportedModel` for a model or operator the target does not run and for a
    program larger than main memory."""
    from .lower import _Blob, gemm_operand, place, value_dtype

    precision = precision or graph.precision
    target = _target(config)
    if not config.dot_unit or config.npu_rows:
        raise ValueError(f"variant {config.name!r} is not an NPU-less dot-unit variant")
    if graph.arithmetic != "tflite" or precision != "int8" or graph.precision != "int8":
        raise UnsupportedModel(
            f"{target} runs full-integer (INT8) TFLite models only; this is a "
            f"{graph.arithmetic} model in {graph.precision}")
    T = graph.tensors
    blob = _Blob()
    layers, buffers, aliases = [], {}, {}
    for op in graph.ops:
        for name in op.outputs:
            buffers[name] = (value_dtype(graph, name), T[name].shape)
        reads = [nm for nm in op.inputs if nm is not None and not T[nm].const]
        if is_layout_view(graph, op):       # same bytes: a view, no copy
            aliases[op.outputs[0]] = op.inputs[0]
            layers.append(Layer("alias", "alias", op, reads, list(op.outputs)))
            continue
        if op.kind in (OpKind.FULLY_CONNECTED, OpKind.CONV_2D):
            form = gemm_form(graph, op, True)
            if form is None:
                raise op.fail(f"{op.kind.value} with weights of a nonzero zero point is not "
                              f"supported by {target}")
            a_name, m, n = gemm_operand(graph, op, form, buffers, layers,
                                        T[op.inputs[0]].quant.zp)
            layers.append(_dense_layer(graph, op, blob, a_name, m, form[1], n, unit,
                                       fc_fallback))
            continue
        if op.kind is OpKind.DEPTHWISE_CONV_2D:

            def refuse(what, op=op):
                raise op.fail(f"{what} is not supported by {target}")
            layers.append(depthwise_layer(graph, op, blob, buffers, unit, refuse))
            continue
        for nm in op.inputs:
            if nm is not None and T[nm].const and nm not in blob.addr:
                blob.add(nm, constant(graph, nm))
        layers.append(Layer(op.kind.value, "core", op, reads, list(op.outputs),
                            macs=layer_macs(graph, op)))
    tensor_addr, weight_addr, weights, arena_base, plan = place(graph, config, layers, buffers,
                                                                aliases, blob)
    main = config.region("main")
    program = Program(graph, config, precision, layers, weights, main.base, weight_addr,
                      tensor_addr, buffers, arena_base, plan.size, plan.total)
    records = program.layer_records(program.table_layout()[0])
    for i, rec in zip(program.table_layers(), records, strict=True):
        if rec is None:
            op = layers[i].op
            raise op.fail(f"{op.kind.value} (as this model has it) is not supported by "
                          f"{target}: no C kernel on the core")
    return program


def dot_dense_reference(graph, layer, a):
    """What a ``dot_dense`` layer computes from its (batch, K) int8 operand ``a`` (the input,
    or the patch matrix of a convolution): the folded bias plus the exact int32 (wrapping) sums,
    the layer's rounding, the output zero point and clamp; (batch, N) int8. Equal to the
    reference operator (:func:`.reference.run_op`) by construction of :func:`dense_params`;
    the compiler's command-model run (:func:`.execute.run_program`) uses it so that the
    program's own buffers and parameters are what is checked."""
    from dure.sim.golden_fixedpoint import (
        multiply_by_quantized_multiplier,
        multiply_by_quantized_multiplier_single_rounding,
    )

    q = layer.params
    p = dense_params(graph, layer.op, q["rounding"] == ROUNDING_DOUBLE_RESCALE)
    acc = wrap_int32(a.astype(np.int64) @ p["w"].astype(np.int64).T + p["bias"])
    if p["rounding"] == ROUNDING_DOUBLE_RESCALE:
        from .fc_store import fc_rescale_output
        return fc_rescale_output(graph, layer.op, acc).reshape(acc.shape)
    mbqm = (multiply_by_quantized_multiplier_single_rounding
            if p["rounding"] == ROUNDING_SINGLE else multiply_by_quantized_multiplier)
    y = mbqm(acc, p["mult"], p["shift"]).astype(np.int64) + q["zero_point"]
    return np.clip(y, q["lo"], q["hi"]).astype(np.int8)


def run_program_dot(program, inputs):
    """:func:`.execute.run_program` for a dot-unit program (there is no NPU command model to
    run: every layer is a core layer); ``(outputs, ProgramRun)`` with the MACs of the
    ``dot_dense`` layers."""
    from .execute import ProgramRun, load_inputs, read_outputs, run_core_layer
    from .soc import _Image

    main = program.config.region("main")
    image = _Image(main.base, main.size)
    load_inputs(image, program, inputs)
    for layer in program.layers:
        run_core_layer(image, program, layer)
    macs = [la.macs if la.kind in ("dot_dense", "dot_depthwise") else 0
            for la in program.layers]
    return read_outputs(image, program), ProgramRun(0, sum(macs), macs)
