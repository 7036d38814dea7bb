"""The convolutions and matrix products of the ONNX front end (:mod:`.onnx_frontend`): Conv
(plain, depthwise, grouped), Gemm and MatMul into ``CONV_2D``, ``DEPTHWISE_CONV_2D`` and
``FULLY_CONNECTED``, their padding, and the split of a quantized layer whose weights have a
zero point other than 0 into one with zero point 0 over its input twice
(:meth:`ConvOps._weight_zero_point_split`). A mixin of the converter: the methods use its
helpers (``value``, ``new``, ``emit``, ``put``, ``const``) and its switch
``split_weight_zero_point``; the quantized nodes (:mod:`.onnx_quantized`, :mod:`.onnx_qdq`)
call ``_conv_common`` and ``_fc`` with their quantization.
"""

import numpy as np

from .ir import OpKind, Quant, explicit_padding

__all__ = ["ConvOps", "FC_SPLIT_MAX_INPUTS"]

#: The largest input of a quantized fully connected layer whose weight zero point is split
#: off (the duplicating layer's 2 K x K identity: 128 KiB at 256).
FC_SPLIT_MAX_INPUTS = 256


class ConvOps:
    """Conv / Gemm / MatMul conversion methods of the ONNX converter."""

    def _conv_common(self, node, x_name, w, b, out_name, out_dtype, out_quant, w_quant,
                     layout_in="nhwc", ort=None):
        a = node.attrs
        x, _ = self.value(x_name, node, "nhwc")
        xs = self.T[x].shape
        if len(xs) != 4 or w.ndim != 4:
            raise node.fail("only 2-D convolutions (4-D tensors) are supported")
        cout, cin_g, kh, kw = w.shape
        group = int(a.get("group", 1))
        strides = tuple(a.get("strides", (1, 1)))
        dil = tuple(a.get("dilations", (1, 1)))
        padding = self._padding(node, xs, kh, kw, strides, dil)
        if group == 1:
            if cin_g != xs[3]:
                raise node.fail(f"weights expect {cin_g} input channels, the input has {xs[3]}")
            kind, wt, extra = OpKind.CONV_2D, w.transpose(0, 2, 3, 1), {}
            wq = w_quant
        elif group == xs[3] and cin_g == 1 and cout == group and not (
                w_quant is not None and out_dtype == np.int8 and ort is None and
                np.any(w_quant.zero_point) and self.split_weight_zero_point):
            kind, extra = OpKind.DEPTHWISE_CONV_2D, {"depth_multiplier": 1}
            wt = w.transpose(1, 2, 3, 0)
            wq = None if w_quant is None else Quant(w_quant.scale, w_quant.zero_point, 3)
        elif group > 1 and cin_g * group == xs[3] and cout % group == 0:
            # grouped, depthwise with a channel multiplier above 1 (groups of one input
            # channel), and quantized depthwise with a weight zero point (then split below):
            # one convolution whose weights are zero outside each group's block (the weight
            # zero point in a quantized model), so every extra product is exactly 0
            kind, extra, wq = OpKind.CONV_2D, {}, w_quant
            zero = 0 if w_quant is None else np.broadcast_to(
                np.asarray(w_quant.zero_point), (cout,))
            full = np.zeros((cout, xs[3], kh, kw), w.dtype)
            full[...] = np.reshape(zero, (cout, 1, 1, 1)) if w_quant is not None else 0
            og = cout // group
            for g in range(group):
                full[g * og:(g + 1) * og, g * cin_g:(g + 1) * cin_g] = w[g * og:(g + 1) * og]
            wt = full.transpose(0, 2, 3, 1)
        else:
            raise node.fail(f"group = {group} does not divide the input's {xs[3]} channels "
                            f"and the {cout} output channels into groups of {cin_g}")
        if kind is OpKind.CONV_2D and wq is not None and out_dtype == np.int8 and \
                self.split_weight_zero_point and ort is None:
            x, wt, wq = self._weight_zero_point_split(node, x, wt, wq)
        wname = self.new(f"{node.name}/weights", wt.dtype, wt.shape, wq,
                         np.ascontiguousarray(wt))
        bname = None
        if b is not None:
            bname = self.new(f"{node.name}/bias", b.dtype, b.shape, None, b)
        oh, ow, _ = explicit_padding(padding, xs[1], xs[2], kh, kw, strides, dil)
        y = self.new(out_name, out_dtype, (xs[0], oh, ow, cout), out_quant)
        attrs = dict(stride=strides, dilation=dil, padding=padding, lo=None, hi=None, **extra)
        if out_dtype == np.int8:
            attrs.update(lo=-128, hi=127)
        if ort is not None:     # onnxruntime's float32 Conv (onnx_float.py)
            if oh * ow == 1 and cout // group > 1:
                raise node.fail("onnxruntime on x86-64 runs this Conv unfused, in float32, "
                                "and with one output pixel it takes MLAS's one-column kernel, "
                                "whose summation order the compiler does not model")
            attrs.update(ort_float=True, ort_group=group, **ort)
        self.emit(node, kind, [x, wname, bname], [y], **attrs)
        self.put(out_name, y, "nhwc")

    def _weight_zero_point_split(self, node, x, wt, wq, fc=False):
        """A quantized convolution whose weights (OHWI, int8) have a zero point other than 0,
        as one with zero point 0 over the input twice (``x2 = [x, x]`` along the channels, a
        1x1 convolution by ``[I; I]`` with scale 1 and the input's quantization, exact: its
        requantization is ``rne(f32(x - z_x) * 1) + z_x = x``): ``w - z_w = a + b`` with ``b
        = floor((w - z_w) / 2)`` and ``a = (w - z_w) - b``, both int8 when ``w - z_w <= 254``,
        so ``sum (x - z_x)(w - z_w) = sum (x2 - z_x) [a, b]`` in int32 and the layer becomes
        one the NPU takes (weights with zero point 0). Returns ``(x, wt, wq)`` unchanged
        when the zero point is 0 or some ``w - z_w`` is 255 (the layer then stays on the
        core). ``fc``: a FULLY_CONNECTED (``wt`` its (N, 1, 1, K) weights, ``x`` (B, K)):
        the duplication is a FULLY_CONNECTED by ``[I; I]`` (2 K x K weights, hence only for
        ``K <= FC_SPLIT_MAX_INPUTS``)."""
        cout, cin = wt.shape[0], wt.shape[3]
        zw = np.broadcast_to(np.asarray(wq.zero_point).reshape(-1), (cout,)).astype(np.int16)
        if not zw.any():
            return x, wt, wq
        d = wt.astype(np.int16) - zw[:, None, None, None]
        if d.max() > 254:
            return x, wt, wq
        b = np.floor_divide(d, 2)
        split = np.concatenate([d - b, b], axis=3).astype(np.int8)
        xt = self.T[x]
        eye = np.concatenate([np.eye(cin, dtype=np.int8)] * 2)
        eye = eye if fc else eye.reshape(2 * cin, 1, 1, cin)
        ident = self.new(f"{node.name}/duplicate_weights", np.int8, eye.shape,
                         Quant.of(1.0), eye)
        x2 = self.new(f"{node.name}/input_twice", np.int8, (*xt.shape[:-1], 2 * cin),
                      Quant(xt.quant.scale, xt.quant.zero_point))
        if fc:
            self.emit(node, OpKind.FULLY_CONNECTED, [x, ident, None], [x2], lo=-128, hi=127)
        else:
            self.emit(node, OpKind.CONV_2D, [x, ident, None], [x2], stride=(1, 1),
                      dilation=(1, 1), padding="VALID", lo=-128, hi=127)
        return x2, split, Quant.of(wq.scale, 0, wq.axis)

    def _padding(self, node, xs, kh, kw, strides, dil):
        a = node.attrs
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto == "VALID":
            return "VALID"
        if auto == "SAME_UPPER":
            return "SAME"
        same = explicit_padding("SAME", xs[1], xs[2], kh, kw, strides, dil)[2]
        if auto == "SAME_LOWER":
            pt, pl, pb, pr = same
            pads = (pb, pr, pt, pl)
        elif auto == "NOTSET":
            p = tuple(int(v) for v in a.get("pads", (0, 0, 0, 0)))
            if len(p) != 4 or min(p) < 0:
                raise node.fail(f"pads {p} are not 2-D non-negative pads")
            pads = (p[0], p[1], p[2], p[3])
        else:
            raise node.fail(f"auto_pad {auto!r} is not supported")
        if not any(pads):
            return "VALID"
        if pads == same:
            return "SAME"
        return pads

    def _Conv(self, node):
        w = self.const(node.inputs[1], node, "Conv weights").astype(np.float32)
        b = self.consts.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        if len(node.inputs) > 2 and node.inputs[2] and b is None:
            raise node.fail("the bias must be a constant")
        self._conv_common(node, node.inputs[0], w, None if b is None else b.astype(np.float32),
                          node.outputs[0], np.float32, None, None)

    def _fc(self, node, x_name, w, b, out_name, out_dtype=np.float32, out_quant=None,
            w_quant=None):
        x, _ = self.value(x_name, node, "plain")
        xs = self.T[x].shape
        if len(xs) != 2 or xs[1] != w.shape[1]:
            raise node.fail(f"input {xs} does not match weights of {w.shape[1]} inputs (2-D "
                            "inputs only)")
        if w_quant is not None and out_dtype == np.int8 and self.split_weight_zero_point and \
                xs[1] <= FC_SPLIT_MAX_INPUTS:
            x, w4, w_quant = self._weight_zero_point_split(node, x, w[:, None, None, :],
                                                           w_quant, fc=True)
            w = w4.reshape(w4.shape[0], -1)
        wname = self.new(f"{node.name}/weights", w.dtype, w.shape, w_quant,
                         np.ascontiguousarray(w))
        bname = None if b is None else self.new(f"{node.name}/bias", b.dtype, b.shape, None, b)
        y = self.new(out_name, out_dtype, (xs[0], w.shape[0]), out_quant)
        lo, hi = (-128, 127) if out_dtype == np.int8 else (None, None)
        self.emit(node, OpKind.FULLY_CONNECTED, [x, wname, bname], [y], lo=lo, hi=hi)
        self.put(out_name, y, "plain")

    def _Gemm(self, node):
        a = node.attrs
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise node.fail("only transA = 0, alpha = 1, beta = 1 are supported")
        w = self.const(node.inputs[1], node, "Gemm B").astype(np.float32)
        w = w if a.get("transB", 0) else w.T
        b = None
        if len(node.inputs) > 2 and node.inputs[2]:
            b = self.const(node.inputs[2], node, "Gemm C").astype(np.float32)
            if b.size != w.shape[0]:
                raise node.fail(f"C of shape {b.shape} is not a bias of {w.shape[0]}")
            b = b.reshape(-1)
        self._fc(node, node.inputs[0], w, b, node.outputs[0])

    def _MatMul(self, node):
        w = self.const(node.inputs[1], node, "MatMul B").astype(np.float32)
        if w.ndim != 2:
            raise node.fail("only 2-D MatMul by a constant is supported")
        self._fc(node, node.inputs[0], np.ascontiguousarray(w.T), None, node.outputs[0])
