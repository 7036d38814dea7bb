"""Lowering: the IR (:mod:`.ir`) to a :class:`~.program.Program` for one SoC variant.

Which operators run on the NPU (everything else runs on the core, marked ``core``):

- FULLY_CONNECTED: one GEMM, ``A = x`` (B x K), ``B = w^T`` (K x units); with one input
  row (batch 1), at least C units and ``gemv`` on (the default), for INT8 TFLite and ONNX
  models and FP16 models, the GEMV plan instead (layer kind ``gemv``, :mod:`.npu_gemv`): the
  weights stream once at the memory roofline instead of one stationary weight set per tile
  for a single row;
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
rounding for FULLY_CONNECTED, per-channel multiplier and shift; :mod:`.npu_gemm`); ONNX models
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
"""

import numpy as np
from dure.rtl.npu.commands import Opcode, OutType, Precision, RequantMode
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.conv_plan import conv2d_int8_sum_program
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.npu_model import perf_macs

from . import onnx_float
from .errors import UnsupportedModel
from .ir import OpKind, explicit_padding, is_layout_view, pair
from .memory_plan import Interval, align_up, plan_memory
from .npu_gemm import gemm_cost, tflite_gemm_descriptors
from .npu_gemv import fc_gemv_program, prefetch_next
from .npu_ops import float_conv, layer_planner, param_image
from .onnx_fast import fast_params, fast_table
from .program import Layer, Program
from .reference import (
    constant,
    onnx_add_table,
    onnx_float_conv_params,
    onnx_scales,
    onnx_softmax_table,
    tflite_multipliers,
)

__all__ = ["compile_graph", "value_dtype", "layer_macs", "emit_gemm"]


def value_dtype(graph, name):
    """The element type a tensor has at run time (float activations of a float graph: fp16)."""
    t = graph.tensors[name]
    if graph.arithmetic == "float" and t.dtype == np.float32:
        return np.dtype(np.float16)
    return t.dtype


def layer_macs(graph, op):
    """Multiply-accumulates of an operator (0 for those that compute none)."""
    out = graph.tensors[op.outputs[0]].shape
    if op.kind is OpKind.CONV_2D:
        _, kh, kw, cin = graph.tensors[op.inputs[1]].shape
        return int(np.prod(out)) * kh * kw * cin
    if op.kind is OpKind.DEPTHWISE_CONV_2D:
        _, kh, kw, _ = graph.tensors[op.inputs[1]].shape
        return int(np.prod(out)) * kh * kw
    if op.kind is OpKind.FULLY_CONNECTED:
        return int(np.prod(out)) * graph.tensors[op.inputs[1]].shape[1]
    return 0


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


def _gemm_form(graph, op, im2col):
    """``(direct, K)`` when ``op`` runs as an NPU GEMM (``direct``: no im2col), else None."""
    T = graph.tensors
    if op.kind not in (OpKind.FULLY_CONNECTED, OpKind.CONV_2D) or float_conv(op):
        return None
    w = T[op.inputs[1]]
    if graph.arithmetic != "float" and np.any(w.quant.zero_point != 0):
        return None
    if op.kind is OpKind.FULLY_CONNECTED:
        return True, w.shape[1]
    cout, kh, kw, cin = w.shape
    x = T[op.inputs[0]]
    pads = explicit_padding(op.attrs["padding"], x.shape[1], x.shape[2], kh, kw,
                            op.attrs["stride"], op.attrs["dilation"])[2]
    if kh == kw == 1 and tuple(op.attrs["stride"]) == (1, 1) and not any(pads):
        return True, cin
    return (False, kh * kw * cin) if im2col else None


def pointwise_choice(config):
    """How 1x1 convolutions run on ``config``'s array by default: ``"walk"`` on arrays of at
    least 8x8, ``"gemm"`` on smaller ones (module docstring)."""
    return "walk" if min(config.npu_rows, config.npu_cols) >= 8 else "gemm"


