"""Run ONNX models with onnxruntime's CPU provider and default session options: the reference
of the compiler's ONNX front end (`dure infer --check`, tests).

onnxruntime is a development dependency; :func:`run_onnx` raises ImportError with a clear
message when it is missing.
"""

import numpy as np

__all__ = ["run_onnx"]


def run_onnx(model, *inputs):
    """Run ``model`` (bytes of an ONNX file) once; returns the list of outputs (copies).

    ``inputs``: one array per graph input, in the graph's order."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError("onnxruntime is needed to run the ONNX reference (install the dev "
                          "extra: pip install -e .[dev])") from e
    sess = ort.InferenceSession(bytes(model), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the model has {len(names)} inputs, {len(inputs)} given")
    outs = sess.run(None, dict(zip(names, inputs, strict=True)))
    return [np.array(o) for o in outs]
