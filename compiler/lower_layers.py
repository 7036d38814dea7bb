"""Lowering, one layer at a time (:mod:`.lower`): the :class:`~.program.Layer` an IR operator
becomes on the NPU, and its descriptors once the memory plan has placed the activations.

- :func:`gemm_layer` / :func:`emit_gemm`: FULLY_CONNECTED and CONV_2D as one GEMM (directly,
  or on the core's im2col matrix: :func:`gemm_form`) through the GEMM planner;
- :func:`planned_layer`: an ``npu_op`` layer of the operator planners (:mod:`.npu_ops`);
- :func:`fast_conv_layers`: the exact fast path of an unfused float32 convolution
  (:mod:`.onnx_fast`: the NPU's int32 sums, then the core);
- :func:`gemv_layer`: a batch-1 FULLY_CONNECTED on the GEMV plan (:mod:`.npu_gemv`);
- :func:`fc_fallback_layers`: an INT8 TFLite FULLY_CONNECTED no STORE rescales exactly
  (:mod:`.fc_store`): its int32 sums (a GEMM with a raw INT32 STORE), then the core's exact
  double rescale (``fc_rescale``);
- :func:`emit_planned`: a planned layer's descriptors at the placed addresses;
- :func:`layer_macs`: the multiply-accumulates of an operator;
- :func:`folded_bias`: an INT8 layer's bias with the input zero point folded in (also the
  dot-unit target's, :mod:`.dot_target` and :mod:`.dot_depthwise`).

Every function that takes ``blob`` puts its layer's constants (weights, bias, requantization
rows, planner parameter images) into the weight blob of :func:`.lower.compile_graph`.
"""

import numpy as np
from dure.rtl.npu.commands import OutType, Precision, RequantMode
from dure.sim.conv_plan import conv2d_int8_sum_program
from dure.sim.gemm_descriptors import gemm_descriptors
from dure.sim.golden_fixedpoint import wrap_int32
from dure.sim.npu_model import perf_macs

from . import onnx_float
from .fc_store import fc_acc_name, fc_rescale_scales, fc_store_exact, fc_store_params
from .ir import OpKind, explicit_padding
from .npu_gemm import gemm_cost, tflite_gemm_descriptors
from .npu_gemv import fc_gemv_program
from .npu_ops import float_conv, param_image
from .onnx_fast import fast_params, fast_table
from .program import Layer
from .reference import constant, onnx_float_conv_params, onnx_scales, tflite_multipliers

__all__ = ["layer_macs", "gemm_form", "gemm_layer", "planned_layer", "fast_conv_layers",
           "gemv_layer", "fc_fallback_layers", "counted_macs", "emit_planned", "emit_gemm"]


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


def gemm_form(graph, op, im2col):
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


def folded_bias(graph, op, rows):
    """The int32 bias of an INT8 layer ``op`` (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)
    with the input zero point folded in: ``bias_o - x_zp * sum_k rows[o, k]``, wrapping modulo
    2**32 (equal to the reference's ``sum (x - x_zp) * w``, padded taps included since they
    hold ``x_zp``); ``rows`` holds the weights of output ``o`` in row ``o`` (extra zero
    weights add nothing), the bias is zero where the operator has none."""
    b = constant(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] else None
    bias = np.zeros(len(rows), np.int64) if b is None else b.astype(np.int64)
    zx = graph.tensors[op.inputs[0]].quant.zp
    return wrap_int32(bias - zx * rows.astype(np.int64).sum(axis=1)).astype(np.int32)


def gemm_layer(graph, op, blob, a_name, m, k, n, config, precision, store=None):
    """A ``gemm`` layer: ``op`` (FULLY_CONNECTED or CONV_2D) as one (m, k, n) GEMM of ``a_name``
    by its weights, with the fused bias (INT8: the input zero point folded in),
    requantization and clamp; its operands go into ``blob``, its descriptors are made by
    :func:`emit_gemm` once the activations are placed. ``store``: an INT8 TFLite
    FULLY_CONNECTED's ``(mode, multipliers, shifts)`` when the caller has them
    (:func:`.fc_store.fc_store_exact`)."""
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
        lo, hi = int(lo), int(hi)
        p.update(precision="int8", zero_point=T[op.outputs[0]].quant.zp, lo=min(lo, hi), hi=hi,
                 bias=blob.add(f"{base}/bias", folded_bias(graph, op, w.reshape(n, -1))))
        if graph.arithmetic == "tflite":
            if op.kind is OpKind.FULLY_CONNECTED:
                # compile_graph took fc_fallback_layers where no STORE is exact
                mode, mult, shift = store or fc_store_params(graph, op)
            else:
                mode = RequantMode.TFLITE_DOUBLE_ROUNDING
                mult, shift = tflite_multipliers(graph, op)
            p.update(mode=mode,
                     multiplier=blob.add(f"{base}/multiplier", mult.astype(np.int32)),
                     shift=blob.add(f"{base}/shift", shift.astype(np.int32)))
        else:
            p.update(mode=RequantMode.FLOAT_SCALE,
                     scale=blob.add(f"{base}/scale", onnx_scales(graph, op)))
        eb = 1
    return Layer("gemm", "npu", op, [a_name], [op.outputs[0]], gemm=(m, k, n),
                 macs=m * k * n, array_macs=m * k * n, weight_bytes=bmat.nbytes,
                 est_cycles=gemm_cost(config, m, k, n, elem_bytes=eb), params=p)


