"""The ONNX front end's operators other than convolutions and matrix products
(:mod:`.onnx_frontend`): Add, Relu / Clip (fused into the operator before them),
AveragePool / GlobalAveragePool / MaxPool, Flatten / Reshape / Squeeze / Unsqueeze, Pad,
BatchNormalization (folded into the convolution before it), Identity, Dropout, Transpose and
Softmax. A mixin of the converter: the methods use its helpers (``value``, ``new``, ``emit``,
``put``, ``const``, ``shape``, ``_padding``); the quantized nodes (:mod:`.onnx_quantized`,
:mod:`.onnx_qdq`) call ``_pool``, ``_pad``, ``_reshape_to`` with their quantization.
"""

import numpy as np

from .ir import OpKind, explicit_padding
from .onnx_node import NCHW_TO_NHWC, NHWC_TO_NCHW

__all__ = ["LayerOps"]


class LayerOps:
    """Element-wise, pooling, shape and activation conversion methods of the ONNX converter."""

    def _Add(self, node):
        a, b = node.inputs
        if b in self.consts or a in self.consts:
            act, c = (a, b) if b in self.consts else (b, a)
            ir, _ = self.value(act, node)
            prod = self.ops[-1] if self.ops else None
            cv = self.consts[c].astype(np.float32).reshape(-1)
            if (prod is not None and prod.outputs == [ir] and prod.kind in
                    (OpKind.FULLY_CONNECTED, OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D) and
                    prod.inputs[2] is None and len(self.users.get(act, [])) == 1 and
                    cv.size == self.T[ir].shape[-1] and self._channel_const(node, c)):
                prod.inputs[2] = self.new(f"{prod.name}/bias", np.float32, cv.shape, None, cv)
                self.put(node.outputs[0], ir, self.map[act][1])
                return
            raise node.fail("Add with a constant is supported only as the bias of the Conv / "
                            "Gemm / MatMul right before it")
        x1, lay = self.value(a, node)
        x2, _ = self.value(b, node, lay)
        if self.T[x1].shape != self.T[x2].shape:
            raise node.fail("Add needs two inputs of one shape (broadcasting is not supported)")
        y = self.new(node.outputs[0], np.float32, self.T[x1].shape)
        self.emit(node, OpKind.ADD, [x1, x2], [y], lo=None, hi=None)
        self.put(node.outputs[0], y, lay)

    def _channel_const(self, node, c):
        """A constant that broadcasts along the channel axis only: (C,) / (1, C) after a
        fully connected layer, (C, 1, 1) / (1, C, 1, 1) after a convolution."""
        shape = self.consts[c].shape
        big = [i for i, d in enumerate(shape) if d != 1]
        if len(big) > 1:
            return False
        return not big or len(shape) <= 2 or big[0] == len(shape) - 3

    def _clamp(self, node, lo, hi):
        x = node.inputs[0]
        ir, lay = self.value(x, node)
        prod = self.ops[-1] if self.ops else None
        from .ir import COMPUTE_KINDS

        if not (prod is not None and prod.outputs == [ir] and prod.kind in COMPUTE_KINDS and
                len(self.users.get(x, [])) == 1 and x not in self.graph_outputs):
            raise node.fail("Relu / Clip is supported only fused into the operator right "
                            "before it (Conv, Gemm, MatMul, Add, pooling)")
        plo, phi = prod.attrs.get("lo"), prod.attrs.get("hi")
        if lo is not None:
            plo = lo if plo is None else max(plo, lo)
        if hi is not None:
            phi = hi if phi is None else min(phi, hi)
        prod.attrs["lo"], prod.attrs["hi"] = plo, phi
        self.put(node.outputs[0], ir, lay)

    def _Relu(self, node):
        self._clamp(node, 0.0, None)

    def _clip_bounds(self, node):
        lo = node.attrs.get("min")
        hi = node.attrs.get("max")
        if len(node.inputs) > 1 and node.inputs[1]:
            lo = float(self.const(node.inputs[1], node, "Clip min"))
        if len(node.inputs) > 2 and node.inputs[2]:
            hi = float(self.const(node.inputs[2], node, "Clip max"))
        return (None if lo is None else float(np.float32(lo)),
                None if hi is None else float(np.float32(hi)))

    def _Clip(self, node):
        self._clamp(node, *self._clip_bounds(node))

    def _pool(self, node, kind, out_dtype, out_quant, x_name=None, out_name=None,
              quantized=False):
        a = node.attrs
        x, _ = self.value(x_name or node.inputs[0], node, "nhwc")
        xs = self.T[x].shape
        if len(xs) != 4:
            raise node.fail("only 2-D pooling (4-D tensors) is supported")
        if node.op.endswith("GlobalAveragePool"):
            fh, fw, strides, padding = xs[1], xs[2], (1, 1), "VALID"
        else:
            fh, fw = (int(v) for v in a["kernel_shape"])
            strides = tuple(a.get("strides", (1, 1)))
            if a.get("ceil_mode", 0) or tuple(a.get("dilations", (1, 1))) != (1, 1) or \
                    a.get("storage_order", 0):
                raise node.fail("ceil_mode, dilations and storage_order are not supported")
            padding = self._padding(node, xs, fh, fw, strides, (1, 1))
            if kind is OpKind.AVERAGE_POOL_2D and not quantized:
                if a.get("count_include_pad", 0):
                    raise node.fail("count_include_pad = 1 is not supported")
                if not isinstance(padding, str):
                    raise node.fail("AveragePool padding must be none or SAME-like")
        oh, ow, _ = explicit_padding(padding, xs[1], xs[2], fh, fw, strides, 1)
        out_name = out_name or node.outputs[0]
        y = self.new(out_name, out_dtype, (xs[0], oh, ow, xs[3]), out_quant)
        lo, hi = (-128, 127) if out_dtype == np.int8 else (None, None)
        self.emit(node, kind, [x], [y], filter=(fh, fw), stride=strides, padding=padding,
                  lo=lo, hi=hi)
        if quantized and kind is OpKind.AVERAGE_POOL_2D:
            self.ops[-1].attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        self.put(out_name, y, "nhwc")

    def _AveragePool(self, node):
        self._pool(node, OpKind.AVERAGE_POOL_2D, np.float32, None)

    _GlobalAveragePool = _AveragePool

    def _MaxPool(self, node):
        if len(node.outputs) > 1 and node.outputs[1]:
            raise node.fail("the Indices output is not supported")
        x, _ = self.value(node.inputs[0], node, "nhwc")
        t = self.T[x]
        self._pool(node, OpKind.MAX_POOL_2D, t.dtype, t.quant)

    def _reshape_to(self, node, x_name, out_name, shape, quant_override=None):
        ir, lay = self.value(x_name, node)
        t = self.T[ir]
        if lay == "nhwc" and len(t.shape) == 4 and t.shape[1] * t.shape[2] != 1:
            ir, lay = self.value(x_name, node, "plain")
        shape = tuple(int(d) for d in shape)
        if len(shape) == 4:
            raise node.fail("reshaping to a 4-D tensor is not supported")
        y = self.new(out_name, t.dtype, shape, quant_override or t.quant)
        self.emit(node, OpKind.RESHAPE, [ir], [y], shape=shape)
        self.put(out_name, y, "plain")

    def _Flatten(self, node):
        xs = self.shape(node.inputs[0], node)
        axis = int(node.attrs.get("axis", 1))
        axis = axis + len(xs) if axis < 0 else axis
        shape = (int(np.prod(xs[:axis])), int(np.prod(xs[axis:])))
        self._reshape_to(node, node.inputs[0], node.outputs[0], shape)

    def _Reshape(self, node):
        self._reshape_to(node, node.inputs[0], node.outputs[0], self._reshape_target(node))

    _Squeeze = _Unsqueeze = _Reshape

    def _pad(self, node, x_name, out, quant=None):
        a = node.attrs
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise node.fail(f"Pad mode {mode!r} is not supported (constant only)")
        if len(node.inputs) > 1 and node.inputs[1]:
            pads = [int(v) for v in self.const(node.inputs[1], node, "pads")]
        else:
            pads = [int(v) for v in a.get("pads", ())]
        if len(node.inputs) > 3 and node.inputs[3]:
            raise node.fail("Pad with axes is not supported")
        value = 0.0
        if len(node.inputs) > 2 and node.inputs[2]:
            value = float(self.const(node.inputs[2], node, "constant_value").reshape(-1)[0])
        elif "value" in a:
            value = float(a["value"])
        ir, lay = self.value(x_name, node)
        t = self.T[ir]
        rank = len(t.shape)
        if len(pads) != 2 * rank or min(pads) < 0:
            raise node.fail(f"pads {pads} are not {2 * rank} non-negative values")
        pairs = [(pads[i], pads[i + rank]) for i in range(rank)]
        if lay == "nhwc" and rank == 4:
            pairs = [pairs[p] for p in NCHW_TO_NHWC]
        if quant is not None:        # QDQ: the float constant quantized like the output
            value = int(np.clip(np.rint(np.float32(value) / quant.s) + quant.zp, -128, 127))
        elif t.dtype == np.int8:     # a Pad of a stored int8 / uint8 tensor: the raw constant
            uint8 = self.info.get(node.inputs[0], (None,))[0] == np.uint8
            value = int(value) - (128 if uint8 else 0)
        y = self.new(out, t.dtype, tuple(d + b + e for d, (b, e) in zip(t.shape, pairs,
                                                                        strict=True)),
                     quant or t.quant)
        self.emit(node, OpKind.PAD, [ir], [y], pads=tuple(pairs), value=value)
        self.put(out, y, lay)

    def _Pad(self, node):
        self._pad(node, node.inputs[0], node.outputs[0])

    def _BatchNormalization(self, node):
        """Folded into the bias-carrying convolution right before it (float models)."""
        x = node.inputs[0]
        ir, lay = self.value(x, node)
        prod = self.ops[-1] if self.ops else None
        if not (prod is not None and prod.outputs == [ir] and prod.kind in
                (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED) and
                len(self.users.get(x, [])) == 1 and prod.attrs.get("lo") is None and
                prod.attrs.get("hi") is None and self.T[ir].dtype == np.float32):
            raise node.fail("BatchNormalization is supported only right after a Conv / Gemm "
                            "of a float model (it is folded into its weights)")
        if node.attrs.get("training_mode", 0):
            raise node.fail("training_mode is not supported")
        gamma, beta, mean, var = (self.const(n, node, "BatchNormalization parameter")
                                  .astype(np.float64).reshape(-1) for n in node.inputs[1:5])
        eps = float(node.attrs.get("epsilon", 1e-5))
        factor = gamma / np.sqrt(var + np.float64(np.float32(eps)))
        w = self.T[prod.inputs[1]]
        axis = 3 if prod.kind is OpKind.DEPTHWISE_CONV_2D else 0
        shape = [1] * w.data.ndim
        shape[axis] = -1
        w.data = (w.data.astype(np.float64) * factor.reshape(shape)).astype(np.float32)
        bias = (np.zeros(factor.size) if prod.inputs[2] is None else
                self.T[prod.inputs[2]].data.astype(np.float64))
        folded = ((bias - mean) * factor + beta).astype(np.float32)
        if prod.inputs[2] is None:
            prod.inputs[2] = self.new(f"{prod.name}/bias", np.float32, folded.shape, None, folded)
        else:
            self.T[prod.inputs[2]].data = folded
        self.put(node.outputs[0], ir, lay)

    def _Identity(self, node):
        self.put(node.outputs[0], *self.value(node.inputs[0], node))

    def _Dropout(self, node):
        if len(node.outputs) > 1 and node.outputs[1]:
            raise node.fail("the mask output of Dropout is not supported")
        self._Identity(node)

    def _reshape_target(self, node):
        """The output shape of a Reshape / Squeeze / Unsqueeze: from shape inference, else from
        a Reshape's shape constant (with ONNX's 0 = copy and -1 = infer)."""
        out = node.outputs[0]
        if out in self.info and all(d >= 1 for d in self.info[out][1]):
            return self.info[out][1]
        if node.op != "Reshape":
            raise node.fail(f"the output {out!r} has no static shape")
        src = self.shape(node.inputs[0], node)
        want = [int(d) for d in self.const(node.inputs[1], node, "Reshape shape")]
        want = [src[i] if d == 0 and not node.attrs.get("allowzero", 0) else d
                for i, d in enumerate(want)]
        if want.count(-1) == 1:
            known = int(np.prod([d for d in want if d != -1]))
            want[want.index(-1)] = int(np.prod(src)) // max(known, 1)
        return tuple(want)

    def _Transpose(self, node):
        ir, lay = self.value(node.inputs[0], node)
        t = self.T[ir]
        perm = tuple(int(p) for p in node.attrs.get("perm", range(len(t.shape)))[::1])
        if len(t.shape) == 4 and node.outputs[0] not in self.graph_outputs and (
                (lay == "plain" and perm == NHWC_TO_NCHW) or
                (lay == "nhwc" and perm == NCHW_TO_NHWC)):
            # NHWC -> NCHW of a tensor held as is, or back: the IR's NHWC data already is
            # the result in the other layout tag; no operator, no data moved
            self.put(node.outputs[0], ir, "nhwc" if lay == "plain" else "plain")
            return
        if lay == "nhwc" and len(t.shape) == 4:
            # ONNX axis i of the NCHW view is IR axis NCHW_TO_NHWC.index(i)
            nchw = NHWC_TO_NCHW
            perm = tuple(nchw[p] for p in perm)
        y = self.new(node.outputs[0], t.dtype, tuple(t.shape[p] for p in perm), t.quant)
        self.emit(node, OpKind.TRANSPOSE, [ir], [y], perm=perm)
        self.put(node.outputs[0], y, "plain")

    def _Softmax(self, node):
        ir, lay = self.value(node.inputs[0], node)
        t = self.T[ir]
        rank = len(t.shape)
        axis = int(node.attrs.get("axis", -1 if self._opset() >= 13 else 1))
        axis = axis + rank if axis < 0 else axis
        last_ok = (axis == rank - 1 and lay == "plain") or (lay == "nhwc" and rank == 4 and
                                                            axis == 1)
        if not last_ok:
            raise node.fail(f"Softmax over axis {axis} is not supported (the last axis, or "
                            "the channels of a 4-D tensor)")
        y = self.new(node.outputs[0], np.float32, t.shape)
        self.emit(node, OpKind.SOFTMAX, [ir], [y], beta=1.0)
        self.put(node.outputs[0], y, lay)

    def _opset(self):
        return self.opset
