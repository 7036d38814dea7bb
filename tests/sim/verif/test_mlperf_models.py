"""The MLPerf-Tiny-shaped builders of sim/verif/mlperf_models.py (MobileNetV1-0.25, the FC
autoencoder, float ResNet-8 / DS-CNN): their INT8 forms compiled for the 8x8 `sim` NPU equal
LiteRT's reference kernels bit for bit on the golden command model, every tensor on the way
too (and none collapsed onto a couple of values); their float forms in FP16 equal the
compiler's FP16 reference bit for bit."""

import numpy as np
import pytest
from dure.compiler import reference
from dure.compiler.execute import run_program
from dure.compiler.lower import compile_graph
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import mlperf_models as mm

from dure.config import preset

INT8 = {
    # builder, input shape, layers, MACs
    "mobilenet": (mm.mobilenet_v1, (1, 96, 96, 3), 31, 7_489_664),
    "autoencoder": (mm.autoencoder, (1, 640), 10, 264_192),
}


def _litert_tensors(model, x):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_tensor_details()}, out


@pytest.mark.parametrize("name", INT8)
def test_int8_model_bit_exact_with_litert(name):
    builder, shape, n_layers, macs = INT8[name]
    rng = np.random.default_rng(11)
    model = builder(rng)
    graph = parse_tflite(model)
    program = compile_graph(graph, preset("sim"))
    assert len(program.layers) == n_layers and program.macs == macs
    # every MAC on the NPU; the FULLY_CONNECTED layers (batch 1, >= 8 units) on the GEMV plan
    assert sum(la.macs for la in program.layers if la.where == "npu") == macs
    assert all(la.kind == ("gemv" if la.gemm[2] >= 8 else "gemm") for la in program.layers
               if la.op.kind.value == "FULLY_CONNECTED")
    x = rng.integers(-128, 128, shape).astype(np.int8)
    tensors, want = _litert_tensors(model, x)
    got, _ = run_program(program, [x])
    assert got[0].dtype == np.int8 and np.array_equal(got[0], want)
    values = reference.run_all(graph, [x])
    for op in graph.ops[:-2]:           # MobileNet's 2-class FC and softmax: 2 values
        y = tensors[op.outputs[0]]
        assert np.array_equal(values[op.outputs[0]], y.reshape(values[op.outputs[0]].shape))
        assert len(np.unique(y)) > min(8, y.size // 2), op.name


def test_per_tensor_autoencoder_bit_exact_with_litert():
    from dure.sim.verif.litert_ref import run_reference

    rng = np.random.default_rng(12)
    model = mm.autoencoder(rng, per_channel=False)
    graph = parse_tflite(model)
    assert all(np.size(graph.tensors[op.inputs[1]].quant.s) == 1 for op in graph.ops)
    program = compile_graph(graph, preset("sim"))
    x = rng.integers(-128, 128, (1, 640)).astype(np.int8)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0], run_reference(model, x)[0])


@pytest.mark.parametrize("builder,shape", [(mm.mobilenet_v1, (1, 96, 96, 3)),
                                           (mm.autoencoder, (1, 640))])
def test_float_forms_run_in_fp16_bit_exact(builder, shape):
    rng = np.random.default_rng(13)
    graph = parse_tflite(builder(rng, precision="float"))
    program = compile_graph(graph, preset("sim"), "fp16")
    x = rng.standard_normal(shape).astype(np.float32)
    got, _ = run_program(program, [x])
    want = reference.run(graph, [x])[0]
    assert got[0].dtype == want.dtype == np.float32
    assert np.array_equal(got[0].view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("builder,shape,layers", [(mm.float_resnet8, (1, 32, 32, 3), 16),
                                                  (mm.float_dscnn, (1, 49, 10, 1), 13)])
def test_float_resnet8_dscnn(builder, shape, layers):
    """The float twins have the int8 models' layer lists and run in FP16 bit-exactly."""
    rng = np.random.default_rng(14)
    graph = parse_tflite(builder(rng))
    program = compile_graph(graph, preset("sim"), "fp16")
    assert len(program.layers) == layers
    x = rng.standard_normal(shape).astype(np.float32)
    got, _ = run_program(program, [x])
    assert np.array_equal(got[0].view(np.uint32), reference.run(graph, [x])[0].view(np.uint32))


def test_bad_precision_refused():
    with pytest.raises(ValueError, match="precision must be 'int8' or 'float'"):
        mm.autoencoder(np.random.default_rng(0), precision="fp16")