def planned_layer(graph, op, blob, reads, planned, config):
    """An ``npu_op`` layer: ``planned`` is :func:`.npu_ops.layer_planner`'s ``(plan, trial)``;
    the trial's parameter bytes (which do not depend on the addresses) go into the weight blob;
    the descriptors are made with the real addresses by :func:`emit_planned`."""
    plan, trial = planned
    image, pname = _add_params(blob, f"{op.outputs[0]}/params", trial, config)
    cost = getattr(trial.plan, "cost", None)
    return Layer("npu_op", "npu", op, reads, [op.outputs[0]], macs=layer_macs(graph, op),
                 weight_bytes=len(image), est_cycles=cost[0] if cost else None,
                 params={"planner": op.kind.value, "params": pname, "notes": trial.notes,
                         "lane_use": round(trial.lane_use, 4)},
                 plan=(plan, image), array_macs=counted_macs(trial.descriptors))


def fast_conv_layers(graph, op, blob, buffers, reads, config):
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
    planned = _trial_params(plan, blob, f"{sums_name}/params", config)
    if planned is None:
        return None
    trial, image, pname = planned
    buffers[sums_name] = (np.int32, tuple(trial.out_shape))
    cost = getattr(trial.plan, "cost", None)
    npu = Layer("npu_op", "npu", op, reads, [sums_name], macs=layer_macs(graph, op),
                weight_bytes=len(image), est_cycles=cost[0] if cost else None,
                params={"planner": "conv_sums", "params": pname, "notes": trial.notes,
                        "lane_use": round(trial.lane_use, 4)},
                plan=(plan, image), array_macs=counted_macs(trial.descriptors))
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


#: ``gemv_layer``'s ``store`` default: no answer given, prove it here.
_PROVE = object()


