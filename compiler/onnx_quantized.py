"""The quantized half of the ONNX front end (:mod:`.onnx_frontend`): quantization parameters
and the QOperator nodes (QuantizeLinear, QLinearConv, QLinearMatMul and onnxruntime's
com.microsoft QGemm, QLinearAdd, QLinearAveragePool, QLinearGlobalAveragePool,
QLinearSoftmax); the QDQ patterns onnxruntime fuses into them are :mod:`.onnx_qdq`'s (the
base class of this mixin). A mixin of the converter: the methods use its helpers (``value``,
``new``, ``emit``, ``put``, ``const``, ``shape``, ``_pool``, ``_fc``, ...); the arithmetic
each node gets is written down in :mod:`.reference`.
"""

import numpy as np

from .ir import OpKind, Quant
from .onnx_qdq import QdqOps

__all__ = ["QuantizedOps"]


class QuantizedOps(QdqOps):
    """QOperator conversion methods of the ONNX converter, with the QDQ patterns of
    :class:`~.onnx_qdq.QdqOps`."""

    # --- quantization parameters ----------------------------------------------------------

    def qparams(self, node, scale_name, zp_name, what, per_channel_len=None):
        s = np.atleast_1d(np.asarray(self.const(scale_name, node, f"{what} scale"),
                                     np.float32))
        if zp_name:
            zraw = self.const(zp_name, node, f"{what} zero point")
            zdt = zraw.dtype
            z = np.atleast_1d(zraw.astype(np.int64))
        else:
            zdt, z = np.dtype(np.uint8), np.zeros(s.size, np.int64)
        if zdt not in (np.int8, np.uint8):
            raise node.fail(f"{what} has type {zdt}; int8 or uint8 needed")
        if not (np.all(np.isfinite(s)) and np.all(s > 0)):
            raise node.fail(f"{what} scale must be positive and finite")
        if s.size > 1 and per_channel_len is None:
            raise node.fail(f"{what} must be quantized per tensor")
        if z.size == 1 and s.size > 1:
            z = np.repeat(z, s.size)
        if zdt == np.uint8:
            z = z - 128
        return s, z, zdt

    def dequantize(self, name, node):
        """Emit the DEQUANTIZE of a QDQ activation whose float value an operator needs."""
        dq = self.dq_act[name]
        src, _ = self.value(dq.inputs[0], dq)
        t = self.T[src]
        out = self.new(name, np.float32, t.shape)
        self.emit(dq, OpKind.DEQUANTIZE, [src], [out])
        self.put(name, out, self.map[dq.inputs[0]][1])


    # quantized operators

    def _QuantizeLinear(self, node):
        x, lay = self.value(node.inputs[0], node)
        if self.T[x].dtype != np.float32:
            raise node.fail("QuantizeLinear of a non-float tensor")
        if node.attrs.get("saturate", 1) != 1:
            raise node.fail("saturate = 0 is not supported")
        s, z, zdt = self.qparams(node, node.inputs[1],
                                 node.inputs[2] if len(node.inputs) > 2 else None, "output")
        y = self.new(node.outputs[0], np.int8, self.T[x].shape, Quant(s, z))
        self.emit(node, OpKind.QUANTIZE, [x], [y])
        self.put(node.outputs[0], y, lay)

    def _DequantizeLinear(self, node):    # activations are handled in _classify / dequantize
        raise node.fail("DequantizeLinear of this input is not supported")

    def _weights(self, node, w_name, s_name, z_name, axis_len):
        w = self.const(w_name, node, "weights")
        if w.dtype not in (np.int8, np.uint8):
            raise node.fail(f"weights of type {w.dtype}; int8 or uint8 needed")
        s, z, zdt = self.qparams(node, s_name, z_name, "weights", axis_len)
        if zdt != w.dtype:
            raise node.fail("weights and their zero point have different types")
        if s.size not in (1, axis_len):
            raise node.fail(f"{s.size} weight scales for {axis_len} output channels")
        wi = (w.astype(np.int16) - 128).astype(np.int8) if w.dtype == np.uint8 else w
        return wi, Quant(s, z, 0)

    def _int_bias(self, node, name, n):
        if not name:
            return None
        b = self.const(name, node, "bias")
        if b.dtype != np.int32 or b.size != n:
            raise node.fail(f"bias must be int32 of {n} values")
        return b.reshape(-1)

    def _act_q(self, node, x_name, s, z):
        """Quantization of an activation input: check it matches the tensor's."""
        ir, _ = self.value(x_name, node)
        t = self.T[ir]
        if t.dtype != np.int8:
            raise node.fail(f"input {x_name!r} is not a quantized tensor")
        s, zz, _ = self.qparams(node, s, z, "input")
        if t.quant is None:
            t.quant = Quant(s, zz)
        elif not (np.array_equal(t.quant.scale, s) and np.array_equal(t.quant.zero_point, zz)):
            raise node.fail(f"input {x_name!r} is used with two quantizations")
        return t.quant

    def _QLinearConv(self, node):
        i = node.inputs
        self._act_q(node, i[0], i[1], i[2])
        w = self.const(i[3], node, "weights")
        wi, wq = self._weights(node, i[3], i[4], i[5], w.shape[0])
        ys, yz, _ = self.qparams(node, i[6], i[7], "output")
        b = self._int_bias(node, i[8] if len(i) > 8 else None, w.shape[0])
        self._conv_common(node, i[0], wi, b, node.outputs[0], np.int8, Quant(ys, yz), wq)

    def _QLinearMatMul(self, node):
        i = node.inputs
        self._act_q(node, i[0], i[1], i[2])
        w = self.const(i[3], node, "B")
        if w.ndim != 2:
            raise node.fail("only 2-D QLinearMatMul by a constant is supported")
        wi, wq = self._weights(node, i[3], i[4], i[5], w.shape[1])
        ys, yz, _ = self.qparams(node, i[6], i[7], "output")
        self._fc(node, i[0], np.ascontiguousarray(wi.T), None, node.outputs[0], np.int8,
                 Quant(ys, yz), wq)

    def _qadd(self, node, a, b, out, yq, uint8, const_q=None):
        """An INT8 ADD of ``a`` and ``b``; one of them may be an int8 / uint8 initializer
        (``const_q``: its ``(scale, zero point name)``), which is broadcast to the other's
        shape (ONNX's multidirectional broadcasting) and stored as an int8 constant."""
        if const_q is not None:         # the operands keep their order (the rounding
            first = a in self.consts    # of the kernel is not symmetric)
            act, c = (b, a) if first else (a, b)
            xa, lay = self.value(act, node)
            xc = self._const_operand(node, c, xa, lay, *const_q)
            y = self.new(out, np.int8, self.T[xa].shape, yq)
            self.emit(node, OpKind.ADD, [xc, xa] if first else [xa, xc], [y], lo=-128,
                      hi=127, uint8=uint8)
            self.put(out, y, lay)
            return
        x1, lay = self.value(a, node)
        x2, _ = self.value(b, node, lay)
        if self.T[x1].shape != self.T[x2].shape:
            raise node.fail("Add needs two inputs of one shape (broadcasting is not supported)")
        y = self.new(out, np.int8, self.T[x1].shape, yq)
        self.emit(node, OpKind.ADD, [x1, x2], [y], lo=-128, hi=127, uint8=uint8)
        self.put(out, y, lay)

    def _const_operand(self, node, c, x_ir, layout, s_name, z_name):
        """The quantized initializer ``c`` of an Add, broadcast to the shape of the activation
        ``x_ir`` (IR layout ``layout``) as an int8 constant with its quantization."""
        v = self.consts[c]
        if v.dtype not in (np.int8, np.uint8):
            raise node.fail(f"the constant input {c!r} has type {v.dtype}; int8 or uint8 "
                            "needed")
        s, z, zdt = self.qparams(node, s_name, z_name, "constant input")
        if zdt != v.dtype:
            raise node.fail(f"the constant input {c!r} and its zero point have different "
                            "types")
        shape = self.T[x_ir].shape
        onnx_shape = tuple(shape[p] for p in (0, 3, 1, 2)) if layout == "nhwc" and \
            len(shape) == 4 else shape
        try:
            full = np.broadcast_to(v, onnx_shape)
        except ValueError:
            raise node.fail(f"the constant input of shape {v.shape} does not broadcast to "
                            f"{onnx_shape}") from None
        if full.shape != onnx_shape:
            raise node.fail(f"broadcasting the activation {onnx_shape} to {full.shape} is "
                            "not supported")
        if layout == "nhwc" and len(shape) == 4:
            full = full.transpose(0, 2, 3, 1)
        raw = full.astype(np.int16) - (128 if v.dtype == np.uint8 else 0)
        return self.new(f"{node.name}/constant", np.int8, shape, Quant(s, z),
                        np.ascontiguousarray(raw.astype(np.int8)))

    def _QLinearAdd(self, node):
        i = node.inputs
        consts = [j for j in (0, 3) if i[j] in self.consts]
        if len(consts) == 2:
            raise node.fail("QLinearAdd of two constants is not supported")
        const_q = None
        for j in (0, 3):
            if j in consts:
                const_q = (i[j + 1], i[j + 2])
            else:
                self._act_q(node, i[j], i[j + 1], i[j + 2])
        ys, yz, zdt = self.qparams(node, i[6], i[7] if len(i) > 7 else None, "output")
        self._qadd(node, i[0], i[3], node.outputs[0], Quant(ys, yz), zdt == np.uint8, const_q)

    def _QGemm(self, node):
        a, i = node.attrs, node.inputs
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0:
            raise node.fail("only transA = 0 and alpha = 1 are supported")
        if len(i) < 9 or not i[7]:
            raise node.fail("QGemm with a float output (no y_scale) is not supported")
        self._act_q(node, i[0], i[1], i[2])
        w = self.const(i[3], node, "B")
        trans = bool(a.get("transB", 0))
        n = w.shape[0] if trans else w.shape[1]
        wi, wq = self._weights(node, i[3], i[4], i[5], n)
        b = self._int_bias(node, i[6], n) if i[6] else None
        ys, yz, _ = self.qparams(node, i[7], i[8] if len(i) > 8 else None, "output")
        self._fc(node, i[0], wi if trans else np.ascontiguousarray(wi.T), b, node.outputs[0],
                 np.int8, Quant(ys, yz), wq)

    def _qsoftmax(self, node, x_name, out, yq, uint8, axis, opset):
        ir, lay = self.value(x_name, node)
        t = self.T[ir]
        rank = len(t.shape)
        axis = axis + rank if axis < 0 else axis
        last = (axis == rank - 1 and lay == "plain") or (lay == "nhwc" and rank == 4 and
                                                         axis == 1 and opset >= 13)
        if not last:
            raise node.fail(f"Softmax over axis {axis} is not supported (the last axis)")
        y = self.new(out, np.int8, t.shape, yq)
        self.emit(node, OpKind.SOFTMAX, [ir], [y], beta=1.0, uint8=uint8)
        self.put(out, y, lay)

    def _QLinearSoftmax(self, node):
        i = node.inputs
        self._act_q(node, i[0], i[1], i[2] if len(i) > 2 else None)
        ys, yz, zdt = self.qparams(node, i[3], i[4] if len(i) > 4 else None, "output")
        opset = int(node.attrs.get("opset", self.opset))
        self._qsoftmax(node, i[0], node.outputs[0], Quant(ys, yz), zdt == np.uint8,
                       int(node.attrs.get("axis", -1 if opset >= 13 else 1)), opset)

    def _QLinearAveragePool(self, node):
        if node.attrs.get("channels_last", 0):
            raise node.fail("channels_last = 1 is not supported")
        i = node.inputs
        self._act_q(node, i[0], i[1], i[2])
        ys, yz, zdt = self.qparams(node, i[3], i[4] if len(i) > 4 else None, "output")
        self._pool(node, OpKind.AVERAGE_POOL_2D, np.int8, Quant(ys, yz), quantized=True)
        self.ops[-1].attrs["uint8"] = zdt == np.uint8

    def _QLinearGlobalAveragePool(self, node):
        if node.attrs.get("channels_last", 0):
            raise node.fail("channels_last = 1 is not supported")
        i = node.inputs
        self._act_q(node, i[0], i[1], i[2])
        ys, yz, _ = self.qparams(node, i[3], i[4] if len(i) > 4 else None, "output")
        self._pool(node, OpKind.AVERAGE_POOL_2D, np.int8, Quant(ys, yz), quantized=True)
