"""The QDQ half of the ONNX front end's quantized nodes (:mod:`.onnx_quantized`): the patterns
``DQ -> operator -> [Relu / Clip] -> Q`` that onnxruntime fuses into one QLinear kernel
become one INT8 operator (:meth:`QdqOps._qdq`); an Add of an activation and a quantized
initializer (:meth:`QdqOps._qdq_const_add`); ``DQ -> Relu / Clip -> Q``
(:meth:`QdqOps._qdq_activation`); QuantizeLinear of an initializer folded at compile time
(:meth:`QdqOps.fold_constant_quantize`); and which groups onnxruntime on x86-64 leaves unfused
or computes on uint8 raw values after its S8 -> U8 pass (:meth:`QdqOps._ort_unfused`,
:meth:`QdqOps._raw_uint8`). A mixin of the converter: the methods use its helpers and the
QOperator methods of :class:`~.onnx_quantized.QuantizedOps` (``qparams``, ``_weights``,
``_int_bias``, ``_act_q``, ``_qadd``, ``_qsoftmax``, ...).
"""

import numpy as np

from .ir import OpKind, Quant

__all__ = ["QdqOps"]


class QdqOps:
    """QDQ pattern conversion methods of the ONNX converter."""

    def _single_user(self, name):
        users = self.users.get(name, [])
        return users[0] if len(users) == 1 and name not in self.graph_outputs else None

    def _qdq_const_add(self, node):
        """``DQ(activation), DQ(int8 / uint8 initializer) -> Add -> Q`` in either order (a
        MatMul + Add bias quantized by ``quantize_static``): one INT8 ADD with a constant
        operand; False if the pattern does not match."""
        if not self.quantized or len(node.inputs) != 2:
            return False
        kinds = [self.dq_act.get(n) or self.dq_const.get(n) for n in node.inputs]
        if any(k is None for k in kinds) or sum(n in self.dq_const for n in node.inputs) != 1:
            return False
        q = self._single_user(node.outputs[0])
        if q is None or q.op != "QuantizeLinear":
            return False
        ys, yz, _ = self.qparams(q, q.inputs[1], q.inputs[2] if len(q.inputs) > 2 else None,
                                 "output")
        srcs, const_q = [], None
        for n, dq in zip(node.inputs, kinds, strict=True):
            zp = dq.inputs[2] if len(dq.inputs) > 2 else None
            if n in self.dq_const:
                const_q = (dq.inputs[1], zp)
            else:
                self._act_q(dq, dq.inputs[0], dq.inputs[1], zp)
            srcs.append(dq.inputs[0])
        out = q.outputs[0]
        self._qadd(node, srcs[0], srcs[1], out, Quant(ys, yz),
                   self._raw_uint8(out), const_q)
        # onnxruntime on x86-64: the activation may become uint8 (S8 -> U8), the constant
        # keeps its type; three types not all equal leave the Add unfused, in float32
        cdq = kinds[[n in self.dq_const for n in node.inputs].index(True)]
        czp = cdq.inputs[2] if len(cdq.inputs) > 2 and cdq.inputs[2] else None
        const_u8 = czp is None or self.consts[czp].dtype == np.uint8
        act = srcs[[n in self.dq_const for n in node.inputs].index(False)]
        if self.ort_unfused and \
                len({self._ort_x86_uint8(act), const_u8, self._ort_x86_uint8(out)}) > 1:
            self.ops[-1].attrs["ort_float"] = True
        self.done.add(q.index)
        return True

    def _qdq_activation(self, node):
        """``DQ -> Relu / Clip -> Q`` (the activation kept as a float node: ``quantize_static``
        with ``ActivationSymmetric`` or ``QDQKeepRemovableActivations``, and QOperator models
        with ``DequantizeLinear -> Relu -> QuantizeLinear``): onnxruntime computes it in
        float32, ``Q(clamp(DQ(x)))``. Quantization is monotonic, so that is the QUANTIZE of
        ``DQ(x)`` clamped to the quantized bounds ``Q(lo)`` / ``Q(hi)``; False if the pattern
        does not match."""
        q = self._single_user(node.outputs[0])
        if q is None or q.op != "QuantizeLinear":
            return False
        ys, yz, _ = self.qparams(q, q.inputs[1], q.inputs[2] if len(q.inputs) > 2 else None,
                                 "output")
        yq = Quant(ys, yz)
        lo, hi = (0.0, None) if node.op == "Relu" else self._clip_bounds(node)
        if lo is not None and hi is not None and lo > hi:
            raise node.fail(f"Clip with min {lo} above max {hi} is not supported")
        x, lay = self.value(node.inputs[0], node)
        qlo = -128 if lo is None else int(np.clip(self._quantize_bound(lo, yq), -128, 127))
        qhi = 127 if hi is None else int(np.clip(self._quantize_bound(hi, yq), -128, 127))
        y = self.new(q.outputs[0], np.int8, self.T[x].shape, yq)
        self.emit(node, OpKind.QUANTIZE, [x], [y], lo=qlo, hi=qhi)
        self.put(q.outputs[0], y, lay)
        self.done.add(q.index)
        return True

    def fold_constant_quantize(self):
        """``QuantizeLinear`` of an initializer (``quantize_static`` with
        ``AddQDQPairToWeight``): quantized here as onnxruntime's constant folding does,
        ``saturate(rne(w / scale) + zero_point)`` in float32, per tensor or per axis; the
        result becomes an initializer."""
        for node in self.nodes:
            if node.op != "QuantizeLinear" or node.inputs[0] not in self.consts or \
                    any(n not in self.consts for n in node.inputs[1:] if n):
                continue
            w = np.asarray(self.consts[node.inputs[0]], np.float32)
            s = np.asarray(self.consts[node.inputs[1]], np.float32)
            z = (self.consts[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2]
                 else np.zeros(s.shape, np.uint8))
            if z.dtype not in (np.int8, np.uint8) or s.shape != z.shape or s.ndim > 1:
                raise node.fail("a constant QuantizeLinear needs int8 / uint8 zero points "
                                "of the scale's shape (per tensor or per axis)")
            if s.ndim == 1 and s.size > 1:
                axis = int(node.attrs.get("axis", 1))
                axis = axis + w.ndim if axis < 0 else axis
                if not 0 <= axis < w.ndim or w.shape[axis] != s.size:
                    raise node.fail(f"{s.size} scales do not fit axis {axis} of {w.shape}")
                shape = [1] * w.ndim
                shape[axis] = -1
                s, z = s.reshape(shape), z.reshape(shape)
            info = np.iinfo(z.dtype)
            with np.errstate(all="ignore"):
                v = np.rint((w / s).astype(np.float32)) + z.astype(np.float32)
            self.consts[node.outputs[0]] = np.clip(np.nan_to_num(v), info.min, info.max
                                                   ).astype(z.dtype)
            self.done.add(node.index)

    def _ort_x86_uint8(self, qname):
        """Whether the quantized activation ``qname`` (a QuantizeLinear's output, or a graph
        input) is uint8 when onnxruntime on x86-64 picks its kernels: uint8 in the file, or
        int8 from a QuantizeLinear that its ``QDQS8ToU8Transformer`` turns into uint8 (a scalar
        int8 zero point, one consumer, a DequantizeLinear with the same zero point, whose
        output has at most one consumer, node or graph output; the QuantizeLinear's output
        not a graph output). See :mod:`.onnx_float`."""
        q = self.producer.get(qname)
        if q is None or q.op != "QuantizeLinear":
            return self.info.get(qname, (None,))[0] == np.uint8
        zq_name = q.inputs[2] if len(q.inputs) > 2 and q.inputs[2] else None
        zq = self.consts.get(zq_name) if zq_name else None
        if zq_name is None or zq is None:
            return zq_name is None              # no zero point: uint8 by default
        if zq.dtype == np.uint8:
            return True
        users = self.users.get(qname, [])
        if zq.dtype != np.int8 or zq.size != 1 or len(users) != 1 or \
                qname in self.graph_outputs or users[0].op != "DequantizeLinear":
            return False
        dq = users[0]
        if len(self.users.get(dq.outputs[0], [])) + (dq.outputs[0] in self.graph_outputs) > 1:
            return False
        zd_name = dq.inputs[2] if len(dq.inputs) > 2 and dq.inputs[2] else None
        if zd_name is None:
            return int(zq.reshape(-1)[0]) == 0
        zd = self.consts.get(zd_name)
        return zd is not None and zd.dtype == np.int8 and zd.size == 1 and \
            int(zd.reshape(-1)[0]) == int(zq.reshape(-1)[0])

    def _raw_uint8(self, out_name):
        """Whether a fused QDQ group writing ``out_name`` computes on uint8 raw values in
        onnxruntime (its Add / pooling / softmax kernels round on them): the file's type, or
        on x86-64 the type after its S8 -> U8 pass (:meth:`_ort_x86_uint8`)."""
        if self.ort_unfused:
            return self._ort_x86_uint8(out_name)
        return self.info.get(out_name, (None,))[0] == np.uint8

    def _ort_unfused(self, node, in_names, out_name):
        """Whether onnxruntime on x86-64 leaves the QDQ group of ``node`` unfused, computing
        it in float32 (:mod:`.onnx_float`): a Conv / Gemm / MatMul whose input or output
        activation is int8 there, another operator whose activations are not all of one
        type there."""
        if not self.ort_unfused:
            return False
        types = [self._ort_x86_uint8(n) for n in list(in_names) + [out_name]]
        if node.op in ("Conv", "Gemm", "MatMul"):
            return not all(types)
        return len(set(types)) > 1

    def _qdq(self, node):
        """Convert ``DQ -> node -> [Relu / Clip] -> Q`` into one INT8 operator; False if the
        pattern does not match (then the node is converted as a float operator)."""
        if not self.quantized:
            return False
        chain = []
        cur = node.outputs[0]
        nxt = self._single_user(cur)
        while nxt is not None and nxt.op in ("Relu", "Clip") and \
                node.op in ("Conv", "Gemm", "MatMul"):
            chain.append(nxt)
            cur = nxt.outputs[0]
            nxt = self._single_user(cur)
        if nxt is None or nxt.op != "QuantizeLinear":
            return False
        q = nxt
        dq = self.dq_act[node.inputs[0]]
        xs, xz, _ = self.qparams(dq, dq.inputs[1], dq.inputs[2] if len(dq.inputs) > 2 else None,
                                 "input")
        ys, yz, _ = self.qparams(q, q.inputs[1], q.inputs[2] if len(q.inputs) > 2 else None,
                                 "output")
        yq = Quant(ys, yz)
        x_src = dq.inputs[0]
        self._act_q(dq, x_src, dq.inputs[1], dq.inputs[2] if len(dq.inputs) > 2 else None)
        out = q.outputs[0]
        uint8 = self._raw_uint8(out)
        if node.op == "Add":
            other = node.inputs[1]
            if other not in self.dq_act:
                return False
            dq2 = self.dq_act[other]
            self._act_q(dq2, dq2.inputs[0], dq2.inputs[1],
                        dq2.inputs[2] if len(dq2.inputs) > 2 else None)
            self._qadd(node, x_src, dq2.inputs[0], out, yq, uint8)
            if self._ort_unfused(node, [x_src, dq2.inputs[0]], out):
                self.ops[-1].attrs["ort_float"] = True
            self.done.add(q.index)
            return True
        if node.op in ("Softmax", "GlobalAveragePool", "AveragePool") and \
                self._ort_unfused(node, [x_src], out):
            raise node.fail("onnxruntime on x86-64 runs this node unfused, in float32 (its "
                            "input and output activations are of two types there: an int8 "
                            "tensor read by several nodes stays int8); not supported")
        if node.op == "Softmax":
            self._qsoftmax(node, x_src, out, yq, uint8, int(node.attrs.get(
                "axis", -1 if self.opset >= 13 else 1)), self.opset)
            self.done.add(q.index)
            return True
        if node.op in ("GlobalAveragePool", "AveragePool"):
            self._pool(node, OpKind.AVERAGE_POOL_2D, np.int8, yq, x_name=x_src, out_name=out,
                       quantized=True)
            self.ops[-1].attrs["uint8"] = uint8
            self.done.add(q.index)
            return True
        if node.op in ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Pad"):
            if not (np.array_equal(xs, ys) and np.array_equal(xz, yz)):
                return False
            if node.op == "Pad":
                self._pad(node, x_src, out, yq)
            elif node.op == "MaxPool":
                self._pool(node, OpKind.MAX_POOL_2D, np.int8, yq, x_name=x_src, out_name=out)
            elif node.op == "Flatten":
                xsh = self.shape(node.inputs[0], node)
                axis = int(node.attrs.get("axis", 1))
                axis = axis + len(xsh) if axis < 0 else axis
                self._reshape_to(node, x_src, out, (int(np.prod(xsh[:axis])),
                                                    int(np.prod(xsh[axis:]))), yq)
            else:
                self._reshape_to(node, x_src, out, self._reshape_target(node), yq)
            self.done.add(q.index)
            return True
        wname = node.inputs[1]
        if wname not in self.dq_const:
            raise node.fail("QDQ weights must come from DequantizeLinear of an initializer")
        wdq = self.dq_const[wname]
        w_int = self.consts[wdq.inputs[0]]
        if node.op == "Conv":
            n_out = w_int.shape[0]
        elif node.op == "Gemm":
            n_out = w_int.shape[0] if node.attrs.get("transB", 0) else w_int.shape[1]
        else:
            n_out = w_int.shape[1]
        axis = int(wdq.attrs.get("axis", 1))
        wi, wq = self._weights(wdq, wdq.inputs[0], wdq.inputs[1],
                               wdq.inputs[2] if len(wdq.inputs) > 2 else None, n_out)
        per_axis = wq.scale.size > 1
        ort = None
        if self._ort_unfused(node, [x_src], out):
            if node.op != "Conv":
                raise node.fail(f"onnxruntime on x86-64 runs this {node.op} unfused, in "
                                "float32 (an int8 activation read by several nodes stays "
                                "int8 there); only such Conv nodes are supported")
            ort = {}
        bias = None
        if len(node.inputs) > 2 and node.inputs[2]:
            bname = node.inputs[2]
            if bname in self.dq_const:
                bdq = self.dq_const[bname]
                bias = self.consts[bdq.inputs[0]]
                if bias.dtype != np.int32:
                    raise node.fail("a quantized bias must be int32")
                bias = bias.reshape(-1)
                if ort is not None:
                    bz = bdq.inputs[2] if len(bdq.inputs) > 2 and bdq.inputs[2] else None
                    if bz is not None and np.any(self.consts[bz]):
                        raise node.fail("a QDQ bias with a zero point other than 0")
                    bs = np.asarray(self.consts[bdq.inputs[1]], np.float32).reshape(-1)
                    ort["bias_scale"] = [float(v) for v in np.broadcast_to(bs, bias.shape)]
            else:
                raise node.fail("QDQ bias must come from DequantizeLinear of an int32 "
                                "initializer")
        if node.op == "Conv":
            if per_axis and axis not in (0, -4):
                raise node.fail(f"Conv weights quantized along axis {axis}; axis 0 needed")
            self._conv_common(node, x_src, wi, bias, out, np.int8, yq, wq, ort=ort)
        else:
            a = node.attrs
            if node.op == "Gemm":
                if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                    raise node.fail("only transA = 0, alpha = 1, beta = 1 are supported")
                trans = bool(a.get("transB", 0))
            else:
                trans = False
            want_axis = 0 if trans else 1
            if per_axis and axis % 2 != want_axis:
                raise node.fail(f"weights quantized along axis {axis}; the output axis "
                                f"{want_axis} needed")
            wmat = wi if trans else np.ascontiguousarray(wi.T)
            self._fc(node, x_src, wmat, bias, out, np.int8, yq, wq)
        prod = self.ops[-1]
        for act in chain:
            if act.op == "Relu":
                lo, hi = 0.0, None
            else:
                lo, hi = self._clip_bounds(act)
            qlo = -128 if lo is None else int(np.clip(self._quantize_bound(lo, yq), -128, 127))
            qhi = 127 if hi is None else int(np.clip(self._quantize_bound(hi, yq), -128, 127))
            prod.attrs["lo"] = max(prod.attrs["lo"], qlo)
            prod.attrs["hi"] = min(prod.attrs["hi"], qhi)
            self.done.add(act.index)
        self.done.add(q.index)
        return True

    @staticmethod
    def _quantize_bound(v, q):
        """A float clamp bound in the output's quantized domain (QuantizeLinear's rounding)."""
        return float(np.rint(np.float32(v) / q.s)) + q.zp
