"""Lowering: the IR (:mod:`.ir`) to a :class:`~.program.Program` for one SoC variant.

Which operators run on the NPU (everything else runs on the core, marked ``core``):

- FULLY_CONNECTED: one GEMM, ``A = x`` (B x K), ``B = w^T`` (K x units); with one input
  row (batch 1), at least C units and ``gemv`` on (the default), for INT8 TFLite and ONNX
  models and FP16 models, the GEMV plan instead (layer kind ``gemv``, :mod:`.npu_gemv`): the
  weights stream once at the memory roofline instead of one stationary weight set per tile
  for a single row. An INT8 TFLite layer whose double rescale no STORE parameters reproduce
  (:mod:`.fc_store`) takes the exact fallback instead: the GEMM with a raw INT32 STORE into
  the scratch buffer ``<out>/acc`` and a core layer ``fc_rescale``
  (:func:`.lower_layers.fc_fallback_layers`; ``fc_fallback=True`` forces it);
- CONV_2D 1x1 with stride 1 and no padding: on arrays of at least 8x8 through the walk
  planner (below) when it takes the layer (INT8 TFLite and ONNX, FP16), else (and on smaller
  arrays) one GEMM on the NHWC input read as (N*H*W) x Cin (:func:`pointwise_choice`;
  ``compile_graph(pointwise=...)`` overrides it). On the 8x8 `sim` SoC the walk beats the
  GEMM on every pointwise layer measured: MobileNetV1-0.25 at 96x96 (13 layers, 4-27 % fewer
  cycles, e.g. 48x48x8 -> 16: 21,409 -> 18,681; 3x3x256 -> 256: 66,104 -> 63,224) and DS-CNN
  (25x5x64 -> 64: 13,377 -> 11,573); on the 4x4 `npu-small` SoC the GEMM wins (DS-CNN's
  25x5x64 -> 64: 52,701 cycles against 68,465 walked; the whole INT8 DS-CNN 797,366 against
  860,422);
- other CONV_2D and DEPTHWISE_CONV_2D (INT8 TFLite and ONNX models, FP16; ONNX INT8 with the
  FLOAT_SCALE STORE, explicit pads included), AVERAGE_POOL_2D (INT8 TFLite models and FP16),
  MAX_POOL_2D (INT8 and FP16) and ADD (INT8 TFLite models, INT8 ONNX models where
  :func:`.onnx_add.eltwise_add_params` proves the element-wise unit exact, and FP16; INT8 and
  max pooling on the element-wise unit, when the variant has it): the whole operator through
  the operator planners of :mod:`dure.sim` (layer kind ``npu_op``; which cases and why:
  :mod:`.npu_ops`), bit-exact with the compiler's reference. Their parameter bytes go into
  the weight blob; their descriptors are made once the memory plan has placed the
  activations;
- a convolution onnxruntime runs unfused in float32 (``ort_float``, ungrouped): its exact
  int32 sums on the NPU (a walk with a raw INT32 STORE into the scratch buffer
  ``<out>/sums``) and a core layer ``conv_fast`` deciding each output from them or
  recomputing it in float32 (:mod:`.onnx_fast`; ``float_fast=False``: the whole layer on the
  core's float32 kernel);
- other CONV_2D the planners refuse or do not take (dilation, weights with a zero point
  other than 0, a layer too large for the SPAD / ACC), when ``im2col`` is on
  (the default): the core gathers the patches into a (N*OH*OW) x (KH*KW*Cin) matrix in
  (kh, kw, cin) order (padding with the input zero point in INT8, +0.0 in FP16), then one
  GEMM with ``B`` the OHWI filter as (KH*KW*Cin) x Cout.

Fusion into the GEMM (the STORE's post-processing): bias, requantization, activation clamp.
INT8: the input zero point is folded into the bias, ``bias'_o = bias_o - x_zp * sum_k w[o, k]``
(int32, wrapping: equal modulo 2**32 to the reference's ``sum w (x - x_zp)``, padded taps
included since they hold ``x_zp``); weights must have zero point 0 (others stay on the core).
TFLite models use the STORE's TFLite requantization (double rounding for convolutions, single
rounding or double for FULLY_CONNECTED as :mod:`.fc_store` proves exact, per-channel multiplier
and shift; :mod:`.npu_gemm`); ONNX models
the float-scale requantization with the scales of :func:`.reference.onnx_scales`. FP16: fp32
bias as the accumulator's start, the clamp of the fused activation, fp16 output. A crossed
TFLite clamp (``lo > hi``, which the reference kernels resolve to ``hi``) becomes ``[hi, hi]``.

The GEMMs' tiling is the one GEMM planner's (:mod:`dure.sim.gemm_plan`); buffers are placed by
:mod:`.memory_plan`. Every NPU layer's command list ends with a FENCE, so that its results are
in memory before a later layer (NPU or core) reads them. On a single-tile variant a ``gemv``
layer followed by another ``gemv`` layer also loads the next one's first weight tiles and bias
before its FENCE (:func:`.npu_gemv.prefetch_next`): the layers then run only in order, one
after the other, as the program does. Such consecutive ``gemv`` layers alternate their SPAD
placement (``flip``, :func:`dure.sim.gemv_plan.gemv_program`: the first of a run at the top of
SPAD, the next at the bottom, ...) and each starts in the ACC half the previous one did not
end in (``acc_upper``), so the prefetched LOADs write rows the previous layer no longer uses
and need not wait for its last COMPUTEs and STOREs (FC autoencoder, INT8 per-channel: 82,837
-> 82,713 cycles; FP16 146,009 -> 145,469). Where the upper ACC half would collide with the
requantization rows the layer keeps the planner's placement.

This module decides which path each operator takes, plans the memory and places the
descriptors; the layer of each path (GEMM, planned operator, fast float convolution, GEMV)
and its descriptors are :mod:`.lower_layers`' (``layer_macs`` and ``emit_gemm`` stay
importable from here).
"""

