"""Long sweeps (make fuzz): many random models and inputs through the compiler, bit-exact with
the reference runtimes (INT8) and with the IR reference on the NPU command model (all)."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.load import parse_model
from dure.compiler.lower import compile_graph
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.litert_ref import run_reference
from dure.sim.verif.onnx_ref import run_onnx

from dure.config import preset

BUILDERS = [
    (cm.tflite_int8_cnn, run_reference), (cm.tflite_int8_mlp, run_reference),
    (cm.tflite_float_cnn, None), (cm.onnx_qoperator_cnn, run_onnx),
    (cm.onnx_qdq_mlp, run_onnx), (cm.onnx_float_cnn, None),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(25))
def test_random_models(seed):
    rng = np.random.default_rng(1000 + seed)
    dims = dict(h=int(rng.integers(5, 12)), w=int(rng.integers(5, 12)),
                cin=int(rng.integers(1, 6)), c=int(rng.integers(2, 20)))
    variant = preset(["sim", "npu-small"][seed % 2])
    for builder, runtime in BUILDERS:
        kw = dims if "cnn" in builder.__name__ else {}
        model = builder(rng, **kw)
        graph = parse_model(model)
        program = compile_graph(graph, variant)
        name = graph.inputs[0]
        shape = graph.io_layout.get(name, graph.tensors[name].shape)
        for _ in range(3):
            t = graph.tensors[name]
            x = (rng.integers(-128, 128, shape).astype(np.int8) if t.dtype == np.int8 else
                 (rng.standard_normal(shape) * 2).astype(np.float32))
            want = reference.run(graph, [x])[0]
            got, _ = run_program(program, [x])
            assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8)), builder.__name__
            if runtime is not None:
                assert np.array_equal(want, runtime(model, x)[0]), builder.__name__
