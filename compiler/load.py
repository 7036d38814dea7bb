"""Open a model file with the front end of its format.

The format is recognised by content, not by name: a TFLite flatbuffer carries the identifier
``TFL3`` at bytes 4..7; anything else is handed to the ONNX front end (which refuses what is not
an ONNX protobuf).
"""

from .errors import UnsupportedModel
from .tflite_frontend import MAX_BYTES, parse_tflite

__all__ = ["load_model", "parse_model"]


def parse_model(data):
    """The validated :class:`~.ir.Graph` of a model given as bytes (TFLite or ONNX)."""
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return parse_tflite(data)
    from .onnx_frontend import parse_onnx

    return parse_onnx(data)


def load_model(path):
    """``(graph, bytes)`` of the model file at ``path``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UnsupportedModel(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise UnsupportedModel(f"{path}: larger than {MAX_BYTES} bytes")
    return parse_model(data), data
