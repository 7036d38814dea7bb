"""The record of a core layer in the binary layer table (:mod:`.layer_table`, whose docstring
gives every word): which C kernel of ``firmware/npu_jobs/npu_model_run`` computes the layer's
IR operator, with its operand addresses, shapes and arithmetic parameters
(:func:`core_record`; None for an operator without a C kernel)."""

import numpy as np

from .layer_table import RECORD_WORDS, CoreOp, LayerKind

__all__ = ["core_record"]


def _f32_bits(v, default):
    return int(np.array(default if v is None else v, np.float32).view(np.uint32))


def _pool_words(graph, op):
    """Words 6..14 of a pooling record, or None when the C kernels do not take the padding."""
    from .ir import pair
    a = op.attrs
    if not isinstance(a["padding"], str):
        return None
    n, h, w, c = graph.tensors[op.inputs[0]].shape
    (kh, kw), (sh, sw) = pair(a["filter"]), pair(a["stride"])
    return [n, h, w, c, kh, kw, sh, sw, int(a["padding"] == "SAME")]


def core_record(program, layer):
    """The 32 record words of a core layer, or None when no C kernel computes it (the layer
    then needs the host: :func:`dure.compiler.soc.run_program_soc` with ``host_fallback``)."""
    from .ir import OpKind, conv_geometry, explicit_padding, pair

    graph = program.graph
    op = layer.op
    addr = program.tensor_addr
    rec = [0] * RECORD_WORDS
    rec[0] = LayerKind.CORE
    ins = [addr[n] for n in layer.reads]
    out = addr[layer.writes[0]]
    rec[2] = ins[0] if ins else 0
    rec[3] = ins[1] if len(ins) > 1 else 0
    rec[4] = out
    dtype, shape = program.buffers[layer.writes[0]]
    count = int(np.prod(shape))
    rec[5] = count
    arith = graph.arithmetic
    lo, hi = op.attrs.get("lo"), op.attrs.get("hi")
    if layer.kind == "im2col":
        x, kh, kw, (sh, sw), (dh, dw), oh, ow, pads = conv_geometry(graph, op)
        eb = np.dtype(program.buffers[layer.reads[0]][0]).itemsize
        pad = int(layer.params["pad_value"])
        rec[1] = CoreOp.IM2COL
        rec[6:15] = [*x, kh, kw, sh, sw, eb]
        rec[18:25] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, dh, dw, oh, ow,
                      pad & (0xFF if eb == 1 else 0xFFFF)]
        return rec
    if layer.kind == "dot_dense":       # the dot-unit target (dot_target.py)
        q, wa = layer.params, program.weight_addr
        rec[1] = CoreOp.DENSE_DOT_INT8
        rec[3] = wa[q["w"]]
        rec[6:17] = [q["batch"], q["in"], q["out"], wa[q["bias"]], wa[q["mult"]],
                     wa[q["shift"]], q["rounding"], int(q["dot"]), q["zero_point"] & 0xFFFF_FFFF,
                     q["lo"] & 0xFFFF_FFFF, q["hi"] & 0xFFFF_FFFF]
        return rec
    if layer.kind == "fc_rescale":      # the FULLY_CONNECTED fallback's rescale (fc_store.py)
        q = layer.params
        rec[1] = CoreOp.FC_RESCALE_TFLITE
        rec[3] = program.weight_addr[q["scales"]]
        rec[6:8] = [q["rows"], q["units"]]
        rec[15:17] = [q["lo"] & 0xFFFF_FFFF, q["hi"] & 0xFFFF_FFFF]
        rec[18] = q["zero_point"] & 0xFFFF_FFFF
        return rec
    if layer.kind == "dot_depthwise":   # the dot-unit target (dot_depthwise.py)
        from .dot_depthwise import depthwise_record_words
        rec[1] = CoreOp.DEPTHWISE_DOT_INT8
        for i, v in depthwise_record_words(program, layer).items():
            rec[i] = v
        return rec
    kind = op.kind
    T = graph.tensors
    if op.attrs.get("ort_float") and kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        # onnxruntime's float32 convolution (compiler/onnx_float.py) from the float32
        # weights, bias and chain table the compiler placed (lower.py)
        a = op.attrs
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        wa = program.weight_addr
        key = op.outputs[0]
        chains = wa.get(f"{key}/chains")
        if chains is None:
            return None
        from .reference import onnx_float_conv_params
        wg, bd, group = onnx_float_conv_params(graph, op)
        cout, kh, kw, _ = wg.shape
        (sh, sw), (dh, dw) = pair(a["stride"]), pair(a["dilation"])
        oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], kh, kw,
                                        (sh, sw), (dh, dw))
        from .onnx_float import conv_chains
        nseg = len(conv_chains(src.shape, wg.shape, (sh, sw), (dh, dw), pads, group))
        rec[1] = CoreOp.CONV_FLOAT_ONNX
        rec[3] = wa[f"{key}/float_weights"]
        rec[6:15] = [*src.shape, kh, kw, sh, sw, wa.get(f"{key}/float_bias", 0)]
        rec[15] = _f32_bits(src.quant.s, 0)
        rec[16:22] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp, dst.quant.zp, dh,
                                                      0)]
        rec[21] = _f32_bits(dst.quant.s, 0)
        rec[22:31] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow, dw, cout, group,
                      chains, nseg]
        if layer.kind == "conv_fast":   # the NPU's sums, the fast table after the chains
            rec[1] = CoreOp.CONV_FAST_ONNX
            rec[31] = addr[layer.params["sums"]]
        return rec
    if arith == "onnx" and kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        quant = kind is OpKind.QUANTIZE
        if (src.dtype, dst.dtype) != ((np.float32, np.int8) if quant else (np.int8, np.float32)):
            return None
        q = dst.quant if quant else src.quant
        rec[1] = CoreOp.QUANTIZE_ONNX if quant else CoreOp.DEQUANTIZE_ONNX
        rec[15] = _f32_bits(q.s, 0)
        rec[18] = q.zp & 0xFFFF_FFFF
        if quant:
            rec[19] = (-128 if lo is None else int(lo)) & 0xFFFF_FFFF
            rec[20] = (127 if hi is None else int(hi)) & 0xFFFF_FFFF
        return rec
    if arith == "tflite" and kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        src, dst = T[op.inputs[0]], T[op.outputs[0]]
        quant = kind is OpKind.QUANTIZE
        if quant and (src.dtype, dst.dtype) == (np.int8, np.int8):
            from dure.sim.golden_tflite_quantize import requantize_multiplier
            mult, shift = requantize_multiplier(src.quant.s, dst.quant.s)
            rec[1] = CoreOp.REQUANTIZE_TFLITE
            rec[18:22] = [int(mult) & 0xFFFF_FFFF, int(shift) & 0xFFFF_FFFF,
                          src.quant.zp & 0xFFFF_FFFF, dst.quant.zp & 0xFFFF_FFFF]
            return rec
        if (src.dtype, dst.dtype) != ((np.float32, np.int8) if quant else (np.int8, np.float32)):
            return None
        q = dst.quant if quant else src.quant
        # TFLite's DEQUANTIZE, f32(double(s) * (q - zp)), is the exact product rounded once:
        # ONNX's DequantizeLinear kernel computes the same
        rec[1] = CoreOp.QUANTIZE_TFLITE if quant else CoreOp.DEQUANTIZE_ONNX
        rec[15] = _f32_bits(q.s, 0)
        rec[18] = q.zp & 0xFFFF_FFFF
        return rec
    if kind is OpKind.RESHAPE:
        rec[1] = CoreOp.COPY
        rec[5] = count * np.dtype(dtype).itemsize
        return rec
    if kind is OpKind.TRANSPOSE:
        shape = graph.tensors[op.inputs[0]].shape
        if len(shape) > 4 or np.dtype(dtype).itemsize not in (1, 2, 4):
            return None
        lead = 4 - len(shape)
        rec[1] = CoreOp.TRANSPOSE
        rec[6:10] = [1] * lead + list(shape)
        rec[10:14] = list(range(lead)) + [p + lead for p in op.attrs["perm"]]
        rec[14] = np.dtype(dtype).itemsize
        return rec
    if kind is OpKind.PAD:
        shape = graph.tensors[op.inputs[0]].shape
        eb = np.dtype(dtype).itemsize
        if len(shape) > 4 or eb not in (1, 2, 4):
            return None
        lead = 4 - len(shape)
        pads = [(0, 0)] * lead + [tuple(p) for p in op.attrs["pads"]]
        rec[1] = CoreOp.PAD
        rec[6:10] = [1] * lead + list(shape)
        rec[10:14] = [b for b, _ in pads]
        rec[14] = eb
        rec[15] = int(np.array(np.array(op.attrs["value"]).astype(dtype)).view(
            f"u{eb}")) & 0xFFFF_FFFF
        rec[18:22] = [e for _, e in pads]
        return rec
    if arith == "onnx" and kind is OpKind.AVERAGE_POOL_2D:
        from .reference import onnx_global_pool, onnx_global_pool_scale
        src = T[op.inputs[0]]
        if not onnx_global_pool(graph, op):
            a = op.attrs
            (kh, kw), (sh, sw) = pair(a["filter"]), pair(a["stride"])
            oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], kh, kw,
                                            (sh, sw), 1)
            off = 128 if a.get("uint8") else 0
            yq = T[op.outputs[0]].quant
            rec[1] = CoreOp.AVG_POOL_ONNX
            rec[6:15] = [*src.shape, kh, kw, sh, sw, int(bool(a.get("count_include_pad")))]
            rec[15] = _f32_bits(src.quant.s, 0)
            rec[16:22] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp, yq.zp + off,
                                                          off, 0)]
            rec[21] = _f32_bits(yq.s, 0)
            rec[22:26] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow]
            return rec
        rec[1] = CoreOp.GLOBAL_AVG_POOL_ONNX
        rec[6:10] = list(src.shape)
        rec[15] = _f32_bits(onnx_global_pool_scale(graph, op), 0)
        rec[16:20] = [int(v) & 0xFFFF_FFFF for v in (lo, hi, src.quant.zp,
                                                      T[op.outputs[0]].quant.zp)]
        return rec
    if arith == "onnx" and kind is OpKind.SOFTMAX:
        from .lower import softmax_table_name
        from .reference import onnx_softmax_y_scale
        xs = T[op.inputs[0]].shape
        off = 128 if op.attrs.get("uint8") else 0
        rec[1] = CoreOp.SOFTMAX_ONNX
        rec[6:8] = [count // xs[-1], xs[-1]]
        rec[15] = _f32_bits(onnx_softmax_y_scale(T[op.outputs[0]].quant), 0)
        rec[18:21] = [(T[op.outputs[0]].quant.zp + off) & 0xFFFF_FFFF, off,
                      program.weight_addr[softmax_table_name(op)]]
        return rec
    if arith == "float":
        clamp = lo is not None or hi is not None
        rec[15:18] = [_f32_bits(lo, -np.inf), _f32_bits(hi, np.inf), int(clamp)]
        if kind is OpKind.ADD:
            rec[1] = CoreOp.ADD_FP16
            return rec
        if kind is OpKind.SOFTMAX:
            depth = T[op.inputs[0]].shape[-1]
            rec[1] = CoreOp.SOFTMAX_FP16
            rec[6:8] = [count // depth, depth]
            rec[18] = _f32_bits(op.attrs["beta"], 1.0)
            return rec
        if kind in (OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D):
            words = _pool_words(graph, op)
            if words is None:
                return None
            rec[1] = (CoreOp.MAX_POOL_FP16 if kind is OpKind.MAX_POOL_2D
                      else CoreOp.AVG_POOL_FP16)
            rec[6:15] = words
            return rec
        return None
    if arith == "onnx" and kind is OpKind.DEPTHWISE_CONV_2D:
        a = op.attrs
        src, w = T[op.inputs[0]], T[op.inputs[1]]
        scales = program.weight_addr.get(f"{op.outputs[0]}/scales")
        if a.get("depth_multiplier", 1) != 1 or scales is None:
            return None
        (sh, sw), (dh, dw) = pair(a["stride"]), pair(a["dilation"])
        oh, ow, pads = explicit_padding(a["padding"], src.shape[1], src.shape[2], w.shape[1],
                                        w.shape[2], (sh, sw), (dh, dw))
        bias = op.inputs[2]
        rec[1] = CoreOp.DEPTHWISE_ONNX
        rec[3] = program.weight_addr[op.inputs[1]]
        rec[6:15] = [*src.shape, w.shape[1], w.shape[2], sh, sw,
                     program.weight_addr[bias] if bias else 0]
        rec[15:22] = [scales, int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF,
                      src.quant.zp & 0xFFFF_FFFF, T[op.outputs[0]].quant.zp & 0xFFFF_FFFF,
                      program.weight_addr[f"{op.outputs[0]}/weight_zero_points"], dh]
        rec[22:27] = [pads[0] & 0xFFFF_FFFF, pads[1] & 0xFFFF_FFFF, oh, ow, dw]
        return rec
    if arith == "onnx" and kind is OpKind.ADD:
        from .reference import onnx_add_params
        ra, rb, fixed, off = onnx_add_params(graph, op)
        where = {**program.weight_addr, **addr}          # an operand may be a constant
        rec[1] = CoreOp.ADD_ONNX
        rec[2], rec[3] = where[op.inputs[0]], where[op.inputs[1]]
        rec[15:18] = [_f32_bits(v, 0) for v in (ra, rb, fixed)]
        rec[18:21] = [off, int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        from .lower import add_table_name
        rec[21] = program.weight_addr.get(add_table_name(op), 0)
        if op.attrs.get("ort_float") and not rec[21]:
            return None         # the float32 Add of an unfused QDQ group: the table only
        return rec
    if kind is OpKind.MAX_POOL_2D:
        words = _pool_words(graph, op)
        if words is None:
            return None
        rec[1] = CoreOp.MAX_POOL_INT8
        rec[6:15] = words
        rec[15:17] = [int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        return rec
    if arith != "tflite":
        return None
    if kind is OpKind.AVERAGE_POOL_2D:
        words = _pool_words(graph, op)
        if words is None:
            return None
        rec[1] = CoreOp.AVG_POOL_INT8
        rec[6:15] = words
        rec[15:17] = [int(lo) & 0xFFFF_FFFF, int(hi) & 0xFFFF_FFFF]
        return rec
    if kind is OpKind.ADD:
        from dure.sim.golden_tflite_params import add_params
        q1, q2, qo = (T[n].quant for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
        try:
            p = add_params(q1.s, q2.s, qo.s)
        except (ValueError, FloatingPointError):
            return None                 # the reference refuses these scales too
        words = [p.left_shift, p.input1_multiplier, p.input1_shift, p.input2_multiplier,
                 p.input2_shift, p.output_multiplier, p.output_shift, q1.zp, q2.zp, qo.zp,
                 int(lo), int(hi)]
        rec[1] = CoreOp.ADD_INT8
        rec[18:30] = [int(v) & 0xFFFF_FFFF for v in words]
        return rec
    if kind is OpKind.SOFTMAX:
        from dure.sim.golden_tflite_softmax import softmax_params
        xs = T[op.inputs[0]].shape
        try:
            mult, shift, diff_min = softmax_params(op.attrs["beta"], T[op.inputs[0]].quant.s)
        except ValueError:
            return None                 # the reference refuses these parameters too
        rec[1] = CoreOp.SOFTMAX_INT8
        rec[6:8] = [count // xs[-1], xs[-1]]
        rec[18:21] = [int(mult) & 0xFFFF_FFFF, int(shift) & 0xFFFF_FFFF,
                      int(diff_min) & 0xFFFF_FFFF]
        return rec
    return None