def gemv_layer(graph, op, blob, buffers, config, precision, *, fc_fallback=False,
               store=_PROVE):
    """A ``gemv`` layer (:mod:`.npu_gemv`) for a batch-1 FULLY_CONNECTED of an INT8 TFLite or
    ONNX model (ONNX: the ``FLOAT_SCALE`` requantization with :func:`.reference.onnx_scales`,
    as the GEMM path) or an FP16 model with at least C (array columns) units, or None (other
    operators and models, fewer units, or a shape the GEMV plan refuses: the GEMM path then).
    Below C units the GEMM needs fewer weight sets than the GEMV has K tiles, each a LOAD of
    a few bytes: MobileNet's 256 -> 2 classifier takes 3,505 cycles as a GEMM and 4,481 as a
    GEMV on the 8x8 SoC. The parameter bytes (transposed weights, bias, multiplier and shift
    or scale rows) go into the blob as for ``npu_op`` layers. An INT8 TFLite layer without
    exact STORE parameters (:func:`.fc_store.fc_store_exact`; ``fc_fallback``: always) gives
    None too: it takes :func:`fc_fallback_layers`. ``store``: that function's answer for
    ``op`` (None included) when the caller has it, so the proof runs once per layer; by
    default it is computed here."""
    T = graph.tensors
    if op.kind is not OpKind.FULLY_CONNECTED or gemm_form(graph, op, False) is None:
        return None
    if fc_fallback and graph.arithmetic == "tflite":
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
        exact = fc_store_exact(graph, op) if store is _PROVE else store
        if exact is None:               # no exact STORE: the GEMM's raw sums and the core
            return None
        mode, mult, shift = exact
        lo, hi = int(lo), int(hi)
        kw = dict(precision="int8", bias=folded, multiplier=mult, shift=shift,
                  zero_point=out.quant.zp, lo=min(lo, hi), hi=hi, mode=mode)
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
    planned = _trial_params(plan, blob, f"{op.outputs[0]}/params", config)
    if planned is None:
        return None
    trial, image, pname = planned
    return Layer("gemv", "npu", op, [op.inputs[0]], writes, gemm=(1, k, n), macs=k * n,
                 array_macs=trial.array_macs, weight_bytes=k * n * eb,
                 est_cycles=-(-k * n * eb // config.main_bytes_per_cycle),
                 params={"planner": "gemv", "params": pname}, plan=(plan, image))


def fc_fallback_layers(graph, op, blob, buffers, a_name, m, k, n, config):
    """The exact fallback of an INT8 TFLite FULLY_CONNECTED that no STORE parameters rescale
    as LiteRT does (:mod:`.fc_store`): a ``gemm`` layer storing the raw int32 sums ``acc =
    bias' + x @ w^T`` (the input zero point folded into the bias, wrapping as LiteRT's int32
    accumulator) into the scratch buffer ``<out>/acc`` (``(m, n)`` int32, added to
    ``buffers``: the memory plan places it like any intermediate), then a core layer
    ``fc_rescale`` computing ``clamp(int32(round(double(acc) * s_j)) + zp, lo, hi)`` exactly
    (``CoreOp.FC_RESCALE_TFLITE``; the per-unit scales of
    :func:`.fc_store.fc_rescale_scales` as float64 in the weights)."""
    w = constant(graph, op.inputs[1])
    base = op.outputs[0]
    acc = fc_acc_name(op)
    buffers[acc] = (np.dtype(np.int32), (m, n))
    bmat = np.ascontiguousarray(w.reshape(w.shape[0], -1).T)        # (K, N)
    p = {"a": a_name, "out": acc, "b": blob.add(f"{base}/B", bmat), "precision": "int8",
         "raw": True, "bias": blob.add(f"{base}/bias", folded_bias(graph, op, w.reshape(n, -1)))}
    sums = Layer("gemm", "npu", op, [a_name], [acc], gemm=(m, k, n), macs=m * k * n,
                 array_macs=m * k * n, weight_bytes=bmat.nbytes,
                 est_cycles=gemm_cost(config, m, k, n, elem_bytes=1), params=p)
    lo, hi = int(op.attrs["lo"]), int(op.attrs["hi"])
    rescale = Layer("fc_rescale", "core", op, [acc], [base], macs=0,
                    params={"rows": m, "units": n, "lo": min(lo, hi), "hi": hi,
                            "zero_point": graph.tensors[base].quant.zp,
                            "scales": blob.add(f"{base}/scales_f64",
                                               fc_rescale_scales(graph, op))})
    return [sums, rescale]


def _add_params(blob, name, trial, config):
    """Put the parameter bytes of planner program ``trial`` (planned with its parameters at
    the main-memory base) into ``blob`` as ``name``: ``(image, blob name)``."""
    image = param_image(trial, config.region("main").base)
    return image, blob.add(name, np.frombuffer(image, np.uint8))


def _trial_params(plan, blob, name, config):
    """Run ``plan(x_addrs, out_addr, param_addr)`` once with every address at the main-memory
    base (a trial: the parameter bytes do not depend on the addresses, :func:`emit_planned`
    checks it) and put its parameter bytes into ``blob`` as ``name``: ``(trial, image, blob
    name)``, or None (nothing added) when the planner refuses the layer (``ValueError``)."""
    base = config.region("main").base
    try:
        trial = plan([base], base, base)
    except ValueError:
        return None
    return (trial, *_add_params(blob, name, trial, config))


def counted_macs(descriptors):
    """The products PERF_MACS counts (:func:`dure.sim.npu_model.perf_macs`: COMPUTE ``m * k *
    n``, diagonal ``m * min(k, n)``; ELTWISE MAC ``m * n``, twice with ``pair``)."""
    return perf_macs(descriptors)


def emit_planned(layer, tensor_addr, weight_addr, **placement):
    """The descriptors of an ``npu_op`` / ``gemv`` layer at the placed addresses (its planner
    run again; the parameter bytes must equal the trial's already in the weights)."""
    plan, image = layer.plan
    param_addr = weight_addr[layer.params["params"]]
    prog = plan([tensor_addr[n] for n in layer.reads], tensor_addr[layer.writes[0]],
                param_addr, *[tensor_addr[n] for n in layer.writes[1:]],
                **placement)
    if param_image(prog, param_addr) != image:
        raise RuntimeError(f"{layer.op.name}: the planner's parameter bytes depend on the "
                           "addresses")
    return [list(d) for d in prog.descriptors]


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
    if p.get("raw"):                    # the fallback's int32 sums (fc_fallback_layers)
        return gemm_descriptors(config, *sub, precision=Precision.INT8, out=OutType.INT32,
                                out_stride=4 * n, bias_addr=bias,
                                **{**common, "out_addr": tensor_addr[p["out"]] +
                                   4 * (m0 * n + n0)})
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