import numpy as np
from dure.rtl.npu.commands import Opcode
from dure.rtl.npu.descriptor import decode, encode

from . import onnx_float
from .errors import UnsupportedModel
from .fc_store import fc_store_exact
from .ir import OpKind, explicit_padding, is_layout_view, pair
from .lower_layers import (
    emit_gemm,
    emit_planned,
    fast_conv_layers,
    fc_fallback_layers,
    gemm_form,
    gemm_layer,
    gemv_layer,
    layer_macs,
    planned_layer,
)
from .memory_plan import Interval, align_up, plan_memory
from .npu_gemv import prefetch_next
from .npu_ops import float_conv, layer_planner
from .program import Layer, Program
from .reference import (
    constant,
    onnx_add_table,
    onnx_float_conv_params,
    onnx_scales,
    onnx_softmax_table,
)

__all__ = ["compile_graph", "value_dtype", "layer_macs", "emit_gemm"]


def value_dtype(graph, name):
    """The element type a tensor has at run time (float activations of a float graph: fp16)."""
    t = graph.tensors[name]
    if graph.arithmetic == "float" and t.dtype == np.float32:
        return np.dtype(np.float16)
    return t.dtype


def gemm_operand(graph, op, form, buffers, layers, pad_value):
    """The A operand of ``op``'s GEMM (FULLY_CONNECTED or CONV_2D; ``form`` is
    :func:`.lower_layers.gemm_form`'s ``(direct, K)``): ``(a_name, m, n)`` with ``m`` the
    output rows (all output elements over the ``n`` channels of the last axis). A direct GEMM
    reads the input itself; otherwise the core gathers the (m, K) patch matrix into the buffer
    ``<output>/im2col`` (added to ``buffers``) with an ``im2col`` core layer appended to
    ``layers``, its padded taps holding ``pad_value`` (the input zero point in INT8, +0.0 in
    FP16). Shared by :func:`compile_graph` and :func:`.dot_target.compile_dot`."""
    direct, k = form
    out = graph.tensors[op.outputs[0]]
    n = out.shape[-1]
    m = int(np.prod(out.shape)) // n
    a_name = op.inputs[0]
    if not direct:
        a_name = f"{op.outputs[0]}/im2col"
        buffers[a_name] = (value_dtype(graph, op.inputs[0]), (m, k))
        layers.append(Layer("im2col", "core", op, [op.inputs[0]], [a_name],
                            params={"pad_value": pad_value}))
    return a_name, m, n


def add_table_name(op):
    """The weights key of the output table of an ONNX-arithmetic ADD layer."""
    return f"{op.outputs[0]}/add_table"


def softmax_table_name(op):
    """The weights key of the exp table of an ONNX-arithmetic SOFTMAX layer."""
    return f"{op.outputs[0]}/exp_table"


