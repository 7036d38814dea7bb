"""Open a model file with the front end of its format.

The format is recognised by content, not by name: a TFLite flatbuffer carries the identifier
``TFL3`` at bytes 4..7; anything else is handed to the ONNX front end (which refuses what is not
an ONNX protobuf).
"""

from .errors import NotAModel, UnsupportedModel
from .tflite_frontend import MAX_BYTES, parse_tflite

__all__ = ["load_model", "parse_model"]


def parse_model(data, *, onnx_fused_qdq=False):
    """The validated :class:`~.ir.Graph` of a model given as bytes (TFLite or ONNX).

    ``onnx_fused_qdq`` (ONNX only): compute every QDQ group as onnxruntime's fused QLinear
    kernel (its arithmetic where int8 activations fuse everywhere, ARM64; every convolution on
    the NPU) instead of the float32 arithmetic onnxruntime on x86-64 uses for the groups it
    leaves unfused (the default: bit-exact with onnxruntime on x86-64, those convolutions on the
    core); see ``ort_unfused`` of :func:`.onnx_frontend.parse_onnx`."""
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return parse_tflite(data)
    from .onnx_frontend import parse_onnx

    try:
        return parse_onnx(data, ort_unfused=not onnx_fused_qdq)
    except NotAModel as e:
        # bytes that are no ONNX model either: name both formats, not just the last tried
        raise NotAModel("neither a TFLite model (no 'TFL3' file identifier at bytes "
                               f"4..7) nor {str(e)[len('not '):]}") from None



def load_model(path, *, onnx_fused_qdq=False):
    """``(graph, bytes)`` of the model file at ``path`` (``onnx_fused_qdq``: as for
    :func:`parse_model`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UnsupportedModel(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise UnsupportedModel(f"{path}: larger than {MAX_BYTES} bytes")
    return parse_model(data, onnx_fused_qdq=onnx_fused_qdq), data