def compile_graph(graph, config, precision=None, *, im2col=True, planners=True, gemv=True,
                  pointwise=None, alias=True, float_fast=True):
    """Lower ``graph`` for ``config``'s NPU; returns a :class:`~.program.Program`.

    ``precision``: ``"int8"`` (quantized models) or ``"fp16"`` (float models), default the
    graph's own. Raises :class:`UnsupportedModel` for a precision the model cannot run in, a
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
        form = _gemm_form(graph, op, im2col)
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
        fast = _fast_conv_layers(graph, op, blob, buffers, reads, config) \
            if planners and float_fast and float_conv(op) else None
        if fast:                # unfused float32 conv: NPU sums, the core decides (onnx_fast)
            layers.extend(fast)
            continue
        plan = None if not planners or op.kind is OpKind.FULLY_CONNECTED or pw_gemm else \
            layer_planner(graph, op, config, precision)
        if plan is not None:
            layers.append(_planned_layer(graph, op, blob, reads, plan, config))
            continue
        fc = _gemv_layer(graph, op, blob, buffers, config, precision) if gemv else None
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
        direct, k = form
        out = T[op.outputs[0]]
        n = out.shape[-1]
        m = int(np.prod(out.shape)) // n
        a_name = op.inputs[0]
        if not direct:
            a_name = f"{op.outputs[0]}/im2col"
            buffers[a_name] = (value_dtype(graph, op.inputs[0]), (m, k))
            layers.append(Layer("im2col", "core", op, [op.inputs[0]], [a_name],
                                params={"pad_value": 0 if precision == "fp16" else
                                        T[op.inputs[0]].quant.zp}))
        try:
            layers.append(_gemm_layer(graph, op, blob, a_name, m, k, n, config, precision))
        except ValueError as e:
            raise op.fail(f"cannot be lowered onto the NPU: {e}") from None
    # memory plan of the activations
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
                layer.commands = _emit_planned(layer, tensor_addr, weight_addr,
                                               **({"flip": flip, "acc_upper": upper}
                                                  if alternate else {}))
            except ValueError:
                if not alternate:
                    raise
                # the upper ACC half collides with the requantization rows: as planned
                layer.commands = _emit_planned(layer, tensor_addr, weight_addr)
            layer.commands.append(encode(Opcode.FENCE))
            if alternate:
                last = [f["acc_addr"] for op, f in map(decode, layer.commands)
                        if op == Opcode.COMPUTE][-1]
                upper = last >= config.npu_acc_rows // 2
        elif layer.kind == "gemm":
            try:
                # The FENCE makes the layer's STOREs reach memory before a later LOAD reads
                # them (main memory is not hazard-tracked, rtl/npu/commands.py "Ordering").
                layer.commands = _emit(config, layer, tensor_addr, weight_addr) + [
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


def _gemm_layer(graph, op, blob, a_name, m, k, n, config, precision):
    T = graph.tensors
    w = constant(graph, op.inputs[1])
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    base = op.outputs[0]
    bmat = np.ascontiguousarray(w.reshape(w.shape[0], -1).T)        # (K, N)
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")
    p = {"a": a_name, "out": op.outputs[0], "b": blob.add(f"{base}/B", bmat)}
    if precision == "fp16":
        p.update(precision="fp16", lo=lo, hi=hi,
                 bias=blob.add(f"{base}/bias", b.astype(np.float32)) if b is not None else None)
        eb = 2
    else:
        zx = T[op.inputs[0]].quant.zp
        bias = np.zeros(n, np.int64) if b is None else b.astype(np.int64)
        folded = wrap_int32(bias - zx * w.reshape(n, -1).astype(np.int64).sum(axis=1))
        lo, hi = int(lo), int(hi)
        p.update(precision="int8", zero_point=T[op.outputs[0]].quant.zp, lo=min(lo, hi), hi=hi,
                 bias=blob.add(f"{base}/bias", folded.astype(np.int32)))
        if graph.arithmetic == "tflite":
            mult, shift = tflite_multipliers(graph, op)
            p.update(mode=(RequantMode.TFLITE_SINGLE_ROUNDING if op.kind is
                           OpKind.FULLY_CONNECTED else RequantMode.TFLITE_DOUBLE_ROUNDING),
                     multiplier=blob.add(f"{base}/multiplier", mult.astype(np.int32)),
                     shift=blob.add(f"{base}/shift", shift.astype(np.int32)))
        else:
            p.update(mode=RequantMode.FLOAT_SCALE,
                     scale=blob.add(f"{base}/scale", onnx_scales(graph, op)))
        eb = 1
    return Layer("gemm", "npu", op, [a_name], [op.outputs[0]], gemm=(m, k, n),
                 macs=m * k * n, array_macs=m * k * n, weight_bytes=bmat.nbytes,
                 est_cycles=gemm_cost(config, m, k, n, elem_bytes=eb), params=p)


def _planned_layer(graph, op, blob, reads, planned, config):
    """An ``npu_op`` layer: ``planned`` is :func:`.npu_ops.layer_planner`'s ``(plan, trial)``;
    the trial's parameter bytes (which do not depend on the addresses) go into the weight blob;
    the descriptors are made with the real addresses by :func:`_emit_planned`."""
    plan, trial = planned
    image = param_image(trial, config.region("main").base)
    pname = blob.add(f"{op.outputs[0]}/params", np.frombuffer(image, np.uint8))
    cost = getattr(trial.plan, "cost", None)
    return Layer("npu_op", "npu", op, reads, [op.outputs[0]], macs=layer_macs(graph, op),
                 weight_bytes=len(image), est_cycles=cost[0] if cost else None,
                 params={"planner": op.kind.value, "params": pname, "notes": trial.notes,
                         "lane_use": round(trial.lane_use, 4)},
                 plan=(plan, image), array_macs=_counted_macs(trial.descriptors))


def _fast_conv_layers(graph, op, blob, buffers, reads, config):
    """The exact fast path of an ``ort_float`` convolution (:mod:`.onnx_fast`), or None when
    it does not apply: an ``npu_op`` layer storing the int32 sums ``S`` into a scratch buffer
    ``<out>/sums`` (:func:`dure.sim.conv_plan.conv2d_int8_sum_program`), then a core layer
    ``conv_fast`` that decides each output from ``S`` or recomputes it in float32 (its float
    weights, bias and chain table as the slow kernel's, the fast table after the chains)."""
    p = fast_params(graph, op)
    if p is None or not config.npu_rows:
        return None
    x = graph.tensors[op.inputs[0]]
    out = op.outputs[0]
    sums_name = f"{out}/sums"

    def plan(x_addrs, out_addr, param_addr):
        return conv2d_int8_sum_program(config, tuple(x.shape), p.w, input_zero_point=p.zx,
                                       stride=p.stride, padding=p.padding, x_addr=x_addrs[0],
                                       out_addr=out_addr, param_addr=param_addr)
    base = config.region("main").base
    try:
        trial = plan([base], base, base)
    except ValueError:
        return None
    image = param_image(trial, base)
    pname = blob.add(f"{sums_name}/params", np.frombuffer(image, np.uint8))
    buffers[sums_name] = (np.int32, tuple(trial.out_shape))
    cost = getattr(trial.plan, "cost", None)
    npu = Layer("npu_op", "npu", op, reads, [sums_name], macs=layer_macs(graph, op),
                weight_bytes=len(image), est_cycles=cost[0] if cost else None,
                params={"planner": "conv_sums", "params": pname, "notes": trial.notes,
                        "lane_use": round(trial.lane_use, 4)},
                plan=(plan, image), array_macs=_counted_macs(trial.descriptors))
    wg, bd, group = onnx_float_conv_params(graph, op)
    chains = onnx_float.conv_chains(x.shape, wg.shape, p.stride, (1, 1), p.pads, group)
    blob.add(f"{out}/float_weights", np.ascontiguousarray(
        wg.transpose(0, 3, 1, 2)).reshape(wg.shape[0], -1))
    if bd is not None:
        blob.add(f"{out}/float_bias", bd)
    blob.add(f"{out}/chains", np.frombuffer(np.asarray(chains, np.uint32).tobytes() +
                                            fast_table(p), np.uint8))
    # the MACs are the NPU layer's; the core decides (and recomputes a few outputs)
    core = Layer("conv_fast", "core", op, [*reads, sums_name], [out], macs=0,
                 params={"sums": sums_name})
    return [npu, core]


def _gemv_layer(graph, op, blob, buffers, config, precision):
    """A ``gemv`` layer (:mod:`.npu_gemv`) for a batch-1 FULLY_CONNECTED of an INT8 TFLite or
    ONNX model (ONNX: the ``FLOAT_SCALE`` requantization with :func:`.reference.onnx_scales`,
    as the GEMM path) or an FP16 model with at least C (array columns) units, or None (other
    operators and models, fewer units, or a shape the GEMV plan refuses: the GEMM path then).
    Below C units the GEMM needs fewer weight sets than the GEMV has K tiles, each a LOAD of
    a few bytes: MobileNet's 256 -> 2 classifier takes 3,505 cycles as a GEMM and 4,481 as a
    GEMV on the 8x8 SoC. The parameter bytes (transposed weights, bias, multiplier and shift
    or scale rows) go into the blob as for ``npu_op`` layers."""
    T = graph.tensors
    if op.kind is not OpKind.FULLY_CONNECTED or _gemm_form(graph, op, False) is None:
        return None
    out = T[op.outputs[0]]
    if len(out.shape) != 2 or out.shape[0] != 1 or out.shape[1] < config.npu_cols:
        return None
    w = constant(graph, op.inputs[1])                              # (N, K)
    n, k = w.shape
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")
    writes = [op.outputs[0]]
    if precision == "fp16":
        kw = dict(precision="fp16", lo=lo, hi=hi,
                  bias=None if b is None else b.astype(np.float32))
    elif graph.arithmetic == "tflite":
        zx = T[op.inputs[0]].quant.zp
        bias = np.zeros(n, np.int64) if b is None else b.astype(np.int64)
        folded = wrap_int32(bias - zx * w.astype(np.int64).sum(axis=1)).astype(np.int32)
        mult, shift = tflite_multipliers(graph, op)
        lo, hi = int(lo), int(hi)
        kw = dict(precision="int8", bias=folded, multiplier=mult, shift=shift,
                  zero_point=out.quant.zp, lo=min(lo, hi), hi=hi,
                  mode=RequantMode.TFLITE_SINGLE_ROUNDING)
    elif graph.arithmetic == "onnx":
        zx = T[op.inputs[0]].quant.zp
        bias = np.zeros(n, np.int64) if b is None else b.astype(np.int64)
        folded = wrap_int32(bias - zx * w.astype(np.int64).sum(axis=1)).astype(np.int32)
        scale = np.broadcast_to(onnx_scales(graph, op), (n,))
        lo, hi = int(lo), int(hi)
        kw = dict(precision="int8", bias=folded, scale=scale, zero_point=out.quant.zp,
                  lo=min(lo, hi), hi=hi, mode=RequantMode.FLOAT_SCALE)
    else:
        return None
    wkn = np.ascontiguousarray(w.T)
    eb = 2 if precision == "fp16" else 1

    def plan(x_addrs, out_addr, param_addr, channels=None, flip=False, acc_upper=None):
        """The layer's program, or with ``channels = (c0, c1)`` (c0 a multiple of the array
        width) the program of output channels c0..c1 alone at their places in the output
        (:mod:`.tile_split`)."""
        if channels is None:
            return fc_gemv_program(config, wkn, x_addr=x_addrs[0], out_addr=out_addr,
                                   param_addr=param_addr, flip=flip, acc_upper=acc_upper,
                                   **kw)
        c0, c1 = channels
        part = {key: (v[c0:c1] if key in ("bias", "multiplier", "shift", "scale") and
                      v is not None
                      else v) for key, v in kw.items()}
        return fc_gemv_program(config, np.ascontiguousarray(wkn[:, c0:c1]), x_addr=x_addrs[0],
                               out_addr=out_addr + c0 * eb, param_addr=param_addr, **part)
    base = config.region("main").base
    try:
        trial = plan([base], base, base)
    except ValueError:
        return None
    image = param_image(trial, base)
    pname = blob.add(f"{op.outputs[0]}/params", np.frombuffer(image, np.uint8))
    return Layer("gemv", "npu", op, [op.inputs[0]], writes, gemm=(1, k, n), macs=k * n,
                 array_macs=trial.array_macs, weight_bytes=k * n * eb,
                 est_cycles=-(-k * n * eb // config.main_bytes_per_cycle),
                 params={"planner": "gemv", "params": pname}, plan=(plan, image))


def _counted_macs(descriptors):
    """The products PERF_MACS counts (:func:`dure.sim.npu_model.perf_macs`: COMPUTE ``m * k *
    n``, diagonal ``m * min(k, n)``; ELTWISE MAC ``m * n``, twice with ``pair``)."""
    return perf_macs(descriptors)


def _emit_planned(layer, tensor_addr, weight_addr, **placement):
    plan, image = layer.plan
    param_addr = weight_addr[layer.params["params"]]
    prog = plan([tensor_addr[n] for n in layer.reads], tensor_addr[layer.writes[0]],
                param_addr, *[tensor_addr[n] for n in layer.writes[1:]],
                **placement)
    if param_image(prog, param_addr) != image:
        raise RuntimeError(f"{layer.op.name}: the planner's parameter bytes depend on the "
                           "addresses")
    return [list(d) for d in prog.descriptors]


def _emit(config, layer, tensor_addr, weight_addr):
    return emit_gemm(config, layer, tensor_addr, weight_addr)


def emit_gemm(config, layer, tensor_addr, weight_addr, *, cols=None, rows=None):
    """The descriptors of GEMM layer ``layer`` (no FENCE), or of the part of it that computes
    output columns ``cols = (n0, n1)`` or output rows ``rows = (m0, m1)`` (a sub-GEMM with the
    operands' and the output's offsets and the whole strides: :mod:`.tile_split`)."""
    p = layer.params
    m, k, n = layer.gemm
    eb = 2 if p["precision"] == "fp16" else 1
    ob = eb                                    # the output: fp16 or int8
    n0, n1 = cols or (0, n)
    m0, m1 = rows or (0, m)
    if not (0 <= n0 < n1 <= n and 0 <= m0 < m1 <= m):
        raise ValueError(f"bad part cols={cols} rows={rows} of a {m}x{k}x{n} GEMM")
    common = dict(a_addr=tensor_addr[p["a"]] + m0 * k * eb, a_stride=k * eb,
                  b_addr=weight_addr[p["b"]] + n0 * eb, b_stride=n * eb,
                  out_addr=tensor_addr[p["out"]] + (m0 * n + n0) * ob)
    sub = (m1 - m0, k, n1 - n0)
    bias = weight_addr[p["bias"]] + 4 * n0 if p["bias"] else None
    if p["precision"] == "fp16":
        return gemm_descriptors(config, *sub, precision=Precision.FP16, out=OutType.FP16,
                                out_stride=2 * n, bias_addr=bias, lo=p["lo"], hi=p["hi"],
                                **common)
    if p["mode"] == RequantMode.FLOAT_SCALE:
        return gemm_descriptors(config, *sub, precision=Precision.INT8, out=OutType.INT8,
                                out_stride=n, bias_addr=bias,
                                scale_addr=weight_addr[p["scale"]] + 4 * n0,
                                zero_point=p["zero_point"], lo=p["lo"], hi=p["hi"], **common)
    return tflite_gemm_descriptors(config, *sub, out_stride=n, bias_addr=bias,
                                   multiplier_addr=weight_addr[p["multiplier"]] + 4 * n0,
                                   shift_addr=weight_addr[p["shift"]] + 4 * n0,
                                   zero_point=p["zero_point"], lo=p["lo"], hi=p["hi"],
                                   mode=p["mode"], **common)