class _Blob:
    def __init__(self):
        self.parts, self.addr, self.size, self.shared = [], {}, 0, {}

    def add(self, name, array):
        data = np.ascontiguousarray(array).tobytes()
        self.addr[name] = self.size
        self.parts.append(data + bytes(align_up(len(data)) - len(data)))
        self.size += align_up(len(data))
        return name

    def add_shared(self, name, array):
        """As :meth:`add`, but an array whose bytes equal an earlier shared one's takes that
        one's place (the 64 KB ADD tables of layers with the same parameters: one copy)."""
        data = np.ascontiguousarray(array).tobytes()
        same = self.shared.get(data)
        if same is None:
            self.shared[data] = self.add(name, array)
        else:
            self.addr[name] = self.addr[same]
        return name

    def bytes(self):
        return b"".join(self.parts)


def pointwise_choice(config):
    """How 1x1 convolutions run on ``config``'s array by default: ``"walk"`` on arrays of at
    least 8x8, ``"gemm"`` on smaller ones (module docstring)."""
    return "walk" if min(config.npu_rows, config.npu_cols) >= 8 else "gemm"


def compile_graph(graph, config, precision=None, *, im2col=True, planners=True, gemv=True,
                  pointwise=None, alias=True, float_fast=True, fc_fallback=False):
    """Lower ``graph`` for ``config``'s NPU; returns a :class:`~.program.Program`.

    ``precision``: ``"int8"`` (quantized models) or ``"fp16"`` (float models), default the
    graph's own. A variant without an NPU but with the dot-product unit (``dot_unit``, the
    ``icebreaker`` preset) compiles through :func:`.dot_target.compile_dot` (the other
    arguments do not apply there).
    Raises :class:`UnsupportedModel` for a precision the model cannot run in, a
    variant without the NPU or the precision, and a program larger than main memory.
    ``planners=False`` turns the operator planners (:mod:`.npu_ops`) off: convolutions then
    take the GEMM / im2col path, depthwise, pooling and ADD the core (the older lowering).
    ``gemv=False`` keeps batch-1 FULLY_CONNECTED layers on the GEMM planner.
    ``pointwise``: ``"walk"`` or ``"gemm"``, how a 1x1 convolution runs (the walk planner or
    one direct GEMM); None picks :func:`pointwise_choice` for ``config``'s array.
    ``alias``: a layout-only RESHAPE / TRANSPOSE (:func:`.ir.is_layout_view`) becomes an
    ``alias`` layer that runs nothing: its output takes its input's address in the memory
    plan (:mod:`.memory_plan`, aliases); ``alias=False`` keeps the core copy.
    ``float_fast``: an unfused float32 convolution (``ort_float``) takes the exact fast path
    of :mod:`.onnx_fast` where it applies (NPU sums, the core decides); ``False`` keeps the
    whole convolution on the core's float32 kernel.
    ``fc_fallback``: every INT8 TFLite FULLY_CONNECTED takes the exact core fallback
    (:func:`.lower_layers.fc_fallback_layers`: NPU int32 sums, the core's double rescale), not
    only those without exact STORE parameters (:mod:`.fc_store`); for tests and measurements.
    """
    precision = precision or graph.precision
    pointwise = pointwise or pointwise_choice(config)
    if pointwise not in ("walk", "gemm"):
        raise ValueError(f"pointwise must be walk or gemm, not {pointwise!r}")
    if precision not in ("int8", "fp16"):
        raise UnsupportedModel(f"precision must be int8 or fp16, not {precision!r}")
    if precision != graph.precision:
        raise UnsupportedModel(
            f"a {'quantized' if graph.precision == 'int8' else 'float'} model runs in "
            f"{graph.precision}, not {precision} (float models run in fp16, full-integer "
            "models in int8)")
    if not config.npu_rows and config.dot_unit:     # the iCEBreaker: core + dot-product unit
        from .dot_target import compile_dot
        return compile_dot(graph, config, precision)
    if not config.npu_rows:
        raise UnsupportedModel(f"variant {config.name!r} has no NPU")
    if precision == "fp16" and not config.npu_fp16:
        raise UnsupportedModel(f"variant {config.name!r} has no FP16 NPU")
    T = graph.tensors
    blob = _Blob()
    layers = []
    buffers = {}
    aliases = {}
    for op in graph.ops:
        for name in op.outputs:
            buffers[name] = (value_dtype(graph, name), T[name].shape)
        form = gemm_form(graph, op, im2col)
        reads = [n for n in op.inputs if n is not None and not T[n].const]
        if alias and is_layout_view(graph, op):     # same bytes: a view, no copy
            aliases[op.outputs[0]] = op.inputs[0]
            layers.append(Layer("alias", "alias", op, reads, list(op.outputs)))
            continue
        # A 1x1 convolution (a direct GEMM) goes to the walk planner too when it takes it and
        # the array is 8x8 or larger: measured faster there on every pointwise layer of
        # MobileNetV1-0.25 and DS-CNN, slower on the 4x4 (module docstring);
        # FULLY_CONNECTED stays a GEMM / GEMV.
        pw_gemm = pointwise == "gemm" and form is not None and form[0] and \
            op.kind is OpKind.CONV_2D
        fast = fast_conv_layers(graph, op, blob, buffers, reads, config) \
            if planners and float_fast and float_conv(op) else None
        if fast:                # unfused float32 conv: NPU sums, the core decides (onnx_fast)
            layers.extend(fast)
            continue
        plan = None if not planners or op.kind is OpKind.FULLY_CONNECTED or pw_gemm else \
            layer_planner(graph, op, config, precision)
        if plan is not None:
            layers.append(planned_layer(graph, op, blob, reads, plan, config))
            continue
        # an INT8 TFLite FULLY_CONNECTED: its STORE parameters proven once (fc_store.py;
        # None: the core fallback), for the GEMV and the GEMM paths alike
        proven = op.kind is OpKind.FULLY_CONNECTED and form is not None and \
            graph.arithmetic == "tflite" and precision == "int8"
        store = fc_store_exact(graph, op, force_fallback=fc_fallback) if proven else None
        given = {"store": store} if proven else {}
        fc = gemv_layer(graph, op, blob, buffers, config, precision,
                        fc_fallback=fc_fallback, **given) if gemv else None
        if fc is not None:
            layers.append(fc)
            continue
        if form is None:
            for n in op.inputs:
                if n is not None and T[n].const and n not in blob.addr:
                    blob.add(n, constant(graph, n))
            if graph.arithmetic == "onnx" and op.kind is OpKind.DEPTHWISE_CONV_2D and \
                    not float_conv(op):
                w = T[op.inputs[1]]             # the C kernel's scales and weight zero points
                zw = np.broadcast_to(w.quant.zero_point, (w.shape[3],)).astype(np.int32)
                blob.add(f"{op.outputs[0]}/scales", onnx_scales(graph, op))
                blob.add(f"{op.outputs[0]}/weight_zero_points", zw)
            if float_conv(op):          # the C kernel's float32 weights, bias, chains
                wg, bd, group = onnx_float_conv_params(graph, op)
                x = T[op.inputs[0]]
                a = op.attrs
                pads = explicit_padding(a["padding"], x.shape[1], x.shape[2], wg.shape[1],
                                        wg.shape[2], a["stride"], a["dilation"])[2]
                chains = onnx_float.conv_chains(x.shape, wg.shape, pair(a["stride"]),
                                                pair(a["dilation"]), pads, group)
                blob.add(f"{op.outputs[0]}/float_weights", np.ascontiguousarray(
                    wg.transpose(0, 3, 1, 2)).reshape(wg.shape[0], -1))
                if bd is not None:
                    blob.add(f"{op.outputs[0]}/float_bias", bd)
                blob.add(f"{op.outputs[0]}/chains", np.asarray(chains, np.uint32))
            if graph.arithmetic == "onnx" and op.kind is OpKind.ADD:
                blob.add_shared(add_table_name(op), onnx_add_table(graph, op))  # 64 KB
            if graph.arithmetic == "onnx" and op.kind is OpKind.SOFTMAX:
                x = T[op.inputs[0]]      # the exp table of the C kernel (core_record.py)
                blob.add(softmax_table_name(op), onnx_softmax_table(
                    x.shape[-1], x.quant.s, bool(op.attrs.get("uint8"))))
            layers.append(Layer(op.kind.value, "core", op, reads, list(op.outputs),
                                macs=layer_macs(graph, op)))
            continue
        k = form[1]
        pad = 0 if precision == "fp16" else T[op.inputs[0]].quant.zp
        a_name, m, n = gemm_operand(graph, op, form, buffers, layers, pad)
        if op.kind is OpKind.FULLY_CONNECTED and graph.arithmetic == "tflite" and \
                precision == "int8":
            if store is None:
                # no STORE rescales it as LiteRT does: raw int32 sums, the core's double
                # rescale
                layers.extend(fc_fallback_layers(graph, op, blob, buffers, a_name, m, k, n,
                                                 config))
                continue
        try:
            layers.append(gemm_layer(graph, op, blob, a_name, m, k, n, config, precision,
                                     store))
        except ValueError as e:
            raise op.fail(f"cannot be lowered onto the NPU: {e}") from None
    tensor_addr, weight_addr, weights, arena_base, plan = place(graph, config, layers, buffers,
                                                                aliases, blob)
    main = config.region("main")
    flip, upper = False, False
    kinds = [None, *(la.kind for la in layers), None]
    for i, layer in enumerate(layers):
        # Consecutive GEMV layers alternate their SPAD placement (flip) and start in the ACC
        # half the previous one did not end in, so the next layer's prefetched LOADs (below)
        # need not wait for this one's COMPUTEs and STOREs. A lone one stays as planned.
        alternate = layer.kind == "gemv" and config.npu_tiles == 1 and "gemv" in (
            kinds[i], kinds[i + 2])
        flip, upper = alternate and not flip, alternate and not upper
        if layer.kind in ("npu_op", "gemv"):
            try:
                layer.commands = emit_planned(layer, tensor_addr, weight_addr,
                                               **({"flip": flip, "acc_upper": upper}
                                                  if alternate else {}))
            except ValueError:
                if not alternate:
                    raise
                # the upper ACC half collides with the requantization rows: as planned
                layer.commands = emit_planned(layer, tensor_addr, weight_addr)
            layer.commands.append(encode(Opcode.FENCE))
            if alternate:
                last = [f["acc_addr"] for op, f in map(decode, layer.commands)
                        if op == Opcode.COMPUTE][-1]
                upper = last >= config.npu_acc_rows // 2
        elif layer.kind == "gemm":
            try:
                # The FENCE makes the layer's STOREs reach memory before a later LOAD reads
                # them (main memory is not hazard-tracked, rtl/npu/commands.py "Ordering").
                layer.commands = emit_gemm(config, layer, tensor_addr, weight_addr) + [
                    encode(Opcode.FENCE)]
            except ValueError as e:
                raise layer.op.fail(f"cannot be lowered onto the NPU: {e}") from None
    if config.npu_tiles == 1:
        # Consecutive GEMV layers: the next layer's first weight tiles and bias load while
        # this layer's last COMPUTEs and STOREs drain (npu_gemv.prefetch_next).
        for a, b in zip(layers, layers[1:], strict=False):
            if a.kind == b.kind == "gemv":
                a.commands, b.commands = prefetch_next(
                    a.commands, b.commands, (main.base, main.base + len(weights)))
    return Program(graph, config, precision, layers, weights, main.base, weight_addr,
                   tensor_addr, buffers, arena_base, plan.size, plan.total)


