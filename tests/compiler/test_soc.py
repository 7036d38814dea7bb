"""Compiled programs with their NPU layers on the simulated SoC (npu-small variant): the
npu_list firmware pushes each run of NPU layers' descriptors, the RTL executes them; the
outputs equal the reference (and LiteRT) bit for bit and the NPU's MAC counter equals the
program's NPU MACs."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.lower import compile_graph
from dure.compiler.soc import run_program_soc
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import compiler_models as cm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset


@pytest.mark.parametrize("name,builder,kw", [
    ("int8_mlp", cm.tflite_int8_mlp, {"batch": 5, "sizes": (24, 20, 10)}),
    ("int8_cnn", cm.tflite_int8_cnn, {"h": 6, "w": 6, "c": 6}),
    ("float_cnn", cm.tflite_float_cnn, {"h": 6, "w": 6, "c": 6}),
    # walked 10x4 stride-2 convolution, depthwise and average pooling (compiler/npu_ops.py)
    ("int8_dscnn", cm.tflite_int8_dscnn, {"c": 16, "blocks": 1}),
])
def test_program_on_the_soc(name, builder, kw):
    rng = np.random.default_rng(21)
    model = builder(rng, **kw)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset("npu-small"))
    t = graph.tensors[graph.inputs[0]]
    x = (rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == np.int8 else
         rng.standard_normal(t.shape).astype(np.float32))
    got, segments = run_program_soc(program, [x])
    want = reference.run(graph, [x])[0]
    assert np.array_equal(got[0].view(np.uint8), want.view(np.uint8)), name
    if graph.arithmetic == "tflite":
        assert np.array_equal(got[0], run_reference(model, x)[0])
    npu_layers = [i for i, la in enumerate(program.layers) if la.where == "npu"]
    assert sorted(i for s in segments for i in s.layers) == npu_layers
    assert sum(s.macs for s in segments) == sum(program.layers[i].array_macs
                                                for i in npu_layers)
    assert all(s.cycles > 0 for s in segments)
