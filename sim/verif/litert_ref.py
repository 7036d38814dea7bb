"""Run TFLite models with LiteRT's reference kernels: the bit-exact reference of the TFLite
golden model.

``OpResolverType.BUILTIN_REF`` selects the reference kernels (``kernels/internal/reference``),
the canonical integer arithmetic; the default resolver runs optimized kernels that may round
differently, and is never used here.
"""

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

__all__ = ["run_reference", "litert_version"]


def litert_version():
    """The installed ``ai-edge-litert`` version string."""
    from importlib.metadata import version

    return version("ai-edge-litert")


def run_reference(model, *inputs):
    """Run ``model`` once with the reference op resolver.

    Parameters
    ----------
    model : bytes
        A ``.tflite`` flatbuffer.
    *inputs : numpy.ndarray
        One array per graph input, in the graph's input order, with the input's dtype and
        shape exactly.

    Returns
    -------
    list of numpy.ndarray
        Copies of the graph outputs, in order.

    Raises
    ------
    ValueError
        If the number, dtype or shape of the inputs does not match the model.
    """
    interp = Interpreter(model_content=bytes(model),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    details = interp.get_input_details()
    if len(inputs) != len(details):
        raise ValueError(f"the model has {len(details)} inputs, {len(inputs)} given")
    for d, x in zip(details, inputs, strict=True):
        if x.dtype != d["dtype"] or tuple(x.shape) != tuple(d["shape"]):
            raise ValueError(f"input {d['name']!r} needs {np.dtype(d['dtype'])} "
                             f"{tuple(d['shape'])}, not {x.dtype} {x.shape}")
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]