def place(graph, config, layers, buffers, aliases, blob):
    """The memory plan of a lowered layer list: the weights ``blob`` at main memory's base,
    the activations (``buffers``: name -> (dtype, shape); graph inputs added here) in the
    arena after it, ``aliases`` sharing their source's bytes. Returns ``(tensor_addr,
    weight_addr, weights bytes, arena_base, plan)``; :class:`UnsupportedModel` when they do not
    fit main memory. Shared by :func:`compile_graph` and the NPU-less targets
    (:mod:`.dot_target`)."""
    T = graph.tensors
    buffers.update({n: (value_dtype(graph, n), T[n].shape) for n in graph.inputs})
    last = {}
    first = {n: -1 for n in graph.inputs}
    for i, layer in enumerate(layers):
        for nm in layer.reads:
            last[nm] = i
        for nm in layer.writes:
            first.setdefault(nm, i)
    for nm in graph.outputs:
        last[nm] = len(layers)
    intervals = [Interval(nm, int(np.prod(shape)) * np.dtype(dt).itemsize, first[nm],
                          max(last.get(nm, first[nm]), first[nm]))
                 for nm, (dt, shape) in buffers.items()]
    plan = plan_memory(intervals, aliases=aliases)
    main = config.region("main")
    weights = blob.bytes()
    arena_base = align_up(main.base + len(weights), 64)
    if arena_base + plan.size > main.base + main.size:
        raise UnsupportedModel(
            f"the program needs {len(weights)} bytes of weights and {plan.size} bytes of "
            f"activations; main memory of variant {config.name!r} has {main.size}")
    tensor_addr = {nm: arena_base + off for nm, off in plan.offsets.items()}
    weight_addr = {nm: main.base + off for nm, off in blob.addr.items()}
    return tensor_addr, weight_addr, weights, arena_base, plan
