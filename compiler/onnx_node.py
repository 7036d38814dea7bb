"""What the ONNX front end's converters share: one ONNX node with its position in the graph
(:class:`OnnxNode`, whose :meth:`~OnnxNode.fail` builds the :class:`~.errors.UnsupportedModel`
naming it), the element types the front end reads (:func:`onnx_dtype`) and the axis
permutations between ONNX's NCHW and the IR's NHWC."""

import numpy as np

from .errors import UnsupportedModel

__all__ = ["OnnxNode", "onnx_dtype", "NCHW_TO_NHWC", "NHWC_TO_NCHW"]

#: ``np.transpose`` axes from NCHW to NHWC, and back.
NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def onnx_dtype(elem_type):
    import onnx

    return {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.INT8: np.int8,
            onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT32: np.int32,
            onnx.TensorProto.INT64: np.int64}.get(elem_type)


class OnnxNode:
    """An ONNX node with its index (for messages)."""

    def __init__(self, index, proto):
        from onnx import helper

        self.index, self.proto = index, proto
        self.op = proto.op_type if not proto.domain or proto.domain == "ai.onnx" else \
            f"{proto.domain}.{proto.op_type}"
        self.name = proto.name or (proto.output[0] if proto.output else "")
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}

    def fail(self, message):
        return UnsupportedModel(message, index=self.index, name=self.name, op_type=self.op)
